"""When an undecided change is reminded about, and when it fails closed.

Pure. Changes are allowed by default, so a PENDING change nobody decides stays open; the
policy's review rules (`sgrevert.review_rules`) change that:
- `deny_at(record, rules, posted_at)`: the fail-closed deadline a change gets when it is
  posted (the message shows it from then on), or None.
- `next_steps(records, rules)`: what a change (or the PENDING members of one group
  message) is owed next: its next reminder, by number and time, and its fail-closed deny.
  The responder schedules both on EventBridge Scheduler after the post and after each
  reminder; the detector's sweep (`overdue`) hands over any whose time passed unheeded.
- A group message counts once: its members share their post, their reminders (a member
  counts the ones sent to the group) and, level for level, their deadline.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sgrevert.decidable import decidable
from sgrevert.model import ChangeRecord, State
from sgrevert.review_rules import ReviewRules
from sgrevert.selfinvoke import DenyUndecidedJob, NudgeJob
from sgrevert.store import message_about

# How late a schedule may be before the detector's sweep hands its step over instead.
UNDECIDED_GRACE = timedelta(minutes=5)


def deny_at(record: ChangeRecord, rules: ReviewRules, posted_at: datetime) -> datetime | None:
    """The fail-closed deadline of a change posted at `posted_at`: None when its level does
    not fail closed, or it is not a PENDING decidable change."""
    if record.state is not State.PENDING or not decidable(record.change):
        return None
    after = rules.deny_after(record.risk)
    return posted_at + after if after is not None else None


@dataclass(frozen=True)
class Nudge:
    number: int  # 1 to `remind.times`
    at: datetime
    members: tuple[str, ...]  # the event ids it is for: PENDING, reminded about, one short


@dataclass(frozen=True)
class Steps:
    """What one message's undecided changes are owed next."""

    about: str  # the change, or `g:<batch id>`
    nudge: Nudge | None = None
    deny_at: datetime | None = None  # the earliest fail-closed deadline still ahead of them

    @property
    def empty(self) -> bool:
        return self.nudge is None and self.deny_at is None


def next_steps(about: str, records: Sequence[ChangeRecord], rules: ReviewRules) -> Steps:
    """The next reminder and fail-closed deny of the PENDING posted `records` (one change,
    or the members of the group message `about`)."""
    pending = [r for r in records if r.state is State.PENDING and r.posted_at is not None]
    deadlines = [r.deny_at for r in pending if r.deny_at is not None]
    return Steps(
        about=about, nudge=_next_nudge(pending, rules), deny_at=min(deadlines, default=None)
    )


def _next_nudge(pending: Sequence[ChangeRecord], rules: ReviewRules) -> Nudge | None:
    due: dict[tuple[int, datetime], list[str]] = {}
    for record in pending:
        remind = rules.reminds(record.risk)
        posted_at = record.posted_at
        if remind is None or posted_at is None or record.nudges >= remind.times:
            continue
        number = record.nudges + 1
        due.setdefault((number, remind.due(posted_at, number)), []).append(record.event_id)
    if not due:
        return None
    (number, at), members = min(due.items(), key=lambda item: item[0][1])
    return Nudge(number, at, tuple(members))


def overdue(
    records: Iterable[ChangeRecord], rules: ReviewRules, now: datetime
) -> list[NudgeJob | DenyUndecidedJob]:
    """The detector's backstop: for the PENDING posted `records`, the reminders and
    fail-closed denies whose time passed more than UNDECIDED_GRACE ago (their schedule
    missing, failed or late), one per message."""
    by_message: dict[str, list[ChangeRecord]] = {}
    for record in records:
        by_message.setdefault(message_about(record), []).append(record)
    jobs: list[NudgeJob | DenyUndecidedJob] = []
    for about, members in by_message.items():
        steps = next_steps(about, members, rules)
        if steps.deny_at is not None and now - steps.deny_at > UNDECIDED_GRACE:
            jobs.append(DenyUndecidedJob(about, steps.deny_at))
        elif steps.nudge is not None and now - steps.nudge.at > UNDECIDED_GRACE:
            jobs.append(NudgeJob(about, steps.nudge.number))
    return jobs


def tracked_since(rules: ReviewRules, now: datetime) -> datetime | None:
    """How far back a PENDING change can still owe a reminder or a fail-closed deny (by
    its event time, a day earlier for a post held back after it): None when the policy
    asks for neither."""
    spans = list(rules.deny_if_undecided_after.values())
    if rules.remind is not None:
        remind = rules.remind
        spans.append(remind.after + (remind.times - 1) * remind.every)
    if not spans:
        return None
    return now - max(spans) - timedelta(days=1)
