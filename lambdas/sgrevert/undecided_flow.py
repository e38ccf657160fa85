"""The responder's side of undecided changes: their schedules, reminders and fail-closed
denies (see `undecided` for when each is due).

- `arm`: after the detector posted a change the policy reminds about or fails closed (and
  after each reminder), put the one-time schedules of what it is owed next,
  `nudge-<id>-<n>` and `deny-<id>`; a step whose time already passed is done at once instead.
- `nudge`: reminder N, noted once per change with a conditional write (never twice for the
  same number, whatever retries or the sweep send), then posted in the thread with the
  escalation's mentions; then the next one is scheduled.
- `deny`: a change still PENDING with that deadline becomes DENIED by
  `policy:deny_if_undecided_after` in a conditional write (an Approve that lands first
  wins, and this does nothing), and is reverted as a Deny is.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from aws_lambda_powertools import Logger

from sgrevert import metrics
from sgrevert.errors import NotUndecided, UnknownChange
from sgrevert.expiry_schedule import ScheduleFailed, deny_name, nudge_name
from sgrevert.model import DENY_UNDECIDED, ChangeRecord, State, iso
from sgrevert.review_rules import ReviewRules
from sgrevert.selfinvoke import ArmJob, DenyUndecidedJob, NudgeJob, RevertJob
from sgrevert.store import ChangeStore
from sgrevert.temporary import Expiries
from sgrevert.undecided import next_steps

logger = Logger(service="sgrevert-respond", child=True)


class UndecidedSteps:
    def __init__(
        self,
        *,
        store: ChangeStore,
        rules: ReviewRules,
        expiries: Expiries | None,
        clock: Callable[[], datetime],
        records: Callable[[str], list[ChangeRecord]],
        post_thread: Callable[[str], bool],
        revert: Callable[[RevertJob], dict[str, Any]],
    ) -> None:
        """`records(about)`: the change or the group message's members; `post_thread(about)`:
        post the history steps not yet in its thread; `revert`: the responder's revert."""
        self._store = store
        self._rules = rules
        self._expiries = expiries
        self._clock = clock
        self._records = records
        self._post_thread = post_thread
        self._revert = revert

    def run(
        self, job: ArmJob | NudgeJob | DenyUndecidedJob, target_arn: str | None
    ) -> dict[str, Any]:
        if isinstance(job, NudgeJob):
            return self.nudge(job, target_arn)
        if isinstance(job, DenyUndecidedJob):
            return self.deny(job, target_arn)
        return self.arm(job.event_id, target_arn)

    def arm(
        self, about: str, target_arn: str | None, *, deny: bool = True, nudge: bool = True
    ) -> dict[str, Any]:
        """Schedule the next reminder and the fail-closed deny `about` is owed (`deny` or
        `nudge` False: that one stands as it was scheduled)."""
        steps = next_steps(about, self._records(about), self._rules)
        now = self._clock()
        log: dict[str, Any] = {"about": about}
        done: dict[str, Any] = {"event_id": about, "nudge": None, "deny_at": None}
        if deny and steps.deny_at is not None:
            done["deny_at"] = iso(steps.deny_at)
            if steps.deny_at <= now:  # posted late, or this ran late: no schedule in the past
                return {**done, **self.deny(DenyUndecidedJob(about, steps.deny_at), target_arn)}
            self._put(
                deny_name(about),
                steps.deny_at,
                DenyUndecidedJob(about, steps.deny_at).to_event(),
                target_arn,
                f"sgrevert: deny {about} unless approved by {iso(steps.deny_at)}",
            )
        if nudge and steps.nudge is not None:
            done["nudge"] = steps.nudge.number
            job = NudgeJob(about, steps.nudge.number)
            if steps.nudge.at <= now:
                return {**done, **self.nudge(job, target_arn)}
            self._put(
                nudge_name(about, steps.nudge.number),
                steps.nudge.at,
                job.to_event(),
                target_arn,
                f"sgrevert: reminder {steps.nudge.number} that {about} is undecided",
            )
        logger.info("undecided steps scheduled", extra={**log, **done})
        return done

    def nudge(self, job: NudgeJob, target_arn: str | None) -> dict[str, Any]:
        """Note reminder `job.number` on each PENDING member it is for, post it in the
        thread once, and schedule the next."""
        log: dict[str, Any] = {"about": job.event_id, "number": job.number}
        remind = self._rules.remind
        if remind is None or job.number > remind.times:
            logger.info("reminder no longer in the policy", extra=log)
            return {"event_id": job.event_id, "reminded": 0}
        now = self._clock()
        reminded = 0
        for record in self._records(job.event_id):
            if record.state is not State.PENDING or self._rules.reminds(record.risk) is None:
                continue
            try:
                self._store.mark_nudged(
                    record.event_id, job.number, remind.times, remind.escalate_to, now
                )
            except (NotUndecided, UnknownChange) as error:
                logger.info("reminder not due", extra={**log, "reason": str(error)})
                continue
            reminded += 1
        if not reminded:
            return {"event_id": job.event_id, "reminded": 0}
        posted = self._post_thread(job.event_id)
        logger.info("undecided change reminded", extra={**log, "posted": posted})
        if job.number < remind.times:  # the fail-closed deny keeps its schedule
            self.arm(job.event_id, target_arn, deny=False)
        return {"event_id": job.event_id, "reminded": reminded, "posted": posted}

    def deny(self, job: DenyUndecidedJob, target_arn: str | None) -> dict[str, Any]:
        """Deny each member still PENDING with this deadline, revert them, and schedule
        what the rest (a group's members of other levels) are owed."""
        log: dict[str, Any] = {"about": job.event_id, "deadline": iso(job.deadline)}
        now = self._clock()
        records = self._records(job.event_id)
        denied: list[ChangeRecord] = []
        for record in records:
            if record.state is not State.PENDING or record.deny_at != job.deadline:
                continue
            after = job.deadline - (record.posted_at or record.recorded_at)
            try:
                denied.append(self._store.deny_undecided(record.event_id, job.deadline, after, now))
            except (NotUndecided, UnknownChange) as error:
                logger.info("not denied: decided first", extra={**log, "reason": str(error)})
        metrics.decided(metrics.Kind.DENY_UNDECIDED, denied)
        if not denied:
            logger.info("no change still undecided at its deadline", extra=log)
            return {"event_id": job.event_id, "denied": 0}
        log["denied"] = len(denied)
        logger.warning("undecided changes denied by policy", extra=log)
        result = self._revert(RevertJob(job.event_id, DENY_UNDECIDED))
        if len(records) > len(denied):  # the rest's reminders keep their schedule
            self.arm(job.event_id, target_arn, nudge=False)
        return {**result, "denied": len(denied)}

    def _put(
        self, name: str, when: datetime, event: dict[str, Any], target_arn: str | None, what: str
    ) -> None:
        """Best effort: without the schedule the detector's sweep sends the step, late."""
        log = {"schedule": name, "at": iso(when)}
        if self._expiries is None or not target_arn:
            why = "SCHEDULER_ROLE_ARN is not set" if self._expiries is None else "no function ARN"
            logger.error("undecided schedule not set", extra={**log, "reason": why})
            return
        try:
            self._expiries.schedules().put(name, when, event, target_arn, what)
        except ScheduleFailed as error:
            logger.error("undecided schedule not set", extra={**log, "reason": error.reason})
