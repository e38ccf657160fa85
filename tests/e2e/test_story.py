"""The demo's story, end to end over HTTP: detect, post, approve, deny, revert."""

from __future__ import annotations

from pathlib import Path

import pytest

from sandbox import demo
from sandbox.servers import ALICE, BOB, MALLORY, Sandbox
from sgrevert.model import State
from tests.e2e.story import authorize, buttons, posted_event_ids, rule_ids

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
        assert buttons(message.blocks) == ["approve", "deny"]
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
    assert buttons(box.posted(egress.event_id).message.blocks) == ["approve", "deny"]
    # and the revert ran once, asynchronously, through Lambda's Event invocation
    reverts = [
        i
        for i in box.lambdas.invocations
        if i.invocation_type == "Event" and i.payload.get("sgrevert") == "revert"
    ]
    assert len(reverts) == 1
    assert reverts[0].errors == []


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
    assert "every actor mentioned: @erin, @carol, @dave, @frank" in out.out
    assert ":globe_with_meridians:" not in out.out  # every emoji sgrevert posts is drawn
    assert "\033[" not in out.out  # no colour when asked for none
    logs = log.read_text()  # the handlers' logs went to the file, not the terminal
    assert '"service":"sgrevert-respond"' in logs
    assert "lake run done" in logs
    assert '"level"' not in out.out


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
