"""Approvals for a while in Slack: Allow for…, the approval's state with Revert now, Extend…
and Keep permanently, the expiry, the thread replies and the reminder."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import pytest

from sgrevert.blocks import (
    ACTION_APPROVE,
    ACTION_APPROVE_FOR,
    ACTION_DENY,
    ACTION_EXTEND,
    ACTION_KEEP,
    ACTION_REVERT_NOW,
    MAX_OPTION_VALUE,
    Message,
    batch_message,
    history_reply,
    message,
    reminder_reply,
)
from sgrevert.context import ActorInfo, ChangeContext, Via
from sgrevert.durations import DEFAULT_TEMPORARY_APPROVALS
from sgrevert.interaction import Action, parse_click
from sgrevert.model import ChangeRecord, State, Step, Transition
from tests.unit.test_blocks import (
    FIXTURES,
    action_ids,
    actions,
    all_text,
    assert_within_block_kit_limits,
    buttons,
    change_from,
    record_of,
    selects,
)

ALLOWED_AT = datetime(2026, 12, 1, 13, 32, tzinfo=UTC)
DEADLINE = ALLOWED_AT + timedelta(hours=1)  # 2026-12-01 14:32 UTC
EPOCH = int(DEADLINE.timestamp())
SLACK_DEADLINE = f"<!date^{EPOCH}^{{date_short_pretty}} at {{time}}|2026-12-01 14:32 UTC>"
ALICE, BOB, ERIN = "U0ALICE", "U0BOB", "U0ERIN"
DEFAULT_TEXTS = ["1 h", "8 h", "24 h", "7 d"]
SECONDS = [3600, 28800, 86400, 604800]


def pending(name: str = "authorize_ingress_ipv4_ipv6_multi") -> ChangeRecord:
    return record_of(change_from(name), State.PENDING)


def allowed(record: ChangeRecord, until: datetime = DEADLINE, by: str = ALICE) -> ChangeRecord:
    """`record` approved by `by` at 13:32 until `until`, as the store records it."""
    step = Transition(Step.ALLOWED_UNTIL, ALLOWED_AT, by, "for a while", until)
    return replace(
        record,
        state=State.APPROVED,
        decided_by=by,
        decided_at=ALLOWED_AT,
        approved_until=until,
        history=(*record.history, step),
    )


def expired(record: ChangeRecord, state: State, outcome: str | None = None) -> ChangeRecord:
    return replace(
        record,
        state=state,
        decided_by=f"expiry:{ALICE}",
        decided_at=DEADLINE,
        approved_until=None,
        outcome=outcome,
    )


def options(element: dict[str, Any]) -> list[tuple[str, str]]:
    return [(o["text"]["text"], o["value"]) for o in element["options"]]


def click_on(msg: Message, action_id: str, option: int = 0) -> dict[str, Any]:
    """The `actions[0]` Slack sends for a click on `action_id` (its `option`-th choice)."""
    element = next(
        {**e, "block_id": b["block_id"]}
        for b in actions(msg)
        for e in b["elements"]
        if e["action_id"] == action_id
    )
    if element["type"] == "static_select":
        chosen = element["options"][option]
        return {"type": "static_select", "action_id": action_id, "selected_option": chosen}
    return {"type": "button", "action_id": action_id, "value": element["value"]}


def parsed(msg: Message, action_id: str, option: int = 0) -> Any:
    payload = {
        "type": "block_actions",
        "user": {"id": BOB, "username": "bob"},
        "channel": {"id": "C0123456789"},
        "container": {"message_ts": "1764239400.000100"},
        "actions": [click_on(msg, action_id, option)],
    }
    return parse_click(urlencode({"payload": json.dumps(payload)}))


# -- Allow for… on every decidable message -----------------------------------------------------


def test_a_pending_change_offers_allow_for_between_approve_and_deny() -> None:
    """Given a PENDING change, then Allow for… (a static_select) sits between Approve and
    Deny with one option per default duration, each naming the change and the seconds, and
    the context line says what it does."""
    record = pending()

    msg = message(record)

    assert action_ids(msg) == [ACTION_APPROVE, ACTION_APPROVE_FOR, ACTION_DENY]
    select = selects(msg)[ACTION_APPROVE_FOR]
    assert select["placeholder"]["text"] == "Allow for…"
    assert options(select) == [
        (text, f"{record.event_id}|{seconds}")
        for text, seconds in zip(DEFAULT_TEXTS, SECONDS, strict=True)
    ]
    assert "*Allow for…* approves it for a while" in all_text(msg)
    assert_within_block_kit_limits(msg)


def test_the_policys_durations_are_offered_in_its_order_once_and_within_bounds() -> None:
    """Given the policy's durations (with a duplicate and two out of bounds), then each
    valid one is offered once, in order, in words."""
    durations = (
        timedelta(minutes=15),
        timedelta(minutes=90),
        timedelta(minutes=15),
        timedelta(minutes=5),
        timedelta(days=31),
        timedelta(days=30),
    )

    select = selects(message(pending(), durations=durations))[ACTION_APPROVE_FOR]

    assert [text for text, _ in options(select)] == ["15 min", "1 h 30 min", "30 d"]


def test_no_durations_turn_allow_for_off() -> None:
    """Given a policy with `temporary_approvals: []`, then there is no Allow for… and no
    words about it: Approve and Deny as before."""
    msg = message(pending(), durations=())

    assert action_ids(msg) == [ACTION_APPROVE, ACTION_DENY]
    assert "Allow for" not in all_text(msg)


def test_a_select_holds_at_most_100_options() -> None:
    """Given 150 durations, then the select offers the first 100 (Slack's limit)."""
    durations = [timedelta(minutes=15 + i) for i in range(150)]

    msg = message(pending(), durations=durations)

    assert len(selects(msg)[ACTION_APPROVE_FOR]["options"]) == 100
    assert_within_block_kit_limits(msg)


def test_a_failed_revert_offers_deny_again_only() -> None:
    """Given REVERT_FAILED, then only the retry is offered: allowing for a while is a
    decision for a change still pending."""
    msg = message(record_of(change_from("authorize_egress"), State.REVERT_FAILED))

    assert action_ids(msg) == [ACTION_DENY]


def test_each_allow_for_option_parses_back_to_the_click_it_stands_for() -> None:
    """Given each Allow for… option chosen, then the click names the change, the duration,
    and amounts to an approval."""
    record = pending()
    msg = message(record)

    for index, duration in enumerate(DEFAULT_TEMPORARY_APPROVALS):
        click = parsed(msg, ACTION_APPROVE_FOR, index)
        assert (click.action, click.event_id, click.duration) == (
            Action.APPROVE_FOR,
            record.event_id,
            duration,
        )
        assert click.decision is State.APPROVED
        assert click.deadline is None


# -- the approval's state ----------------------------------------------------------------------


def test_an_approval_for_a_while_says_who_until_when_and_offers_its_three_actions() -> None:
    """Given a change alice allowed for 1 h, then the message says so with the deadline as a
    Slack date, says what happens at the deadline, and offers Revert now (confirmed), Extend…
    and Keep permanently, each naming the change and the deadline shown; no Approve/Deny."""
    record = allowed(pending())

    msg = message(record)

    text = all_text(msg)
    assert f":white_check_mark: Allowed by <@U0ALICE> until {SLACK_DEADLINE} (1 h)." in text
    assert "At the deadline it is reverted as a Deny would: it revokes exactly these rules" in (
        text
    )
    assert action_ids(msg) == [ACTION_REVERT_NOW, ACTION_EXTEND, ACTION_KEEP]
    revert, keep = buttons(msg)[ACTION_REVERT_NOW], buttons(msg)[ACTION_KEEP]
    assert revert["style"] == "danger"
    assert revert["value"] == keep["value"] == f"{record.event_id}|{EPOCH}"
    assert revert["confirm"]["title"]["text"] == "Revert now, before the deadline?"
    assert "This revokes 5 rules from" in revert["confirm"]["text"]["text"]
    assert revert["confirm"]["confirm"]["text"] == "Revoke"
    extend = selects(msg)[ACTION_EXTEND]
    assert extend["placeholder"]["text"] == "Extend…"
    assert options(extend) == [
        (f"+{text}", f"{record.event_id}|{seconds}|{EPOCH}")
        for text, seconds in zip(DEFAULT_TEXTS, SECONDS, strict=True)
    ]
    assert msg.text.endswith(": allowed by <@U0ALICE> until 2026-12-01 14:32 UTC")
    assert_within_block_kit_limits(msg)


def test_each_new_deadline_gets_a_fresh_actions_block() -> None:
    """Given an approval extended to a new deadline, then its actions block has a new id, so
    Slack shows Extend… unselected again after the edit."""
    before = message(allowed(pending()))
    after = message(allowed(pending(), DEADLINE + timedelta(hours=1)))

    assert actions(before)[0]["block_id"] == f"temporary-{EPOCH}"
    assert actions(after)[0]["block_id"] == f"temporary-{EPOCH + 3600}"


def test_the_three_actions_parse_back_with_the_deadline_shown() -> None:
    """Given Revert now, Extend… (+8 h) and Keep permanently clicked, then each click names the
    change and the deadline the message showed; Revert now denies, the others approve."""
    record = allowed(pending())
    msg = message(record)

    revert = parsed(msg, ACTION_REVERT_NOW)
    extend = parsed(msg, ACTION_EXTEND, 1)
    keep = parsed(msg, ACTION_KEEP)

    assert (revert.action, revert.decision, revert.deadline) == (
        Action.REVERT_NOW,
        State.DENIED,
        DEADLINE,
    )
    assert (extend.action, extend.duration, extend.deadline) == (
        Action.EXTEND,
        timedelta(hours=8),
        DEADLINE,
    )
    assert (keep.action, keep.decision, keep.deadline) == (Action.KEEP, State.APPROVED, DEADLINE)
    assert {revert.event_id, extend.event_id, keep.event_id} == {record.event_id}


def test_an_extended_approval_names_who_extended_it() -> None:
    """Given bob extended alice's hour by one more, then the message says 2 h and bob."""
    later = DEADLINE + timedelta(hours=1)
    record = allowed(pending())
    record = replace(
        record,
        approved_until=later,
        history=(*record.history, Transition(Step.EXTENDED, DEADLINE, BOB, None, later)),
    )

    assert "(2 h), extended by <@U0BOB>." in all_text(message(record))


def test_an_approval_for_a_while_without_durations_offers_revert_now_and_keep() -> None:
    """Given a policy with no durations, then an approval for a while (made before) still
    offers Revert now and Keep permanently, without Extend…."""
    msg = message(allowed(pending()), durations=())

    assert action_ids(msg) == [ACTION_REVERT_NOW, ACTION_KEEP]


def test_a_permanent_approval_is_as_before() -> None:
    """Given an approval without a deadline, then it says who approved it, with no actions."""
    msg = message(record_of(change_from("authorize_egress"), State.APPROVED, ALICE))

    assert actions(msg) == []
    assert "Approved by <@U0ALICE>" in all_text(msg)


@pytest.mark.parametrize("name", FIXTURES)
def test_every_fixture_allowed_for_a_while_renders_within_limits(name: str) -> None:
    """Given any decidable change allowed for a while, then the message is valid Block Kit."""
    record = record_of(change_from(name))
    if record.state is not State.PENDING:
        return
    msg = message(allowed(record))

    assert_within_block_kit_limits(msg)
    assert action_ids(msg) == [ACTION_REVERT_NOW, ACTION_EXTEND, ACTION_KEEP]


# -- values within Slack's limits ------------------------------------------------------------


def test_values_fit_with_the_longest_event_id_a_click_accepts() -> None:
    """Given a 128-character event id (the longest a click accepts) and a 30-day duration,
    then every option value fits Slack's 150 characters, and each parses back."""
    long_id = "e" * 128
    record = replace(pending(), change=replace(pending().change, event_id=long_id))
    month = (timedelta(days=30),)

    offer = message(record, durations=month)
    temporary = message(allowed(record, ALLOWED_AT + timedelta(days=30)), durations=month)

    for msg, action_id in ((offer, ACTION_APPROVE_FOR), (temporary, ACTION_EXTEND)):
        (value,) = [v for _, v in options(selects(msg)[action_id])]
        assert len(value) <= MAX_OPTION_VALUE
        assert parsed(msg, action_id).event_id == long_id
        assert_within_block_kit_limits(msg)
    assert len(f"{long_id}|2592000|{EPOCH}") <= MAX_OPTION_VALUE


def test_an_id_too_long_for_an_option_leaves_the_select_out_but_the_message_valid() -> None:
    """Given an absurd 3000-character event id, then no select is offered (its values would
    not fit) and every message still holds to the limits."""
    record = replace(pending(), change=replace(pending().change, event_id="e" * 3000))

    for msg in (message(record), message(allowed(record)), reminder_reply(allowed(record))):
        assert selects(msg) == {}
        assert_within_block_kit_limits(msg)


# -- expiry ------------------------------------------------------------------------------------


def test_a_change_reverted_by_its_expiry_says_whose_approval_expired() -> None:
    """Given a change reverted because alice's approval expired, then the message says so,
    with what the revert did; while it runs, that it is reverting."""
    record = allowed(pending())
    outcome = "Revoked 5 rules."

    reverting = message(expired(record, State.DENIED))
    reverted = message(expired(record, State.REVERTED, outcome))

    assert ":stopwatch: Approval by <@U0ALICE> expired <!date^" in all_text(reverting)
    assert "; reverting…" in all_text(reverting)
    assert f"; {outcome}" in all_text(reverted)
    assert actions(reverted) == []
    assert reverted.text.endswith(": approval by <@U0ALICE> expired, reverted")


def test_an_expiry_whose_revert_failed_offers_the_retry() -> None:
    """Given an expiry whose revert failed, then it says so and offers Deny again."""
    msg = message(expired(allowed(pending()), State.REVERT_FAILED, "AccessDenied"))

    assert "Approval by <@U0ALICE> expired" in all_text(msg)
    assert "but the revert failed: AccessDenied" in all_text(msg)
    assert action_ids(msg) == [ACTION_DENY]


# -- group messages ----------------------------------------------------------------------------


def members(count: int = 3) -> list[ChangeRecord]:
    base = change_from("authorize_ingress_ipv4")
    return [replace(record_of(replace(base, event_id=f"m{i}")), batch="b1") for i in range(count)]


def test_a_group_message_offers_allow_for_for_the_group() -> None:
    """Given a group message with open members, then Allow for… sits between Approve all and
    Deny all, each option naming the group and the seconds."""
    msg = batch_message("b1", members())

    assert action_ids(msg) == [ACTION_APPROVE, ACTION_APPROVE_FOR, ACTION_DENY]
    assert options(selects(msg)[ACTION_APPROVE_FOR]) == [
        (text, f"g:b1|{seconds}") for text, seconds in zip(DEFAULT_TEXTS, SECONDS, strict=True)
    ]
    assert parsed(msg, ACTION_APPROVE_FOR).event_id == "g:b1"
    assert action_ids(batch_message("b1", members(), durations=())) == [
        ACTION_APPROVE,
        ACTION_DENY,
    ]
    assert_within_block_kit_limits(msg)


def test_a_group_allowed_for_a_while_offers_its_three_actions_for_the_group() -> None:
    """Given every member allowed until the same deadline, then the group message says who
    allowed them until when, and Revert now, Extend… and Keep permanently name the group and
    that deadline; Revert now's dialog counts every member's rules."""
    msg = batch_message("b1", [allowed(m) for m in members()])

    text = all_text(msg)
    assert f"Allowed by <@U0ALICE> until {SLACK_DEADLINE} (1 h)." in text
    assert "they are reverted as a Deny would" in text
    assert "Members: 3 allowed for a while (decided by <@U0ALICE>)." in text
    assert action_ids(msg) == [ACTION_REVERT_NOW, ACTION_EXTEND, ACTION_KEEP]
    assert buttons(msg)[ACTION_KEEP]["value"] == f"g:b1|{EPOCH}"
    assert "revokes 3 rules" in buttons(msg)[ACTION_REVERT_NOW]["confirm"]["text"]["text"]
    assert parsed(msg, ACTION_EXTEND).event_id == "g:b1"
    assert msg.text.endswith(": allowed until 2026-12-01 14:32 UTC")
    assert_within_block_kit_limits(msg)


def test_a_group_partly_allowed_for_a_while_shows_the_earliest_deadline_and_how_many() -> None:
    """Given members allowed until different deadlines (an edit left them apart), then the
    group shows the earliest, for the members that share it, so nothing reverts later than
    shown."""
    first, second, third = members()
    group = [allowed(first, DEADLINE + timedelta(hours=1)), allowed(second), third]

    msg = batch_message("b1", group)

    assert f"until {SLACK_DEADLINE} (1 h) (1 of 3 changes)." in all_text(msg)
    assert buttons(msg)[ACTION_REVERT_NOW]["value"] == f"g:b1|{EPOCH}"
    # The member still open keeps Approve, Allow for… and Deny for the group.
    assert action_ids(msg) == [
        ACTION_REVERT_NOW,
        ACTION_EXTEND,
        ACTION_KEEP,
        ACTION_APPROVE,
        ACTION_APPROVE_FOR,
        ACTION_DENY,
    ]
    assert_within_block_kit_limits(msg)


def test_a_group_whose_approval_expired_says_so() -> None:
    """Given members reverted because alice's approval expired, then the group says so."""
    group = [expired(allowed(m), State.REVERTED, "Revoked 1 rule.") for m in members()]

    msg = batch_message("b1", group)

    assert ":stopwatch: Approval by <@U0ALICE> expired <!date^" in all_text(msg)
    assert "; reverted" in all_text(msg)
    assert actions(msg) == []


# -- thread replies ----------------------------------------------------------------------------


def test_each_history_step_has_its_thread_reply_and_posting_none() -> None:
    """Given the steps of an approval for a while, then each is one section in words with
    its icon; POSTED has no reply (the message itself is the post)."""
    record = allowed(pending())
    steps = {
        Step.ALLOWED_UNTIL: ":white_check_mark: Allowed by <@U0ALICE> until",
        Step.EXTENDED: ":white_check_mark: Extended by <@U0BOB> until",
        Step.MADE_PERMANENT: ":white_check_mark: Kept permanently by <@U0BOB>",
        Step.REMINDED: ":alarm_clock: Reminded <@U0ALICE>: the approval ends <!date^",
        Step.EXPIRED: ":stopwatch: Approval by <@U0ALICE> expired: reverting…",
        Step.REVERTED: ":leftwards_arrow_with_hook: Reverted: Revoked 5 rules.",
        Step.FAILED: ":warning: Revert failed: Revoked 5 rules.",
        Step.DECIDED: "Denied by <@U0BOB>",
    }
    by = {Step.EXPIRED: f"expiry:{ALICE}", Step.ALLOWED_UNTIL: ALICE, Step.REMINDED: None}
    why = {
        Step.REVERTED: "Revoked 5 rules.",
        Step.FAILED: "Revoked 5 rules.",
        Step.DECIDED: "denied",
    }

    assert history_reply(record, Transition(Step.POSTED, ALLOWED_AT)) is None
    for step, expected in steps.items():
        transition = Transition(step, ALLOWED_AT, by.get(step, BOB), why.get(step), DEADLINE)
        reply = history_reply(record, transition)
        assert reply is not None
        assert reply.blocks[0]["text"]["text"].startswith(expected), step
        assert len(reply.blocks) == 1
        assert_within_block_kit_limits(reply)


def test_the_reminder_mentions_approver_and_actor_and_offers_extend_and_keep() -> None:
    """Given alice's hour on erin's change, then the reminder mentions both, says when the
    approval ends and how long is left, and offers Extend… and Keep permanently with the
    same action ids and values as the message; not Revert now."""
    context = ChangeContext(read_at=ALLOWED_AT, actor=ActorInfo(Via.CONSOLE, None, ERIN))
    record = allowed(replace(pending(), context=context))

    reply = reminder_reply(record)

    text = all_text(reply)
    assert text.startswith(
        f":alarm_clock: <@U0ALICE> and <@U0ERIN>, the approval of this change ends "
        f"{SLACK_DEADLINE} (in 6 min)."
    )
    assert reply.text.startswith(":alarm_clock: <@U0ALICE> and <@U0ERIN>, the approval")
    assert action_ids(reply) == [ACTION_EXTEND, ACTION_KEEP]
    shown = message(record)
    assert selects(reply)[ACTION_EXTEND]["options"] == selects(shown)[ACTION_EXTEND]["options"]
    assert buttons(reply)[ACTION_KEEP]["value"] == buttons(shown)[ACTION_KEEP]["value"]
    assert parsed(reply, ACTION_KEEP).deadline == DEADLINE
    assert_within_block_kit_limits(reply)


def test_a_group_members_reminder_acts_on_the_group() -> None:
    """Given the reminder of a member of a group message, then it speaks of these changes
    and its Extend… and Keep permanently act on the group, as the group message's do."""
    group = [allowed(m) for m in members()]

    reply = reminder_reply(group[0], about="g:b1")

    assert "the approval of these changes ends" in all_text(reply)
    assert "Extend them or keep them permanently; otherwise they are reverted" in (all_text(reply))
    shown = batch_message("b1", group)
    assert buttons(reply)[ACTION_KEEP]["value"] == buttons(shown)[ACTION_KEEP]["value"]
    assert selects(reply)[ACTION_EXTEND]["options"] == selects(shown)[ACTION_EXTEND]["options"]
    assert parsed(reply, ACTION_EXTEND).event_id == "g:b1"


def test_a_reminder_counts_from_now_and_follows_the_policys_durations() -> None:
    """Given the time now and no durations, then the time left is from now and only Keep
    permanently is offered."""
    record = allowed(pending())

    reply = reminder_reply(record, now=DEADLINE - timedelta(minutes=3), durations=())

    assert "(in 3 min)" in all_text(reply)
    assert action_ids(reply) == [ACTION_KEEP]


def test_a_reminder_for_a_change_no_longer_temporary_offers_nothing() -> None:
    """Given a change kept permanently before its reminder went out, then the reminder only
    says so."""
    record = replace(allowed(pending()), approved_until=None)

    reply = reminder_reply(record)

    assert actions(reply) == []
    assert "nothing will revert it" in all_text(reply)
