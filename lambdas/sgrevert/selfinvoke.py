"""Handing a revert to an asynchronous invocation of this same function.

A click must be answered within 3 seconds; assuming two roles and revoking rules may
take longer, so the click path invokes the function again with `InvocationType="Event"`
(as Bolt's lazy listeners do) and that invocation does the revert. Its event is a small
JSON object that cannot be mistaken for an API Gateway event:

    {"sgrevert": "revert", "event_id": "<CloudTrail eventID>", "denied_by": "<Slack user id>"}

When the click's own message edit did not fit in Slack's 3 seconds (Slack slow or
rate-limiting), an Approve hands the edit over the same way:

    {"sgrevert": "show", "event_id": "<CloudTrail eventID, or g:<batch id>>"}

(A Deny needs no such event: the revert edits the message when it ends.) A private
reply to the clicker ("already decided by …") that did not fit is handed over too:

    {"sgrevert": "tell", "channel": "C…", "user": "U…", "text": "<the reply>"}

An approval for a while ends with an EventBridge Scheduler one-time schedule that invokes
this function with the expiry of that change (or group) at that deadline, and reminds its
approver shortly before with another; the detector's scheduled run sends the same events
for any that are overdue:

    {"sgrevert": "expire", "event_id": "<eventID or g:<batch id>>", "deadline": "<UTC ISO>"}
    {"sgrevert": "remind", "event_id": "<eventID or g:<batch id>>", "deadline": "<UTC ISO>"}

A change's history steps are posted as replies in its message's thread; those a click had
no time left for are handed over:

    {"sgrevert": "thread", "event_id": "<eventID or g:<batch id>>"}

So are the expiry schedules of an approval for a while (and, unless `show` is false, the
message edit and the thread after them) when the click's answer had no time left to set or
delete them:

    {"sgrevert": "schedule", "event_id": "<eventID or g:<batch id>>", "show": true}

An undecided change the policy reminds about or fails closed (`remind`,
`deny_if_undecided_after`) gets its schedules when the detector has posted it (`arm`);
they (or the detector's sweep, for any overdue) send its reminders by number and its
fail-closed deny at its deadline:

    {"sgrevert": "arm", "event_id": "<eventID or g:<batch id>>"}
    {"sgrevert": "nudge", "event_id": "<eventID or g:<batch id>>", "number": 1}
    {"sgrevert": "deny_undecided", "event_id": "<eventID or g:<batch id>>",
     "deadline": "<UTC ISO>"}

A decision's Security Hub finding update that did not fit in the click's answer:

    {"sgrevert": "findings", "event_id": "<eventID or g:<batch id>>"}
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, Self

from botocore.exceptions import BotoCoreError, ClientError

from sgrevert.errors import SgrevertError
from sgrevert.model import iso, parse_time

if TYPE_CHECKING:
    from mypy_boto3_lambda.client import LambdaClient

MARKER = "sgrevert"
REVERT = "revert"
SHOW = "show"
TELL = "tell"
EXPIRE = "expire"
REMIND = "remind"
THREAD = "thread"
SCHEDULE = "schedule"
ARM = "arm"
NUDGE = "nudge"
DENY_UNDECIDED = "deny_undecided"
FINDINGS = "findings"
MAX_NUDGES = 100  # far above what a policy may ask; a bigger number is not ours
_ACCEPTED = 202  # what Invoke answers to an accepted asynchronous invocation


class BadRevertEvent(SgrevertError):
    """An event carrying the marker but not a usable revert request."""


class InvokeFailed(SgrevertError):
    """The asynchronous invocation could not be started."""


def is_revert_event(event: Any) -> bool:
    return isinstance(event, dict) and event.get(MARKER) == REVERT


@dataclass(frozen=True)
class RevertJob:
    event_id: str
    denied_by: str

    def to_event(self) -> dict[str, str]:
        return {MARKER: REVERT, "event_id": self.event_id, "denied_by": self.denied_by}

    @classmethod
    def from_event(cls, event: dict[str, Any]) -> RevertJob:
        event_id, denied_by = event.get("event_id"), event.get("denied_by")
        if not isinstance(event_id, str) or not event_id:
            raise BadRevertEvent("revert event without an event_id")
        if not isinstance(denied_by, str) or not denied_by:
            raise BadRevertEvent("revert event without denied_by")
        return cls(event_id=event_id, denied_by=denied_by)


@dataclass(frozen=True)
class ShowJob:
    """Edit the message of a change (or of a group, `g:<batch id>`) to show its state."""

    event_id: str

    def to_event(self) -> dict[str, str]:
        return {MARKER: SHOW, "event_id": self.event_id}

    @classmethod
    def from_event(cls, event: dict[str, Any]) -> ShowJob:
        event_id = event.get("event_id")
        if not isinstance(event_id, str) or not event_id:
            raise BadRevertEvent("show event without an event_id")
        return cls(event_id=event_id)


@dataclass(frozen=True)
class TellJob:
    """Tell one user privately, in a channel, what their click came to."""

    channel: str
    user: str
    text: str

    def to_event(self) -> dict[str, str]:
        return {MARKER: TELL, "channel": self.channel, "user": self.user, "text": self.text}

    @classmethod
    def from_event(cls, event: dict[str, Any]) -> TellJob:
        fields = [event.get(name) for name in ("channel", "user", "text")]
        if not all(isinstance(value, str) and value for value in fields):
            raise BadRevertEvent("tell event without channel, user and text")
        channel, user, text = (str(value) for value in fields)
        return cls(channel=channel, user=user, text=text)


@dataclass(frozen=True)
class _DeadlineJob:
    """A step due at an approval's deadline: the change (or `g:<batch id>`) and the
    deadline it is about, so a change since extended or kept is told apart."""

    event_id: str
    deadline: datetime
    kind: ClassVar[str] = ""

    def to_event(self) -> dict[str, str]:
        return {MARKER: self.kind, "event_id": self.event_id, "deadline": iso(self.deadline)}

    @classmethod
    def from_event(cls, event: dict[str, Any]) -> Self:
        event_id, deadline = event.get("event_id"), event.get("deadline")
        if not isinstance(event_id, str) or not event_id:
            raise BadRevertEvent(f"{cls.kind} event without an event_id")
        if not isinstance(deadline, str) or not deadline:
            raise BadRevertEvent(f"{cls.kind} event without a deadline")
        try:
            moment = parse_time(deadline)
        except ValueError:
            raise BadRevertEvent(f"{cls.kind} event with an unreadable deadline") from None
        return cls(event_id=event_id, deadline=moment)


@dataclass(frozen=True)
class ExpireJob(_DeadlineJob):
    """Revert a change approved until `deadline`, if it still is."""

    kind: ClassVar[str] = EXPIRE


@dataclass(frozen=True)
class RemindJob(_DeadlineJob):
    """Remind the approver of a change approved until `deadline` that the time is near."""

    kind: ClassVar[str] = REMIND


@dataclass(frozen=True)
class ThreadJob:
    """Post a change's (or a group's) history steps not yet in its message's thread."""

    event_id: str

    def to_event(self) -> dict[str, str]:
        return {MARKER: THREAD, "event_id": self.event_id}

    @classmethod
    def from_event(cls, event: dict[str, Any]) -> ThreadJob:
        event_id = event.get("event_id")
        if not isinstance(event_id, str) or not event_id:
            raise BadRevertEvent("thread event without an event_id")
        return cls(event_id=event_id)


@dataclass(frozen=True)
class ScheduleJob:
    """Set (or delete) the expiry schedules of a change (or a group) as its record now
    says, then (`show`) edit its message and post its thread: what a click had no time
    left for. Not after Revert now, whose revert shows the change when it ends."""

    event_id: str
    show: bool = True

    def to_event(self) -> dict[str, Any]:
        return {MARKER: SCHEDULE, "event_id": self.event_id, "show": self.show}

    @classmethod
    def from_event(cls, event: dict[str, Any]) -> ScheduleJob:
        event_id, show = event.get("event_id"), event.get("show", True)
        if not isinstance(event_id, str) or not event_id:
            raise BadRevertEvent("schedule event without an event_id")
        if not isinstance(show, bool):
            raise BadRevertEvent("schedule event with a `show` that is not true or false")
        return cls(event_id=event_id, show=show)


@dataclass(frozen=True)
class DenyUndecidedJob(_DeadlineJob):
    """Deny (and revert) a change still PENDING at its fail-closed `deadline`."""

    kind: ClassVar[str] = DENY_UNDECIDED


@dataclass(frozen=True)
class ArmJob:
    """Set the schedules of an undecided change (or group) just posted: its next reminder
    and its fail-closed deny, as its record and the policy call for."""

    event_id: str

    def to_event(self) -> dict[str, str]:
        return {MARKER: ARM, "event_id": self.event_id}

    @classmethod
    def from_event(cls, event: dict[str, Any]) -> ArmJob:
        event_id = event.get("event_id")
        if not isinstance(event_id, str) or not event_id:
            raise BadRevertEvent("arm event without an event_id")
        return cls(event_id=event_id)


@dataclass(frozen=True)
class NudgeJob:
    """Send reminder `number` of an undecided change (or group), unless it was sent or the
    change was decided."""

    event_id: str
    number: int

    def to_event(self) -> dict[str, Any]:
        return {MARKER: NUDGE, "event_id": self.event_id, "number": self.number}

    @classmethod
    def from_event(cls, event: dict[str, Any]) -> NudgeJob:
        event_id, number = event.get("event_id"), event.get("number")
        if not isinstance(event_id, str) or not event_id:
            raise BadRevertEvent("nudge event without an event_id")
        if isinstance(number, bool) or not isinstance(number, int):
            raise BadRevertEvent("nudge event without a whole reminder number")
        if not 1 <= number <= MAX_NUDGES:
            raise BadRevertEvent(f"nudge event with reminder number {number} out of range")
        return cls(event_id=event_id, number=number)


@dataclass(frozen=True)
class FindingsJob:
    """Bring the Security Hub findings of a change (or group) in step with its decision."""

    event_id: str

    def to_event(self) -> dict[str, str]:
        return {MARKER: FINDINGS, "event_id": self.event_id}

    @classmethod
    def from_event(cls, event: dict[str, Any]) -> FindingsJob:
        event_id = event.get("event_id")
        if not isinstance(event_id, str) or not event_id:
            raise BadRevertEvent("findings event without an event_id")
        return cls(event_id=event_id)


Job = (
    RevertJob
    | ShowJob
    | TellJob
    | ExpireJob
    | RemindJob
    | ThreadJob
    | ScheduleJob
    | ArmJob
    | NudgeJob
    | DenyUndecidedJob
    | FindingsJob
)
_JOBS: dict[str, Any] = {
    REVERT: RevertJob,
    SHOW: ShowJob,
    TELL: TellJob,
    EXPIRE: ExpireJob,
    REMIND: RemindJob,
    THREAD: ThreadJob,
    SCHEDULE: ScheduleJob,
    ARM: ArmJob,
    NUDGE: NudgeJob,
    DENY_UNDECIDED: DenyUndecidedJob,
    FINDINGS: FindingsJob,
}


def is_own_event(event: Any) -> bool:
    """An event this function sent itself (a revert, a handed-over edit or reply)."""
    return isinstance(event, dict) and event.get(MARKER) in _JOBS


def job_from_event(event: dict[str, Any]) -> Job:
    """The job in one of this function's own events; BadRevertEvent if it is malformed."""
    job: Job = _JOBS[str(event.get(MARKER))].from_event(event)
    return job


class SelfInvoker:
    """Starts a revert with an asynchronous Invoke (Lambda retries it on failure)."""

    def __init__(self, lambda_client: LambdaClient) -> None:
        self._lambda = lambda_client

    def start(self, function_arn: str | None, job: Job) -> None:
        if not function_arn:
            raise InvokeFailed("no function ARN in the Lambda context to invoke")
        try:
            response = self._lambda.invoke(
                FunctionName=function_arn,
                InvocationType="Event",
                Payload=json.dumps(job.to_event()).encode(),
            )
        except ClientError as error:
            details = error.response.get("Error", {})
            raise InvokeFailed(
                f"{details.get('Code', 'ClientError')}: {details.get('Message', error)}"
            ) from error
        except BotoCoreError as error:
            raise InvokeFailed(f"{type(error).__name__}: {error}") from error
        if response.get("StatusCode") != _ACCEPTED:
            raise InvokeFailed(f"Invoke answered {response.get('StatusCode')}, not 202")
