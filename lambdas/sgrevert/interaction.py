"""A button click, as Slack describes it, and what to tell a clicker whose click changed nothing.

Pure: parses the verified form body into a `Click` and words the refusals. Signature
checking happens before this, on the raw body (see `slack_request`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from sgrevert.blocks import ACTION_APPROVE, ACTION_DENY, decider, escape
from sgrevert.errors import AlreadyDecided, NotDecidable, SgrevertError, UnknownChange
from sgrevert.model import ChangeRecord, State

DECISIONS = {ACTION_APPROVE: State.APPROVED, ACTION_DENY: State.DENIED}
_EVENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
_SLACK_USER = re.compile(r"[UW][A-Z0-9]{2,31}")
_SLACK_CHANNEL = re.compile(r"[CGD][A-Z0-9]{2,31}")
_SLACK_TS = re.compile(r"\d{1,12}\.\d{1,8}")
MAX_LISTED_APPROVERS = 5


class BadInteraction(SgrevertError):
    """Not a click on one of our buttons: answered 400, nothing changes."""


class NotAllowed(SgrevertError):
    def __init__(self, user: str, approvers: Collection[str]) -> None:
        super().__init__(f"{user} is not an approver")
        self.user = user
        self.approvers = approvers


# What a click can run into after it was parsed; each is told to the clicker, privately.
REFUSALS: tuple[type[SgrevertError], ...] = (
    NotAllowed,
    UnknownChange,
    NotDecidable,
    AlreadyDecided,
)


@dataclass(frozen=True)
class Click:
    decision: State  # APPROVED or DENIED
    event_id: str
    user_id: str
    user_name: str | None
    channel_id: str
    message_ts: str | None


def parse_click(form_body: str) -> Click:
    """The one approve/deny click in a `block_actions` payload, or BadInteraction."""
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
    action = actions[0]
    action_id = action.get("action_id")
    decision = DECISIONS.get(action_id) if isinstance(action_id, str) else None
    if decision is None:
        raise BadInteraction(f"unknown action {_short(action.get('action_id'))}")
    event_id = _matching(action.get("value"), _EVENT_ID, "change id")
    user = _object(payload, "user")
    channel = _object(payload, "channel")
    container = _object(payload, "container")
    message = _object(payload, "message")
    channel_id = _matching(
        channel.get("id") or container.get("channel_id"), _SLACK_CHANNEL, "channel"
    )
    ts = container.get("message_ts") or message.get("ts")
    return Click(
        decision=decision,
        event_id=event_id,
        user_id=_matching(user.get("id"), _SLACK_USER, "user"),
        user_name=_name(user.get("username") or user.get("name")),
        channel_id=channel_id,
        message_ts=ts if isinstance(ts, str) and _SLACK_TS.fullmatch(ts) else None,
    )


def check_approver(user_id: str, approvers: Collection[str]) -> None:
    """Anyone may decide when no approvers are configured; otherwise only they may."""
    if approvers and user_id not in approvers:
        raise NotAllowed(user_id, approvers)


def explain(refusal: SgrevertError) -> str:
    """The private reply for a click that changed nothing. The one place refusals are worded."""
    if isinstance(refusal, NotAllowed):
        listed = sorted(refusal.approvers)
        names = ", ".join(f"<@{a}>" for a in listed[:MAX_LISTED_APPROVERS])
        more = " and others" if len(listed) > MAX_LISTED_APPROVERS else ""
        return (
            "You are not allowed to approve or deny security-group changes. "
            f"Ask an approver: {names}{more}."
        )
    if isinstance(refusal, UnknownChange):
        return "This change is no longer on record (records expire), so it cannot be decided."
    if isinstance(refusal, NotDecidable):
        return "This change only narrowed access; it is posted for information."
    if isinstance(refusal, AlreadyDecided):
        return _already_decided(refusal.record)
    return "That did not work; nothing was changed."


def _already_decided(record: ChangeRecord) -> str:
    who = decider(record.decided_by)
    when = f" at {record.decided_at:%Y-%m-%d %H:%M} UTC" if record.decided_at else ""
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
