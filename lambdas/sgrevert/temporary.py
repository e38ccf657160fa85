"""Approvals for a while, the responder's side: the write each click makes, the schedules
that end an approval on time, the firings' writes, and what the clicker and the record
are told.

- `write_for(click, ...)`: the conditional write a click makes on one change (a group
  message's click makes it on each member). Allow for… and Extend… are held to the
  policy's durations and to a configured scheduler before anything is written.
- `Expiries`: the expiry and reminder schedules, set after Allow for… and Extend… (an
  update moves the old deadline's schedule, so it never fires) and deleted after Keep
  permanently and Revert now (a schedule left behind only finds nothing to do). On a
  click's answer every Scheduler call is made only while it still fits before the
  deadline, with a client that gives up early and never retries: what does not fit
  raises `NoTimeLeft`, and the responder hands it to an asynchronous invocation.
- `each`: a firing's conditional write (expire, remind) on a change or on each member of
  its group; the members whose deadline is no longer that one are left alone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sgrevert.approvals import approve, check_not_actor
from sgrevert.durations import remind_at
from sgrevert.errors import NotTemporary, SgrevertError, UnknownChange
from sgrevert.expiry_schedule import ExpirySchedules, ScheduleFailed, SchedulerClient
from sgrevert.history_text import moment
from sgrevert.interaction import Action, Click, DurationNotOffered, TemporaryNotConfigured
from sgrevert.model import ChangeRecord, State, Step
from sgrevert.review_rules import ReviewRules

if TYPE_CHECKING:
    from sgrevert.deadline import Deadline
    from sgrevert.store import ChangeStore

# What a Scheduler call on a click's answer may take at worst (the click client's connect
# and read timeouts, one attempt): a call is only made while this much is left, beyond what
# the caller reserves for afterwards.
CLICK_CALL_SECONDS = 0.8
TEMPORARY_ACTIONS = frozenset({Action.APPROVE_FOR, Action.EXTEND, Action.KEEP, Action.REVERT_NOW})
SETTING_ACTIONS = frozenset({Action.APPROVE_FOR, Action.EXTEND})  # they set a deadline
_DEADLINE_STEPS = (Step.ALLOWED_UNTIL, Step.EXTENDED)
SWEEP_WORDS = "the detector's scheduled run will revert it within about 15 minutes after"

Write = Callable[[str], ChangeRecord]


class NoTimeLeft(SgrevertError):
    """A Scheduler call on a click's answer would not fit before its deadline."""


def write_for(
    click: Click,
    store: ChangeStore,
    now: datetime,
    *,
    offered: Sequence[timedelta],
    scheduled: bool,
    rules: ReviewRules | None = None,
    read: ChangeRecord | None = None,
) -> Write:
    """The write `click` makes on one change, made with `write(event_id)`, under the
    policy's review `rules` (see `approvals`). Raises a refusal before anything is written:
    TemporaryNotConfigured (no scheduler to end an approval for a while on time),
    DurationNotOffered. `read`: the change (or a group's first member) as the caller just
    read it, which spares a read on the click's answer."""
    rules = rules or ReviewRules()
    user = click.user_id
    if click.action is Action.APPROVE:
        return lambda event_id: approve(
            store, event_id, user, now, duration=None, rules=rules, read=read
        )
    if click.action is Action.DENY:
        return lambda event_id: store.decide(event_id, State.DENIED, user, now)
    if click.action is Action.APPROVE_FOR:
        duration = _duration(click, offered, scheduled)
        return lambda event_id: approve(
            store, event_id, user, now, duration=duration, rules=rules, read=read
        )
    was = click.deadline
    if was is None:  # the click parser requires one for these actions
        raise ValueError(f"a {click.action} click without the deadline it was shown")
    if click.action is Action.EXTEND:
        # From the deadline shown; from now when it is overdue (not yet expired).
        until = max(was, now) + _duration(click, offered, scheduled)
        return _not_by_actor(
            store, user, rules, lambda event_id: store.extend(event_id, user, was, until, now), read
        )
    if click.action is Action.KEEP:
        return _not_by_actor(
            store, user, rules, lambda event_id: store.keep(event_id, user, was, now), read
        )
    return lambda event_id: store.revert_now(event_id, user, was, now)


def _not_by_actor(
    store: ChangeStore, user: str, rules: ReviewRules, write: Write, read: ChangeRecord | None
) -> Write:
    """`write`, refused (SelfApproval) on a change `user` made, as the policy asks."""

    def guarded(event_id: str) -> ChangeRecord:
        known = read if read is not None and read.event_id == event_id else None
        check_not_actor(known or store.require(event_id), user, rules)
        return write(event_id)

    return guarded


def _duration(click: Click, offered: Sequence[timedelta], scheduled: bool) -> timedelta:
    if not scheduled:
        raise TemporaryNotConfigured()
    if click.duration is None or click.duration not in offered:
        raise DurationNotOffered(click.duration or timedelta(), offered)
    return click.duration


def each(members: Iterable[str], step: Callable[[str], ChangeRecord]) -> list[ChangeRecord]:
    """`step` (expire, mark reminded) on each member; those no longer approved until that
    deadline (or no longer on record) are left alone."""
    done: list[ChangeRecord] = []
    for event_id in members:
        try:
            done.append(step(event_id))
        except (NotTemporary, UnknownChange):
            continue
    return done


# -- the schedules -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """The schedules an approval for a while needs: its expiry, and its reminder."""

    deadline: datetime
    remind_at: datetime
    set_by: str | None  # who set the deadline: told when it could not be scheduled


def plan_after(records: Sequence[ChangeRecord], now: datetime) -> Plan | None:
    """The schedules a click's writes call for: the deadline they set, reminded of from
    now."""
    deadlines = sorted({r.approved_until for r in records if r.temporary and r.approved_until})
    if not deadlines:
        return None
    return Plan(deadlines[0], remind_at(now, deadlines[0]), records[0].decided_by)


def plan_now(records: Sequence[ChangeRecord]) -> Plan | None:
    """The schedules the records call for as they stand (None: none, delete them): the
    earliest deadline a member is approved until (a group's members share theirs), with
    its reminder counted from when that deadline was set."""
    temporary = [r for r in records if r.temporary and r.approved_until is not None]
    if not temporary:
        return None
    deadline = min(r.approved_until for r in temporary if r.approved_until is not None)
    record = next(r for r in temporary if r.approved_until == deadline)
    setting = next(
        (t for t in reversed(record.history) if t.step in _DEADLINE_STEPS and t.until == deadline),
        None,
    )
    start = setting.at if setting else record.decided_at or deadline
    return Plan(deadline, remind_at(start, deadline), setting.by if setting else record.decided_by)


class Expiries:
    """The schedules of approvals for a while, as the responder sets and deletes them.

    `client(on_click)` is the Scheduler client: on a click's answer one with short
    timeouts and no retries, otherwise one that retries."""

    def __init__(
        self,
        client: Callable[[bool], SchedulerClient],
        group: str,
        role_arn: str,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._client = client
        self._group = group
        self._role_arn = role_arn
        self._clock = clock

    def set(
        self,
        about: str,
        plan: Plan,
        target_arn: str | None,
        answer: Deadline | None = None,
        reserve: float = 0.0,
    ) -> None:
        """Create or move the schedules of `about` (a change or `g:<batch id>`), invoking
        `target_arn` (this function). Raises ScheduleFailed; on a click's `answer`,
        NoTimeLeft when a call would not leave `reserve` seconds."""
        if not target_arn:
            raise ScheduleFailed("no function ARN in the Lambda context for the schedule to invoke")
        self._schedules(answer, reserve).set(about, plan.deadline, plan.remind_at, target_arn)

    def delete(self, about: str, answer: Deadline | None = None, reserve: float = 0.0) -> None:
        """Delete both schedules of `about`; already gone is fine. Raises as `set` does."""
        self._schedules(answer, reserve).delete(about)

    def schedules(self) -> ExpirySchedules:
        """The schedules off a click's answer, with a client that retries: for the
        undecided changes' reminders and fail-closed denies (see `undecided_flow`)."""
        return self._schedules(None, 0.0)

    @property
    def group(self) -> str:
        return self._group

    def _schedules(self, answer: Deadline | None, reserve: float) -> ExpirySchedules:
        client = self._client(answer is not None)
        if answer is not None:
            client = _Timeboxed(client, answer, reserve)
        return ExpirySchedules(client, self._group, self._role_arn, clock=self._clock)


class _Timeboxed:
    """A Scheduler client on a click's answer: each call is made only while its worst
    case still leaves `reserve` seconds of the answer's deadline."""

    def __init__(self, client: SchedulerClient, answer: Deadline, reserve: float) -> None:
        self._client = client
        self._answer = answer
        self._reserve = reserve

    def create_schedule(self, **kwargs: Any) -> Any:
        return self._call("CreateSchedule", self._client.create_schedule, kwargs)

    def update_schedule(self, **kwargs: Any) -> Any:
        return self._call("UpdateSchedule", self._client.update_schedule, kwargs)

    def delete_schedule(self, **kwargs: Any) -> Any:
        return self._call("DeleteSchedule", self._client.delete_schedule, kwargs)

    def get_schedule(self, **kwargs: Any) -> Any:
        return self._call("GetSchedule", self._client.get_schedule, kwargs)

    def _call(self, operation: str, call: Callable[..., Any], kwargs: dict[str, Any]) -> Any:
        if not self._answer.allows(CLICK_CALL_SECONDS + self._reserve):
            raise NoTimeLeft(f"{operation} would not fit before the click's answer is due")
        return call(**kwargs)


# -- words ---------------------------------------------------------------------------------------


def unscheduled_words(deadline: datetime, reason: str) -> str:
    """What the clicker is told when the approval stands but its expiry is not scheduled
    (the reason last: a notification shows only the start)."""
    return (
        f"Allowed until {moment(deadline)}, but the expiry could not be scheduled: "
        f"{SWEEP_WORDS} the deadline. ({reason})"
    )
