"""The store's writes for several approvers and undecided changes, on moto's DynamoDB:
each is conditional, so retries, overlapping runs and racing clicks apply a step once."""

from __future__ import annotations

from datetime import timedelta

import pytest

from sgrevert import store
from sgrevert.errors import AlreadyApproved, AlreadyDecided, NotUndecided
from sgrevert.model import DENY_UNDECIDED, REMIND_BY, State, Step
from sgrevert.store import ApprovalRaced
from tests.integration.test_store import NOW, make_change

HOUR = timedelta(hours=1)


def posted(change_store: store.ChangeStore, deny_at: object = None) -> None:
    change_store.record_new(make_change(), NOW, risk="critical")
    change_store.mark_posted("ev-1", "C1", "1.1", NOW, deny_at=deny_at)  # type: ignore[arg-type]


def test_the_fail_closed_deadline_is_kept_from_the_first_post(
    change_store: store.ChangeStore,
) -> None:
    posted(change_store, deny_at=NOW + HOUR)
    change_store.mark_posted("ev-1", "C1", "2.2", NOW, deny_at=NOW + 2 * HOUR)
    record = change_store.require("ev-1")
    assert record.deny_at == NOW + HOUR
    assert record.posted_at == NOW


def test_approvals_count_distinct_users_and_the_last_one_approves(
    change_store: store.ChangeStore,
) -> None:
    posted(change_store)
    first = change_store.add_approval("ev-1", "UALICE", NOW, duration=None, needed=2, was=())
    assert first.state is State.PENDING
    assert first.approvers == ("UALICE",) and first.approvals_needed == 2
    assert (first.history[-1].step, first.history[-1].why) == (Step.APPROVAL, "1 of 2")
    with pytest.raises(AlreadyApproved):
        change_store.add_approval(
            "ev-1", "UALICE", NOW, duration=None, needed=2, was=first.approvals
        )
    second = change_store.add_approval(
        "ev-1", "UBOB", NOW + HOUR, duration=None, needed=2, was=first.approvals
    )
    assert second.state is State.APPROVED
    assert second.decided_by == "UBOB" and second.approvers == ("UALICE", "UBOB")
    assert second.approved_until is None
    assert (second.history[-1].step, second.history[-1].why) == (Step.DECIDED, "approved (2 of 2)")


def test_an_approval_counted_from_a_stale_read_races_and_changes_nothing(
    change_store: store.ChangeStore,
) -> None:
    posted(change_store)
    change_store.add_approval("ev-1", "UALICE", NOW, duration=None, needed=3, was=())
    with pytest.raises(ApprovalRaced):
        change_store.add_approval("ev-1", "UBOB", NOW, duration=None, needed=3, was=())
    assert change_store.require("ev-1").approvers == ("UALICE",)


def test_the_shortest_duration_chosen_holds_from_the_last_approval(
    change_store: store.ChangeStore,
) -> None:
    posted(change_store)
    first = change_store.add_approval("ev-1", "UALICE", NOW, duration=8 * HOUR, needed=2, was=())
    assert first.history[-1].why == "1 of 2, for 8 h"
    later = NOW + timedelta(minutes=10)
    done = change_store.add_approval(
        "ev-1", "UBOB", later, duration=HOUR, needed=2, was=first.approvals
    )
    assert done.state is State.APPROVED and done.approved_until == later + HOUR
    assert done.history[-1].step is Step.ALLOWED_UNTIL
    assert done.history[-1].until == later + HOUR


def test_an_approval_after_a_deny_is_already_decided(change_store: store.ChangeStore) -> None:
    posted(change_store)
    first = change_store.add_approval("ev-1", "UALICE", NOW, duration=None, needed=2, was=())
    change_store.decide("ev-1", State.DENIED, "UCAROL", NOW)
    with pytest.raises(AlreadyDecided):
        change_store.add_approval("ev-1", "UBOB", NOW, duration=None, needed=2, was=first.approvals)
    with pytest.raises(AlreadyDecided):  # not "you already approved": it is decided
        change_store.add_approval(
            "ev-1", "UALICE", NOW, duration=None, needed=2, was=first.approvals
        )


def test_each_reminder_is_noted_once_and_in_order(change_store: store.ChangeStore) -> None:
    posted(change_store)
    with pytest.raises(NotUndecided):
        change_store.mark_nudged("ev-1", 2, 3, (), NOW)  # the first was not sent
    first = change_store.mark_nudged("ev-1", 1, 3, ("S0ONCALL", "UALICE"), NOW)
    assert first.nudges == 1
    step = first.history[-1]
    assert (step.step, step.by, step.why, step.to) == (
        Step.NUDGED,
        REMIND_BY,
        "reminder 1 of 3",
        ("S0ONCALL", "UALICE"),
    )
    with pytest.raises(NotUndecided):
        change_store.mark_nudged("ev-1", 1, 3, (), NOW)  # a retried or duplicate reminder
    assert change_store.mark_nudged("ev-1", 2, 3, (), NOW).nudges == 2


def test_a_decided_change_is_not_reminded(change_store: store.ChangeStore) -> None:
    posted(change_store)
    change_store.decide("ev-1", State.APPROVED, "UBOB", NOW)
    with pytest.raises(NotUndecided):
        change_store.mark_nudged("ev-1", 1, 3, (), NOW)
    assert change_store.require("ev-1").nudges == 0


def test_the_fail_closed_deny_needs_the_deadline_and_a_pending_change(
    change_store: store.ChangeStore,
) -> None:
    deadline = NOW + timedelta(minutes=30)
    posted(change_store, deny_at=deadline)
    with pytest.raises(NotUndecided):
        change_store.deny_undecided("ev-1", deadline + HOUR, timedelta(minutes=30), NOW)
    denied = change_store.deny_undecided("ev-1", deadline, timedelta(minutes=30), deadline)
    assert denied.state is State.DENIED and denied.decided_by == DENY_UNDECIDED
    assert denied.history[-1].why == "denied: not approved within 30 min"
    with pytest.raises(NotUndecided):  # a second firing, or the sweep after it
        change_store.deny_undecided("ev-1", deadline, timedelta(minutes=30), deadline)


def test_an_approval_before_the_deadline_wins_over_the_fail_closed_deny(
    change_store: store.ChangeStore,
) -> None:
    deadline = NOW + timedelta(minutes=30)
    posted(change_store, deny_at=deadline)
    change_store.decide("ev-1", State.APPROVED, "UBOB", deadline - timedelta(seconds=1))
    with pytest.raises(NotUndecided):
        change_store.deny_undecided("ev-1", deadline, timedelta(minutes=30), deadline)
    assert change_store.require("ev-1").state is State.APPROVED
