"""Findings in moto's Security Hub (with sandbox/moto_securityhub.py): a posted change
imported once however often it is sent, its workflow after approve, deny and an expiry, and
Security Hub failures that are logged and counted without blocking anything.

Records are made and decided by the store on moto's DynamoDB, as the detector and the
responder make them; the adapter reaches moto's Security Hub and STS over HTTP."""

from __future__ import annotations

import copy
import json
import logging
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from sandbox import moto_securityhub
from sgrevert import metrics, security_hub
from sgrevert.cloudtrail import parse_record
from sgrevert.deadline import Deadline
from sgrevert.finding import finding_id
from sgrevert.model import ChangeRecord, State
from sgrevert.risk import Risk
from sgrevert.store import ChangeStore
from tests.support import REGION, SECURITY_ACCOUNT, load_event

NOW = datetime.now(UTC).replace(microsecond=0)
PRODUCT = f"arn:aws:securityhub:{REGION}:{SECURITY_ACCOUNT}:product/{SECURITY_ACCOUNT}/default"


@pytest.fixture
def hub(aws: str) -> Any:
    moto_securityhub.install()  # idempotent; before this server's first Security Hub call
    client = boto3.client("securityhub", region_name=REGION)
    client.enable_security_hub()
    return client


@pytest.fixture
def findings(hub: Any) -> security_hub.Findings:
    return security_hub.from_settings(True, Risk.HIGH)


@pytest.fixture
def errors() -> Iterator[list[logging.LogRecord]]:
    seen: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record)

    handler = Keep(level=logging.ERROR)
    target = logging.getLogger(security_hub.logger.name)
    target.addHandler(handler)
    yield seen
    target.removeHandler(handler)


@pytest.fixture
def counted(capsys: pytest.CaptureFixture[str]) -> Iterator[Any]:
    """The SecurityHubFailures the adapter counted, read from the EMF Powertools writes."""
    metrics.flush()
    capsys.readouterr()

    def read() -> float:
        metrics.flush()
        documents = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
        return sum(
            sum(d[metrics.SECURITY_HUB_FAILURES])
            for d in documents
            if "_aws" in d and metrics.SECURITY_HUB_FAILURES in d
        )

    yield read
    metrics.flush()


def posted_change(store: ChangeStore, risk: str = "critical", *, post: bool = True) -> str:
    """A recorded change (SSH from anywhere), posted to Slack unless `post` is False."""
    event = copy.deepcopy(load_event("authorize_ingress_ipv4"))
    event["eventID"] = str(uuid.uuid4())
    event["eventTime"] = (NOW - timedelta(minutes=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    change = parse_record(event)
    assert store.record_new(change, NOW, risk=risk)
    if post:
        store.mark_posted(change.event_id, "C0SECURITY", "1764237600.000100", NOW)
    return change.event_id


def all_findings(hub: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = hub.get_findings()["Findings"]
    return found


def the_finding(hub: Any, event_id: str) -> dict[str, Any]:
    [found] = [f for f in all_findings(hub) if f["Id"] == finding_id(event_id)]
    return found


def test_a_posted_change_is_imported_once_however_often_it_is_sent(
    change_store: ChangeStore, hub: Any, findings: security_hub.Findings
) -> None:
    # Given a posted critical change
    event_id = posted_change(change_store)
    record = change_store.require(event_id)

    # When two overlapping runs both send it, the second after its post was edited
    findings.posted([record])
    first = the_finding(hub, event_id)
    findings.posted([change_store.require(event_id)])

    # Then Security Hub holds one finding, unchanged, in the security account
    assert [f["Id"] for f in all_findings(hub)] == [finding_id(event_id)]
    assert the_finding(hub, event_id) == first
    assert first["AwsAccountId"] == SECURITY_ACCOUNT
    assert first["ProductArn"] == PRODUCT
    assert first["Workflow"] == {"Status": "NEW"}
    assert first["Severity"]["Label"] == "CRITICAL"
    [resource] = first["Resources"]
    assert resource["Type"] == "AwsEc2SecurityGroup"
    assert resource["Details"]["AwsEc2SecurityGroup"]["OwnerId"] == record.change.account
    assert first["ProductFields"]["sgrevert/EventId"] == event_id


def test_changes_below_the_threshold_have_no_finding(
    change_store: ChangeStore, hub: Any, findings: security_hub.Findings
) -> None:
    event_id = posted_change(change_store, risk="medium")
    findings.posted([change_store.require(event_id)])

    findings.decided([change_store.decide(event_id, State.APPROVED, "U0ALICE", NOW)])

    assert all_findings(hub) == []


def test_a_decision_on_a_change_never_posted_sends_nothing(
    change_store: ChangeStore, hub: Any, findings: security_hub.Findings
) -> None:
    """Held below min_risk_to_post and decided from the CLI, say."""
    event_id = posted_change(change_store, post=False)
    change_store.decide(event_id, State.DENIED, "cli:arn:aws:iam::1:role/Ops", NOW)

    findings.decided([change_store.finish_revert(event_id, True, "1 rule revoked", NOW)])

    assert all_findings(hub) == []


def test_an_approval_suppresses_the_finding_with_the_approver_in_its_note(
    change_store: ChangeStore, hub: Any, findings: security_hub.Findings
) -> None:
    event_id = posted_change(change_store)
    findings.posted([change_store.require(event_id)])

    approved = change_store.decide(event_id, State.APPROVED, "U0ALICE", NOW)
    findings.decided([approved], Deadline.in_seconds(2.5))

    found = the_finding(hub, event_id)
    assert found["Workflow"] == {"Status": "SUPPRESSED"}
    assert "Approved by Slack user U0ALICE" in found["Note"]["Text"]
    assert found["Note"]["UpdatedBy"] == "sgrevert"
    assert found["UpdatedAt"] == found["CreatedAt"]  # updates never touch UpdatedAt


def test_a_deny_resolves_the_finding_once_the_revert_finished(
    change_store: ChangeStore, hub: Any, findings: security_hub.Findings
) -> None:
    event_id = posted_change(change_store)
    findings.posted([change_store.require(event_id)])

    # When Bob denies it: nothing to record while the revert runs
    denied = change_store.decide(event_id, State.DENIED, "U0BOB", NOW)
    findings.decided([denied])
    assert the_finding(hub, event_id)["Workflow"] == {"Status": "NEW"}

    # Then the revert's outcome resolves it, naming Bob
    reverted = change_store.finish_revert(event_id, True, "1 rule revoked", NOW)
    findings.decided([reverted])

    found = the_finding(hub, event_id)
    assert found["Workflow"] == {"Status": "RESOLVED"}
    assert found["Note"]["Text"].startswith("Reverted: denied by Slack user U0BOB")
    assert "1 rule revoked" in found["Note"]["Text"]


def test_a_failed_revert_reopens_the_finding(
    change_store: ChangeStore, hub: Any, findings: security_hub.Findings
) -> None:
    event_id = posted_change(change_store)
    findings.posted([change_store.require(event_id)])
    change_store.decide(event_id, State.DENIED, "U0BOB", NOW)

    failed = change_store.finish_revert(event_id, False, "AccessDenied assuming spoke-001", NOW)
    findings.decided([failed])

    found = the_finding(hub, event_id)
    assert found["Workflow"] == {"Status": "NEW"}
    assert "AccessDenied assuming spoke-001" in found["Note"]["Text"]


def test_an_approval_for_a_while_is_suppressed_then_its_expiry_resolves_it(
    change_store: ChangeStore, hub: Any, findings: security_hub.Findings
) -> None:
    event_id = posted_change(change_store)
    findings.posted([change_store.require(event_id)])
    until = NOW + timedelta(hours=1)

    allowed = change_store.approve_for(event_id, "U0ALICE", until, NOW)
    findings.decided([allowed])
    assert the_finding(hub, event_id)["Workflow"] == {"Status": "SUPPRESSED"}

    # When the deadline passes: the expiry denies it as Alice's, and the revert finishes
    change_store.expire(event_id, until, until)
    reverted = change_store.finish_revert(event_id, True, "1 rule revoked", until)
    findings.decided([reverted])

    found = the_finding(hub, event_id)
    assert found["Workflow"] == {"Status": "RESOLVED"}
    assert "approval for a while by Slack user U0ALICE expired" in found["Note"]["Text"]


def test_a_reimport_after_a_decision_keeps_the_workflow(
    change_store: ChangeStore, hub: Any, findings: security_hub.Findings
) -> None:
    event_id = posted_change(change_store)
    findings.posted([change_store.require(event_id)])
    findings.decided([change_store.decide(event_id, State.APPROVED, "U0ALICE", NOW)])

    findings.posted([change_store.require(event_id)])

    assert the_finding(hub, event_id)["Workflow"] == {"Status": "SUPPRESSED"}


def test_a_policy_revert_that_finishes_before_the_post_imports_its_finding(
    change_store: ChangeStore, hub: Any, findings: security_hub.Findings
) -> None:
    # Given a change the policy denied, reverted before the run posted it
    event_id = posted_change(change_store, post=False)
    change_store.decide(event_id, State.DENIED, "policy:auto_revert_at_or_above=critical", NOW)
    reverted = change_store.finish_revert(event_id, True, "1 rule revoked", NOW)

    # When the responder records the outcome: its finding is imported, then resolved
    findings.decided([reverted])
    # and the run's later import of the posted change changes nothing
    change_store.mark_posted(event_id, "C0SECURITY", "1764237600.000200", NOW)
    findings.posted([change_store.require(event_id)])

    found = the_finding(hub, event_id)
    assert found["Workflow"] == {"Status": "RESOLVED"}
    assert "the policy (auto_revert_at_or_above=critical)" in found["Note"]["Text"]


def test_a_change_posted_already_decided_gets_its_workflow_with_the_import(
    change_store: ChangeStore, hub: Any, findings: security_hub.Findings
) -> None:
    event_id = posted_change(change_store)
    change_store.decide(event_id, State.DENIED, "U0BOB", NOW)
    reverted = change_store.finish_revert(event_id, True, "1 rule revoked", NOW)

    findings.posted([reverted])

    assert the_finding(hub, event_id)["Workflow"] == {"Status": "RESOLVED"}


def test_security_hub_off_sends_nothing(change_store: ChangeStore, hub: Any) -> None:
    event_id = posted_change(change_store)

    off = security_hub.from_settings(False, Risk.LOW)
    off.posted([change_store.require(event_id)])

    assert all_findings(hub) == []


def test_a_refused_import_is_logged_and_counted_and_raises_nothing(
    change_store: ChangeStore,
    hub: Any,
    findings: security_hub.Findings,
    errors: list[logging.LogRecord],
    counted: Any,
) -> None:
    # Given Security Hub is not enabled in the account: each finding fails (InvalidAccess)
    hub.disable_security_hub()
    records = [change_store.require(posted_change(change_store)) for _ in range(2)]

    findings.posted(records)

    assert counted() == 2
    logged = {(getattr(e, "call", None), getattr(e, "code", None)) for e in errors}
    assert logged == {("BatchImportFindings", "InvalidAccess")}
    assert sorted(i for e in errors for i in getattr(e, "ids", [])) == sorted(
        finding_id(r.event_id) for r in records
    )


def test_a_refused_update_is_logged_and_counted_and_raises_nothing(
    change_store: ChangeStore,
    hub: Any,
    findings: security_hub.Findings,
    errors: list[logging.LogRecord],
    counted: Any,
) -> None:
    event_id = posted_change(change_store)
    findings.posted([change_store.require(event_id)])
    hub.disable_security_hub()  # BatchUpdateFindings now answers InvalidAccessException

    findings.decided([change_store.decide(event_id, State.APPROVED, "U0ALICE", NOW)])

    assert counted() == 1
    [logged] = errors
    assert getattr(logged, "code", None) == "InvalidAccessException"
    assert getattr(logged, "ids", None) == [finding_id(event_id)]


def test_a_click_with_no_time_left_skips_the_update_for_the_handed_over_one(
    change_store: ChangeStore,
    hub: Any,
    findings: security_hub.Findings,
    errors: list[logging.LogRecord],
    counted: Any,
) -> None:
    """On the click it is skipped, counted and said (False): the responder hands it to an
    invocation without a deadline, which makes it."""
    event_id = posted_change(change_store)
    findings.posted([change_store.require(event_id)])

    approved = change_store.decide(event_id, State.APPROVED, "U0ALICE", NOW)
    assert findings.decided([approved], Deadline.in_seconds(0.2)) is False

    assert the_finding(hub, event_id)["Workflow"] == {"Status": "NEW"}
    assert counted() == 1
    assert [getattr(e, "code", None) for e in errors] == ["NoTimeLeft"]
    assert findings.decided([approved]) is True
    assert the_finding(hub, event_id)["Workflow"] == {"Status": "SUPPRESSED"}


def test_on_a_click_a_missing_finding_is_not_imported(
    change_store: ChangeStore,
    hub: Any,
    findings: security_hub.Findings,
    errors: list[logging.LogRecord],
    counted: Any,
) -> None:
    """Importing too would take two calls of the click's seconds: it is left (False) for
    the handed-over invocation, which imports it and sets its workflow."""
    event_id = posted_change(change_store)
    approved: ChangeRecord = change_store.decide(event_id, State.APPROVED, "U0ALICE", NOW)

    assert findings.decided([approved], Deadline.in_seconds(2.5)) is False

    assert all_findings(hub) == []
    assert counted() == 0 and errors == []
    assert findings.decided([approved]) is True
    assert the_finding(hub, event_id)["Workflow"] == {"Status": "SUPPRESSED"}
