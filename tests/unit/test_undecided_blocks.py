"""Undecided changes in Slack: a fail-closed deadline, approvals of several required, an
approval by several, a fail-closed deny, and the reminder of an undecided change."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from sgrevert.blocks import (
    ACTION_APPROVE,
    ACTION_APPROVE_FOR,
    ACTION_DENY,
    batch_message,
    history_reply,
    message,
    nudge_reply,
)
from sgrevert.decidable import decidable
from sgrevert.model import (
    DENY_UNDECIDED,
    REMIND_BY,
    Approval,
    ChangeRecord,
    State,
    Step,
    Transition,
)
from tests.unit.test_blocks import (
    FIXTURES,
    action_ids,
    actions,
    all_text,
    assert_within_block_kit_limits,
    change_from,
    record_of,
)

POSTED_AT = datetime(2026, 12, 1, 13, 30, tzinfo=UTC)
DENY_AT = POSTED_AT + timedelta(minutes=30)  # 2026-12-01 14:00 UTC
SLACK_DENY_AT = (
    f"<!date^{int(DENY_AT.timestamp())}^{{date_short_pretty}} at {{time}}|2026-12-01 14:00 UTC>"
)
APPROVED_AT = POSTED_AT + timedelta(minutes=10)
DEADLINE = APPROVED_AT + timedelta(hours=1)  # 2026-12-01 14:40 UTC
SLACK_DEADLINE = (
    f"<!date^{int(DEADLINE.timestamp())}^{{date_short_pretty}} at {{time}}|2026-12-01 14:40 UTC>"
)
ALICE, BOB, CAROL = "U0ALICE", "U0BOB", "U0CAROL"
ONCALL = "S0ONCALL"
NOT_APPROVED = "denied: not approved within 30 min"
DEFAULT_ACTIONS = [ACTION_APPROVE, ACTION_APPROVE_FOR, ACTION_DENY]
DECIDABLE = [name for name in FIXTURES if decidable(change_from(name))]


def posted(name: str = "authorize_ingress_ipv4", event_id: str | None = None) -> ChangeRecord:
    """A PENDING change posted at 13:30, as the store records it."""
    change = change_from(name)
    if event_id is not None:
        change = replace(change, event_id=event_id)
    record = record_of(change, State.PENDING)
    return replace(record, history=(Transition(Step.POSTED, POSTED_AT),))


def fail_closed(record: ChangeRecord, deny_at: datetime = DENY_AT) -> ChangeRecord:
    return replace(record, deny_at=deny_at)


def approved_once(record: ChangeRecord, needed: int = 2, by: str = ALICE) -> ChangeRecord:
    """`record` with `by`'s approval counted, of `needed`."""
    approval = Approval(by, APPROVED_AT)
    step = Transition(Step.APPROVAL, APPROVED_AT, by, f"1 of {needed}")
    return replace(
        record,
        approvals=(*record.approvals, approval),
        approvals_needed=needed,
        history=(*record.history, step),
    )


def approved_by_two(record: ChangeRecord, duration: timedelta | None = None) -> ChangeRecord:
    """`record` approved by alice, then bob (for `duration`, if given): APPROVED."""
    first = approved_once(record)
    last = Approval(BOB, APPROVED_AT, duration)
    if duration is None:
        step = Transition(Step.DECIDED, APPROVED_AT, BOB, "approved (2 of 2)")
    else:
        step = Transition(Step.ALLOWED_UNTIL, APPROVED_AT, BOB, "for 1 h (2 of 2)", DEADLINE)
    return replace(
        first,
        state=State.APPROVED,
        decided_by=BOB,
        decided_at=APPROVED_AT,
        approved_until=DEADLINE if duration else None,
        approvals=(*first.approvals, last),
        history=(*first.history, step),
    )


def denied_undecided(
    record: ChangeRecord, state: State, outcome: str | None = None
) -> ChangeRecord:
    """`record` denied by the fail-closed policy at its deadline (no note: the store writes
    only the decision step)."""
    step = Transition(Step.DECIDED, DENY_AT, DENY_UNDECIDED, NOT_APPROVED)
    return replace(
        record,
        state=state,
        decided_by=DENY_UNDECIDED,
        decided_at=DENY_AT,
        outcome=outcome,
        history=(*record.history, step),
    )


def nudge(*to: str, minutes: int = 45, why: str = "reminder 1 of 3") -> Transition:
    return Transition(Step.NUDGED, POSTED_AT + timedelta(minutes=minutes), REMIND_BY, why, to=to)


# -- a fail-closed deadline ----------------------------------------------------------------------


def test_a_fail_closed_change_says_when_it_reverts_unless_approved() -> None:
    """Given a PENDING change denied at 14:00 unless approved, then its message says so as a
    Slack date, says it is allowed until then, keeps its buttons, and the fallback names the
    deadline in UTC."""
    msg = message(fail_closed(posted()))

    text = all_text(msg)
    assert f":hourglass: Reverts {SLACK_DENY_AT} unless approved." in text
    assert ":large_yellow_circle: Allowed until then unless denied." in text
    assert action_ids(msg) == DEFAULT_ACTIONS
    assert msg.text.endswith(": awaiting review (reverts at 2026-12-01 14:00 UTC unless approved)")
    assert_within_block_kit_limits(msg)


def test_a_change_without_a_deadline_is_allowed_unless_denied_as_before() -> None:
    """Given a PENDING change with no fail-closed deadline, then nothing speaks of one."""
    msg = message(posted())

    assert "Reverts" not in all_text(msg)
    assert ":large_yellow_circle: Allowed unless denied." in all_text(msg)
    assert msg.text.endswith(": awaiting review")


def test_a_deadline_is_shown_only_while_the_change_is_pending() -> None:
    """Given a fail-closed change approved before its deadline (the record keeps `deny_at`),
    then its message no longer speaks of the deadline."""
    record = replace(fail_closed(posted()), state=State.APPROVED, decided_by=ALICE)

    msg = message(record)

    assert "Reverts" not in all_text(msg)
    assert "reverts" not in msg.text


# -- approvals of several required ---------------------------------------------------------------


def test_a_change_with_some_approvals_says_how_many_and_keeps_its_buttons() -> None:
    """Given a change that needs two approvers and has alice's approval, then it says so, and
    Approve, Allow for… and Deny stay for the others; the fallback counts the approvals."""
    msg = message(approved_once(posted()))

    assert (
        ":ballot_box_with_check: Approved 1 of 2 (<@U0ALICE>): one more approver needed."
    ) in all_text(msg)
    assert action_ids(msg) == DEFAULT_ACTIONS
    assert msg.text.endswith(": awaiting review (1 of 2 approvals)")
    assert_within_block_kit_limits(msg)


def test_an_approval_by_allow_for_says_the_duration_chosen() -> None:
    """Given alice chose Allow for… 1 h on a change that needs three approvers, then her
    approval shows with the hour, and two more approvers are needed."""
    record = posted()
    record = replace(
        record, approvals=(Approval(ALICE, APPROVED_AT, timedelta(hours=1)),), approvals_needed=3
    )

    text = all_text(message(record))

    assert "Approved 1 of 3 (<@U0ALICE> for 1 h): two more approvers needed." in text


def test_a_fail_closed_change_with_some_approvals_says_both() -> None:
    """Given a fail-closed change with one of two approvals, then the deadline and the count
    are both in the message and in its fallback."""
    msg = message(approved_once(fail_closed(posted())))

    text = all_text(msg)
    assert f"Reverts {SLACK_DENY_AT} unless approved." in text
    assert "Approved 1 of 2 (<@U0ALICE>)" in text
    assert msg.text.endswith(
        ": awaiting review (1 of 2 approvals; reverts at 2026-12-01 14:00 UTC unless approved)"
    )


# -- approved by several -------------------------------------------------------------------------


def test_a_change_approved_by_two_names_both() -> None:
    """Given alice then bob approved a change that needs two, then it is approved by both,
    with no buttons, and the fallback names both."""
    msg = message(approved_by_two(posted()))

    assert ":white_check_mark: Approved by <@U0ALICE> and <@U0BOB> <!date^" in all_text(msg)
    assert actions(msg) == []
    assert msg.text.endswith(": approved by <@U0ALICE> and <@U0BOB>")
    assert_within_block_kit_limits(msg)


def test_a_change_allowed_for_a_while_by_two_names_both_until_the_deadline() -> None:
    """Given bob's approval, the last of two, was for an hour, then both allowed it until
    the deadline, for 1 h; the fallback says until when."""
    msg = message(approved_by_two(posted(), timedelta(hours=1)))

    assert f"Allowed by <@U0ALICE> and <@U0BOB> until {SLACK_DEADLINE} (1 h)." in all_text(msg)
    assert msg.text.endswith(": allowed by <@U0ALICE> and <@U0BOB> until 2026-12-01 14:40 UTC")
    assert_within_block_kit_limits(msg)


def test_a_cli_approval_of_a_change_with_some_approvals_names_the_operator_alone() -> None:
    """Given an operator approved from the CLI a change that had alice's approval of two,
    then the operator decided it, not alice with them."""
    record = replace(
        approved_once(posted()), state=State.APPROVED, decided_by="cli:ops", decided_at=DENY_AT
    )

    text = all_text(message(record))

    assert "Approved by operator ops from the CLI <!date^" in text
    assert "<@U0ALICE>" not in text


# -- a fail-closed deny --------------------------------------------------------------------------


def test_a_fail_closed_deny_says_the_policy_and_why_while_reverting_and_after() -> None:
    """Given a change nobody approved within 30 minutes, then its message says the policy
    reverted it and why, as it reverts and once reverted; the fallback too."""
    record = fail_closed(posted())

    reverting = message(denied_undecided(record, State.DENIED))
    reverted = message(denied_undecided(record, State.REVERTED, "Revoked 1 rule."))

    policy = "*Reverted by policy* `deny_if_undecided_after` <!date^"
    assert policy in all_text(reverting)
    assert "UTC> (not approved within 30 min); reverting…" in all_text(reverting)
    assert "UTC> (not approved within 30 min); Revoked 1 rule." in all_text(reverted)
    assert actions(reverted) == []
    assert reverted.text.endswith(
        ": denied by policy deny_if_undecided_after (not approved within 30 min), reverted"
    )
    assert_within_block_kit_limits(reverted)


def test_a_fail_closed_deny_whose_revert_failed_says_why_and_offers_the_retry() -> None:
    msg = message(denied_undecided(fail_closed(posted()), State.REVERT_FAILED, "AccessDenied"))

    text = all_text(msg)
    assert "Denied by policy deny_if_undecided_after <!date^" in text
    assert "(not approved within 30 min), but the revert failed: AccessDenied" in text
    assert action_ids(msg) == [ACTION_DENY]


def test_a_policy_revert_with_a_note_still_says_the_notes_reason() -> None:
    """Given a revert by another policy, which writes its reason in the note, then the note
    still gives the words."""
    record = replace(
        record_of(change_from("authorize_ingress_ipv4"), State.DENIED),
        decided_by="policy:auto_revert_at_or_above=critical",
        note="reverted by policy auto_revert_at_or_above=critical: 0.0.0.0/0 to tcp 22",
    )

    assert "(0.0.0.0/0 to tcp 22); reverting…" in all_text(message(record))


# -- group messages ------------------------------------------------------------------------------


def members(count: int = 3) -> list[ChangeRecord]:
    return [replace(posted(event_id=f"m{i}"), batch="b1") for i in range(count)]


def test_a_fail_closed_group_says_when_its_changes_revert() -> None:
    """Given every member of a group due at 14:00 unless approved, then the group says these
    changes revert then; its buttons stay; the fallback says when."""
    msg = batch_message("b1", [fail_closed(m) for m in members()])

    text = all_text(msg)
    assert f":hourglass: These changes revert {SLACK_DENY_AT} unless approved." in text
    assert ":large_yellow_circle: Allowed until then unless denied." in text
    assert action_ids(msg) == DEFAULT_ACTIONS
    assert msg.text.endswith(
        ": 3 awaiting review (reverts at 2026-12-01 14:00 UTC unless approved)"
    )
    assert_within_block_kit_limits(msg)


def test_a_group_shows_the_earliest_deadline_of_its_open_members_and_says_some() -> None:
    """Given open members due at 14:00 and 14:30, one with none, and a decided member whose
    deadline was earlier, then the group shows 14:00 for some of these changes."""
    first, second, third, decided = members(4)
    group = [
        fail_closed(first, DENY_AT + timedelta(minutes=30)),
        fail_closed(second),
        third,
        replace(fail_closed(decided, DENY_AT - timedelta(minutes=20)), state=State.APPROVED),
    ]

    text = all_text(batch_message("b1", group))

    assert f"Some of these changes revert {SLACK_DENY_AT} unless approved." in text
    assert "Allowed unless denied." in text


def test_a_group_with_some_approvals_says_how_many_and_keeps_approve_all() -> None:
    """Given a group whose members have alice's approval of two, then the group says so and
    Approve all stays; a member decided since is counted out."""
    first, second, third = members()
    group = [approved_once(first), approved_once(second), replace(third, state=State.DENIED)]

    msg = batch_message("b1", group)

    text = all_text(msg)
    assert "Approved 1 of 2 (<@U0ALICE>) for 2 of 3 changes: one more approver needed." in text
    assert action_ids(msg) == DEFAULT_ACTIONS
    assert "2 awaiting review (1 of 2 approvals)" in msg.text


def test_a_group_shows_the_approvals_of_its_member_furthest_from_approved() -> None:
    """Given one member needing two approvers and one needing three, alice's counted on
    both, then the group shows the one still needing two more."""
    first, second = members(2)

    text = all_text(batch_message("b1", [approved_once(first), approved_once(second, 3)]))

    assert "Approved 1 of 3 (<@U0ALICE>): two more approvers needed." in text


def test_a_group_approved_by_two_names_both_as_deciders() -> None:
    msg = batch_message("b1", [approved_by_two(m) for m in members()])

    assert "Members: 3 approved (decided by <@U0ALICE>, <@U0BOB>)." in all_text(msg)
    assert actions(msg) == []


def test_a_group_denied_by_the_fail_closed_policy_says_so() -> None:
    """Given members nobody approved in time, then the group says the policy reverted them
    and why, reverting until every revert is done."""
    group = [denied_undecided(fail_closed(m), State.REVERTED, "Revoked 1 rule.") for m in members()]
    group[1] = denied_undecided(fail_closed(members()[1]), State.DENIED)

    msg = batch_message("b1", group)

    text = all_text(msg)
    assert "*Reverted by policy* `deny_if_undecided_after` <!date^" in text
    assert "(not approved within 30 min); reverting…" in text
    assert "(decided by policy deny_if_undecided_after)" in text


# -- Block Kit limits ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", DECIDABLE)
def test_every_fixture_undecided_renders_within_block_kit_limits(name: str) -> None:
    """Given any change fail-closed with approvals, in a message or a group, then the message
    is valid Block Kit."""
    record = record_of(change_from(name), State.PENDING)
    record = approved_once(
        fail_closed(replace(record, history=(Transition(Step.POSTED, POSTED_AT),)))
    )

    assert_within_block_kit_limits(message(record))
    assert_within_block_kit_limits(batch_message("b1", [record, record]))
    assert_within_block_kit_limits(message(denied_undecided(record, State.REVERT_FAILED, "x")))


def test_hundreds_of_approvers_and_reminded_ids_stay_within_limits() -> None:
    """Given 300 approvals counted of 400 and a reminder for 300 users, then the message and
    the reminder are clipped to Block Kit's limits."""
    many = tuple(Approval(f"U0{i:06d}", APPROVED_AT, timedelta(hours=8)) for i in range(300))
    record = replace(fail_closed(posted()), approvals=many, approvals_needed=400)
    users = tuple(f"U0{i:06d}" for i in range(300))

    assert_within_block_kit_limits(message(record))
    assert_within_block_kit_limits(batch_message("b1", [replace(record, batch="b1")] * 2))
    assert_within_block_kit_limits(nudge_reply(record, nudge(*users), group=False))


# -- the reminder of an undecided change -----------------------------------------------------------


def test_the_reminder_mentions_users_and_groups_says_how_long_and_points_to_the_message() -> None:
    """Given reminder 1 of 3 for alice and the on-call group, 45 minutes after a fail-closed
    change was posted, then it mentions both, says how long it has been undecided and when
    it reverts, and points to the message's buttons; it has none."""
    record = fail_closed(posted())

    reply = nudge_reply(record, nudge(ALICE, ONCALL), group=False)

    assert all_text(reply) == (
        ":bell: <@U0ALICE> and <!subteam^S0ONCALL>, this change has been undecided for 45 min "
        f"(reminder 1 of 3). It reverts {SLACK_DENY_AT} unless approved. "
        "Approve or Deny it on the message above."
    )
    assert reply.text.startswith(":bell: <@U0ALICE> and <!subteam^S0ONCALL>, this change")
    assert actions(reply) == []
    assert_within_block_kit_limits(reply)


def test_the_reminder_of_a_group_speaks_of_these_changes() -> None:
    record = fail_closed(members()[0])

    text = all_text(nudge_reply(record, nudge("W0ENTERPRISE", minutes=90), group=True))

    assert text.startswith(
        ":bell: <@W0ENTERPRISE>, these changes have been undecided for 1 h 30 min"
    )
    assert f"They revert {SLACK_DENY_AT} unless approved." in text
    assert text.endswith("Approve or Deny them on the message above.")


def test_the_reminder_counts_the_approvals_so_far_without_mentioning_the_approvers() -> None:
    text = all_text(nudge_reply(approved_once(posted()), nudge(BOB), group=False))

    assert "(reminder 1 of 3). Approved 1 of 2 so far. Approve or Deny it" in text
    assert "<@U0ALICE>" not in text
    assert "revert" not in text


def test_a_reminder_without_anyone_to_mention_or_a_posting_time_still_says_undecided() -> None:
    """Given a record older than the history (no POSTED step) and nobody to mention, then
    the reminder says the change is still undecided."""
    record = replace(posted(), history=())

    text = all_text(nudge_reply(record, nudge(why="reminder 2 of 2"), group=False))

    assert text == (
        ":bell: This change is still undecided (reminder 2 of 2). "
        "Approve or Deny it on the message above."
    )


def test_a_reminder_reaching_the_thread_after_a_decision_mentions_nobody() -> None:
    """Given a change bob denied before its reminder was posted, then the reply says it was
    undecided, decided since, and mentions no one."""
    record = replace(fail_closed(posted()), state=State.DENIED, decided_by=BOB)

    text = all_text(nudge_reply(record, nudge(ALICE, ONCALL), group=False))

    assert text == (
        ":bell: This change was undecided for 45 min (reminder 1 of 3); it has been decided since."
    )


def test_the_thread_reply_of_a_nudged_step_is_the_reminder_for_its_message() -> None:
    """Given a NUDGED step, then its thread reply is the reminder, of the group when the
    record is a member of one; an APPROVAL step's reply says who approved and what is left."""
    alone, member = fail_closed(posted()), fail_closed(members()[0])
    step = nudge(ALICE)

    assert history_reply(alone, step) == nudge_reply(alone, step, group=False)
    assert history_reply(member, step) == nudge_reply(member, step, group=True)
    approval = history_reply(alone, Transition(Step.APPROVAL, APPROVED_AT, ALICE, "1 of 2"))
    assert approval is not None
    assert all_text(approval) == (
        ":ballot_box_with_check: Approved by <@U0ALICE> (1 of 2): one more approver needed"
    )
    last = approved_by_two(posted())
    reply = history_reply(last, last.history[-1])
    assert reply is not None
    assert all_text(reply) == "Approved by <@U0BOB> (2 of 2, with <@U0ALICE>)"
