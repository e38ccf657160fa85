"""Parsing a verified click and wording the replies to clicks that change nothing."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import pytest

from sandbox.clicks import NoSuchButton, SlackUser, block_actions_payload, signed_request
from sgrevert.blocks import Message, message, reminder_reply
from sgrevert.click_checks import check_decider
from sgrevert.errors import (
    AlreadyApproved,
    AlreadyDecided,
    NotDecidable,
    NotTemporary,
    SelfApproval,
    UnknownChange,
)
from sgrevert.interaction import (
    DECISIONS,
    REFUSALS,
    Action,
    BadInteraction,
    NotAllowed,
    TemporaryNotConfigured,
    explain,
    parse_click,
)
from sgrevert.model import Actor, Approval, Change, ChangeRecord, State, Step, Transition
from sgrevert.slack_request import HttpRequest, verified_body
from sgrevert.usergroups import UserGroups
from tests.support import SIGNING_SECRET

EVENT_ID = "6f1c2b0e-8a2d-4c47-9d1e-3b5a7f0c9e21"
DEADLINE = datetime(2026, 12, 1, 14, 32, tzinfo=UTC)
EPOCH = int(DEADLINE.timestamp())  # 1796135520


def payload(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "type": "block_actions",
        "user": {"id": "U0ALICE", "username": "alice", "team_id": "T0SANDBOX"},
        "container": {"type": "message", "message_ts": "1700000000.000100", "channel_id": "C0SEC"},
        "channel": {"id": "C0SEC", "name": "security-changes"},
        "response_url": "https://hooks.slack.com/actions/T0/1/abc",
        "actions": [{"action_id": "deny", "value": EVENT_ID, "type": "button"}],
    }
    base.update(overrides)
    return base


def form(data: Any) -> str:
    return urlencode({"payload": json.dumps(data)})


def record(
    state: State, decided_by: str | None = "U0ALICE", outcome: str | None = None
) -> ChangeRecord:
    change = Change(
        event_id=EVENT_ID,
        event_name="AuthorizeSecurityGroupIngress",
        event_time=datetime(2026, 11, 27, 12, 0, tzinfo=UTC),
        account="111122223333",
        region="eu-west-1",
        group_id="sg-1",
        actor=Actor(arn="arn:aws:iam::111122223333:user/dev", type="IAMUser"),
    )
    return ChangeRecord(
        change=change,
        state=state,
        recorded_at=change.event_time,
        decided_by=decided_by,
        decided_at=datetime(2026, 11, 27, 12, 5, tzinfo=UTC),
        outcome=outcome,
    )


def test_given_a_deny_click_when_parsed_then_it_names_the_change_user_and_message() -> None:
    click = parse_click(form(payload()))
    assert click.decision is State.DENIED
    assert (click.event_id, click.user_id, click.user_name) == (EVENT_ID, "U0ALICE", "alice")
    assert (click.channel_id, click.message_ts) == ("C0SEC", "1700000000.000100")


def test_given_an_approve_click_without_a_channel_object_when_parsed_then_the_container_is_used() -> (
    None
):
    data = payload(actions=[{"action_id": "approve", "value": EVENT_ID}])
    del data["channel"]
    click = parse_click(form(data))
    assert (click.decision, click.channel_id) == (State.APPROVED, "C0SEC")


@pytest.mark.parametrize(
    "body",
    [
        "",
        "payload=",
        "payload=not-json",
        form([1, 2]),
        form(payload(type="view_submission")),
        form(payload(type="interactive_message")),
        form(payload(actions=[])),
        form(payload(actions=[{"action_id": "deny", "value": EVENT_ID}] * 2)),
        form(payload(actions=["deny"])),
        form(payload(actions=[{"action_id": "delete", "value": EVENT_ID}])),
        form(payload(actions=[{"action_id": ["deny"], "value": EVENT_ID}])),
        form(payload(actions=[{"action_id": "deny"}])),
        form(payload(actions=[{"action_id": "deny", "value": ""}])),
        form(payload(actions=[{"action_id": "deny", "value": "x" * 500}])),
        form(payload(actions=[{"action_id": "deny", "value": "ev 1\n"}])),
        form(payload(user={"id": "alice"})),
        form(payload(user="U0ALICE")),
        form(payload(channel={"id": "not a channel"}, container={})),
        urlencode([("payload", json.dumps(payload())), ("payload", json.dumps(payload()))]),
    ],
    ids=lambda body: body[:40],
)
def test_given_anything_but_one_approve_or_deny_click_when_parsed_then_it_is_rejected(
    body: str,
) -> None:
    with pytest.raises(BadInteraction):
        parse_click(body)


def test_given_no_approvers_when_anyone_clicks_then_they_may_decide() -> None:
    # Users alone: no user group is looked up, so no Slack client is ever built.
    groups = UserGroups(lambda: pytest.fail("no user group to look up"))
    check_decider("U0ANYONE", frozenset(), groups)
    check_decider("U0ALICE", frozenset({"U0ALICE"}), groups)
    with pytest.raises(NotAllowed):
        check_decider("U0MALLORY", frozenset({"U0ALICE"}), groups)


def test_given_each_refusal_when_explained_then_the_clicker_learns_why() -> None:
    not_allowed = explain(NotAllowed("U0MALLORY", frozenset({"U0BOB", "U0ALICE"})))
    assert "not allowed" in not_allowed
    assert "<@U0ALICE>, <@U0BOB>" in not_allowed
    assert "no longer on record" in explain(UnknownChange(EVENT_ID))
    assert "for information" in explain(NotDecidable(record(State.INFO, None)))
    approved = explain(AlreadyDecided(record(State.APPROVED)))
    assert approved.startswith("<@U0ALICE> already approved this change at 2026-11-27 12:05 UTC")
    assert "revert is under way" in explain(AlreadyDecided(record(State.DENIED)))
    assert "rules were revoked" in explain(AlreadyDecided(record(State.REVERTED)))
    failed = explain(AlreadyDecided(record(State.REVERT_FAILED, outcome="AccessDenied <x>")))
    assert "AccessDenied &lt;x&gt;" in failed
    assert "Click Deny to retry" in failed


# -- approvals for a while -------------------------------------------------------------------


def select(action_id: str, value: Any) -> dict[str, Any]:
    """A static_select click as Slack sends it: the chosen option in `selected_option`."""
    option = {"text": {"type": "plain_text", "text": "1 h", "emoji": True}, "value": value}
    return {
        "type": "static_select",
        "action_id": action_id,
        "block_id": "decision",
        "selected_option": option,
        "placeholder": {"type": "plain_text", "text": "Allow for…", "emoji": True},
        "action_ts": "1796131920.123456",
    }


def button(action_id: str, value: Any) -> dict[str, Any]:
    return {"type": "button", "action_id": action_id, "value": value}


def chosen(action: dict[str, Any]) -> str:
    """A click's value, for its test id."""
    option = action.get("selected_option")
    value = option.get("value") if isinstance(option, dict) else action.get("value", option)
    return str(value)[-24:]


def clicked(action: dict[str, Any]) -> Any:
    return parse_click(form(payload(actions=[action])))


def test_given_an_allow_for_choice_when_parsed_then_it_names_the_change_and_the_duration() -> None:
    """Given "1 h" chosen in Allow for…, when parsed, then the click is an approval for an
    hour of that change, with no deadline yet."""
    click = clicked(select("approve_for", f"{EVENT_ID}|3600"))

    assert (click.action, click.event_id, click.duration) == (
        Action.APPROVE_FOR,
        EVENT_ID,
        timedelta(hours=1),
    )
    assert click.decision is State.APPROVED
    assert click.deadline is None
    assert (click.user_id, click.channel_id) == ("U0ALICE", "C0SEC")


def test_given_a_group_allow_for_choice_when_parsed_then_it_names_the_group() -> None:
    """Given Allow for… on a group message, when parsed, then the click names `g:<batch>`."""
    click = clicked(select("approve_for", "g:0f3a9c|604800"))

    assert (click.event_id, click.duration) == ("g:0f3a9c", timedelta(days=7))


def test_given_an_extend_choice_when_parsed_then_it_names_the_duration_and_the_deadline() -> None:
    """Given "+8 h" chosen in Extend…, when parsed, then the click carries the hours to add
    and the deadline the message showed, as a UTC time."""
    click = clicked(select("extend_for", f"{EVENT_ID}|28800|{EPOCH}"))

    assert (click.action, click.duration, click.deadline) == (
        Action.EXTEND,
        timedelta(hours=8),
        DEADLINE,
    )
    assert click.deadline is not None
    assert click.deadline.tzinfo is UTC
    assert click.decision is State.APPROVED


@pytest.mark.parametrize(
    ("action_id", "action", "decision"),
    [
        ("keep_permanently", Action.KEEP, State.APPROVED),
        ("revert_now", Action.REVERT_NOW, State.DENIED),
    ],
)
def test_given_keep_or_revert_now_when_parsed_then_it_names_the_deadline_shown(
    action_id: str, action: Action, decision: State
) -> None:
    """Given Keep permanently or Revert now, when parsed, then the click names the change
    and the deadline shown, and amounts to an approval or a denial."""
    click = clicked(button(action_id, f"g:b1|{EPOCH}"))

    assert (click.action, click.event_id, click.deadline, click.duration) == (
        action,
        "g:b1",
        DEADLINE,
        None,
    )
    assert click.decision is decision


def test_every_action_amounts_to_approve_or_deny_for_the_callers_that_only_decide() -> None:
    """Given each action, then its decision is APPROVED or DENIED; the ids are Slack's."""
    assert {a: DECISIONS[a] for a in Action} == {
        Action.APPROVE: State.APPROVED,
        Action.DENY: State.DENIED,
        Action.APPROVE_FOR: State.APPROVED,
        Action.EXTEND: State.APPROVED,
        Action.KEEP: State.APPROVED,
        Action.REVERT_NOW: State.DENIED,
    }
    assert [a.value for a in Action] == [
        "approve",
        "deny",
        "approve_for",
        "extend_for",
        "keep_permanently",
        "revert_now",
    ]
    assert clicked(button("approve", EVENT_ID)).action is Action.APPROVE


def test_given_the_bounds_of_a_duration_when_parsed_then_both_are_accepted() -> None:
    """Given 15 minutes and 30 days, the shortest and longest, then both parse."""
    assert clicked(select("approve_for", f"{EVENT_ID}|900")).duration == timedelta(minutes=15)
    assert clicked(select("approve_for", f"{EVENT_ID}|2592000")).duration == timedelta(days=30)


def test_given_a_128_character_id_when_parsed_then_it_is_accepted() -> None:
    """Given the longest id a click accepts, in an Extend… value, then it parses."""
    long_id = "e" * 128
    assert clicked(select("extend_for", f"{long_id}|3600|{EPOCH}")).event_id == long_id


@pytest.mark.parametrize(
    "action",
    [
        # Allow for…: a select, "<id>|<seconds>", seconds from 15 min to 30 days
        button("approve_for", f"{EVENT_ID}|3600"),
        {**select("approve_for", f"{EVENT_ID}|3600"), "type": None},
        {**select("approve_for", f"{EVENT_ID}|3600"), "selected_option": None},
        {**select("approve_for", f"{EVENT_ID}|3600"), "selected_option": "1 h"},
        {k: v for k, v in select("approve_for", "x").items() if k != "selected_option"},
        select("approve_for", None),
        select("approve_for", 3600),
        select("approve_for", EVENT_ID),
        select("approve_for", f"{EVENT_ID}|"),
        select("approve_for", f"|{3600}"),
        select("approve_for", f"{EVENT_ID}|1h"),
        select("approve_for", f"{EVENT_ID}|3600.0"),
        select("approve_for", f"{EVENT_ID}|-3600"),
        select("approve_for", f"{EVENT_ID}|+3600"),
        select("approve_for", f"{EVENT_ID}|03600"),
        select("approve_for", f"{EVENT_ID}| 3600"),
        select("approve_for", f"{EVENT_ID}|899"),
        select("approve_for", f"{EVENT_ID}|2592001"),
        select("approve_for", f"{EVENT_ID}|99999999999999999999"),
        select("approve_for", f"{EVENT_ID}|3600|{EPOCH}"),
        select("approve_for", "ev 1|3600"),
        select("approve_for", f"{'e' * 129}|3600"),
        # Extend…: a select, "<id>|<seconds>|<deadline>"
        select("extend_for", f"{EVENT_ID}|3600"),
        select("extend_for", f"{EVENT_ID}|3600|"),
        select("extend_for", f"{EVENT_ID}|3600|2026-12-01T14:32:00Z"),
        select("extend_for", f"{EVENT_ID}|3600|{EPOCH}.5"),
        select("extend_for", f"{EVENT_ID}|3600|123456789"),
        select("extend_for", f"{EVENT_ID}|3600|{EPOCH}0"),
        select("extend_for", f"{EVENT_ID}|60|{EPOCH}"),
        select("extend_for", f"{EVENT_ID}|3600|{EPOCH}|x"),
        button("extend_for", f"{EVENT_ID}|3600|{EPOCH}"),
        # Keep permanently and Revert now: buttons, "<id>|<deadline>"
        button("keep_permanently", EVENT_ID),
        button("keep_permanently", f"{EVENT_ID}|"),
        button("keep_permanently", f"{EVENT_ID}|tomorrow"),
        button("keep_permanently", f"{EVENT_ID}|3600|{EPOCH}"),
        select("keep_permanently", f"{EVENT_ID}|{EPOCH}"),
        button("revert_now", f"{EVENT_ID}|-{EPOCH}"),
        button("revert_now", f"|{EPOCH}"),
        button("revert_now", None),
        # Approve and Deny: buttons carrying the id alone
        button("approve", f"{EVENT_ID}|3600"),
        button("deny", f"{EVENT_ID}|{EPOCH}"),
        select("approve", EVENT_ID),
        {"type": "overflow", "action_id": "deny", "value": EVENT_ID},
    ],
    ids=lambda action: f"{action.get('action_id')}-{action.get('type')}-{chosen(action)}",
)
def test_given_a_malformed_click_on_the_new_actions_when_parsed_then_it_is_rejected(
    action: dict[str, Any],
) -> None:
    """Given a click whose element or value is not what the message carries (wrong element
    type, no option chosen, a missing or extra part, a duration out of bounds or not whole
    seconds, a deadline not in Unix seconds), when parsed, then it is BadInteraction:
    answered 400, nothing changes."""
    with pytest.raises(BadInteraction):
        clicked(action)


def temporary(record_: ChangeRecord, until: datetime = DEADLINE) -> ChangeRecord:
    return replace(record_, approved_until=until)


def test_given_a_click_on_a_deadline_that_moved_when_explained_then_it_says_where_it_went() -> None:
    """Given Extend/Keep/Revert now on a deadline no longer current, when explained, then
    the clicker learns the deadline they clicked on is gone and what the change is now, and
    who made it so."""
    later = DEADLINE + timedelta(hours=1)
    extended = replace(
        temporary(record(State.APPROVED), later),
        history=(Transition(Step.EXTENDED, DEADLINE, "U0BOB", None, later),),
    )
    kept = replace(
        record(State.APPROVED),
        history=(Transition(Step.MADE_PERMANENT, DEADLINE, "U0BOB"),),
    )

    text = explain(NotTemporary(extended), deadline=DEADLINE)

    assert text.startswith(
        "This change is no longer allowed until 2026-12-01 14:32 UTC: it was extended, kept or "
        "reverted meanwhile (now: extended by <@U0BOB> until 2026-12-01 15:32 UTC)."
    )
    assert "(now: kept permanently by <@U0BOB>)" in explain(NotTemporary(kept), DEADLINE)
    assert "(now: denied by <@U0BOB> and it was reverted)" in explain(
        NotTemporary(record(State.REVERTED, "U0BOB")), DEADLINE
    )
    assert "(now: the approval by <@U0ALICE> expired, the revert is under way)" in explain(
        NotTemporary(record(State.DENIED, "expiry:U0ALICE")), DEADLINE
    )
    assert "(now: awaiting review)" in explain(NotTemporary(record(State.PENDING, None)))
    assert explain(NotTemporary(kept)).startswith("This change is no longer allowed for a while:")


def test_given_allow_for_without_a_scheduler_role_when_explained_then_it_says_to_decide() -> None:
    """Given temporary approvals are not configured, when explained, then the clicker
    learns nothing changed, why, and what they can do instead."""
    text = explain(TemporaryNotConfigured())

    assert text.startswith("Approvals for a while are not set up here")
    assert "nothing was changed" in text
    assert "Decide it for good instead (Approve, Deny, or Keep permanently)." in text
    assert "SCHEDULER_ROLE_ARN" in str(TemporaryNotConfigured())
    assert NotTemporary in REFUSALS
    assert TemporaryNotConfigured in REFUSALS


def test_given_a_stale_click_on_a_temporary_or_expired_change_then_the_clicker_learns_so() -> None:
    """Given Approve on a change allowed for a while, or on one its expiry reverted, when
    explained, then the reply says so rather than "approved" or "denied by someone"."""
    allowed = explain(AlreadyDecided(temporary(record(State.APPROVED))))
    expired = explain(AlreadyDecided(record(State.REVERTED, "expiry:U0ALICE")))

    assert allowed.startswith(
        "<@U0ALICE> already allowed this change until 2026-12-01 14:32 UTC; nothing was changed."
    )
    assert "Extend…, Keep permanently or Revert now" in allowed
    assert expired == (
        "The approval by <@U0ALICE> expired at 2026-11-27 12:05 UTC; it was reverted. "
        "Nothing was changed."
    )


# -- the sandbox's clicks, as Slack sends them -------------------------------------------------


def sandbox_click(msg: Message, action_id: str, option: str | None = None, **extra: Any) -> Any:
    """The sandbox's signed click on `msg`, and the click the responder reads from it (the
    signature checked first, as the responder does)."""
    data = block_actions_payload(
        user=SlackUser("U0BOB", "bob"),
        channel="C0SEC",
        ts="1796131800.000200",
        text=msg.text,
        blocks=msg.blocks,
        action_id=action_id,
        response_url="https://hooks.slack.com/actions/T0/1/abc",
        option=option,
        **extra,
    )
    body, headers = signed_request(data, SIGNING_SECRET)
    request = HttpRequest(body=body, headers={k.lower(): v for k, v in headers.items()})
    return data, parse_click(verified_body(request, SIGNING_SECRET))


def pending_message() -> Message:
    return message(replace(record(State.PENDING, None), slack_ts="1796131800.000100"))


def test_given_the_sandbox_chooses_an_option_when_parsed_then_it_is_that_choice() -> None:
    """Given the sandbox choosing "8 h" in a message's Allow for…, when the signed click is
    verified and parsed, then it is an approval for 8 hours; the payload carries the option
    in `actions[0].selected_option` and in `state.values`, as Slack sends it."""
    data, click = sandbox_click(pending_message(), "approve_for", "8 h")

    assert (click.action, click.duration, click.event_id) == (
        Action.APPROVE_FOR,
        timedelta(hours=8),
        EVENT_ID,
    )
    action = data["actions"][0]
    assert action["type"] == "static_select"
    assert action["selected_option"]["value"] == f"{EVENT_ID}|28800"
    assert "value" not in action
    assert (
        data["state"]["values"]["decision"]["approve_for"]["selected_option"]
        == (action["selected_option"])
    )


def test_given_the_sandbox_clicks_a_reminder_in_a_thread_then_the_container_says_so() -> None:
    """Given Keep permanently on a reminder (a thread reply), when the sandbox clicks it,
    then the container names the thread, and the click the deadline shown."""
    allowed = replace(record(State.APPROVED), approved_until=DEADLINE)

    data, click = sandbox_click(
        reminder_reply(allowed), "keep_permanently", thread_ts="1796131800.000100"
    )

    assert data["container"]["thread_ts"] == "1796131800.000100"
    assert (click.action, click.deadline, click.message_ts) == (
        Action.KEEP,
        DEADLINE,
        "1796131800.000200",
    )


def test_given_the_sandbox_asked_for_a_choice_that_is_not_there_then_it_says_so() -> None:
    """Given an option the select lacks, an option for a button, or a select without one,
    then the sandbox refuses to build the click, naming the problem."""
    with pytest.raises(NoSuchButton, match="has no option '2 h'"):
        sandbox_click(pending_message(), "approve_for", "2 h")
    with pytest.raises(NoSuchButton, match="is a button"):
        sandbox_click(pending_message(), "approve", "1 h")
    with pytest.raises(NoSuchButton, match="choose an option"):
        sandbox_click(pending_message(), "approve_for")


# -- several approvers -----------------------------------------------------------------------


def test_given_the_actor_approving_their_own_change_when_explained_then_they_may_still_deny() -> (
    None
):
    """Given the Slack user who made the change clicked Approve, then they learn to ask
    another approver, and that Deny is still theirs."""
    text = explain(SelfApproval(record(State.PENDING, None), "U0ERIN"))

    assert text.startswith("You made this change; ask another approver.")
    assert "you can still Deny it" in text
    assert SelfApproval in REFUSALS


def test_given_an_approver_approving_again_when_explained_then_it_names_who_approved_so_far() -> (
    None
):
    """Given alice approved again a change that needs three approvals and has hers and
    bob's, then she learns it needs three, has two (hers and bob's), and to ask another."""
    at = datetime(2026, 11, 27, 12, 3, tzinfo=UTC)
    approvals = (Approval("U0ALICE", at), Approval("U0BOB", at, timedelta(hours=1)))
    counted = replace(record(State.PENDING, None), approvals=approvals, approvals_needed=3)

    text = explain(AlreadyApproved(counted, "U0ALICE"))

    assert text == (
        "You already approved this change; nothing was changed. It needs 3 approvals "
        "(2 so far: <@U0ALICE> and <@U0BOB>): ask another approver."
    )
    assert AlreadyApproved in REFUSALS


def test_given_many_approvals_so_far_when_explained_then_a_few_are_named() -> None:
    at = datetime(2026, 11, 27, 12, 3, tzinfo=UTC)
    approvals = tuple(Approval(f"U0A{i:03d}", at) for i in range(8))
    counted = replace(record(State.PENDING, None), approvals=approvals, approvals_needed=10)

    text = explain(AlreadyApproved(counted, "U0A000"))

    assert "(8 so far: <@U0A000>, <@U0A001>, <@U0A002>, <@U0A003>, <@U0A004> and others)" in (text)
    assert "<@U0A005>" not in text
