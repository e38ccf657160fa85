"""When an undecided change is owed its reminders and its fail-closed deny (pure)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from sgrevert.model import (
    Actor,
    Change,
    ChangeRecord,
    Direction,
    Rule,
    SourceKind,
    State,
    Step,
    Transition,
)
from sgrevert.review_rules import Remind, ReviewRules
from sgrevert.risk import Risk
from sgrevert.selfinvoke import (
    ArmJob,
    BadRevertEvent,
    DenyUndecidedJob,
    FindingsJob,
    NudgeJob,
    is_own_event,
    job_from_event,
)
from sgrevert.undecided import UNDECIDED_GRACE, deny_at, next_steps, overdue, tracked_since

POSTED = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)
REMIND = Remind(Risk.HIGH, after=30 * MIN, every=60 * MIN, times=3, escalate_to=("S0ONCALL",))
RULES = ReviewRules(remind=REMIND, deny_if_undecided_after={Risk.CRITICAL: 30 * MIN})


def record(
    event_id: str = "ev-1",
    risk: str = "critical",
    *,
    state: State = State.PENDING,
    nudges: int = 0,
    batch: str | None = None,
    posted: bool = True,
    event: str = "AuthorizeSecurityGroupIngress",
) -> ChangeRecord:
    change = Change(
        event_id=event_id,
        event_name=event,
        event_time=POSTED - 2 * MIN,
        account="111122223333",
        region="eu-west-1",
        group_id="sg-1",
        actor=Actor(arn="arn:aws:iam::111122223333:user/alice", type="IAMUser"),
        rules=(Rule(Direction.INGRESS, "tcp", 22, 22, SourceKind.CIDR_IPV4, "0.0.0.0/0"),),
    )
    history = (Transition(Step.POSTED, POSTED),) if posted else ()
    return ChangeRecord(
        change=change,
        state=state,
        recorded_at=POSTED - MIN,
        risk=risk,
        history=history,
        slack_channel="C1" if posted else None,
        slack_ts="1.1" if posted else None,
        nudges=nudges,
        batch=batch,
    )


def test_only_the_levels_named_fail_closed_from_the_post() -> None:
    assert deny_at(record(risk="critical"), RULES, POSTED) == POSTED + 30 * MIN
    assert deny_at(record(risk="high"), RULES, POSTED) is None
    assert deny_at(record(state=State.APPROVED), RULES, POSTED) is None
    revoke = record(event="RevokeSecurityGroupIngress")  # nothing to decide, nothing to deny
    assert deny_at(revoke, RULES, POSTED) is None


def test_reminders_follow_the_post_then_every_interval_up_to_times() -> None:
    assert next_steps("ev-1", [record(risk="high")], RULES).nudge is not None
    for sent, due in ((0, 30), (1, 90), (2, 150)):
        steps = next_steps("ev-1", [record(risk="high", nudges=sent)], RULES)
        assert steps.nudge is not None
        assert (steps.nudge.number, steps.nudge.at) == (sent + 1, POSTED + due * MIN)
    assert next_steps("ev-1", [record(risk="high", nudges=3)], RULES).empty


def test_below_the_level_or_decided_nothing_is_owed() -> None:
    assert next_steps("ev-1", [record(risk="medium")], RULES).empty
    assert next_steps("ev-1", [record(state=State.DENIED)], RULES).empty
    assert next_steps("ev-1", [record(posted=False)], RULES).empty


def test_a_group_is_owed_one_reminder_for_its_members() -> None:
    members = [record(f"ev-{i}", risk="high", batch="b1") for i in range(3)]
    steps = next_steps("g:b1", members, RULES)
    assert steps.nudge is not None and steps.nudge.members == ("ev-0", "ev-1", "ev-2")


def test_a_group_fails_closed_at_its_earliest_deadline() -> None:
    late = replace(record("ev-2", batch="b1"), deny_at=POSTED + 60 * MIN)
    early = replace(record("ev-1", batch="b1"), deny_at=POSTED + 30 * MIN)
    assert next_steps("g:b1", [late, early], RULES).deny_at == POSTED + 30 * MIN


def test_the_sweep_hands_over_only_what_is_past_its_grace() -> None:
    critical = replace(record("ev-1"), deny_at=POSTED + 30 * MIN)
    high = record("ev-2", risk="high")
    on_time = POSTED + 30 * MIN + UNDECIDED_GRACE
    assert overdue([critical, high], RULES, on_time) == []
    late = on_time + MIN
    assert overdue([critical, high], RULES, late) == [
        DenyUndecidedJob("ev-1", POSTED + 30 * MIN),
        NudgeJob("ev-2", 1),
    ]


def test_the_sweep_sends_a_group_once() -> None:
    members = [record(f"ev-{i}", risk="high", batch="b1") for i in range(2)]
    assert overdue(members, RULES, POSTED + timedelta(hours=2)) == [NudgeJob("g:b1", 1)]


def test_the_sweep_reads_back_as_far_as_a_step_can_be_owed() -> None:
    now = POSTED + timedelta(days=2)
    # The last reminder is 150 min after the post; a day more for a post held back.
    assert tracked_since(RULES, now) == now - 150 * MIN - timedelta(days=1)
    assert tracked_since(ReviewRules(), now) is None


def test_the_undecided_jobs_round_trip_as_events() -> None:
    for job in (
        ArmJob("g:b1"),
        NudgeJob("ev-1", 2),
        DenyUndecidedJob("ev-1", POSTED + 30 * MIN),
        FindingsJob("g:b1"),
    ):
        event = job.to_event()
        assert is_own_event(event)
        assert job_from_event(event) == job


@pytest.mark.parametrize(
    ("event", "problem"),
    [
        ({"sgrevert": "nudge", "event_id": "ev-1"}, "whole reminder number"),
        ({"sgrevert": "nudge", "event_id": "ev-1", "number": True}, "whole reminder number"),
        ({"sgrevert": "nudge", "event_id": "ev-1", "number": 0}, "out of range"),
        ({"sgrevert": "nudge", "number": 1}, "without an event_id"),
        ({"sgrevert": "arm"}, "without an event_id"),
        ({"sgrevert": "findings"}, "without an event_id"),
        ({"sgrevert": "deny_undecided", "event_id": "ev-1"}, "without a deadline"),
    ],
)
def test_a_malformed_undecided_job_is_named(event: dict[str, object], problem: str) -> None:
    with pytest.raises(BadRevertEvent, match=problem):
        job_from_event(event)
