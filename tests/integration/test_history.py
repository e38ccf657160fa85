"""Approvals for a while and the history of a change, in the store on moto's DynamoDB.

Every step is one conditional write that also appends the step to the record's history:
these tests check each step, its history entry, and each condition that keeps a step
from applying twice or to a deadline that is no longer the change's.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import boto3
import pytest

from sgrevert import store
from sgrevert.errors import AlreadyDecided, NotDecidable, NotTemporary, UnknownChange
from sgrevert.model import ChangeRecord, State, Step, Transition
from sgrevert.store import AlreadyReminded, ChangeStore
from tests.integration.test_store import NOW, make_change

HOUR = timedelta(hours=1)
DEADLINE = NOW + HOUR


def steps(record: ChangeRecord) -> list[Step]:
    return [t.step for t in record.history]


def pending(change_store: ChangeStore, event_id: str = "ev-1") -> None:
    change_store.record_new(make_change(event_id), NOW)


def allowed(change_store: ChangeStore, event_id: str = "ev-1") -> ChangeRecord:
    """A change approved by U0ALICE for an hour, at NOW."""
    pending(change_store, event_id)
    return change_store.approve_for(event_id, "U0ALICE", DEADLINE, NOW)


def race(*steps: Callable[[], Any]) -> list[Any]:
    """Run the steps at once (released together), each result or the error it raised."""
    start = threading.Barrier(len(steps))

    def run(step: Callable[[], Any]) -> Any:
        start.wait()
        try:
            return step()
        except Exception as error:  # the loser's error is the result
            return error

    with ThreadPoolExecutor(len(steps)) as pool:
        return list(pool.map(run, steps))


# -- each step and its entry -----------------------------------------------------------------


def test_allow_for_a_while_approves_until_the_deadline_and_says_for_how_long(
    change_store: ChangeStore,
) -> None:
    """Given a pending change, when U0ALICE allows it for an hour, then it is APPROVED by
    her until the deadline, and the history says so: allowed until, for 1 h."""
    pending(change_store)

    record = change_store.approve_for("ev-1", "U0ALICE", DEADLINE, NOW)

    assert (record.state, record.decided_by, record.decided_at) == (State.APPROVED, "U0ALICE", NOW)
    assert record.approved_until == DEADLINE
    assert record.temporary
    assert record.history == (
        Transition(Step.ALLOWED_UNTIL, NOW, by="U0ALICE", why="for 1 h", until=DEADLINE),
    )
    assert change_store.require("ev-1") == record


def test_allow_for_a_while_refuses_as_a_decision_does(change_store: ChangeStore) -> None:
    """Given a decided change, an informational one and no change at all, when each is
    allowed for a while, then each is refused as Approve would be, and nothing changes."""
    pending(change_store)
    change_store.decide("ev-1", State.DENIED, "U0BOB", NOW)
    change_store.record_new(make_change("ev-info", "RevokeSecurityGroupIngress"), NOW)

    with pytest.raises(AlreadyDecided) as lost:
        change_store.approve_for("ev-1", "U0ALICE", DEADLINE, NOW)
    with pytest.raises(NotDecidable):
        change_store.approve_for("ev-info", "U0ALICE", DEADLINE, NOW)
    with pytest.raises(UnknownChange):
        change_store.approve_for("nope", "U0ALICE", DEADLINE, NOW)
    with pytest.raises(ValueError, match="must end after it starts"):
        change_store.approve_for("ev-1", "U0ALICE", NOW, NOW)

    assert lost.value.record.decided_by == "U0BOB"
    assert steps(change_store.require("ev-1")) == [Step.DECIDED]
    assert change_store.require("ev-info").history == ()


def test_extending_moves_the_deadline_and_makes_the_extender_the_approver(
    change_store: ChangeStore,
) -> None:
    """Given a change allowed until DEADLINE and reminded of it, when U0BOB extends it by
    an hour, then it is APPROVED by him until the new deadline, no reminder is on record
    for it, and the history has the extension with the old deadline."""
    allowed(change_store)
    change_store.mark_reminded("ev-1", DEADLINE, DEADLINE - timedelta(minutes=6))
    later = NOW + timedelta(minutes=55)

    record = change_store.extend("ev-1", "U0BOB", DEADLINE, DEADLINE + HOUR, later)

    assert (record.state, record.decided_by, record.decided_at) == (State.APPROVED, "U0BOB", later)
    assert record.approved_until == DEADLINE + HOUR
    assert record.reminded_for is None
    assert record.history[-1] == Transition(
        Step.EXTENDED,
        later,
        by="U0BOB",
        why="was until 2026-11-27T13:00:00Z",
        until=DEADLINE + HOUR,
    )


def test_keeping_permanently_drops_the_deadline(change_store: ChangeStore) -> None:
    """Given a change allowed until DEADLINE, when U0BOB keeps it permanently, then it is
    APPROVED by him with no deadline, and the history says it was made permanent."""
    allowed(change_store)
    later = NOW + timedelta(minutes=10)

    record = change_store.keep("ev-1", "U0BOB", DEADLINE, later)

    assert (record.state, record.decided_by, record.approved_until) == (
        State.APPROVED,
        "U0BOB",
        None,
    )
    assert not record.temporary
    assert record.history[-1] == Transition(
        Step.MADE_PERMANENT, later, by="U0BOB", why="was until 2026-11-27T13:00:00Z"
    )
    assert list(change_store.temporary_approvals()) == []


def test_revert_now_denies_a_temporary_approval_and_the_revert_finishes_as_after_a_deny(
    change_store: ChangeStore,
) -> None:
    """Given a change allowed until DEADLINE, when U0BOB reverts it now and the revert
    succeeds, then it is REVERTED, decided by him, and the history has the denial and
    the revert's outcome."""
    allowed(change_store)
    later = NOW + timedelta(minutes=10)

    denied = change_store.revert_now("ev-1", "U0BOB", DEADLINE, later)
    done = change_store.finish_revert("ev-1", True, "1 rule revoked", later)

    assert (denied.state, denied.decided_by, denied.approved_until) == (
        State.DENIED,
        "U0BOB",
        None,
    )
    assert denied.history[-1] == Transition(Step.DECIDED, later, by="U0BOB", why="denied")
    assert (done.state, done.decided_by) == (State.REVERTED, "U0BOB")
    assert done.history[-1] == Transition(Step.REVERTED, later, why="1 rule revoked")


def test_an_expiry_denies_in_the_approvers_name(change_store: ChangeStore) -> None:
    """Given a change allowed by U0ALICE until DEADLINE, when the deadline comes, then it
    is DENIED by expiry:U0ALICE with no deadline left, and the history says her approval
    expired."""
    allowed(change_store)

    record = change_store.expire("ev-1", DEADLINE, DEADLINE)

    assert (record.state, record.decided_by, record.decided_at) == (
        State.DENIED,
        "expiry:U0ALICE",
        DEADLINE,
    )
    assert record.approved_until is None
    assert record.history[-1] == Transition(
        Step.EXPIRED, DEADLINE, by="expiry:U0ALICE", why="approval by U0ALICE expired"
    )


def test_a_reminder_is_noted_once_per_deadline(change_store: ChangeStore) -> None:
    """Given a change allowed until DEADLINE, when its reminder is noted twice, then the
    second is refused (AlreadyReminded, a NotTemporary) and the history has one
    reminder; once extended, the new deadline gets its own reminder and the old one
    none."""
    allowed(change_store)
    at = DEADLINE - timedelta(minutes=6)

    reminded = change_store.mark_reminded("ev-1", DEADLINE, at)
    with pytest.raises(AlreadyReminded, match="already reminded of its deadline"):
        change_store.mark_reminded("ev-1", DEADLINE, at)

    assert reminded.reminded_for == DEADLINE
    assert reminded.history[-1] == Transition(Step.REMINDED, at, until=DEADLINE)
    assert steps(change_store.require("ev-1")) == [Step.ALLOWED_UNTIL, Step.REMINDED]

    change_store.extend("ev-1", "U0ALICE", DEADLINE, DEADLINE + HOUR, at)
    with pytest.raises(NotTemporary) as old:
        change_store.mark_reminded("ev-1", DEADLINE, at)
    assert not isinstance(old.value, AlreadyReminded)
    again = change_store.mark_reminded("ev-1", DEADLINE + HOUR, DEADLINE + timedelta(minutes=45))
    assert again.reminded_for == DEADLINE + HOUR
    assert steps(again).count(Step.REMINDED) == 2


def test_decisions_and_failed_reverts_are_in_the_history(change_store: ChangeStore) -> None:
    """Given a change denied, failing to revert, denied again and reverted, and another
    approved, then each history has every step, with who and why."""
    pending(change_store, "ev-1")
    pending(change_store, "ev-2")

    change_store.decide("ev-1", State.DENIED, "U0BOB", NOW)
    change_store.finish_revert("ev-1", False, "AccessDenied", NOW)
    change_store.decide("ev-1", State.DENIED, "cli:arn:aws:iam::1:user/ops", NOW + HOUR)
    change_store.finish_revert("ev-1", True, "1 rule revoked", NOW + HOUR)
    approved = change_store.decide("ev-2", State.APPROVED, "U0ALICE", NOW)

    assert change_store.require("ev-1").history == (
        Transition(Step.DECIDED, NOW, by="U0BOB", why="denied"),
        Transition(Step.FAILED, NOW, why="AccessDenied"),
        Transition(Step.DECIDED, NOW + HOUR, by="cli:arn:aws:iam::1:user/ops", why="denied"),
        Transition(Step.REVERTED, NOW + HOUR, why="1 rule revoked"),
    )
    assert approved.history == (Transition(Step.DECIDED, NOW, by="U0ALICE", why="approved"),)


# -- the conditions --------------------------------------------------------------------------


@pytest.mark.usefixtures("atomic_writes")
def test_two_extends_of_one_deadline_one_wins(change_store: ChangeStore) -> None:
    """Given a change allowed until DEADLINE, when two approvers extend that deadline at
    once, then exactly one extension applies and the other is told it is not approved
    until that deadline any more."""
    allowed(change_store)
    later = NOW + timedelta(minutes=50)

    results = race(
        lambda: change_store.extend("ev-1", "U0BOB", DEADLINE, DEADLINE + HOUR, later),
        lambda: change_store.extend("ev-1", "U0CAROL", DEADLINE, DEADLINE + 8 * HOUR, later),
    )

    [won] = [r for r in results if isinstance(r, ChangeRecord)]
    [lost] = [r for r in results if isinstance(r, NotTemporary)]
    final = change_store.require("ev-1")
    assert final.approved_until == won.approved_until
    assert lost.record.approved_until == won.approved_until
    assert steps(final) == [Step.ALLOWED_UNTIL, Step.EXTENDED]


def test_keep_after_an_expiry_is_refused(change_store: ChangeStore) -> None:
    """Given a change whose approval expired, when an approver clicks Keep permanently on
    the message that still showed the deadline, then it is refused and it stays denied."""
    allowed(change_store)
    change_store.expire("ev-1", DEADLINE, DEADLINE)

    with pytest.raises(NotTemporary) as lost:
        change_store.keep("ev-1", "U0BOB", DEADLINE, DEADLINE + timedelta(seconds=5))

    assert lost.value.record.state is State.DENIED
    assert change_store.require("ev-1").decided_by == "expiry:U0ALICE"
    assert steps(change_store.require("ev-1")) == [Step.ALLOWED_UNTIL, Step.EXPIRED]


def test_an_expiry_of_a_deadline_since_extended_does_nothing(change_store: ChangeStore) -> None:
    """Given a change allowed until DEADLINE and then extended, when the old deadline's
    expiry fires, then it is refused and the approval stands with its new deadline."""
    allowed(change_store)
    extended = change_store.extend("ev-1", "U0BOB", DEADLINE, DEADLINE + HOUR, NOW)

    with pytest.raises(NotTemporary):
        change_store.expire("ev-1", DEADLINE, DEADLINE)

    assert change_store.require("ev-1") == extended


def test_an_expiry_of_a_change_kept_reverted_or_unknown_does_nothing(
    change_store: ChangeStore,
) -> None:
    """Given a change kept permanently and one reverted now, when their deadline's expiry
    fires, then both are refused, as is an expiry of a change not on record."""
    allowed(change_store, "kept")
    allowed(change_store, "reverted")
    change_store.keep("kept", "U0BOB", DEADLINE, NOW)
    change_store.revert_now("reverted", "U0BOB", DEADLINE, NOW)

    for event_id in ("kept", "reverted"):
        before = change_store.require(event_id)
        with pytest.raises(NotTemporary):
            change_store.expire(event_id, DEADLINE, DEADLINE)
        assert change_store.require(event_id) == before
    with pytest.raises(UnknownChange):
        change_store.expire("nope", DEADLINE, DEADLINE)


@pytest.mark.usefixtures("atomic_writes")
def test_revert_now_racing_the_expiry_one_wins(change_store: ChangeStore) -> None:
    """Given a change allowed until DEADLINE, when an approver's Revert now and the
    expiry arrive together, then exactly one denies it and the history has one denial."""
    allowed(change_store)

    results = race(
        lambda: change_store.revert_now("ev-1", "U0BOB", DEADLINE, DEADLINE),
        lambda: change_store.expire("ev-1", DEADLINE, DEADLINE),
    )

    [won] = [r for r in results if isinstance(r, ChangeRecord)]
    [lost] = [r for r in results if isinstance(r, NotTemporary)]
    final = change_store.require("ev-1")
    assert final.state is State.DENIED
    assert final.decided_by == won.decided_by in ("U0BOB", "expiry:U0ALICE")
    assert lost.record.state is State.DENIED
    assert len(final.history) == 2  # allowed until, and one denial


def test_steps_on_a_temporary_approval_refuse_a_change_not_approved_until_that_deadline(
    change_store: ChangeStore,
) -> None:
    """Given a pending change, a permanently approved one and no change at all, when each
    step for a deadline is tried, then each is refused and nothing is appended."""
    pending(change_store, "pending")
    pending(change_store, "approved")
    change_store.decide("approved", State.APPROVED, "U0ALICE", NOW)
    tries: list[Callable[[str], Any]] = [
        lambda e: change_store.extend(e, "U0BOB", DEADLINE, DEADLINE + HOUR, NOW),
        lambda e: change_store.keep(e, "U0BOB", DEADLINE, NOW),
        lambda e: change_store.revert_now(e, "U0BOB", DEADLINE, NOW),
        lambda e: change_store.expire(e, DEADLINE, DEADLINE),
        lambda e: change_store.mark_reminded(e, DEADLINE, NOW),
    ]

    for attempt in tries:
        for event_id in ("pending", "approved"):
            with pytest.raises(NotTemporary):
                attempt(event_id)
        with pytest.raises(UnknownChange):
            attempt("nope")

    assert change_store.require("pending").history == ()
    assert steps(change_store.require("approved")) == [Step.DECIDED]


# -- the whole life, posting, and the thread -------------------------------------------------


def test_a_full_life_is_appended_in_order(change_store: ChangeStore) -> None:
    """Given a change posted, allowed for an hour, extended, reminded, expired and
    reverted, then its history holds those steps in that order, each with its time."""
    pending(change_store)
    change_store.mark_posted("ev-1", "C1", "1.000001", NOW)
    change_store.approve_for("ev-1", "U0ALICE", DEADLINE, NOW + timedelta(minutes=1))
    change_store.extend("ev-1", "U0ALICE", DEADLINE, DEADLINE + HOUR, NOW + timedelta(minutes=50))
    change_store.mark_reminded("ev-1", DEADLINE + HOUR, DEADLINE + timedelta(minutes=45))
    change_store.expire("ev-1", DEADLINE + HOUR, DEADLINE + HOUR)
    change_store.finish_revert("ev-1", True, "1 rule revoked", DEADLINE + HOUR)

    record = change_store.require("ev-1")

    assert [(t.step, t.at) for t in record.history] == [
        (Step.POSTED, NOW),
        (Step.ALLOWED_UNTIL, NOW + timedelta(minutes=1)),
        (Step.EXTENDED, NOW + timedelta(minutes=50)),
        (Step.REMINDED, DEADLINE + timedelta(minutes=45)),
        (Step.EXPIRED, DEADLINE + HOUR),
        (Step.REVERTED, DEADLINE + HOUR),
    ]
    assert record.state is State.REVERTED
    assert record.decided_by == "expiry:U0ALICE"


def test_posting_again_after_an_earlier_post_was_found_adds_no_second_posted_step(
    change_store: ChangeStore,
) -> None:
    """Given a change whose lost post was found in the channel (and taken), when it is
    posted again, then it points at the new message and its history has one POSTED."""
    pending(change_store)

    assert change_store.mark_posted("ev-1", "C1", "1.000001", NOW, found=True)
    assert change_store.mark_posted("ev-1", "C1", "2.000002", NOW + HOUR)
    assert not change_store.mark_posted("ev-1", "C1", "3.000003", NOW + HOUR, found=True)

    record = change_store.require("ev-1")
    assert record.slack_ts == "2.000002"
    assert record.history == (Transition(Step.POSTED, NOW),)


def test_the_posted_part_of_the_history_moves_only_from_what_the_poster_saw(
    change_store: ChangeStore,
) -> None:
    """Given a change with three steps, when two posters both saw none posted, then only
    the first moves the mark; it never passes the history's length, never goes back,
    and a change not on record is named."""
    pending(change_store)
    change_store.mark_posted("ev-1", "C1", "1.000001", NOW)
    change_store.approve_for("ev-1", "U0ALICE", DEADLINE, NOW)
    change_store.keep("ev-1", "U0ALICE", DEADLINE, NOW)

    assert change_store.mark_history_posted("ev-1", 0, 2) is True
    assert change_store.mark_history_posted("ev-1", 0, 2) is False
    assert change_store.mark_history_posted("ev-1", 2, 4) is False  # only 3 steps
    assert change_store.require("ev-1").history_posted == 2
    assert change_store.mark_history_posted("ev-1", 2, 3) is True
    assert change_store.require("ev-1").history_posted == 3
    with pytest.raises(ValueError, match="only grows"):
        change_store.mark_history_posted("ev-1", 3, 2)
    with pytest.raises(UnknownChange):
        change_store.mark_history_posted("nope", 0, 1)


def test_temporary_approvals_are_the_approved_changes_with_a_deadline(
    change_store: ChangeStore,
) -> None:
    """Given changes allowed for a while, approved for good, pending and expired, then
    only those still allowed for a while are listed, with their deadlines."""
    allowed(change_store, "a")
    allowed(change_store, "b")
    change_store.extend("b", "U0BOB", DEADLINE, DEADLINE + HOUR, NOW)
    allowed(change_store, "expired")
    change_store.expire("expired", DEADLINE, DEADLINE)
    pending(change_store, "approved")
    change_store.decide("approved", State.APPROVED, "U0ALICE", NOW)
    pending(change_store, "pending")

    listed = {r.event_id: r.approved_until for r in change_store.temporary_approvals()}

    assert listed == {"a": DEADLINE, "b": DEADLINE + HOUR}


def test_a_record_written_before_the_history_loads_and_takes_new_steps(
    change_store: ChangeStore, table_name: str
) -> None:
    """Given a record stored before records had a history (no history, deadline,
    reminder or posted count), then it loads with none, and its next step starts one."""
    pending(change_store)
    table = boto3.resource("dynamodb").Table(table_name)
    item = table.get_item(Key={"pk": "change#ev-1"})["Item"]
    assert not {"history", "history_posted", "approved_until", "reminded_for"} & set(item)

    old = change_store.require("ev-1")
    decided = change_store.decide("ev-1", State.APPROVED, "U0ALICE", NOW)

    assert (old.history, old.history_posted, old.approved_until, old.reminded_for) == (
        (),
        0,
        None,
        None,
    )
    assert steps(decided) == [Step.DECIDED]
    assert store.record_from_item(table.get_item(Key={"pk": "change#ev-1"})["Item"]) == decided


def test_a_deadline_is_kept_to_the_second_and_named_by_it(change_store: ChangeStore) -> None:
    """Given an approval whose deadline has microseconds, then it is stored to the second
    (as schedules and messages name it), and steps naming that second find it."""
    pending(change_store)
    precise = DEADLINE + timedelta(microseconds=250_000)

    record = change_store.approve_for("ev-1", "U0ALICE", precise, NOW)
    kept = change_store.keep("ev-1", "U0ALICE", DEADLINE, NOW)

    assert record.approved_until == DEADLINE
    assert record.history[-1].why == "for 1 h"
    assert kept.approved_until is None
