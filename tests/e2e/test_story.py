"""The demo's story, end to end over HTTP: detect, post, approve, deny, revert."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sandbox import demo
from sandbox.org import OFFICE_CIDRS
from sandbox.servers import ALICE, BOB, DAVE, ERIN, FRANK, MALLORY, Sandbox
from sgrevert.model import State
from tests.e2e.story import (
    add_to_prefix_list,
    authorize,
    buttons,
    described_rule,
    modify_rule,
    posted_event_ids,
    prefix_list_entries,
    rule_ids,
    shown,
)

pytestmark = pytest.mark.e2e

SLACK_ACK_SECONDS = 3.0


def test_deny_reverts_exactly_the_denied_rules_and_approve_keeps_them(box: Sandbox) -> None:
    # Given three changes in two member accounts, detected and posted
    existing = {"web": rule_ids(box, "web"), "db": rule_ids(box, "db")}
    risky = authorize(box, "web", "0.0.0.0/0", 22, extra_cidrs=("198.51.100.0/24",))
    benign = authorize(box, "db", "10.2.0.0/24", 5432, who="carol.data@example.com")
    # by another actor: one actor's changes to one group are posted as one group
    egress = authorize(box, "web", "203.0.113.0/24", 443, egress=True, who="dave.ops@example.com")
    assert box.deliver_trail() == 3
    report = box.run_detector()
    assert (report["recorded"], report["posted"]) == (3, 3)
    for made in (risky, benign, egress):
        message = box.posted(made.event_id).message
        assert buttons(message.blocks) == ["approve", "approve_for", "deny"]
        assert box.record(made.event_id).state is State.PENDING
    assert sorted(posted_event_ids(box)) == sorted(m.event_id for m in (risky, benign, egress))

    # When bob approves one, alice denies the risky one and mallory (no approver) clicks
    for made, action, user in ((benign, "approve", BOB), (risky, "deny", ALICE)):
        answer = box.click(made.event_id, action, user)
        assert answer.status_code == 200, answer.text
    refused = box.click(egress.event_id, "approve", MALLORY)
    assert refused.status_code == 200
    box.wait_for_reverts()

    # Then every click was answered well within Slack's 3 seconds
    assert all(e.seconds < SLACK_ACK_SECONDS for e in box.gateway.exchanges)
    assert all(e.error is None for e in box.gateway.exchanges)
    # and the denied change is reverted: exactly its rules are gone, in its account/region
    denied = box.record(risky.event_id)
    assert denied.state is State.REVERTED, denied.outcome
    assert denied.decided_by == ALICE.id
    assert rule_ids(box, "web") == existing["web"] | set(egress.rule_ids)
    assert not set(risky.rule_ids) & rule_ids(box, "web")
    # and the approved change keeps its rule
    assert box.record(benign.event_id).state is State.APPROVED
    assert rule_ids(box, "db") == existing["db"] | set(benign.rule_ids)
    # and mallory changed nothing but was told why, privately
    assert box.record(egress.event_id).state is State.PENDING
    (told,) = [e for e in box.slack.ephemerals if e.user == MALLORY.id]
    assert "not allowed" in (told.text or "")
    # and the messages say what happened, without buttons once decided
    reverted = box.posted(risky.event_id).message
    assert buttons(reverted.blocks) == []
    assert "revoked" in (reverted.text or "") or "reverted" in (reverted.text or "")
    approved = box.posted(benign.event_id).message
    assert buttons(approved.blocks) == []
    assert "approved" in (approved.text or "").lower()
    assert buttons(box.posted(egress.event_id).message.blocks) == ["approve", "approve_for", "deny"]
    # and the revert ran once, asynchronously, through Lambda's Event invocation
    reverts = [
        i
        for i in box.lambdas.invocations
        if i.invocation_type == "Event" and i.payload.get("sgrevert") == "revert"
    ]
    assert len(reverts) == 1
    assert reverts[0].errors == []


def test_deny_restores_a_widened_rule_to_its_recorded_earlier_value(box: Sandbox) -> None:
    """Given tcp 22 from 10.0.0.0/8 on web, its Authorize recorded by an earlier detector
    run, when erin widens it in place to 0.0.0.0/0 and alice denies the modification,
    then the message showed before -> after and the rule, by its id, is 10.0.0.0/8 again
    while every other rule stays."""
    bastion = authorize(
        box, "web", "10.0.0.0/8", 22, who=FRANK.email, description="bastion subnets"
    )
    box.deliver_trail()
    assert box.run_detector()["recorded"] == 1
    (rule_id,) = bastion.rule_ids
    existing = rule_ids(box, "web")

    widened = modify_rule(box, "web", rule_id, "0.0.0.0/0", 22, who=ERIN.email)
    assert box.deliver_trail() == 1
    report = box.run_detector()
    assert (report["recorded"], report["posted"]) == (1, 1)
    assert described_rule(box, "web", rule_id)["CidrIpv4"] == "0.0.0.0/0"
    text = shown(box, widened.event_id)
    message = box.posted(widened.event_id).message
    assert buttons(message.blocks) == ["approve", "approve_for", "deny"]
    answer = box.click(widened.event_id, "deny", ALICE)
    assert answer.status_code == 200, answer.text
    box.wait_for_reverts()

    # Then the message said what the rule was and what it became, on one line
    assert any(
        "10.0.0.0/8" in line and "→" in line and "0.0.0.0/0" in line for line in text.splitlines()
    ), text
    # and the earlier value came from the Authorize's record (its change or its snapshot)
    record = box.record(widened.event_id)
    (prior,) = record.change.prior
    assert (prior.rule.rule_id, prior.rule.source) == (rule_id, "10.0.0.0/8")
    assert prior.source == bastion.event_id
    # and Deny restored the rule in place, by its id, description included
    assert record.state is State.REVERTED, record.outcome
    assert record.decided_by == ALICE.id
    restored = described_rule(box, "web", rule_id)
    assert (restored["IpProtocol"], restored["FromPort"], restored["ToPort"]) == ("tcp", 22, 22)
    assert restored["CidrIpv4"] == "10.0.0.0/8"
    assert restored.get("Description") == "bastion subnets"
    assert rule_ids(box, "web") == existing
    assert buttons(box.posted(widened.event_id).message.blocks) == []


def test_deny_removes_exactly_the_entry_added_to_a_prefix_list(box: Sandbox) -> None:
    """Given the offices' prefix list, referenced by rules on web (tcp 8443) and batch
    (tcp 22), when dave adds 0.0.0.0/0 to it and bob denies, then the message named the
    list, the CIDR and the referencing groups with their ports, and only that entry is
    gone: the office CIDRs and every rule stay."""
    offices = box.org.prefix_lists["offices"]
    web, batch = box.org.groups["web"], box.org.groups["batch"]
    rules = {key: rule_ids(box, key) for key in ("web", "batch")}

    added = add_to_prefix_list(box, "offices", "0.0.0.0/0", who=DAVE.email)
    assert prefix_list_entries(box, "offices") == {c for c, _ in OFFICE_CIDRS} | {"0.0.0.0/0"}
    assert box.deliver_trail() == 1
    report = box.run_detector()
    assert (report["recorded"], report["posted"]) == (1, 1)
    text = shown(box, added.event_id)
    assert buttons(box.posted(added.event_id).message.blocks) == ["approve", "approve_for", "deny"]
    answer = box.click(added.event_id, "deny", BOB)
    assert answer.status_code == 200, answer.text
    box.wait_for_reverts()

    # Then the message named the list, the added CIDR and the groups whose rules use it
    assert offices.name in text and "0.0.0.0/0" in text
    for group, port in ((web, "8443"), (batch, "22")):
        assert group.group_id in text or f"`{group.name}`" in text, text
        assert port in text
    # and the change is reverted: exactly the added entry removed
    record = box.record(added.event_id)
    assert record.state is State.REVERTED, record.outcome
    assert record.decided_by == BOB.id
    assert prefix_list_entries(box, "offices") == {c for c, _ in OFFICE_CIDRS}
    assert {key: rule_ids(box, key) for key in ("web", "batch")} == rules
    assert buttons(box.posted(added.event_id).message.blocks) == []


def test_the_demo_tells_the_story_and_exits_0(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "handlers.log"

    status = demo.main(["--no-colour", "--log-file", str(log)])

    out = capsys.readouterr()
    assert status == 0, out.err
    assert "== Summary" in out.out
    assert "2 rules revoked" in out.out
    # and the messages it prints carry each change's context: the account by name, the
    # group's exposure, what it is attached to and the actor, mentioned
    assert "in account member-a (" in out.out and "in account member-b (" in out.out
    assert "🌐 reachable from the internet: i-" in out.out and "(web-1)" in out.out
    assert "Attached to 1 RDS network interface" in out.out
    assert "CRITICAL · attached to nothing" in out.out
    assert "Attached to nothing: the rule has no effect until the group is used" in out.out
    for who in ("@erin", "@carol", "@dave", "@frank"):
        assert f"By {who} via" in out.out
    assert "every actor mentioned: @erin, @carol, @frank, @dave" in out.out
    # and the later edits: the widened rule shown before -> after and restored, the prefix
    # list's added entry shown with the groups it opens and removed, the offices kept
    lines = out.out.splitlines()
    assert any(re.search(r"10\.0\.0\.0/8 → .*0\.0\.0\.0/0", line) for line in lines)
    assert any("(web): tcp 8443" in line for line in lines)
    assert any("(batch): tcp 22" in line for line in lines)
    assert "+ now       tcp 22 from 10.0.0.0/8  (bastion subnets)" in out.out
    assert "0.0.0.0/0 removed from corp-offices, the office CIDRs kept" in out.out
    assert "5 changes detected" in out.out
    # and the critical change needs two approvers: alice's Allow for… 1 h counts one, her
    # second click is refused privately, bob's Approve makes it allowed for her hour
    assert "allows for 1 h" in out.out and "approves again" in out.out
    assert any("1 of 2" in line and "@alice" in line for line in lines)
    assert "only alice sees: You already approved this change" in out.out
    assert re.search(r"Allowed by @alice and @bob until .*\(1 h\)", out.out)
    # and the undecided critical change is reminded about 30 minutes on by its schedule,
    # in its thread, mentioning the on-call user group; the decided ones' schedules did
    # nothing
    assert re.search(r"nudge-\S+ fired at \d\d:\d\d UTC: revertsg-2 reminded about RDP", out.out)
    assert any(line.startswith("  │ 🔔 @security-oncall, ") for line in lines), out.out
    assert "4 more nudge- schedules fired" in out.out
    assert "mentioning the user group S0SECONCALL" in out.out
    # and the approval for an hour: reminded 55 minutes on, expired past the deadline, each
    # by its schedule as the sandbox's clock was moved, the thread its history
    assert re.search(r"remind-\S+ fired at \d\d:\d\d UTC", out.out)
    assert any(line.startswith("  │ ⏰ @alice, @bob and @erin, ") for line in lines)
    assert re.search(r"expire-\S+ fired at \d\d:\d\d UTC", out.out)
    assert "Approval by @alice and @bob expired" in out.out
    assert "as expiry:bob; the clock moved 65 minutes ahead, not waited for" in out.out
    # every emoji sgrevert posts is drawn, and every mention
    for emoji in (
        "alarm_clock",
        "stopwatch",
        "globe_with_meridians",
        "bell",
        "ballot_box_with_check",
    ):
        assert f":{emoji}:" not in out.out
    assert "subteam^" not in out.out
    assert "\033[" not in out.out  # no colour when asked for none
    logs = log.read_text()  # the handlers' logs went to the file, not the terminal
    assert '"service":"sgrevert-respond"' in logs
    assert "lake run done" in logs
    assert '"level"' not in out.out
    assert '"_aws"' not in out.out  # nor the functions' metrics


def test_a_failing_step_exits_1_naming_the_step_and_the_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def lake_is_down(self: Sandbox) -> dict[str, object]:
        raise ConnectionError("CloudTrail Lake did not answer")

    monkeypatch.setattr(Sandbox, "run_detector", lake_is_down)

    status = demo.main(["--no-colour", "--log-file", str(tmp_path / "handlers.log")])

    err = capsys.readouterr().err
    assert status == 1
    assert "demo FAILED at step: run the detector" in err
    assert "ConnectionError: CloudTrail Lake did not answer" in err
