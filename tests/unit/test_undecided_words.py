"""Undecided changes in words: mentions, approvals of several required, an approval by
several, a fail-closed deadline and deny, and reminders; for Slack and for the terminal."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from sgrevert.context_text import PLAIN
from sgrevert.history_text import (
    and_joined,
    approvals_words,
    approved_by,
    deadline_words,
    decision_reason,
    mention,
    step_words,
)
from sgrevert.model import (
    DENY_UNDECIDED,
    REMIND_BY,
    Actor,
    Approval,
    Change,
    ChangeRecord,
    State,
    Step,
    Transition,
)

POSTED_AT = datetime(2026, 12, 1, 13, 30, tzinfo=UTC)
DENY_AT = POSTED_AT + timedelta(minutes=30)  # 2026-12-01 14:00 UTC
SLACK_DENY_AT = (
    f"<!date^{int(DENY_AT.timestamp())}^{{date_short_pretty}} at {{time}}|2026-12-01 14:00 UTC>"
)
FIRST, LAST = POSTED_AT + timedelta(minutes=5), POSTED_AT + timedelta(minutes=9)
DEADLINE = LAST + timedelta(hours=1)  # 2026-12-01 14:39 UTC
ALICE, BOB, CAROL = "U0ALICE", "U0BOB", "U0CAROL"


def pending(*approvals: Approval, needed: int | None = None) -> ChangeRecord:
    change = Change(
        event_id="6f1c2b0e-8a2d-4c47-9d1e-3b5a7f0c9e21",
        event_name="AuthorizeSecurityGroupIngress",
        event_time=POSTED_AT - timedelta(minutes=5),
        account="111122223333",
        region="eu-west-1",
        group_id="sg-1",
        actor=Actor(arn="arn:aws:iam::111122223333:user/erin", type="IAMUser"),
    )
    return ChangeRecord(
        change=change,
        state=State.PENDING,
        recorded_at=POSTED_AT,
        history=(Transition(Step.POSTED, POSTED_AT),),
        approvals=approvals,
        approvals_needed=needed,
    )


def approved(*users: str, step: Transition) -> ChangeRecord:
    """Approved by `users` in order, the last one's approval `step` making it APPROVED."""
    approvals = tuple(Approval(user, FIRST if user != users[-1] else LAST) for user in users)
    return replace(
        pending(*approvals, needed=len(users)),
        state=State.APPROVED,
        decided_by=users[-1],
        decided_at=LAST,
        history=(Transition(Step.POSTED, POSTED_AT), step),
    )


# -- who -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "slack", "plain"),
    [
        (ALICE, "<@U0ALICE>", "U0ALICE"),
        ("W0ENTERPRISE", "<@W0ENTERPRISE>", "W0ENTERPRISE"),
        ("S0ONCALL", "<!subteam^S0ONCALL>", "user group S0ONCALL"),
        ("<!channel>", "&lt;!channel&gt;", "<!channel>"),
    ],
)
def test_a_reminded_id_is_a_user_or_user_group_mention_or_escaped_words(
    target: str, slack: str, plain: str
) -> None:
    assert mention(target) == slack
    assert mention(target, PLAIN) == plain


def test_names_are_joined_with_commas_and_a_last_and() -> None:
    assert and_joined([]) == ""
    assert and_joined(["a"]) == "a"
    assert and_joined(["a", "b"]) == "a and b"
    assert and_joined(["a", "b", "c"]) == "a, b and c"


# -- approvals of several required ---------------------------------------------------------------


def test_the_approvals_so_far_name_each_approver_and_what_is_left() -> None:
    """Given alice's approval and bob's for 8 h of three required, then both are named, bob's
    with his duration, and one more approver is needed; in plain words by id."""
    record = pending(Approval(ALICE, FIRST), Approval(BOB, LAST, timedelta(hours=8)), needed=3)

    assert approvals_words(record) == (
        "Approved 2 of 3 (<@U0ALICE> and <@U0BOB> for 8 h): one more approver needed"
    )
    assert approvals_words(record, PLAIN, changes=" for 2 of 3 changes") == (
        "Approved 2 of 3 (U0ALICE and U0BOB for 8 h) for 2 of 3 changes: one more approver needed"
    )


def test_there_are_no_approvals_to_speak_of_without_any_or_once_decided() -> None:
    record = pending(Approval(ALICE, FIRST), needed=2)

    assert approvals_words(pending()) is None
    assert approvals_words(replace(record, state=State.DENIED)) is None


def test_the_last_of_several_approvals_is_approved_by_all_and_any_other_by_its_decider() -> None:
    """Given alice and bob approved, bob last, then bob's decision is by both; a CLI approval
    of a change that had alice's only is the operator's."""
    both = approved(ALICE, BOB, step=Transition(Step.DECIDED, LAST, BOB, "approved (2 of 2)"))
    cli = replace(pending(Approval(ALICE, FIRST), needed=2), decided_by="cli:ops")

    assert approved_by(both, BOB) == "<@U0ALICE> and <@U0BOB>"
    assert approved_by(both, BOB, PLAIN) == "U0ALICE and U0BOB"
    assert approved_by(cli, "cli:ops") == "operator ops from the CLI"
    assert approved_by(both, "U0ERIN") == "<@U0ERIN>"


# -- a fail-closed deadline ----------------------------------------------------------------------


def test_a_deadline_is_a_slack_date_or_a_utc_time_for_one_change_or_several() -> None:
    assert deadline_words(DENY_AT) == f"Reverts {SLACK_DENY_AT} unless approved"
    assert deadline_words(DENY_AT, PLAIN) == "Reverts at 2026-12-01 14:00 UTC unless approved"
    assert deadline_words(DENY_AT, subject="These changes", plural=True) == (
        f"These changes revert {SLACK_DENY_AT} unless approved"
    )


def test_the_reason_of_a_decision_is_what_its_step_says_after_the_decision() -> None:
    """Given a fail-closed deny, then its reason is from its DECIDED step; a plain Deny has
    none."""
    step = Transition(Step.DECIDED, DENY_AT, DENY_UNDECIDED, "denied: not approved within 30 min")
    denied = replace(pending(), state=State.DENIED, decided_by=DENY_UNDECIDED, history=(step,))
    by_bob = replace(
        denied, decided_by=BOB, history=(Transition(Step.DECIDED, DENY_AT, BOB, "denied"),)
    )

    assert decision_reason(denied) == "not approved within 30 min"
    assert decision_reason(by_bob) is None
    assert decision_reason(pending()) is None


# -- the steps -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("why", "slack", "plain"),
    [
        (
            "1 of 2",
            "Approved by <@U0ALICE> (1 of 2): one more approver needed",
            "Approved by U0ALICE (1 of 2): one more approver needed",
        ),
        (
            "1 of 3, for 1 h",
            "Approved by <@U0ALICE> for 1 h (1 of 3): two more approvers needed",
            "Approved by U0ALICE for 1 h (1 of 3): two more approvers needed",
        ),
        ("something <else>", "Approved by <@U0ALICE> (something &lt;else&gt;)", None),
        (None, "Approved by <@U0ALICE>", None),
    ],
)
def test_an_approval_of_several_says_who_the_count_and_what_is_left(
    why: str | None, slack: str, plain: str | None
) -> None:
    step = Transition(Step.APPROVAL, FIRST, ALICE, why)

    assert step_words(pending(), step) == slack
    if plain is not None:
        assert step_words(pending(), step, PLAIN) == plain


def test_the_last_of_two_approvals_names_the_one_before_it() -> None:
    step = Transition(Step.DECIDED, LAST, BOB, "approved (2 of 2)")
    record = approved(ALICE, BOB, step=step)

    assert step_words(record, step) == "Approved by <@U0BOB> (2 of 2, with <@U0ALICE>)"
    assert step_words(record, step, PLAIN) == "Approved by U0BOB (2 of 2, with U0ALICE)"


def test_the_last_of_three_approvals_names_both_before_it() -> None:
    step = Transition(Step.DECIDED, LAST, CAROL, "approved (3 of 3)")
    record = approved(ALICE, BOB, CAROL, step=step)

    assert step_words(record, step) == (
        "Approved by <@U0CAROL> (3 of 3, with <@U0ALICE> and <@U0BOB>)"
    )


def test_the_last_of_two_approvals_for_a_while_says_until_when_for_how_long_and_with_whom() -> None:
    step = Transition(Step.ALLOWED_UNTIL, LAST, BOB, "for 1 h (2 of 2)", DEADLINE)
    record = replace(approved(ALICE, BOB, step=step), approved_until=DEADLINE)

    assert step_words(record, step, PLAIN) == (
        "Allowed by U0BOB until 2026-12-01 14:39 UTC (1 h; 2 of 2, with U0ALICE)"
    )
    assert step_words(record, step).endswith("UTC> (1 h; 2 of 2, with <@U0ALICE>)")


def test_a_fail_closed_deny_says_the_policy_and_why() -> None:
    step = Transition(Step.DECIDED, DENY_AT, DENY_UNDECIDED, "denied: not approved within 30 min")

    assert step_words(pending(), step) == (
        "Denied by policy deny_if_undecided_after: not approved within 30 min"
    )
    assert step_words(pending(), Transition(Step.DECIDED, DENY_AT, BOB, "denied")) == (
        "Denied by <@U0BOB>"
    )


def test_a_reminder_step_names_who_it_was_for_and_which_reminder() -> None:
    step = Transition(Step.NUDGED, DENY_AT, REMIND_BY, "reminder 1 of 3", to=(ALICE, "S0ONCALL"))

    assert step_words(pending(), step) == (
        "Reminded <@U0ALICE> and <!subteam^S0ONCALL>: still undecided (reminder 1 of 3)"
    )
    assert step_words(pending(), step, PLAIN) == (
        "Reminded U0ALICE and user group S0ONCALL: still undecided (reminder 1 of 3)"
    )
    nobody = replace(step, to=())
    assert step_words(pending(), nobody) == "Still undecided (reminder 1 of 3)"
