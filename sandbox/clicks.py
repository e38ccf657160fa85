"""A click as Slack sends it: a signed `block_actions` form POST to the Request URL.

The payload is built from the message as posted (the button or select must be on it, as
in Slack; a select's click carries the option chosen as `selected_option`), signed with
slack_sdk's `SignatureVerifier.generate_signature` over the exact body, and POSTed over
HTTP.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import requests
from slack_sdk.signature import SignatureVerifier

TEAM = {"id": "T0SANDBOX", "domain": "sandbox"}
USER_AGENT = "Slackbot 1.0 (+https://api.slack.com/robots)"


@dataclass(frozen=True)
class SlackUser:
    id: str
    username: str


class NoSuchButton(LookupError):
    pass


def find_button(blocks: Sequence[Mapping[str, Any]] | None, action_id: str) -> dict[str, Any]:
    """The button (or select) with `action_id` in a message's actions blocks, with its
    block id."""
    for block in blocks or []:
        if block.get("type") != "actions":
            continue
        for element in block.get("elements", []):
            if element.get("action_id") == action_id:
                return {**element, "block_id": block.get("block_id")}
    raise NoSuchButton(f"the message has no {action_id!r} button")


def find_option(select: Mapping[str, Any], option: str) -> dict[str, Any]:
    """The option of a static_select whose text (`1 h`, `+1 h`) or value is `option`."""
    for choice in select.get("options", []):
        if option in (choice.get("value"), (choice.get("text") or {}).get("text")):
            return dict(choice)
    shown = [(c.get("text") or {}).get("text") for c in select.get("options", [])]
    raise NoSuchButton(f"{select.get('action_id')!r} has no option {option!r} (it has {shown})")


def block_actions_payload(
    *,
    user: SlackUser,
    channel: str,
    ts: str,
    text: str | None,
    blocks: Sequence[Mapping[str, Any]] | None,
    action_id: str,
    response_url: str,
    option: str | None = None,
    thread_ts: str | None = None,
) -> dict[str, Any]:
    """What Slack sends when `user` clicks the button `action_id` on the message `ts`, or
    chooses `option` (its text or value) in the static_select `action_id`. `thread_ts`: the
    message is a reply in that thread (a reminder)."""
    button = find_button(blocks, action_id)
    action, state = _action(button, option)
    container: dict[str, Any] = {
        "type": "message",
        "message_ts": ts,
        "channel_id": channel,
        "is_ephemeral": False,
    }
    message: dict[str, Any] = {
        "type": "message",
        "subtype": "bot_message",
        "ts": ts,
        "text": text or "",
        "blocks": list(blocks or []),
    }
    if thread_ts is not None:
        container["thread_ts"] = message["thread_ts"] = thread_ts
    return {
        "type": "block_actions",
        "user": {
            "id": user.id,
            "username": user.username,
            "name": user.username,
            "team_id": TEAM["id"],
        },
        "api_app_id": "A0SGREVERT",
        "token": "deprecated-verification-token",
        "container": container,
        "trigger_id": f"{secrets.randbelow(10**12)}.{secrets.token_hex(8)}",
        "team": TEAM,
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": channel, "name": "security-changes"},
        "message": message,
        "state": {"values": state},
        "response_url": response_url,
        "actions": [action],
    }


def _action(
    element: Mapping[str, Any], option: str | None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The `actions[0]` of a click on `element`, and the `state.values` Slack sends with it
    (a select's chosen option is in both)."""
    kind = element.get("type", "button")
    common = {
        "type": kind,
        "action_id": element.get("action_id"),
        "block_id": element.get("block_id"),
        "action_ts": f"{time.time():.6f}",
    }
    if kind != "static_select":
        if option is not None:
            raise NoSuchButton(f"{element.get('action_id')!r} is a {kind}, it has no options")
        button = {
            "text": element.get("text"),
            "value": element.get("value"),
            "style": element.get("style"),
        }
        return {**common, **button}, {}
    if option is None:
        raise NoSuchButton(f"{element.get('action_id')!r} is a select: choose an option")
    chosen = find_option(element, option)
    action = {**common, "selected_option": chosen, "placeholder": element.get("placeholder")}
    chosen_state = {"type": kind, "selected_option": chosen}
    state = {str(element.get("block_id")): {str(element.get("action_id")): chosen_state}}
    return action, state


def signed_request(
    payload: Mapping[str, Any], signing_secret: str, timestamp: int | None = None
) -> tuple[bytes, dict[str, str]]:
    """The form body and Slack's headers, signed as Slack signs them."""
    body = urlencode({"payload": json.dumps(payload, separators=(",", ":"))})
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    signature = SignatureVerifier(signing_secret).generate_signature(timestamp=stamp, body=body)
    if signature is None:
        raise ValueError("no signing secret to sign with")
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "User-Agent": USER_AGENT,
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": signature,
    }
    return body.encode(), headers


def post(url: str, body: bytes, headers: Mapping[str, str]) -> requests.Response:
    return requests.post(url, data=body, headers=dict(headers), timeout=30)
