"""EventBridge Scheduler one-time schedules that end an approval for a while on time.

Each temporary approval (of a change, or of a group message `g:<batch id>`) has one
expiry schedule and, while its reminder is still ahead, one reminder schedule, both in
the group `EXPIRY_SCHEDULE_GROUP`. Each fires once, at its UTC time, with no flexible
window, invokes the responder through the scheduler role with the job as its input
(`ExpireJob` / `RemindJob`, the same events the detector's sweep sends), and deletes
itself after it ran (ActionAfterCompletion DELETE).

An undecided change's reminders and fail-closed deny (see `undecided`) are one-time
schedules of the same kind, `nudge-<id>-<n>` (reminder n, put after the one before) and
`deny-<id>`, put with `put`. A decision leaves them be: each fires once, finds the change
decided, does nothing and is deleted.

Names are `expire-<id>` and `remind-<id>` (and `nudge-`, `deny-`): a CloudTrail event id
(a UUID) as it is, a group as `g.<batch id>`, and anything else (characters a schedule
name cannot hold, or too long) as `h.<sha256>`. Plain ids never hold a dot, so no two
ids share a name.

UpdateSchedule replaces the whole definition (an omitted field returns to its default),
so an update always sends all of it.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from sgrevert.errors import SgrevertError
from sgrevert.model import iso
from sgrevert.selfinvoke import ExpireJob, RemindJob
from sgrevert.store import BATCH_PREFIX

NAME_LIMIT = 64
_NAME_CHARS = re.compile(r"^[0-9A-Za-z_-]+$")  # no dot: dots mark the other forms
EXPIRE_PREFIX = "expire-"
REMIND_PREFIX = "remind-"
NUDGE_PREFIX = "nudge-"
DENY_PREFIX = "deny-"
_AT = "%Y-%m-%dT%H:%M:%S"
_AT_EXPRESSION = re.compile(r"^at\((\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\)$")
# Lambda throttling or a brief outage: a few tries, never past the hour (the sweep then
# catches an expiry anyway).
RETRY_POLICY = {"MaximumEventAgeInSeconds": 3600, "MaximumRetryAttempts": 4}
_CONFLICT = "ConflictException"
_NOT_FOUND = "ResourceNotFoundException"


class ScheduleFailed(SgrevertError):
    """EventBridge Scheduler refused or could not be reached; the message says which call
    and why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class SchedulerClient(Protocol):
    """The four calls of boto3's `scheduler` client used here."""

    def create_schedule(self, **kwargs: Any) -> Any: ...

    def update_schedule(self, **kwargs: Any) -> Any: ...

    def delete_schedule(self, **kwargs: Any) -> Any: ...

    def get_schedule(self, **kwargs: Any) -> Any: ...


@dataclass(frozen=True)
class ScheduleInfo:
    """An expiry schedule as the Scheduler holds it."""

    name: str
    at: datetime  # when it fires (UTC)
    target_arn: str
    role_arn: str
    event: dict[str, Any]  # the input the target receives
    action_after_completion: str | None
    reminder_at: datetime | None  # the reminder schedule's time, while there is one


def _schedule_id(about: str) -> str:
    if _NAME_CHARS.match(about) and len(about) <= NAME_LIMIT - len(EXPIRE_PREFIX):
        return about
    batch = about.removeprefix(BATCH_PREFIX)
    fits = len(batch) <= NAME_LIMIT - len(EXPIRE_PREFIX) - 2
    if about.startswith(BATCH_PREFIX) and _NAME_CHARS.match(batch) and fits:
        return f"g.{batch}"
    return "h." + hashlib.sha256(about.encode()).hexdigest()[:40]


def expiry_name(about: str) -> str:
    """The expiry schedule's name for a change id or `g:<batch id>`."""
    return EXPIRE_PREFIX + _schedule_id(about)


def reminder_name(about: str) -> str:
    """The reminder schedule's name for a change id or `g:<batch id>`."""
    return REMIND_PREFIX + _schedule_id(about)


def nudge_name(about: str, number: int) -> str:
    """Undecided reminder `number`'s schedule name for a change id or `g:<batch id>`: one
    name per reminder, so the next is never put under the name of the one firing (which
    Scheduler deletes after it invoked its target)."""
    return f"{NUDGE_PREFIX}{_schedule_id(about)}-{number}"


def deny_name(about: str) -> str:
    """The fail-closed deny's schedule name for a change id or `g:<batch id>`."""
    return DENY_PREFIX + _schedule_id(about)


def at_expression(moment: datetime) -> str:
    """`at(yyyy-mm-ddThh:mm:ss)` in UTC (the schedule's timezone)."""
    return f"at({moment.astimezone(UTC).strftime(_AT)})"


def _utcnow() -> datetime:
    return datetime.now(UTC)


class ExpirySchedules:
    def __init__(
        self,
        client: SchedulerClient,
        group: str,
        role_arn: str,
        *,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        """`clock` decides whether a reminder is still ahead (pass the caller's clock)."""
        self._client = client
        self._group = group
        self._role_arn = role_arn
        self._clock = clock

    def set(
        self, about: str, deadline: datetime, remind_at: datetime | None, target_arn: str
    ) -> None:
        """Create (or move) the expiry at `deadline`, and the reminder at `remind_at` when it
        is still ahead; a reminder already past (or None) is not scheduled, and any earlier
        one is deleted."""
        expire = ExpireJob(about, deadline)
        self._put(
            expiry_name(about),
            deadline,
            expire.to_event(),
            target_arn,
            f"sgrevert: expiry of the approval of {about} until {iso(deadline)}",
        )
        if remind_at is None or remind_at <= self._clock():
            self._delete(reminder_name(about))
            return
        self._put(
            reminder_name(about),
            remind_at,
            RemindJob(about, deadline).to_event(),
            target_arn,
            f"sgrevert: reminder that the approval of {about} ends at {iso(deadline)}",
        )

    def delete(self, about: str) -> None:
        """Remove both schedules (made permanent, reverted now); already gone is fine."""
        self._delete(expiry_name(about))
        self._delete(reminder_name(about))

    def put(
        self, name: str, when: datetime, event: dict[str, Any], target_arn: str, description: str
    ) -> None:
        """Create (or move) the one-time schedule `name` that invokes `target_arn` with
        `event` at `when`."""
        self._put(name, when, event, target_arn, description)

    def delete_named(self, name: str) -> None:
        """Remove the schedule `name`; already gone is fine."""
        self._delete(name)

    def get(self, about: str) -> ScheduleInfo | None:
        """The expiry schedule, or None when there is none (it fired, or was deleted)."""
        found = self._get(expiry_name(about))
        if found is None:
            return None
        reminder = self._get(reminder_name(about))
        target = found.get("Target") or {}
        try:
            event = json.loads(target.get("Input") or "{}")
        except ValueError:
            event = {}
        return ScheduleInfo(
            name=str(found.get("Name")),
            at=_parse_at(str(found.get("ScheduleExpression"))),
            target_arn=str(target.get("Arn")),
            role_arn=str(target.get("RoleArn")),
            event=event if isinstance(event, dict) else {},
            action_after_completion=found.get("ActionAfterCompletion"),
            reminder_at=(_parse_at(str(reminder.get("ScheduleExpression"))) if reminder else None),
        )

    # -- the calls ---------------------------------------------------------------------------

    def _definition(
        self, name: str, when: datetime, event: dict[str, Any], target_arn: str, description: str
    ) -> dict[str, Any]:
        return {
            "Name": name,
            "GroupName": self._group,
            "Description": description[:512],
            "ScheduleExpression": at_expression(when),
            "ScheduleExpressionTimezone": "UTC",
            "FlexibleTimeWindow": {"Mode": "OFF"},
            "ActionAfterCompletion": "DELETE",
            "State": "ENABLED",
            "Target": {
                "Arn": target_arn,
                "RoleArn": self._role_arn,
                "Input": json.dumps(event, separators=(",", ":")),
                "RetryPolicy": dict(RETRY_POLICY),
            },
        }

    def _put(
        self, name: str, when: datetime, event: dict[str, Any], target_arn: str, description: str
    ) -> None:
        definition = self._definition(name, when, event, target_arn, description)
        try:
            self._client.create_schedule(**definition)
            return
        except ClientError as error:
            if _code(error) != _CONFLICT:
                raise _failed("CreateSchedule", name, error) from error
        except BotoCoreError as error:
            raise _failed("CreateSchedule", name, error) from error
        try:
            self._client.update_schedule(**definition)
            return
        except ClientError as error:
            if _code(error) != _NOT_FOUND or _group_missing(error):
                raise _failed("UpdateSchedule", name, error) from error
        except BotoCoreError as error:
            raise _failed("UpdateSchedule", name, error) from error
        # It fired and deleted itself between the two calls: create it anew.
        try:
            self._client.create_schedule(**definition)
        except (ClientError, BotoCoreError) as error:
            raise _failed("CreateSchedule", name, error) from error

    def _delete(self, name: str) -> None:
        try:
            self._client.delete_schedule(Name=name, GroupName=self._group)
        except ClientError as error:
            if _code(error) != _NOT_FOUND or _group_missing(error):
                raise _failed("DeleteSchedule", name, error) from error
        except BotoCoreError as error:
            raise _failed("DeleteSchedule", name, error) from error

    def _get(self, name: str) -> dict[str, Any] | None:
        try:
            found: dict[str, Any] = self._client.get_schedule(Name=name, GroupName=self._group)
        except ClientError as error:
            if _code(error) != _NOT_FOUND or _group_missing(error):
                raise _failed("GetSchedule", name, error) from error
            return None
        except BotoCoreError as error:
            raise _failed("GetSchedule", name, error) from error
        return found


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _message(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Message", ""))


def _group_missing(error: ClientError) -> bool:
    """A missing group ("Schedule group <name> does not exist.") is a deployment problem,
    not a schedule that is gone."""
    return "schedule group" in _message(error).lower()


def _failed(operation: str, name: str, error: ClientError | BotoCoreError) -> ScheduleFailed:
    if isinstance(error, ClientError):
        detail = f"{_code(error) or 'ClientError'}: {_message(error) or error}"
    else:
        detail = f"{type(error).__name__}: {error}"
    return ScheduleFailed(f"{operation} {name} failed ({detail})")


def _parse_at(expression: str) -> datetime:
    found = _AT_EXPRESSION.match(expression)
    if found is None:
        raise ScheduleFailed(f"unexpected schedule expression {expression!r}")
    return datetime.strptime(found.group(1), _AT).replace(tzinfo=UTC)
