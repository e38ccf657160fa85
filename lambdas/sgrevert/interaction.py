"""A click, as Slack describes it, and what to tell a clicker whose click changed nothing.

Pure: parses the verified form body into a `Click` and words the refusals. Signature
checking happens before this, on the raw body (see `slack_request`). A click is one of
the buttons or selects `blocks` puts on a message, and carries the value `blocks` gave it:
the change (or `g:<batch>`), and for an approval for a while the duration chosen and the
deadline the message showed (see `blocks.approve_for_value` and its neighbours).
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any
from urllib.parse import parse_qs

from sgrevert import history_text
from sgrevert.blocks import (
    ACTION_APPROVE,
    ACTION_APPROVE_FOR,
    ACTION_DENY,
    ACTION_EXTEND,
    ACTION_KEEP,
    ACTION_REVERT_NOW,
    VALUE_SEPARATOR,
    decider,
    escape,
)
from sgrevert.durations import check_duration, duration_words
from sgrevert.errors import (
    AlreadyApproved,
    AlreadyDecided,
    NotDecidable,
    NotTemporary,
    SelfApproval,
    SgrevertError,
    UnknownChange,
    WrongPlace,
)
from sgrevert.history_text import and_joined, expired_approver
from sgrevert.model import ChangeRecord, State, Step
from sgrevert.usergroups import UserGroupUnreadable

_EVENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
_SLACK_USER = re.compile(r"[UW][A-Z0-9]{2,31}")
_SLACK_CHANNEL = re.compile(r"[CGD][A-Z0-9]{2,31}")
_SLACK_TS = re.compile(r"\d{1,12}\.\d{1,8}")
_SLACK_TEAM = re.compile(r"[TE][A-Z0-9]{2,31}")
_SECONDS = re.compile(r"[1-9]\d{0,7}")
_DEADLINE = re.compile(r"[1-9]\d{9}")  # Unix seconds: 2001-09-09 to 2286-11-20
MAX_LISTED_APPROVERS = 5


class Action(StrEnum):
    """What a click asks for: its element's `action_id`."""

    APPROVE = ACTION_APPROVE
    DENY = ACTION_DENY
    APPROVE_FOR = ACTION_APPROVE_FOR  # a static_select: approve for the chosen duration
    EXTEND = ACTION_EXTEND  # a static_select: move the deadline shown by the chosen duration
    KEEP = ACTION_KEEP  # approve for good what was approved until the deadline shown
    REVERT_NOW = ACTION_REVERT_NOW  # deny, before the deadline shown, what was approved


# The decision each action amounts to, for the callers that only need approve or deny.
DECISIONS = {
    Action.APPROVE: State.APPROVED,
    Action.DENY: State.DENIED,
    Action.APPROVE_FOR: State.APPROVED,
    Action.EXTEND: State.APPROVED,
    Action.KEEP: State.APPROVED,
    Action.REVERT_NOW: State.DENIED,
}
_ACTION_IDS = frozenset(action.value for action in Action)
_SELECTS = frozenset({Action.APPROVE_FOR, Action.EXTEND})
# What follows the id in the value: (has a duration, has a deadline).
_VALUE_PARTS = {
    Action.APPROVE: (False, False),
    Action.DENY: (False, False),
    Action.APPROVE_FOR: (True, False),
    Action.EXTEND: (True, True),
    Action.KEEP: (False, True),
    Action.REVERT_NOW: (False, True),
}


class BadInteraction(SgrevertError):
    """Not a click on one of our buttons or selects: answered 400, nothing changes."""


class NotAllowed(SgrevertError):
    def __init__(self, user: str, approvers: Collection[str]) -> None:
        super().__init__(f"{user} is not an approver")
        self.user = user
        self.approvers = approvers


class TemporaryNotConfigured(SgrevertError):
    """An Allow for… (or Extend…) click where no scheduler role is set (SCHEDULER_ROLE_ARN):
    nothing could revert the change on time, so nothing is written."""

    def __init__(self) -> None:
        super().__init__("temporary approvals are not configured: SCHEDULER_ROLE_ARN is not set")


class DurationNotOffered(SgrevertError):
    """An Allow for… or Extend… click for a duration the policy does not offer (the
    message was posted under another policy, or the value was forged)."""

    def __init__(self, duration: timedelta, offered: Sequence[timedelta]) -> None:
        listed = ", ".join(duration_words(d) for d in offered) or "none"
        super().__init__(
            f"{duration_words(duration)} is not one of the durations offered ({listed})"
        )
        self.duration = duration
        self.offered = tuple(offered)


# What a click can run into after it was parsed; each is told to the clicker, privately.
REFUSALS: tuple[type[SgrevertError], ...] = (
    NotAllowed,
    UnknownChange,
    NotDecidable,
    AlreadyDecided,
    NotTemporary,
    TemporaryNotConfigured,
    DurationNotOffered,
    SelfApproval,
    AlreadyApproved,
    WrongPlace,
    UserGroupUnreadable,
)


@dataclass(frozen=True)
class Click:
    action: Action
    event_id: str  # a change's event id, or `g:<batch>` for a group message
    user_id: str
    user_name: str | None
    channel_id: str
    message_ts: str | None  # the message clicked on: the change's, or a reply in its thread
    duration: timedelta | None = None  # approve_for, extend_for: the duration chosen
    deadline: datetime | None = None  # extend_for, keep, revert_now: the deadline shown
    thread_ts: str | None = None  # a reply in a thread: the message it replies to
    team_id: str | None = None  # the workspace the click came from

    @property
    def decision(self) -> State:
        """APPROVED or DENIED: what the click decides, whatever else it does."""
        return DECISIONS[self.action]


def parse_click(form_body: str) -> Click:
    """The one click in a `block_actions` payload, or BadInteraction."""
    form = parse_qs(form_body, keep_blank_values=True)
    payloads = form.get("payload", [])
    if len(payloads) != 1:
        raise BadInteraction("expected exactly one form field `payload`")
    try:
        payload = json.loads(payloads[0])
    except (ValueError, RecursionError):  # RecursionError: absurdly deep nesting
        raise BadInteraction("`payload` is not JSON") from None
    if not isinstance(payload, dict):
        raise BadInteraction("`payload` is not a JSON object")
    if payload.get("type") != "block_actions":
        raise BadInteraction(f"not a block_actions payload: {_short(payload.get('type'))}")
    actions = payload.get("actions")
    if not isinstance(actions, list) or len(actions) != 1 or not isinstance(actions[0], dict):
        raise BadInteraction("expected exactly one action")
    element = actions[0]
    action = _action(element.get("action_id"))
    event_id, duration, deadline = _value(action, _raw_value(action, element))
    user = _object(payload, "user")
    channel = _object(payload, "channel")
    container = _object(payload, "container")
    message = _object(payload, "message")
    channel_id = _matching(
        channel.get("id") or container.get("channel_id"), _SLACK_CHANNEL, "channel"
    )
    ts = container.get("message_ts") or message.get("ts")
    thread_ts = container.get("thread_ts") or message.get("thread_ts")
    team = _object(payload, "team")
    team_id = team.get("id") or user.get("team_id")
    return Click(
        action=action,
        event_id=event_id,
        user_id=_matching(user.get("id"), _SLACK_USER, "user"),
        user_name=_name(user.get("username") or user.get("name")),
        channel_id=channel_id,
        message_ts=ts if isinstance(ts, str) and _SLACK_TS.fullmatch(ts) else None,
        duration=duration,
        deadline=deadline,
        thread_ts=thread_ts
        if isinstance(thread_ts, str) and _SLACK_TS.fullmatch(thread_ts)
        else None,
        team_id=team_id if isinstance(team_id, str) and _SLACK_TEAM.fullmatch(team_id) else None,
    )


def _action(action_id: Any) -> Action:
    if isinstance(action_id, str) and action_id in _ACTION_IDS:
        return Action(action_id)
    raise BadInteraction(f"unknown action {_short(action_id)}")


def _raw_value(action: Action, element: dict[str, Any]) -> Any:
    """A button's `value`; a select's chosen `selected_option.value`."""
    kind = element.get("type")
    if action not in _SELECTS:
        if kind not in (None, "button"):
            raise BadInteraction(f"{action} is a button, not {_short(kind)}")
        return element.get("value")
    if kind != "static_select":
        raise BadInteraction(f"{action} is a static_select, not {_short(kind)}")
    option = element.get("selected_option")
    if not isinstance(option, dict):  # null when an option was deselected
        raise BadInteraction(f"{action} without a selected option")
    return option.get("value")


def _value(action: Action, value: Any) -> tuple[str, timedelta | None, datetime | None]:
    """The id, duration and deadline a click's value carries, each strictly checked."""
    if not isinstance(value, str):
        raise BadInteraction(f"missing or malformed value: {_short(value)}")
    has_duration, has_deadline = _VALUE_PARTS[action]
    parts = value.split(VALUE_SEPARATOR)
    if len(parts) != 1 + has_duration + has_deadline:
        raise BadInteraction(f"malformed {action} value: {_short(value)}")
    event_id = _matching(parts[0], _EVENT_ID, "change id")
    duration = _duration(parts[1]) if has_duration else None
    deadline = _deadline(parts[-1]) if has_deadline else None
    return event_id, duration, deadline


def _duration(text: str) -> timedelta:
    seconds = int(_matching(text, _SECONDS, "duration in seconds"))
    try:
        return check_duration(timedelta(seconds=seconds))
    except ValueError as error:
        raise BadInteraction(f"duration out of bounds: {error}") from None


def _deadline(text: str) -> datetime:
    return datetime.fromtimestamp(int(_matching(text, _DEADLINE, "deadline")), UTC)


def explain(refusal: SgrevertError, deadline: datetime | None = None) -> str:
    """The private reply for a click that changed nothing. The one place refusals are worded.
    `deadline`: the one the click showed (`Click.deadline`), named when it is no longer so."""
    if isinstance(refusal, NotAllowed):
        listed = sorted(refusal.approvers)
        names = ", ".join(history_text.mention(a) for a in listed[:MAX_LISTED_APPROVERS])
        more = " and others" if len(listed) > MAX_LISTED_APPROVERS else ""
        return (
            "You are not allowed to approve or deny this change. "
            f"Ask one of its approvers: {names}{more}."
        )
    if isinstance(refusal, UserGroupUnreadable):
        return (
            f"Whether you may decide this change depends on the user group "
            f"{history_text.mention(refusal.group_id)}, which cannot be read: "
            f"{refusal.reason}. Nothing was changed."
        )
    if isinstance(refusal, WrongPlace):
        where = {
            "workspace": "this Slack workspace is not the one sgrevert serves",
            "channel": "this is not the channel the change was posted to",
            "message": "this is not the message the change was posted as",
        }.get(refusal.where, "it did not come from the change's message")
        return (
            f"That click does not count: {where}. Nothing was changed; decide the change "
            "on its own message."
        )
    if isinstance(refusal, UnknownChange):
        return "This change is no longer on record (records expire), so it cannot be decided."
    if isinstance(refusal, DurationNotOffered):
        return (
            f"{duration_words(refusal.duration)} is not offered here (the durations are "
            f"{', '.join(duration_words(d) for d in refusal.offered) or 'none'}); nothing was "
            "changed. Choose one from the message."
        )
    if isinstance(refusal, NotDecidable):
        return "This change only narrowed access; it is posted for information."
    if isinstance(refusal, AlreadyDecided):
        return _already_decided(refusal.record)
    if isinstance(refusal, NotTemporary):
        until = f" until {_stamp(deadline)}" if deadline else " for a while"
        return (
            f"This change is no longer allowed{until}: it was extended, kept or reverted "
            f"meanwhile (now: {_now(refusal.record)}). Nothing was changed."
        )
    if isinstance(refusal, SelfApproval):
        return (
            "You made this change; ask another approver. Nothing was changed: you cannot "
            "approve your own change, but you can still Deny it, which reverts it."
        )
    if isinstance(refusal, AlreadyApproved):
        approvers = refusal.record.approvers
        count = len(approvers)
        needed = max(refusal.record.approvals_needed or count, count)
        shown = [decider(user) for user in approvers[:MAX_LISTED_APPROVERS]]
        names = and_joined(shown) if count == len(shown) else f"{', '.join(shown)} and others"
        return (
            f"You already approved this change; nothing was changed. It needs {needed} "
            f"approvals ({count} so far: {names}): ask another approver."
        )
    if isinstance(refusal, TemporaryNotConfigured):
        return (
            "Approvals for a while are not set up here: no scheduler role is configured to "
            "revert a change on time, so nothing was changed. Decide it for good instead "
            "(Approve, Deny, or Keep permanently)."
        )
    return "That did not work; nothing was changed."


def _already_decided(record: ChangeRecord) -> str:
    # An approval by several names them all.
    who = history_text.approved_by(record, record.decided_by)
    when = f" at {_stamp(record.decided_at)}" if record.decided_at else ""
    expired = expired_approver(record.decided_by)
    if expired is not None and record.state in (State.DENIED, State.REVERTED):
        done = "the revert is under way" if record.state is State.DENIED else "it was reverted"
        return f"The approval by {decider(expired)} expired{when}; {done}. Nothing was changed."
    if record.temporary and record.approved_until is not None:
        return (
            f"{who} already allowed this change until {_stamp(record.approved_until)}; nothing "
            "was changed. Use Extend…, Keep permanently or Revert now on its message."
        )
    if record.state is State.APPROVED:
        return f"{who} already approved this change{when}; nothing was changed."
    if record.state is State.DENIED:
        return f"{who} already denied this change{when}; the revert is under way."
    if record.state is State.REVERTED:
        return f"{who} already denied this change{when}; its rules were revoked."
    if record.state is State.REVERT_FAILED:
        return (
            f"{who} denied this change{when} but the revert failed: "
            f"{escape(record.outcome or 'no details recorded')}. Click Deny to retry it."
        )
    return f"This change is {record.state.value.lower()}; nothing was changed."


def _now(record: ChangeRecord) -> str:
    """Where an approval for a while went: its state now, and who took it there."""
    last = record.history[-1] if record.history else None
    by = decider(last.by if last and last.by else record.decided_by)
    if record.temporary and record.approved_until is not None:
        verb = "extended" if last and last.step is Step.EXTENDED else "allowed"
        return f"{verb} by {by} until {_stamp(record.approved_until)}"
    if record.state is State.APPROVED:
        verb = "kept permanently" if last and last.step is Step.MADE_PERMANENT else "approved"
        return f"{verb} by {by}"
    expired = expired_approver(record.decided_by)
    denied = (
        f"the approval by {decider(expired)} expired"
        if expired is not None
        else f"denied by {decider(record.decided_by)}"
    )
    if record.state is State.DENIED:
        return f"{denied}, the revert is under way"
    if record.state is State.REVERTED:
        return f"{denied} and it was reverted"
    if record.state is State.REVERT_FAILED:
        return f"{denied}, but the revert failed"
    if record.state is State.PENDING:
        return "awaiting review"
    return record.state.value.lower()


def _stamp(moment: datetime) -> str:
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def _object(payload: dict[str, Any], key: str) -> dict[str, Any]:
    value = payload.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BadInteraction(f"`{key}` is not an object")
    return value


def _matching(value: Any, pattern: re.Pattern[str], what: str) -> str:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise BadInteraction(f"missing or malformed {what}: {_short(value)}")
    return value


def _name(value: Any) -> str | None:
    return value[:80] if isinstance(value, str) and value else None


def _short(value: Any) -> str:
    return repr(value)[:60]
