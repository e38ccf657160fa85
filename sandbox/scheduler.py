"""A stand-in for what moto's EventBridge Scheduler never does: fire its schedules.

moto keeps schedules and answers the Scheduler API, but nothing ever invokes a target.
`ScheduleFirer` does, when the sandbox moves its clock, following what the Scheduler
documents for one-time schedules:

- it reads the group's schedules as the service answers them: ListSchedules for the
  names, GetSchedule for each definition (a schedule gone between the two is skipped);
- a schedule is due once its `at(yyyy-mm-ddThh:mm:ss)` expression, read in its
  `ScheduleExpressionTimezone` (UTC when unset), is reached; a one-time schedule fires
  once. `StartDate`/`EndDate` do not apply to one-time schedules, and `rate(...)` or
  `cron(...)` schedules (sgrevert makes none) are never fired here. A DISABLED schedule
  does not fire;
- with the flexible time window OFF it fires at its time; a FLEXIBLE window lets the
  Scheduler fire any time within it, and the stand-in fires at the window's start;
- it invokes `Target.Arn` as the Scheduler invokes Lambda: asynchronously (an Invoke of
  type Event, through the sandbox's Lambda stand-in) with `Target.Input` as the event,
  under `Target.RoleArn` (assumed through STS, as the Scheduler assumes it). A refused
  Invoke is tried again up to the target's `RetryPolicy.MaximumRetryAttempts` times, at
  once (the sandbox's time does not pass by itself); if every try fails the firing is
  kept as failed, as the Scheduler drops an event it cannot deliver (no dead-letter queue
  is configured);
- after it fired, a schedule whose `ActionAfterCompletion` is DELETE is deleted (already
  gone is fine); NONE keeps it, and it does not fire again unless it is updated.

`run_until` fires everything due up to a moment in time order, moving the clock to each
schedule's time first and letting each firing's invocation finish before the next (a
firing may move or delete later schedules), so each handler sees the time it ran at.
(Sources: the Scheduler User Guide's schedule types, flexible time windows, deleting a
schedule after completion; and Lambda's "Invoke a Lambda function on a schedule".)
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from sandbox.clock import SandboxClock

_AT = re.compile(r"^at\((\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\)$")
_NOT_FOUND = "ResourceNotFoundException"
# What the Scheduler retries when a target has no RetryPolicy of its own.
DEFAULT_RETRY_ATTEMPTS = 185
# A story's advance fires a handful; this many in one advance means firings keep making
# schedules already due.
MAX_FIRINGS_PER_RUN = 1000
SESSION_NAME = "scheduler-stand-in"


@dataclass(frozen=True)
class OneTime:
    """A one-time schedule as GetSchedule answers it, with its time in UTC."""

    name: str
    group: str
    at: datetime  # when it is due (UTC): its expression's time, a FLEXIBLE window's start
    target_arn: str
    role_arn: str
    input: str | None
    delete_after: bool  # ActionAfterCompletion DELETE
    retry_attempts: int  # Target.RetryPolicy.MaximumRetryAttempts
    version: tuple[str, ...]  # what a re-definition changes: fired once per version

    @property
    def event(self) -> Any:
        """The input as the target receives it (decoded JSON, or the text itself)."""
        if self.input is None:
            return None
        try:
            return json.loads(self.input)
        except ValueError:
            return self.input


@dataclass(frozen=True)
class Firing:
    """One schedule fired: when, and whether its Invoke was accepted."""

    schedule: OneTime
    fired_at: datetime
    tries: int
    error: str | None = None  # the last refusal, when no try was accepted

    @property
    def delivered(self) -> bool:
        return self.error is None


class ScheduleFirer:
    def __init__(self, session: boto3.Session, group: str, *, aws_url: str, lambda_url: str):
        """Fire the one-time schedules of `group`, read through the `session`'s Scheduler
        (moto at `aws_url`), invoking their targets at the Lambda stand-in `lambda_url`."""
        self.group = group
        self._lambda_url = lambda_url
        self._scheduler = session.client("scheduler", endpoint_url=aws_url)
        self._sts = session.client("sts", endpoint_url=aws_url)
        self._fired: set[tuple[str, ...]] = set()
        self.firings: list[Firing] = []  # every firing so far, in order

    # -- reading -----------------------------------------------------------------------------

    def pending(self) -> list[OneTime]:
        """The enabled one-time schedules of the group not fired yet, earliest first."""
        found: list[OneTime] = []
        pages = self._scheduler.get_paginator("list_schedules").paginate(GroupName=self.group)
        for page in pages:
            for summary in page.get("Schedules", []):
                schedule = self._get(str(summary["Name"]))
                if schedule is not None and schedule.version not in self._fired:
                    found.append(schedule)
        return sorted(found, key=lambda s: (s.at, s.name))

    def due(self, now: datetime) -> list[OneTime]:
        """The pending schedules due at `now`, earliest first."""
        return [s for s in self.pending() if s.at <= now]

    def _get(self, name: str) -> OneTime | None:
        try:
            found = self._scheduler.get_schedule(Name=name, GroupName=self.group)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == _NOT_FOUND:
                return None  # deleted since it was listed
            raise
        return _one_time(found)

    # -- firing ------------------------------------------------------------------------------

    def fire(self, schedule: OneTime, now: datetime) -> Firing:
        """Invoke the schedule's target once (with the retries its policy allows), then
        delete it when it deletes itself after completion."""
        self._fired.add(schedule.version)
        tries, error = self._invoke(schedule)
        if schedule.delete_after:
            try:
                self._scheduler.delete_schedule(Name=schedule.name, GroupName=self.group)
            except ClientError as gone:
                if gone.response.get("Error", {}).get("Code") != _NOT_FOUND:
                    raise
        firing = Firing(schedule, now, tries, error)
        self.firings.append(firing)
        return firing

    def run_until(
        self, until: datetime, clock: SandboxClock, settle: Callable[[], None]
    ) -> list[Firing]:
        """Fire every schedule due by `until`, earliest first: the clock is moved to each
        one's time before it fires and `settle()` (wait for the invocation to finish) runs
        after; then the clock is moved to `until`. Returns the firings, in order."""
        fired: list[Firing] = []
        while True:
            due = self.due(until)
            if not due:
                break
            if len(fired) >= MAX_FIRINGS_PER_RUN:
                raise RuntimeError(
                    f"{len(fired)} schedules fired before {until.isoformat()} and more are "
                    "due: firings keep creating schedules that are due already"
                )
            first = due[0]
            fired.append(self.fire(first, clock.move_to(first.at)))
            settle()
        clock.move_to(until)
        return fired

    def _invoke(self, schedule: OneTime) -> tuple[int, str | None]:
        client = self._lambda(schedule)
        attempts = 1 + schedule.retry_attempts
        error: str | None = None
        for attempt in range(1, attempts + 1):
            try:
                client.invoke(
                    FunctionName=schedule.target_arn,
                    InvocationType="Event",
                    Payload=(schedule.input or "").encode(),
                )
            except (ClientError, BotoCoreError) as refused:
                error = f"{type(refused).__name__}: {refused}"
                continue
            return attempt, None
        return attempts, error

    def _lambda(self, schedule: OneTime) -> Any:
        """A Lambda client with the credentials of the schedule's role, in the target's
        region."""
        credentials = self._sts.assume_role(
            RoleArn=schedule.role_arn, RoleSessionName=SESSION_NAME
        )["Credentials"]
        return boto3.client(
            "lambda",
            endpoint_url=self._lambda_url,
            region_name=schedule.target_arn.split(":")[3],
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
            config=Config(retries={"mode": "standard", "total_max_attempts": 1}),
        )


def _one_time(found: dict[str, Any]) -> OneTime | None:
    """The schedule as a one-time schedule that may fire; None for a recurring or a
    disabled one."""
    expression = str(found.get("ScheduleExpression", ""))
    matched = _AT.match(expression)
    if matched is None or found.get("State", "ENABLED") != "ENABLED":
        return None
    zone = str(found.get("ScheduleExpressionTimezone") or "UTC")
    local = datetime.strptime(matched.group(1), "%Y-%m-%dT%H:%M:%S")
    at = local.replace(tzinfo=ZoneInfo(zone)).astimezone(UTC)
    target = found.get("Target") or {}
    modified = found.get("LastModificationDate")
    return OneTime(
        name=str(found["Name"]),
        group=str(found.get("GroupName")),
        at=at,
        target_arn=str(target.get("Arn")),
        role_arn=str(target.get("RoleArn")),
        input=target.get("Input"),
        delete_after=found.get("ActionAfterCompletion") == "DELETE",
        retry_attempts=int(
            (target.get("RetryPolicy") or {}).get("MaximumRetryAttempts", DEFAULT_RETRY_ATTEMPTS)
        ),
        version=(
            str(found["Name"]),
            expression,
            zone,
            modified.isoformat() if isinstance(modified, datetime) else str(modified),
        ),
    )
