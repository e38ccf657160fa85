"""A button click as Slack sends it: a signed `block_actions` form POST to the Request URL.

The payload is built from the message as posted (the button must be on it, as in
Slack), signed with slack_sdk's `SignatureVerifier.generate_signature` over the exact
body, and POSTed over HTTP.
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
    """The button with `action_id` in a message's actions blocks, with its block id."""
    for block in blocks or []:
        if block.get("type") != "actions":
            continue
        for element in block.get("elements", []):
            if element.get("action_id") == action_id:
                return {**element, "block_id": block.get("block_id")}
    raise NoSuchButton(f"the message has no {action_id!r} button")


def block_actions_payload(
    *,
    user: SlackUser,
    channel: str,
    ts: str,
    text: str | None,
    blocks: Sequence[Mapping[str, Any]] | None,
    action_id: str,
    response_url: str,
) -> dict[str, Any]:
    """What Slack sends when `user` clicks the button `action_id` on the message `ts`."""
    button = find_button(blocks, action_id)
    action_ts = f"{time.time():.6f}"
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
        "container": {
            "type": "message",
            "message_ts": ts,
            "channel_id": channel,
            "is_ephemeral": False,
        },
        "trigger_id": f"{secrets.randbelow(10**12)}.{secrets.token_hex(8)}",
        "team": TEAM,
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": channel, "name": "security-changes"},
        "message": {
            "type": "message",
            "subtype": "bot_message",
            "ts": ts,
            "text": text or "",
            "blocks": list(blocks or []),
        },
        "state": {"values": {}},
        "response_url": response_url,
        "actions": [
            {
                "type": button.get("type", "button"),
                "action_id": action_id,
                "block_id": button.get("block_id"),
                "text": button.get("text"),
                "value": button.get("value"),
                "style": button.get("style"),
                "action_ts": action_ts,
            }
        ],
    }


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
