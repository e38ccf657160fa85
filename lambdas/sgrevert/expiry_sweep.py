"""The backstop of the expiry schedules (and of the undecided changes' reminders and
fail-closed denies), run by the detector's scheduled runs.

An approval for a while still approved more than EXPIRY_GRACE past its deadline (its
schedule missing, failed or late) is handed to the responder's expiry, and one whose
reminder time passed unreminded to its reminder; a group's members once, as the group.
This only sends: the responder's conditional writes decide, so a firing and a sweep (or
a click) never both act. Undecided changes are swept the same way (`sweep_undecided`):
a reminder or a fail-closed deny more than `undecided.UNDECIDED_GRACE` overdue is handed
to the responder.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from aws_lambda_powertools import Logger

from sgrevert.durations import remind_at
from sgrevert.model import ChangeRecord, Step, iso
from sgrevert.review_rules import ReviewRules
from sgrevert.selfinvoke import DenyUndecidedJob, ExpireJob, InvokeFailed, Job, RemindJob
from sgrevert.store import message_about
from sgrevert.undecided import overdue, tracked_since

logger = Logger(service="sgrevert-detect", child=True)

EXPIRY_GRACE = timedelta(minutes=5)


@dataclass(frozen=True)
class Swept:
    late_expiries: int = 0  # overdue expiries handed to the responder
    reminders_sent: int = 0  # missed reminders handed to the responder


def sweep(
    approvals: Iterable[ChangeRecord], now: datetime, start: Callable[[Job], None] | None
) -> Swept:
    """Hand what `approvals` (the temporary ones) owe now to the responder through `start`
    (None: not configured, logged once)."""
    jobs: dict[tuple[str, str, datetime], ExpireJob | RemindJob] = {}
    for record in approvals:
        job = job_due(record, now)
        if job is not None:
            jobs.setdefault((job.kind, job.event_id, job.deadline), job)
    late = reminded = 0
    unconfigured = False
    for job in jobs.values():
        log = {"event_id": job.event_id, "deadline": iso(job.deadline)}
        if isinstance(job, ExpireJob):
            lateness = int((now - job.deadline).total_seconds())
            logger.warning("late expiry", extra={**log, "late_seconds": lateness})
        if start is None:
            unconfigured = True
            continue
        try:
            start(job)
        except InvokeFailed as error:
            what = "expiry" if isinstance(job, ExpireJob) else "reminder"
            logger.error(
                f"could not hand an overdue {what} to the responder; the next run retries",
                extra={**log, "error": str(error)},
            )
            continue
        if isinstance(job, ExpireJob):
            late += 1
        else:
            reminded += 1
            logger.info("missed reminder handed to the responder", extra=log)
    if unconfigured:
        logger.error(
            "approvals for a while are overdue but REVERT_FUNCTION_ARN is not set: the "
            "detector cannot expire them or remind their approvers; set it to the "
            "responder's ARN",
            extra={"overdue": len(jobs)},
        )
    return Swept(late, reminded)


def job_due(record: ChangeRecord, now: datetime) -> ExpireJob | RemindJob | None:
    """What the sweep owes a temporary approval now: its expiry when overdue, its reminder
    when missed, or nothing. A group member is sent for as its group (`g:<batch id>`)."""
    deadline = record.approved_until
    if deadline is None:
        return None
    about = message_about(record)
    if now - deadline > EXPIRY_GRACE:
        return ExpireJob(about, deadline)
    missed = remind_at(_allowed_at(record, deadline), deadline) <= now < deadline
    if missed and record.reminded_for != deadline:
        return RemindJob(about, deadline)
    return None


def _allowed_at(record: ChangeRecord, deadline: datetime) -> datetime:
    """When the approval got this deadline (allowed, or extended to it): the reminder is
    reckoned from there. Older records without that step: the decision's time."""
    for step in reversed(record.history):
        if step.step in (Step.ALLOWED_UNTIL, Step.EXTENDED) and step.until == deadline:
            return step.at
    return record.decided_at or deadline


def sweep_undecided(
    pending: Iterable[ChangeRecord],
    rules: ReviewRules,
    now: datetime,
    start: Callable[[Job], None] | None,
) -> int:
    """Hand the overdue reminders and fail-closed denies of the undecided posted changes
    among `pending` (the PENDING records) to the responder; how many were handed over.
    Only those recent enough to owe one count (none when the policy asks for neither)."""
    since = tracked_since(rules, now)
    if since is None:
        return 0
    pending = [r for r in pending if r.posted and r.change.event_time >= since]
    jobs = overdue(pending, rules, now)
    if jobs and start is None:
        logger.error(
            "undecided changes owe reminders or fail-closed denies but REVERT_FUNCTION_ARN "
            "is not set: set it to the responder's ARN",
            extra={"overdue": len(jobs)},
        )
        return 0
    handed = 0
    for job in jobs:
        log = {"event_id": job.event_id, "job": job.to_event()}
        if isinstance(job, DenyUndecidedJob):
            logger.warning("late fail-closed deny", extra=log)
        try:
            if start is not None:
                start(job)
        except InvokeFailed as error:
            logger.error(
                "could not hand an overdue undecided step to the responder; the next run retries",
                extra={**log, "error": str(error)},
            )
            continue
        handed += 1
    return handed
