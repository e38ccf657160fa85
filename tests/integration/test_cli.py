"""The operator CLI through `main([...])` against moto, the Lake stand-in and the Slack stand-in.

The CLI reaches AWS as an operator's shell would: credentials and endpoints from the
environment (moto's, the stand-in's for CloudTrail).
"""

from __future__ import annotations

import copy
import io
import json
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from slack_sdk import WebClient

from sandbox.lake import LakeStandIn
from sandbox.slack_api import SlackStandIn
from sgrevert import blocks
from sgrevert.cli import EXIT_FAILURE, EXIT_OK, EXIT_REFUSED, EXIT_USAGE, main
from sgrevert.cli_render import utc_minute
from sgrevert.cloudtrail import parse_record
from sgrevert.context import ChangeContext
from sgrevert.durations import remind_at
from sgrevert.expiry_schedule import ExpirySchedules, reminder_name
from sgrevert.model import Change, Direction, State, Step, iso
from sgrevert.store import ChangeStore
from tests.integration.groups import MEMBER_ACCOUNT, NOW, Group, account_session, make_change
from tests.integration.test_undo import PrefixList, modify, spec
from tests.integration.test_undo import authorize as authorize_rule
from tests.support import BOT_TOKEN, REGION, SECURITY_ACCOUNT, load_event

HUB_ROLE_ARN = f"arn:aws:iam::{SECURITY_ACCOUNT}:role/sgrevert-hub"
SCHEDULER_ROLE_ARN = f"arn:aws:iam::{SECURITY_ACCOUNT}:role/sgrevert-scheduler"
RESPONDER_ARN = f"arn:aws:lambda:{REGION}:{SECURITY_ACCOUNT}:function:revertsg-2"
SPOKE_ROLE = "security/spoke-001"
CHANNEL = "C0SECURITY"


@pytest.fixture
def lake(aws: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[LakeStandIn]:
    with LakeStandIn(page_size=2, running_polls=2) as stand_in:
        monkeypatch.setenv("AWS_ENDPOINT_URL_CLOUDTRAIL", stand_in.endpoint_url)
        yield stand_in


@pytest.fixture
def data_store(lake: LakeStandIn, monkeypatch: pytest.MonkeyPatch) -> str:
    arn = lake.create_event_data_store("org-trail")
    monkeypatch.setenv("EVENT_DATA_STORE", arn)
    return arn


@pytest.fixture
def slack() -> Iterator[SlackStandIn]:
    with SlackStandIn(bot_token=BOT_TOKEN) as stand_in:
        yield stand_in


@pytest.fixture
def revert_env(monkeypatch: pytest.MonkeyPatch, table_name: str) -> None:
    monkeypatch.setenv("TABLE_NAME", table_name)
    monkeypatch.setenv("HUB_ROLE_ARN", HUB_ROLE_ARN)
    monkeypatch.setenv("SPOKE_ROLE_NAME", SPOKE_ROLE)
    monkeypatch.delenv("SLACK_SECRET_ARN", raising=False)


def authorize(
    minutes_ago: float, account: str = MEMBER_ACCOUNT, cidr: str = "203.0.113.0/24"
) -> dict[str, Any]:
    """A real-shaped AuthorizeSecurityGroupIngress record, `minutes_ago` old, unique id."""
    record = copy.deepcopy(load_event("authorize_ingress_ipv4"))
    record["eventID"] = str(uuid.uuid4())
    record["recipientAccountId"] = account
    record["eventTime"] = (datetime.now(UTC) - timedelta(minutes=minutes_ago)).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )
    record["requestParameters"]["ipPermissions"]["items"][0]["ipRanges"] = {
        "items": [{"cidrIp": cidr}]
    }
    rule = record["responseElements"]["securityGroupRuleSet"]["items"][0]
    rule["cidrIpv4"] = cidr
    rule["securityGroupRuleId"] = f"sgr-{uuid.uuid4().hex[:17]}"
    return record


class Keyboard(io.StringIO):
    """A terminal on stdin, with what the operator types."""

    def isatty(self) -> bool:
        return True


# -- scan ------------------------------------------------------------------------------------


@pytest.mark.usefixtures("data_store")
def test_given_changes_over_several_pages_when_scanned_then_all_in_the_window_are_listed(
    lake: LakeStandIn, data_store: str, capsys: pytest.CaptureFixture[str], table_name: str
) -> None:
    inside = [authorize(10, cidr=f"198.51.100.{n}/32") for n in range(5)]
    public = authorize(5, cidr="0.0.0.0/0")
    old = authorize(60 * 5)
    failed = {**authorize(3), "errorCode": "Client.InvalidPermission.Duplicate"}
    lake.put_records(data_store, [*inside, public, old, failed])

    assert main(["scan", "--since", "2h", "--json"]) == EXIT_OK

    captured = capsys.readouterr()
    result = json.loads(captured.out)
    # Ordered by time, then event id (the five `inside` share a time).
    assert [c["event_id"] for c in result["changes"]] == [
        *sorted(r["eventID"] for r in inside),
        public["eventID"],
    ]
    assert result["changes"][-1]["risk"] in ("high", "critical")
    assert result["skipped"] == []
    # Progress went to stderr, plainly (not a terminal), through the query's states and pages.
    assert "RUNNING" in captured.err
    assert "reading results: 6 rows" in captured.err
    assert "6 changes, 0 skipped" in captured.err
    assert "\r" not in captured.err
    # Nothing was written: the table is as empty as it was.
    assert table_is_empty(table_name)


def test_given_context_asked_for_when_scanned_then_each_change_shows_its_group_read_only(
    lake: LakeStandIn,
    data_store: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    assume_role_requests: Callable[[], list[dict[str, str]]],
) -> None:
    # Given a change to a real group that nothing uses
    monkeypatch.setenv("HUB_ROLE_ARN", HUB_ROLE_ARN)
    group = Group.create()
    record = authorize(5, cidr="0.0.0.0/0")
    record["requestParameters"]["groupId"] = group.group_id
    record["responseElements"]["securityGroupRuleSet"]["items"][0]["groupId"] = group.group_id
    lake.put_records(data_store, [record])
    before = len(assume_role_requests())

    # When it is scanned with --context
    assert main(["scan", "--since", "1h", "--context", "--json"]) == EXIT_OK

    # Then the context is read through the hub, read-only, and shown
    [change] = json.loads(capsys.readouterr().out)["changes"]
    context = change["context"]
    assert context["group"]["name"] == "web"
    assert context["attachments"]["total"] == 0
    hops = assume_role_requests()[before:]
    assert [h["RoleArn"] for h in hops] == [
        HUB_ROLE_ARN,
        f"arn:aws:iam::{MEMBER_ACCOUNT}:role/spoke-001",
    ]
    assert all("Policy" in h and "Revoke" not in h["Policy"] for h in hops)

    # and the table says the group is attached to nothing
    assert main(["scan", "--since", "1h", "--context"]) == EXIT_OK
    assert "unattached" in capsys.readouterr().out


def table_is_empty(table_name: str) -> bool:
    return boto3.resource("dynamodb").Table(table_name).scan()["Count"] == 0


@pytest.mark.usefixtures("data_store")
def test_given_an_account_filter_when_scanned_then_the_table_shows_only_that_account(
    lake: LakeStandIn, data_store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    mine = authorize(10, account="444455556666", cidr="0.0.0.0/0")
    lake.put_records(data_store, [authorize(10), mine])

    assert main(["scan", "--since", "30m", "--account", "444455556666"]) == EXIT_OK

    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == [
        "TIME",
        "EVENT",
        "ID",
        "ACCOUNT",
        "REGION",
        "GROUP",
        "EVENT",
        "ACTOR",
        "RULES",
        "RISK",
    ]
    [row] = lines[1:]
    assert mine["eventID"] in row
    assert "ingress tcp/22 0.0.0.0/0" in row
    assert row.endswith("critical")
    assert "\033[" not in row  # no colour off a terminal


def test_given_a_prefix_list_edit_when_scanned_then_its_row_names_the_list_and_its_entries(
    lake: LakeStandIn, data_store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Given 0.0.0.0/0 added to and an office range removed from a prefix list, when
    scanned, then the row shows the list where the group goes and the entries as
    +added -removed, rated as if each added range reached all traffic (nothing is read on
    a scan without --context): two narrow ranges, low."""
    record = copy.deepcopy(load_event("modify_prefix_list_add_and_remove"))
    record["eventID"] = str(uuid.uuid4())
    record["eventTime"] = (datetime.now(UTC) - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    edit = parse_record(record).prefix_list
    assert edit is not None
    lake.put_records(data_store, [record])

    assert main(["scan", "--since", "30m"]) == EXIT_OK

    [row] = capsys.readouterr().out.splitlines()[1:]
    assert edit.list_id in row
    shown = [f"+{e.cidr}" for e in edit.added] + [f"-{e.cidr}" for e in edit.removed]
    assert " ".join(shown) in row
    assert row.endswith("low")


@pytest.mark.usefixtures("data_store")
def test_given_a_failing_lake_query_when_scanned_then_it_fails_with_lakes_reason(
    lake: LakeStandIn, capsys: pytest.CaptureFixture[str]
) -> None:
    lake.fail_next_query("FAILED", "Access denied to the event data store.")

    assert main(["scan"]) == EXIT_FAILURE

    assert "ended FAILED: Access denied" in capsys.readouterr().err


def test_given_no_event_data_store_when_scanned_then_the_error_names_the_variable_and_flag(
    aws: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("EVENT_DATA_STORE", raising=False)

    assert main(["scan"]) == EXIT_USAGE

    err = capsys.readouterr().err
    assert "EVENT_DATA_STORE is not set" in err
    assert "--event-data-store" in err


# -- changes ---------------------------------------------------------------------------------


def test_given_decided_and_pending_changes_when_listed_then_each_shows_who_decided_and_when(
    change_store: ChangeStore,
    table_name: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("TABLE_NAME", raising=False)
    pending = make_change(MEMBER_ACCOUNT, REGION, "sg-0aaa", [])
    denied = make_change(MEMBER_ACCOUNT, REGION, "sg-0bbb", [])
    for change in (pending, denied):
        change_store.record_new(change, NOW)
    change_store.decide(denied.event_id, State.DENIED, "U0ALICE", NOW)
    change_store.finish_revert(denied.event_id, True, "1 rule revoked", NOW)

    assert main(["changes", "--table", table_name, "--json"]) == EXIT_OK
    listed = {r["change"]["event_id"]: r for r in json.loads(capsys.readouterr().out)}
    assert listed[pending.event_id]["state"] == "PENDING"
    assert listed[pending.event_id]["decided_by"] is None
    assert listed[denied.event_id]["state"] == "REVERTED"
    assert listed[denied.event_id]["decided_by"] == "U0ALICE"
    assert listed[denied.event_id]["outcome"] == "1 rule revoked"

    assert main(["changes", "--table", table_name, "--state", "reverted"]) == EXIT_OK
    out = capsys.readouterr().out
    assert denied.event_id in out and "U0ALICE" in out and "1 rule revoked" in out
    assert pending.event_id not in out


def allow_for_an_hour(change_store: ChangeStore, change: Change, batch: str | None = None) -> Any:
    """Record `change`, post it (in group message `batch`, if given) and allow it for an
    hour by U0ALICE at NOW; the deadline."""
    change_store.record_new(change, NOW)
    change_store.mark_posted(change.event_id, CHANNEL, "1700000000.000100", NOW, batch)
    until = NOW + timedelta(hours=1)
    change_store.approve_for(change.event_id, "U0ALICE", until, NOW)
    return until


def test_given_a_temporary_approval_when_listed_then_its_expiry_is_shown(
    change_store: ChangeStore,
    table_name: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Given a change allowed for an hour and one approved for good, when listed, then the
    first shows its deadline (JSON `approved_until`, the EXPIRES column), the second none."""
    monkeypatch.setenv("TABLE_NAME", table_name)
    allowed = make_change(MEMBER_ACCOUNT, REGION, "sg-0aaa", [])
    approved = make_change(MEMBER_ACCOUNT, REGION, "sg-0bbb", [])
    until = allow_for_an_hour(change_store, allowed)
    change_store.record_new(approved, NOW)
    change_store.decide(approved.event_id, State.APPROVED, "U0BOB", NOW)

    assert main(["changes", "--json"]) == EXIT_OK
    listed = {r["change"]["event_id"]: r for r in json.loads(capsys.readouterr().out)}
    assert listed[allowed.event_id]["approved_until"] == iso(until)
    assert listed[approved.event_id]["approved_until"] is None

    assert main(["changes"]) == EXIT_OK
    header, *rows = capsys.readouterr().out.splitlines()
    assert "EXPIRES" in header
    [row] = [r for r in rows if allowed.event_id in r]
    assert f"{iso(until)} (" in row and " left)" in row


# -- show ------------------------------------------------------------------------------------


def test_given_a_temporary_approval_when_shown_then_its_change_expiry_and_history_are_told(
    change_store: ChangeStore,
    table_name: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Given a change posted, with its account's name read, and allowed for an hour, when
    shown, then the text names the account, the rule, who allowed it and until when, and
    each step; --json holds the same record with its history."""
    monkeypatch.setenv("TABLE_NAME", table_name)
    group = Group.create()
    change = group.change(group.authorize(Direction.INGRESS, 22, "0.0.0.0/0"))
    change_store.record_new(change, NOW)
    change_store.set_context(
        change.event_id, ChangeContext(read_at=NOW, account_name="prod-payments")
    )
    change_store.mark_posted(change.event_id, CHANNEL, "1700000000.000100", NOW)
    until = NOW + timedelta(hours=1)
    change_store.approve_for(change.event_id, "U0ALICE", until, NOW)

    assert main(["show", change.event_id]) == EXIT_OK

    out = capsys.readouterr().out
    assert out.splitlines()[0] == change.event_id
    assert f"prod-payments ({MEMBER_ACCOUNT})" in out
    assert f"ingress tcp/22 0.0.0.0/0 ({change.rules[0].rule_id})" in out
    assert f"U0ALICE at {iso(NOW)}" in out
    assert f"allowed until {utc_minute(until)} (" in out
    assert f"{iso(NOW)}  posted" in out
    assert f"{iso(NOW)}  allowed_until  U0ALICE  until {utc_minute(until)}; for 1 h" in out

    assert main(["show", change.event_id, "--json"]) == EXIT_OK
    shown = json.loads(capsys.readouterr().out)
    assert shown["change"]["event_id"] == change.event_id
    assert (shown["state"], shown["approved_until"]) == ("APPROVED", iso(until))
    assert [step["step"] for step in shown["history"]] == ["posted", "allowed_until"]
    assert shown["history"][1] == {
        "step": "allowed_until",
        "at": iso(NOW),
        "by": "U0ALICE",
        "why": "for 1 h",
        "until": iso(until),
    }
    assert shown["context"]["account_name"] == "prod-payments"


def test_given_an_undecided_routed_change_when_shown_then_its_deadline_approvals_and_route_are_told(
    change_store: ChangeStore,
    table_name: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Given a critical change posted by the payments route with a fail-closed deadline,
    reminded once and approved by one of the two approvers it needs, when shown, then the
    text and --json tell the deadline, the approval so far, the route and whom the
    reminder mentioned."""
    monkeypatch.setenv("TABLE_NAME", table_name)
    group = Group.create()
    change = group.change(group.authorize(Direction.INGRESS, 22, "0.0.0.0/0"))
    change_store.record_new(change, NOW, risk="critical")
    deadline = NOW + timedelta(minutes=30)
    change_store.mark_posted(
        change.event_id,
        CHANNEL,
        "1700000000.000100",
        NOW,
        deny_at=deadline,
        route="payments",
        route_approvers=("S0PAYLEADS",),
    )
    change_store.mark_nudged(change.event_id, 1, 3, ("S0ONCALL",), NOW)
    change_store.add_approval(change.event_id, "U0ALICE", NOW, duration=None, needed=2, was=())

    assert main(["show", change.event_id]) == EXIT_OK

    out = capsys.readouterr().out
    assert f"Reverts at {utc_minute(deadline)} unless approved" in out
    assert "1 of 2" in out and "U0ALICE" in out
    assert "payments (decided by S0PAYLEADS)" in out
    assert "reminder 1 of 3; to S0ONCALL" in out

    assert main(["show", change.event_id, "--json"]) == EXIT_OK
    shown = json.loads(capsys.readouterr().out)
    assert (shown["deny_at"], shown["nudges"], shown["approvals_needed"]) == (iso(deadline), 1, 2)
    assert [a["user"] for a in shown["approvals"]] == ["U0ALICE"]
    assert (shown["route"], shown["route_approvers"]) == ("payments", ["S0PAYLEADS"])


def test_given_an_unknown_event_when_shown_then_it_says_so_and_fails(
    table_name: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TABLE_NAME", table_name)

    assert main(["show", "no-such-event"]) == EXIT_REFUSED

    captured = capsys.readouterr()
    assert "no recorded change with event id 'no-such-event'" in captured.err
    assert captured.out == ""


def test_given_no_table_when_listing_then_the_error_names_the_variable(
    aws: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("TABLE_NAME", raising=False)

    assert main(["changes"]) == EXIT_USAGE

    assert "TABLE_NAME is not set" in capsys.readouterr().err


# -- revert ----------------------------------------------------------------------------------


@pytest.mark.usefixtures("revert_env")
def test_given_a_pending_change_when_reverted_with_yes_then_its_rules_go_and_the_operator_decided(
    change_store: ChangeStore,
    slack: SlackStandIn,
    slack_secret_arn: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("SLACK_SECRET_ARN", slack_secret_arn)
    monkeypatch.setenv("SLACK_API_URL", slack.api_url)
    group = Group.create()
    group.authorize(Direction.INGRESS, 443, "10.0.0.0/8")
    before = group.rules()
    added = group.authorize(Direction.INGRESS, 22, "203.0.113.0/24", "198.51.100.0/24")
    change = group.change(added)
    change_store.record_new(change, NOW)
    message = blocks.message(change_store.require(change.event_id))
    posted = WebClient(token=BOT_TOKEN, base_url=slack.api_url).chat_postMessage(
        channel=CHANNEL, text=message.text, blocks=message.blocks
    )
    change_store.mark_posted(change.event_id, CHANNEL, str(posted["ts"]), NOW)

    assert main(["revert", change.event_id, "--yes"]) == EXIT_OK

    out = capsys.readouterr().out
    for rule in added:
        assert f"ingress rule {rule.rule_id}" in out
    assert f"2 rules revoked in {MEMBER_ACCOUNT} / {REGION}" in out
    assert group.rules() == before
    done = change_store.require(change.event_id)
    assert done.state is State.REVERTED
    assert done.decided_by is not None and done.decided_by.startswith("cli:arn:aws:")
    # The operator's credentials are the security account's: the rules in the member account
    # could only go through the role chain (moto's STS scopes credentials to the role's account).
    [update] = slack.updates
    assert "from the CLI" in json.dumps(update.blocks)


@pytest.mark.usefixtures("revert_env")
def test_given_an_operator_when_reverting_then_the_chain_is_the_documented_one(
    change_store: ChangeStore,
    assume_role_requests: Callable[[], list[dict[str, str]]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given a pending change, and the operator's own credentials (moto's caller)
    group = Group.create()
    added = group.authorize(Direction.INGRESS, 22, "203.0.113.0/24")
    change = group.change(added)
    change_store.record_new(change, NOW)
    operator = boto3.client("sts").get_caller_identity()["Arn"]
    name = operator.rsplit("/", 1)[-1]
    setup = len(assume_role_requests())

    # When they revert it from the CLI
    assert main(["revert", change.event_id, "--yes"]) == EXIT_OK

    # Then they assumed the hub (HUB_ROLE_ARN), which assumed the spoke role in the change's
    # account: the README's break-glass chain, naming the operator on the way
    chain = [
        (r["RoleArn"], r["RoleSessionName"], r.get("SourceIdentity"))
        for r in assume_role_requests()[setup:]
    ]
    assert chain == [
        (HUB_ROLE_ARN, f"sgrevert-denied-by-cli-{name}", f"cli={name}"),
        (
            f"arn:aws:iam::{MEMBER_ACCOUNT}:role/{SPOKE_ROLE}",
            f"sgrevert-denied-by-cli-{name}",
            None,
        ),
    ]
    assert change_store.require(change.event_id).decided_by == f"cli:{operator}"
    assert added[0].rule_id not in group.rule_ids()
    assert "REVERTED" in capsys.readouterr().out


@pytest.mark.usefixtures("revert_env")
def test_given_an_already_decided_change_when_reverted_then_it_is_refused_and_nothing_moves(
    change_store: ChangeStore, capsys: pytest.CaptureFixture[str]
) -> None:
    group = Group.create()
    added = group.authorize(Direction.INGRESS, 22, "203.0.113.0/24")
    change = group.change(added)
    change_store.record_new(change, NOW)
    change_store.decide(change.event_id, State.APPROVED, "U0BOB", NOW)

    assert main(["revert", change.event_id, "--yes"]) == EXIT_REFUSED

    assert "is already APPROVED (by U0BOB" in capsys.readouterr().err
    assert group.rule_ids() >= {rule.rule_id for rule in added}
    assert change_store.require(change.event_id).decided_by == "U0BOB"


@pytest.mark.usefixtures("revert_env")
def test_given_an_unknown_event_when_reverted_then_it_is_refused(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["revert", "no-such-event", "--yes"]) == EXIT_REFUSED

    assert "no recorded change with event id 'no-such-event'" in capsys.readouterr().err


@pytest.mark.usefixtures("revert_env")
def test_given_no_terminal_and_no_yes_when_reverting_then_it_refuses_to_ask(
    change_store: ChangeStore, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    change = make_change(MEMBER_ACCOUNT, REGION, "sg-0aaa", [])
    change_store.record_new(change, NOW)
    monkeypatch.setattr("sys.stdin", io.StringIO(""))

    assert main(["revert", change.event_id]) == EXIT_USAGE

    assert "pass --yes" in capsys.readouterr().err
    assert change_store.require(change.event_id).state is State.PENDING


@pytest.mark.usefixtures("revert_env")
def test_given_a_terminal_when_the_operator_declines_then_nothing_is_decided(
    change_store: ChangeStore, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    group = Group.create()
    change = group.change(group.authorize(Direction.INGRESS, 22, "203.0.113.0/24"))
    change_store.record_new(change, NOW)
    monkeypatch.setattr("sys.stdin", Keyboard("n\n"))

    assert main(["revert", change.event_id]) == EXIT_REFUSED

    captured = capsys.readouterr()
    assert "Revoke 1 rule(s) in" in captured.err
    assert "not confirmed" in captured.err
    assert change_store.require(change.event_id).state is State.PENDING


@pytest.mark.usefixtures("revert_env")
def test_given_a_terminal_when_the_operator_confirms_then_it_reverts(
    change_store: ChangeStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    group = Group.create()
    before = group.rules()
    change = group.change(group.authorize(Direction.INGRESS, 22, "203.0.113.0/24"))
    change_store.record_new(change, NOW)
    monkeypatch.setattr("sys.stdin", Keyboard("y\n"))

    assert main(["revert", change.event_id]) == EXIT_OK

    assert group.rules() == before
    assert change_store.require(change.event_id).state is State.REVERTED


@pytest.mark.usefixtures("revert_env")
def test_given_a_change_with_no_rules_when_reverted_then_it_fails_and_stays_retryable(
    change_store: ChangeStore, capsys: pytest.CaptureFixture[str]
) -> None:
    change = make_change(MEMBER_ACCOUNT, REGION, "sg-0aaa", [])
    change_store.record_new(change, NOW)

    assert main(["revert", change.event_id, "--yes"]) == EXIT_FAILURE

    assert "nothing to revoke automatically" in capsys.readouterr().out
    assert change_store.require(change.event_id).state is State.REVERT_FAILED


@pytest.mark.usefixtures("revert_env")
def test_given_a_modification_when_reverted_then_the_plan_shows_each_rule_and_it_is_restored(
    change_store: ChangeStore,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    ec2_writes: Callable[[], list[dict[str, str]]],
) -> None:
    # Given two rules opened to anywhere in one call, one with its earlier value on record
    group = Group.create()
    known = authorize_rule(group, Direction.INGRESS, 22, "10.0.0.0/8", "office")
    unknown = authorize_rule(group, Direction.INGRESS, 22, "10.1.0.0/16", "vpn")
    ids = [str(known.rule_id), str(unknown.rule_id)]
    change = modify(group, {i: spec("0.0.0.0/0") for i in ids}, [known])
    change_store.record_new(change, NOW)
    monkeypatch.setattr("sys.stdin", Keyboard("y\n"))
    setup = len(ec2_writes())

    # When the operator reverts it at a terminal and confirms
    assert main(["revert", change.event_id]) == EXIT_OK

    # Then they were shown what each rule gets and asked, and each got exactly that
    captured = capsys.readouterr()
    assert f"  restore {ids[0]} to tcp 22 from 10.0.0.0/8 (now tcp 22 from 0.0.0.0/0)" in (
        captured.out
    )
    assert f"  revoke {ids[1]} (tcp 22 from 0.0.0.0/0): previous value not on record" in (
        captured.out
    )
    assert (
        "Restore 1 rule(s) to their recorded earlier value and revoke 1 rule(s) whose "
        f"previous value is unknown on {group.group_id} in {MEMBER_ACCOUNT} / {REGION}? [y/N]"
    ) in captured.err
    assert (
        f"1 rule restored to its earlier value and 1 revoked (previous value unknown) in "
        f"{MEMBER_ACCOUNT} / {REGION}"
    ) in captured.out
    assert change_store.require(change.event_id).state is State.REVERTED
    assert [w["Action"] for w in ec2_writes()[setup:]] == [
        "ModifySecurityGroupRules",
        "RevokeSecurityGroupIngress",
    ]


@pytest.mark.usefixtures("revert_env")
def test_given_a_prefix_list_edit_when_reverted_then_only_the_added_entries_go(
    change_store: ChangeStore,
    capsys: pytest.CaptureFixture[str],
    ec2_writes: Callable[[], list[dict[str, str]]],
) -> None:
    # Given a change that added 0.0.0.0/0 to a list with an unrelated entry
    corp = PrefixList(account_session(MEMBER_ACCOUNT).client("ec2"), "10.0.0.0/8")
    change = parse_record(corp.add("0.0.0.0/0"))
    change_store.record_new(change, NOW)
    setup = len(ec2_writes())

    # When the operator reverts it
    assert main(["revert", change.event_id, "--yes"]) == EXIT_OK

    # Then the plan named the entry, and only it was removed
    out = capsys.readouterr().out
    assert f"would remove 1 entry from {corp.list_id} (corp-offices)" in out
    assert "  entry 0.0.0.0/0" in out
    assert corp.cidrs() == {"10.0.0.0/8"}
    assert ec2_writes()[setup:] == [
        {
            "Action": "ModifyManagedPrefixList",
            "PrefixListId": corp.list_id,
            "CurrentVersion": "2",
            "RemoveEntry.1.Cidr": "0.0.0.0/0",
        }
    ]


def test_given_no_table_when_reverting_then_the_error_names_the_variable_and_flag(
    aws: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("TABLE_NAME", raising=False)

    assert main(["revert", "some-event", "--yes"]) == EXIT_USAGE

    err = capsys.readouterr().err
    assert "TABLE_NAME is not set" in err and "--table" in err


# -- revert: approvals for a while -----------------------------------------------------------


def expiry_schedules(group: str = "sgrevert") -> ExpirySchedules:
    return ExpirySchedules(boto3.client("scheduler"), group, SCHEDULER_ROLE_ARN)


def scheduled(about: str) -> bool:
    """Whether the expiry and the reminder schedules of `about` exist."""
    expiry = expiry_schedules().get(about)
    if expiry is None:
        return False
    assert expiry.reminder_at is not None
    return True


def reminder_exists(about: str) -> bool:
    client = boto3.client("scheduler")
    try:
        client.get_schedule(Name=reminder_name(about), GroupName="sgrevert")
    except client.exceptions.ResourceNotFoundException:
        return False
    return True


@pytest.mark.usefixtures("revert_env")
def test_given_a_temporary_approval_when_reverted_then_it_is_denied_now_and_its_schedules_go(
    change_store: ChangeStore, capsys: pytest.CaptureFixture[str]
) -> None:
    """Given a change allowed for an hour, with its expiry and reminder scheduled, when the
    operator reverts it, then it is denied by them before its deadline and reverted, its
    history says so, and both schedules are deleted."""
    boto3.client("scheduler").create_schedule_group(Name="sgrevert")
    group = Group.create()
    before = group.rules()
    change = group.change(group.authorize(Direction.INGRESS, 22, "0.0.0.0/0"))
    until = allow_for_an_hour(change_store, change)
    expiry_schedules().set(change.event_id, until, remind_at(NOW, until), RESPONDER_ARN)
    assert scheduled(change.event_id)

    assert main(["revert", change.event_id, "--yes"]) == EXIT_OK

    captured = capsys.readouterr()
    assert f"(APPROVED, allowed until {utc_minute(until)} (" in captured.out
    assert "by U0ALICE)" in captured.out
    assert "REVERTED" in captured.out
    assert f"deleted the expiry schedules of {change.event_id}" in captured.err
    assert group.rules() == before
    done = change_store.require(change.event_id)
    assert done.state is State.REVERTED and done.approved_until is None
    assert done.decided_by is not None and done.decided_by.startswith("cli:arn:aws:")
    assert [t.step for t in done.history] == [
        Step.POSTED,
        Step.ALLOWED_UNTIL,
        Step.DECIDED,
        Step.REVERTED,
    ]
    assert (done.history[2].by, done.history[2].why) == (done.decided_by, "denied")
    assert expiry_schedules().get(change.event_id) is None
    assert not reminder_exists(change.event_id)


@pytest.mark.usefixtures("revert_env")
def test_given_schedules_that_cannot_be_deleted_when_reverted_then_it_warns_and_still_reverts(
    change_store: ChangeStore, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Given a change allowed for an hour and a schedule group that does not exist (so
    deleting its schedules fails), when the operator reverts it, then the revert is done
    and the failure is a warning saying the expiry will find nothing to do."""
    monkeypatch.setenv("EXPIRY_SCHEDULE_GROUP", "no-such-group")
    group = Group.create()
    before = group.rules()
    change = group.change(group.authorize(Direction.INGRESS, 22, "0.0.0.0/0"))
    allow_for_an_hour(change_store, change)

    assert main(["revert", change.event_id, "--yes"]) == EXIT_OK

    captured = capsys.readouterr()
    assert "REVERTED" in captured.out
    assert f"warning: the expiry schedule of {change.event_id} was not deleted" in captured.err
    assert "DeleteSchedule" in captured.err
    assert "when it fires it finds nothing to do" in captured.err
    assert group.rules() == before
    assert change_store.require(change.event_id).state is State.REVERTED


@pytest.mark.usefixtures("revert_env")
def test_given_a_group_message_allowed_for_a_while_when_members_are_reverted_then_its_schedule_goes_last(
    change_store: ChangeStore, capsys: pytest.CaptureFixture[str]
) -> None:
    """Given two changes of one group message allowed for an hour, with the group's expiry
    scheduled (about g:<batch>), when the operator reverts one, then the schedule stays
    for the other; when they revert the other, then it is deleted."""
    boto3.client("scheduler").create_schedule_group(Name="sgrevert")
    group = Group.create()
    first = group.change(group.authorize(Direction.INGRESS, 22, "0.0.0.0/0"))
    second = group.change(group.authorize(Direction.INGRESS, 3389, "0.0.0.0/0"))
    change_store.save_batch("b1", [first.event_id, second.event_id], NOW)
    until = allow_for_an_hour(change_store, first, "b1")
    allow_for_an_hour(change_store, second, "b1")
    expiry_schedules().set("g:b1", until, remind_at(NOW, until), RESPONDER_ARN)

    assert main(["revert", first.event_id, "--yes"]) == EXIT_OK

    assert "the group's expiry schedule stays for its 1 other change(s)" in (
        capsys.readouterr().err
    )
    assert scheduled("g:b1")
    assert change_store.require(second.event_id).temporary

    assert main(["revert", second.event_id, "--yes"]) == EXIT_OK

    assert "deleted the expiry schedules of g:b1" in capsys.readouterr().err
    assert expiry_schedules().get("g:b1") is None
    assert not reminder_exists("g:b1")
    assert change_store.require(first.event_id).state is State.REVERTED
    assert change_store.require(second.event_id).state is State.REVERTED
