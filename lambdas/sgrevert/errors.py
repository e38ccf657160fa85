"""Domain errors. Adapters raise them; each handler maps them to an answer in one place."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sgrevert.model import ChangeRecord


class SgrevertError(Exception):
    """Base class for errors the handlers know how to explain."""


class ConfigError(SgrevertError):
    """A setting is missing or malformed; the message names it."""


class UnknownChange(SgrevertError):
    def __init__(self, event_id: str) -> None:
        super().__init__(f"no recorded change with event id {event_id!r}")
        self.event_id = event_id


class AlreadyDecided(SgrevertError):
    """A conditional transition lost: someone else decided first (or it is in another state)."""

    def __init__(self, record: ChangeRecord) -> None:
        who = record.decided_by or "nobody"
        super().__init__(f"change {record.event_id} is already {record.state.value} (by {who})")
        self.record = record


class NotDecidable(SgrevertError):
    """Revoke/Modify calls are posted for information; there is nothing to approve or deny."""

    def __init__(self, record: ChangeRecord) -> None:
        super().__init__(f"change {record.event_id} ({record.change.event_name}) is informational")
        self.record = record


class NotTemporary(SgrevertError):
    """A step on an approval for a while (extend, keep, revert now, expire, remind) found the
    change no longer approved until that deadline: extended, kept, reverted or decided."""

    def __init__(self, record: ChangeRecord) -> None:
        until = record.approved_until.isoformat() if record.approved_until else "no deadline"
        super().__init__(
            f"change {record.event_id} is {record.state.value} ({until}), not approved until "
            "the deadline asked about"
        )
        self.record = record


class LakeQueryError(SgrevertError):
    """A CloudTrail Lake query ended FAILED/CANCELLED/TIMED_OUT or did not finish in time."""


class SlackUnavailable(SgrevertError):
    """Slack could not be reached or answered 5xx/429 after retries: try again next run."""


class SlackOutcomeUnknown(SlackUnavailable):
    """No answer, or a 5xx: Slack may have carried the call out all the same."""


class SlackRejected(SgrevertError):
    """Slack answered `ok: false` for this message (bad channel, invalid blocks...)."""


class NotUndecided(SgrevertError):
    """A step on an undecided change (its reminder, its fail-closed deny) found it decided
    meanwhile, its reminder already sent, or its deadline not the one asked about."""

    def __init__(self, record: ChangeRecord, why: str) -> None:
        super().__init__(f"change {record.event_id} is {record.state.value}: {why}")
        self.record = record


class SelfApproval(SgrevertError):
    """The actor of a change, mapped to this Slack user, tried to approve it
    (`self_approval` is false)."""

    def __init__(self, record: ChangeRecord, user: str) -> None:
        super().__init__(f"{user} made change {record.event_id} and may not approve it")
        self.record = record
        self.user = user


class AlreadyApproved(SgrevertError):
    """This approver's approval is already counted on a change that needs several."""

    def __init__(self, record: ChangeRecord, user: str) -> None:
        needed = record.approvals_needed or len(record.approvals)
        super().__init__(
            f"{user} already approved change {record.event_id} "
            f"({len(record.approvals)} of {needed})"
        )
        self.record = record
        self.user = user


class WrongPlace(SgrevertError):
    """A click from another workspace, channel or message than the change's."""

    def __init__(self, where: str, detail: str) -> None:
        super().__init__(f"a click from the wrong {where}: {detail}")
        self.where = where  # "workspace", "channel" or "message"
