"""A change's decisions and history steps in words: who, until when, and the reminder."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from sgrevert.context import ActorInfo, ChangeContext, Via
from sgrevert.context_text import PLAIN
from sgrevert.history_text import (
    allowed_words,
    decider,
    expired_approver,
    moment,
    reminder_words,
    span,
    step_words,
)
from sgrevert.model import Actor, Change, ChangeRecord, State, Step, Transition

POSTED_AT = datetime(2026, 12, 1, 13, 30, tzinfo=UTC)
ALLOWED_AT = datetime(2026, 12, 1, 13, 32, tzinfo=UTC)
DEADLINE = ALLOWED_AT + timedelta(hours=1)  # 2026-12-01 14:32 UTC
EPOCH = int(DEADLINE.timestamp())
SLACK_DEADLINE = f"<!date^{EPOCH}^{{date_short_pretty}} at {{time}}|2026-12-01 14:32 UTC>"
ALICE, BOB, ERIN = "U0ALICE", "U0BOB", "U0ERIN"


def change() -> Change:
    return Change(
        event_id="6f1c2b0e-8a2d-4c47-9d1e-3b5a7f0c9e21",
        event_name="AuthorizeSecurityGroupIngress",
        event_time=POSTED_AT - timedelta(minutes=5),
        account="111122223333",
        region="eu-west-1",
        group_id="sg-1",
        actor=Actor(arn="arn:aws:iam::111122223333:user/erin", type="IAMUser"),
    )


ALLOWED = Transition(Step.ALLOWED_UNTIL, ALLOWED_AT, ALICE, "for 1 h", DEADLINE)


def allowed(*later: Transition, actor: str | None = None) -> ChangeRecord:
    """A change alice allowed for 1 h at 13:32, with `later` steps after it."""
    history = (Transition(Step.POSTED, POSTED_AT), ALLOWED, *later)
    until = next((t.until for t in reversed(history) if t.until), None)
    context = ChangeContext(read_at=POSTED_AT, actor=ActorInfo(Via.CONSOLE, None, actor))
    return ChangeRecord(
        change=change(),
        state=State.APPROVED,
        recorded_at=POSTED_AT,
        slack_channel="C0SEC",
        slack_ts="1796131800.000100",
        decided_by=ALICE,
        decided_at=ALLOWED_AT,
        approved_until=until,
        history=history,
        context=context if actor else None,
    )


# -- who and when ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("decided_by", "expected"),
    [
        (ALICE, "<@U0ALICE>"),
        ("expiry:U0ALICE", "the expiry of the approval by <@U0ALICE>"),
        ("expiry:cli:ops", "the expiry of the approval by operator ops from the CLI"),
        ("cli:ops", "operator ops from the CLI"),
        ("policy:office-vpn", "policy office-vpn"),
        ("expiry:", "the expiry of the approval by someone"),
        (None, "someone"),
    ],
)
def test_a_decider_is_a_mention_or_words_and_an_expiry_names_the_approver(
    decided_by: str | None, expected: str
) -> None:
    """Given who decided, including an expiry of someone's approval, then it is worded."""
    assert decider(decided_by) == expected


def test_plain_words_name_users_by_id_and_times_in_utc() -> None:
    """Given plain words (the CLI), then users are ids and times are UTC text."""
    assert decider(ALICE, PLAIN) == ALICE
    assert decider("expiry:U0ALICE", PLAIN) == "the expiry of the approval by U0ALICE"
    assert moment(DEADLINE, PLAIN) == "2026-12-01 14:32 UTC"
    assert moment(DEADLINE) == SLACK_DEADLINE


def test_the_approver_of_an_expiry_is_read_from_the_decider() -> None:
    """Given "expiry:<approver>", then the approver is found; anything else has none."""
    assert expired_approver("expiry:U0ALICE") == ALICE
    assert expired_approver(ALICE) is None
    assert expired_approver(None) is None


def test_a_span_is_said_to_the_minute_and_unknown_when_not_positive() -> None:
    """Given two times, then the span between them is in words, to the minute."""
    assert span(ALLOWED_AT, DEADLINE) == "1 h"
    assert span(ALLOWED_AT, ALLOWED_AT + timedelta(minutes=90, seconds=20)) == "1 h 30 min"
    assert span(ALLOWED_AT, ALLOWED_AT + timedelta(days=7)) == "7 d"
    assert span(DEADLINE, ALLOWED_AT) is None
    assert span(None, DEADLINE) is None


# -- an approval for a while -------------------------------------------------------------------


def test_an_approval_for_a_while_says_who_until_when_and_for_how_long() -> None:
    """Given a change alice allowed for 1 h, then its state names her, the deadline and 1 h."""
    assert allowed_words(allowed()) == f"Allowed by <@U0ALICE> until {SLACK_DEADLINE} (1 h)"
    assert allowed_words(allowed(), PLAIN) == (
        "Allowed by U0ALICE until 2026-12-01 14:32 UTC (1 h)"
    )


def test_an_extended_approval_says_the_whole_span_and_who_extended_it() -> None:
    """Given bob extended alice's hour by an hour (the store makes him the decider), then the
    state says alice allowed it, for 2 h in all, and bob extended it."""
    later = DEADLINE + timedelta(hours=1)
    extended_at = DEADLINE - timedelta(minutes=5)
    record = allowed(Transition(Step.EXTENDED, extended_at, BOB, None, later))
    record = replace(record, decided_by=BOB, decided_at=extended_at)

    assert allowed_words(record, PLAIN) == (
        "Allowed by U0ALICE until 2026-12-01 15:32 UTC (2 h), extended by U0BOB"
    )


# -- the steps -------------------------------------------------------------------------------


def test_posting_is_no_step_to_reply_about() -> None:
    """Given the POSTED step, then there are no words: the message itself is the post."""
    assert step_words(allowed(), Transition(Step.POSTED, POSTED_AT)) is None


@pytest.mark.parametrize(
    ("transition", "expected"),
    [
        (ALLOWED, f"Allowed by <@U0ALICE> until {SLACK_DEADLINE} (1 h)"),
        (
            Transition(Step.EXTENDED, ALLOWED_AT, BOB, None, DEADLINE + timedelta(hours=8)),
            "Extended by <@U0BOB> until <!date^"
            f"{EPOCH + 8 * 3600}^{{date_short_pretty}} at {{time}}|2026-12-01 22:32 UTC> (+8 h)",
        ),
        (Transition(Step.MADE_PERMANENT, ALLOWED_AT, BOB), "Kept permanently by <@U0BOB>"),
        (
            Transition(Step.REMINDED, ALLOWED_AT, None, None, DEADLINE),
            f"Reminded <@U0ALICE>: the approval ends {SLACK_DEADLINE}",
        ),
        (
            Transition(Step.EXPIRED, DEADLINE, "expiry:U0ALICE"),
            "Approval by <@U0ALICE> expired: reverting…",
        ),
        (
            Transition(Step.REVERTED, DEADLINE, None, "Revoked 1 rule (sgr-1)."),
            "Reverted: Revoked 1 rule (sgr-1).",
        ),
        (
            Transition(Step.FAILED, DEADLINE, None, "AccessDenied <assume>"),
            "Revert failed: AccessDenied &lt;assume&gt;",
        ),
        (Transition(Step.DECIDED, ALLOWED_AT, ALICE, "approved"), "Approved by <@U0ALICE>"),
        (Transition(Step.DECIDED, ALLOWED_AT, BOB, "denied"), "Denied by <@U0BOB>"),
        (
            Transition(Step.DECIDED, ALLOWED_AT, "policy:no-ssh", "denied"),
            "Denied by policy no-ssh",
        ),
        (Transition(Step.DECIDED, ALLOWED_AT, BOB), "Decided by <@U0BOB>"),
    ],
    ids=lambda value: value.step.value if isinstance(value, Transition) else None,
)
def test_each_step_is_said_in_words(transition: Transition, expected: str) -> None:
    """Given each kind of step of an approval for a while, then its thread reply says what
    happened, who did it, and until when; strings from AWS are escaped."""
    assert step_words(allowed(transition), transition) == expected


def test_an_extension_says_how_much_it_added_to_the_deadline_before_it() -> None:
    """Given two extensions, then each says what it added to the deadline before it."""
    first = Transition(Step.EXTENDED, ALLOWED_AT, BOB, None, DEADLINE + timedelta(hours=1))
    second = Transition(Step.EXTENDED, ALLOWED_AT, ALICE, None, DEADLINE + timedelta(hours=9))
    record = allowed(first, second)

    assert str(step_words(record, first, PLAIN)).endswith("(+1 h)")
    assert step_words(record, second, PLAIN) == (
        "Extended by U0ALICE until 2026-12-01 23:32 UTC (+8 h)"
    )


def test_a_reminder_step_names_the_actor_too_when_their_slack_user_is_known() -> None:
    """Given a reminder for a change whose actor is a known Slack user, then it names both."""
    step = Transition(Step.REMINDED, ALLOWED_AT, None, None, DEADLINE)

    assert step_words(allowed(step, actor=ERIN), step, PLAIN) == (
        "Reminded U0ALICE and U0ERIN: the approval ends 2026-12-01 14:32 UTC"
    )


def test_a_revert_step_without_words_falls_back_to_the_records_outcome() -> None:
    """Given REVERTED and FAILED steps without a why, then the record's outcome is said."""
    record = replace(allowed(), outcome="Revoked 1 rule.")

    assert step_words(record, Transition(Step.REVERTED, DEADLINE)) == "Reverted: Revoked 1 rule."
    assert step_words(record, Transition(Step.FAILED, DEADLINE)) == (
        "Revert failed: Revoked 1 rule."
    )


# -- the reminder ------------------------------------------------------------------------------


def test_a_reminder_mentions_the_approver_and_the_actor_and_says_when_it_ends() -> None:
    """Given alice's hour, with erin the actor, then the reminder mentions both, says the
    deadline and the time left when it is due (a tenth of an hour before), and what then."""
    text = reminder_words(allowed(actor=ERIN))

    assert text.startswith(
        f"<@U0ALICE> and <@U0ERIN>, the approval of this change ends {SLACK_DEADLINE} (in 6 min)."
    )
    assert "Extend it or keep it permanently" in text
    assert "reverted then" in text


def test_a_reminder_counts_the_time_left_from_now_when_given() -> None:
    """Given the time now (a late reminder), then the time left is counted from it."""
    assert "(in 2 min)" in reminder_words(allowed(), now=DEADLINE - timedelta(seconds=150))
    assert "(in less than a minute)" in reminder_words(allowed(), DEADLINE - timedelta(seconds=5))
    assert "(now)" in reminder_words(allowed(), now=DEADLINE + timedelta(minutes=1))


def test_a_reminder_for_a_long_approval_is_due_15_minutes_before() -> None:
    """Given a 7-day approval, then the reminder says it ends in 15 minutes."""
    week = ALLOWED_AT + timedelta(days=7)
    record = replace(allowed(), approved_until=week, history=(replace(ALLOWED, until=week),))

    assert "(in 15 min)" in reminder_words(record)


def test_a_reminder_without_a_slack_approver_starts_with_the_deadline() -> None:
    """Given an approval from the CLI and no known actor, then no one is mentioned."""
    record = replace(allowed(), decided_by="cli:ops")

    assert reminder_words(record).startswith("The approval of this change ends <!date^")
    assert "<@" not in reminder_words(record)


def test_a_reminder_for_a_change_no_longer_approved_for_a_while_says_so() -> None:
    """Given a change kept permanently meanwhile, then the reminder says nothing reverts it."""
    record = replace(allowed(), approved_until=None)

    assert "nothing will revert it" in reminder_words(record)
