"""A posted change as an ASFF finding: the required fields, the resource in the member
account, the id and the timestamps that make an import idempotent, the severity from the
risk, and the workflow each decision calls for."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sgrevert.cloudtrail import parse_record
from sgrevert.context import ChangeContext
from sgrevert.finding import (
    MAX_DESCRIPTION,
    MAX_FIELD_VALUE,
    MAX_NOTE,
    MAX_TITLE,
    NEW,
    RESOLVED,
    SUPPRESSED,
    Hub,
    eligible,
    finding,
    finding_id,
    workflow,
)
from sgrevert.model import Approval, ChangeRecord, State, Step, Transition
from sgrevert.risk import Risk
from tests.support import load_event

HUB = Hub(account="123456789012", region="eu-west-1")
POSTED_AT = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
DECIDED_AT = POSTED_AT + timedelta(minutes=7)
# What the API Reference requires of every imported finding
REQUIRED = {
    "SchemaVersion",
    "Id",
    "ProductArn",
    "GeneratorId",
    "AwsAccountId",
    "Types",
    "CreatedAt",
    "UpdatedAt",
    "Severity",
    "Title",
    "Description",
    "Resources",
}


def posted(fixture: str = "authorize_ingress_ipv4", risk: str | None = "high") -> ChangeRecord:
    change = parse_record(load_event(fixture))
    return ChangeRecord(
        change=change,
        state=State.PENDING,
        recorded_at=POSTED_AT,
        slack_channel="C0SECURITY",
        slack_ts="1764237600.000100",
        risk=risk,
        history=(Transition(Step.POSTED, POSTED_AT),),
    )


def decided(record: ChangeRecord, state: State, by: str, **changes: Any) -> ChangeRecord:
    return replace(record, state=state, decided_by=by, decided_at=DECIDED_AT, **changes)


def test_a_finding_has_every_required_field_in_the_security_account() -> None:
    record = posted()

    result = finding(record, HUB)

    assert set(result) >= REQUIRED
    assert result["SchemaVersion"] == "2018-10-08"
    assert result["AwsAccountId"] == "123456789012"  # the importing account, not the member's
    assert result["ProductArn"] == (
        "arn:aws:securityhub:eu-west-1:123456789012:product/123456789012/default"
    )
    assert len(result["Title"]) <= MAX_TITLE and len(result["Description"]) <= MAX_DESCRIPTION
    assert all(len(t.split("/")) == 3 for t in result["Types"])  # namespace/category/classifier


def test_its_resource_is_the_security_group_in_the_member_account_and_region() -> None:
    record = posted()
    change = record.change

    [resource] = finding(record, HUB)["Resources"]

    assert resource["Type"] == "AwsEc2SecurityGroup"
    assert resource["Id"] == (
        f"arn:aws:ec2:eu-west-1:{change.account}:security-group/{change.group_id}"
    )
    assert (resource["Partition"], resource["Region"]) == ("aws", change.region)
    details = resource["Details"]["AwsEc2SecurityGroup"]
    assert details == {"GroupId": change.group_id, "OwnerId": change.account}


def test_a_prefix_list_edit_names_the_list_as_its_resource() -> None:
    record = posted("modify_prefix_list_add", risk="critical")

    [resource] = finding(record, HUB)["Resources"]

    assert resource["Type"] == "Other"
    assert resource["Id"] == "arn:aws:ec2:us-east-1:444455556666:prefix-list/pl-0123456789abcdef0"
    assert finding(record, HUB)["ProductFields"]["sgrevert/Rules"] == "added 0.0.0.0/0"


def test_the_event_id_actor_and_rules_are_product_fields() -> None:
    record = posted()
    change = record.change

    fields = finding(record, HUB)["ProductFields"]

    assert fields["sgrevert/EventId"] == change.event_id
    assert fields["sgrevert/Actor"] == change.actor.arn
    assert fields["sgrevert/Account"] == change.account
    assert fields["sgrevert/Rules"] == "ingress tcp 22 from 203.0.113.0/24 (sgr-0d2e4f6a8b0c1d3e5)"
    assert all(isinstance(v, str) and len(v) <= MAX_FIELD_VALUE for v in fields.values())
    assert len(fields) <= 50


def test_many_rules_are_clipped_to_the_field_limit() -> None:
    record = posted()
    rule = record.change.rules[0]
    many = tuple(replace(rule, source=f"10.{i // 256}.{i % 256}.0/24") for i in range(400))
    record = replace(record, change=replace(record.change, rules=many))

    fields = finding(record, HUB)["ProductFields"]

    assert len(fields["sgrevert/Rules"]) == MAX_FIELD_VALUE
    assert fields["sgrevert/Rules"].endswith("…")


def test_the_id_and_every_time_come_from_the_event_so_a_reimport_is_the_same_finding() -> None:
    record = posted()
    later = replace(record, slack_ts="1764237999.000200", recorded_at=POSTED_AT + timedelta(1))

    first, second = finding(record, HUB), finding(later, HUB)

    assert first["Id"] == second["Id"] == finding_id(record.event_id)
    event_time = "2026-11-27T09:58:47Z"
    for result in (first, second):
        assert result["CreatedAt"] == result["UpdatedAt"] == event_time
        assert result["FirstObservedAt"] == event_time


@pytest.mark.parametrize(
    ("risk", "label"),
    [("critical", "CRITICAL"), ("high", "HIGH"), ("medium", "MEDIUM"), ("low", "LOW")],
)
def test_severity_is_mapped_from_the_risk(risk: str, label: str) -> None:
    result = finding(posted(risk=risk), HUB)

    assert result["Severity"] == {"Label": label, "Original": risk}
    # the provider's own copy, which a customer's severity change leaves alone
    assert result["FindingProviderFields"]["Severity"] == {"Label": label, "Original": risk}


def test_only_posted_changes_at_or_above_the_threshold_have_a_finding() -> None:
    high = posted(risk="high")

    assert eligible(high, Risk.HIGH)
    assert eligible(posted(risk="critical"), Risk.HIGH)
    assert not eligible(posted(risk="medium"), Risk.HIGH)
    assert eligible(posted(risk="medium"), Risk.MEDIUM)
    assert not eligible(posted(risk=None), Risk.LOW)  # unrated: older records
    assert not eligible(replace(high, slack_ts=None, history=()), Risk.HIGH)  # not posted


def test_a_policy_deny_has_a_finding_before_its_post() -> None:
    """Its revert may finish before the same run posts it."""
    record = replace(posted(risk="critical"), slack_ts=None, history=())

    denied = decided(record, State.REVERTED, "policy:auto_revert_at_or_above=critical")

    assert eligible(denied, Risk.HIGH)


def test_an_approval_suppresses_the_finding_naming_the_approver() -> None:
    update = workflow(decided(posted(), State.APPROVED, "U0ALICE"))

    assert update is not None
    assert update.status == SUPPRESSED
    assert "Slack user U0ALICE" in update.note
    assert "2026-11-27T10:07:00Z" in update.note


def test_an_approval_by_several_names_them_all() -> None:
    approvals = (Approval("U0ALICE", POSTED_AT), Approval("U0BOB", DECIDED_AT))
    update = workflow(decided(posted(), State.APPROVED, "U0BOB", approvals=approvals))

    assert update is not None
    assert "Slack user U0ALICE and Slack user U0BOB" in update.note


def test_an_approval_for_a_while_is_suppressed_until_its_deadline() -> None:
    until = DECIDED_AT + timedelta(hours=1)
    update = workflow(decided(posted(), State.APPROVED, "U0ALICE", approved_until=until))

    assert update is not None
    assert update.status == SUPPRESSED
    assert "until 2026-11-27T11:07:00Z" in update.note


def test_a_revert_resolves_the_finding_naming_who_denied_it() -> None:
    record = decided(posted(), State.REVERTED, "U0BOB", outcome="1 rule revoked")

    update = workflow(record)

    assert update is not None
    assert update.status == RESOLVED
    assert update.note.startswith("Reverted: denied by Slack user U0BOB")
    assert "1 rule revoked" in update.note


def test_an_expired_approval_resolves_the_finding_naming_the_approver() -> None:
    record = decided(posted(), State.REVERTED, "expiry:U0ALICE", outcome="1 rule revoked")

    update = workflow(record)

    assert update is not None
    assert update.status == RESOLVED
    assert "the approval for a while by Slack user U0ALICE expired" in update.note


def test_a_failed_revert_reopens_the_finding() -> None:
    record = decided(posted(), State.REVERT_FAILED, "cli:arn:aws:iam::1:role/Ops", outcome="x")

    update = workflow(record)

    assert update is not None
    assert update.status == NEW
    assert "arn:aws:iam::1:role/Ops (sgrevert CLI)" in update.note


def test_a_long_outcome_keeps_the_note_within_its_limit() -> None:
    record = decided(posted(), State.REVERT_FAILED, "U0BOB", outcome="AccessDenied " * 100)

    update = workflow(record)

    assert update is not None
    assert len(update.note) == MAX_NOTE


@pytest.mark.parametrize("state", [State.PENDING, State.DENIED, State.INFO, State.IGNORED])
def test_nothing_to_record_while_undecided_or_reverting(state: State) -> None:
    assert workflow(replace(posted(), state=state, decided_by="U0BOB")) is None


def test_context_does_not_change_the_finding() -> None:
    """A re-import after the context was read is still the same finding."""
    record = posted()
    with_context = replace(record, context=ChangeContext(read_at=POSTED_AT))

    assert finding(with_context, HUB) == finding(record, HUB)
