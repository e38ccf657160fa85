"""Approvals for a while, the responder's timed side: the expiry and reminder schedules
set and deleted after a click, and what their firings (or the detector's sweep) do.

- `set` / `delete`: the schedules of a change or group (see `temporary.Expiries`); on a
  click's answer a call that would not fit raises NoTimeLeft, and the responder hands it
  over (`ScheduleJob`, which ends in `schedule`).
- `unscheduled`: the approval stands with its deadline but without its schedule; logged
  as an error (an alarm watches it) and told to who set it.
- `expire`: deny, as "expiry:<approver>", what is still approved until the deadline, and
  revert it as a Deny's revert does; a firing for a deadline no longer held does nothing.
- `remind`: the reminder once per deadline, posted in the thread.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger

from sgrevert import metrics, temporary
from sgrevert.expiry_schedule import ScheduleFailed
from sgrevert.model import ChangeRecord, State, iso
from sgrevert.selfinvoke import ExpireJob, RemindJob, ScheduleJob
from sgrevert.store import ChangeStore
from sgrevert.temporary import Expiries, Plan
from sgrevert.undo import undo

if TYPE_CHECKING:
    from sgrevert.deadline import Deadline
    from sgrevert.replies import SlackReplies
    from sgrevert.reverter import SpokeReverter

logger = Logger(service="sgrevert-respond", child=True)

# What a Scheduler call on a click's answer leaves of its deadline, for the handover.
INVOKE_RESERVE_SECONDS = 1.0

Finish = Callable[[ChangeRecord, bool, str, "SlackReplies"], "ChangeRecord | None"]


class ExpirySteps:
    def __init__(
        self,
        *,
        store: ChangeStore,
        expiries: Expiries | None,
        clock: Callable[[], datetime],
        replies: Callable[[], SlackReplies],
        reverter: Callable[[], SpokeReverter],
        records: Callable[[str], list[ChangeRecord]],
        members: Callable[[str], list[str]],
        finish: Finish,
        present: Callable[[str, SlackReplies], None],
        thread: Callable[[str, list[ChangeRecord], SlackReplies, datetime], bool],
    ) -> None:
        """`replies()`: Slack with a client that retries; `finish(record, succeeded,
        outcome, slack)`: the responder's end of a revert (no message edit); `present`:
        the message and its thread as they now are; `thread`: post the history steps."""
        self._store = store
        self._expiries = expiries
        self._clock = clock
        self._replies = replies
        self._reverter = reverter
        self._records = records
        self._members = members
        self._finish = finish
        self._present = present
        self._thread = thread

    def set(
        self, about: str, plan: Plan, function_arn: str | None, answer: Deadline | None
    ) -> None:
        """Raises ScheduleFailed, or (on a click's `answer`) NoTimeLeft."""
        if self._expiries is None:  # refused before the write; a ScheduleJob finds it so
            raise ScheduleFailed("SCHEDULER_ROLE_ARN is not set")
        self._expiries.set(about, plan, function_arn, answer, reserve=INVOKE_RESERVE_SECONDS)
        logger.info(
            "expiry scheduled",
            extra={"about": about, "deadline": iso(plan.deadline), "remind": iso(plan.remind_at)},
        )

    def unscheduled(self, about: str, plan: Plan, reason: str, slack: SlackReplies | None) -> None:
        """The approval stands with its deadline, unscheduled: the detector's sweep reverts
        it. Logged as an error (an alarm watches this message); told to who set it when
        `slack` is given (a click tells its clicker itself)."""
        log = {"about": about, "deadline": iso(plan.deadline), "reason": reason}
        logger.error("expiry schedule failed", extra=log)
        if slack is None or not plan.set_by:
            return
        records = self._records(about)
        channel = records[0].slack_channel if records else None
        if channel:
            slack.tell(channel, plan.set_by, temporary.unscheduled_words(plan.deadline, reason))

    def delete(self, about: str, answer: Deadline | None) -> None:
        """Best effort: a schedule left behind fires, finds the deadline no longer held and
        does nothing (and deletes itself). On a click's `answer`, raises NoTimeLeft."""
        if self._expiries is None:
            return
        try:
            self._expiries.delete(about, answer, reserve=0.0)
        except ScheduleFailed as error:
            logger.warning(
                "expiry schedule not deleted: it will fire and do nothing",
                extra={"about": about, "error": str(error)},
            )
        else:
            logger.info("expiry schedule deleted", extra={"about": about})

    def expire(self, job: ExpireJob) -> dict[str, Any]:
        """Deny, as "expiry:<approver>", what is still approved until the deadline (each
        member of a group), then revert it as a Deny's revert does."""
        log: dict[str, Any] = {"about": job.event_id, "deadline": iso(job.deadline)}
        now = self._clock()
        expired = temporary.each(
            self._members(job.event_id), lambda e: self._store.expire(e, job.deadline, now)
        )
        if not expired:
            logger.info("firing for a deadline no longer held", extra=log)
            return {"event_id": job.event_id, "expired": 0, "reverted": 0, "failed": 0}
        logger.info("approval expired", extra={**log, "expired": len(expired)})
        metrics.decided(metrics.Kind.EXPIRY, expired)
        slack = self._replies()
        reverted = failed = 0
        for record in expired:
            done = undo(record, self._reverter(), self._store, record.decided_by or "")
            # The message and the EXPIRED step say whose approval expired; this says what
            # the revert did.
            outcome = done.outcome
            finished = self._finish(record, done.succeeded, outcome, slack)
            if finished is not None:
                reverted += finished.state is State.REVERTED
                failed += finished.state is State.REVERT_FAILED
            (logger.info if done.succeeded else logger.warning)(
                "expiry revert finished",
                extra={**log, "event_id": record.event_id, "outcome": outcome},
            )
        self._present(job.event_id, slack)
        return {
            "event_id": job.event_id,
            "expired": len(expired),
            "reverted": reverted,
            "failed": failed,
        }

    def remind(self, job: RemindJob) -> dict[str, Any]:
        """Note the reminder once per deadline, then post it in the thread."""
        log: dict[str, Any] = {"about": job.event_id, "deadline": iso(job.deadline)}
        now = self._clock()
        reminded = temporary.each(
            self._members(job.event_id), lambda e: self._store.mark_reminded(e, job.deadline, now)
        )
        if not reminded:
            logger.info("reminder for a deadline no longer held", extra=log)
            return {"event_id": job.event_id, "reminded": 0}
        slack = self._replies()
        posted = self._thread(job.event_id, self._records(job.event_id), slack, now)
        logger.info("approver reminded", extra={**log, "posted": posted})
        return {"event_id": job.event_id, "reminded": len(reminded), "posted": posted}

    def schedule(self, job: ScheduleJob, function_arn: str | None) -> dict[str, Any]:
        """The schedules as the record now calls for them, then the message and its thread
        (unless a revert under way shows them when it ends)."""
        slack = self._replies()
        records = self._records(job.event_id)
        plan = temporary.plan_now(records)
        scheduled = False
        if plan is None:
            self.delete(job.event_id, None)
        else:
            try:
                self.set(job.event_id, plan, function_arn, None)
                scheduled = True
            except ScheduleFailed as error:
                self.unscheduled(job.event_id, plan, error.reason, slack)
        if job.show:
            self._present(job.event_id, slack)
        return {"event_id": job.event_id, "scheduled": scheduled}
