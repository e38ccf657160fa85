"""A Slack request through API Gateway (REST, Lambda proxy): raw body in, verified text out.

The signature covers the exact bytes Slack sent, so the body is base64-decoded when
API Gateway says so and checked before anything parses it. Header names are
case-insensitive (API Gateway passes them as the client sent them).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from slack_sdk.signature import SignatureVerifier

from sgrevert.errors import SgrevertError

TIMESTAMP_HEADER = "x-slack-request-timestamp"
SIGNATURE_HEADER = "x-slack-signature"


class Unverified(SgrevertError):
    """No valid, fresh Slack signature on the raw body: answered 401, nothing changes."""


@dataclass(frozen=True)
class HttpRequest:
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)  # names in lower case
    base64_error: bool = False  # API Gateway said base64 but the body is not

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass(frozen=True)
class HttpReply:
    status: int
    body: str = ""


def from_apigw_event(event: Mapping[str, Any]) -> HttpRequest:
    """The raw body and headers of a REST API proxy event (never raises on odd input)."""
    headers: dict[str, str] = {}
    for name, values in _mapping(event.get("multiValueHeaders")).items():
        if isinstance(name, str) and isinstance(values, list) and values:
            headers[name.lower()] = str(values[-1])
    for name, value in _mapping(event.get("headers")).items():
        if isinstance(name, str) and value is not None:
            headers[name.lower()] = str(value)
    raw = event.get("body")
    text = raw if isinstance(raw, str) else ""
    if event.get("isBase64Encoded"):
        try:
            return HttpRequest(base64.b64decode(text, validate=True), headers)
        except (binascii.Error, ValueError):
            return HttpRequest(b"", headers, base64_error=True)
    # lone surrogates cannot come from Slack; kept as bytes that then fail verification
    return HttpRequest(text.encode("utf-8", "surrogatepass"), headers)


def _mapping(value: Any) -> Mapping[Any, Any]:
    return value if isinstance(value, Mapping) else {}


def verified_body(request: HttpRequest, signing_secret: str) -> str:
    """The body as text if Slack signed it within the last 5 minutes; Unverified otherwise."""
    timestamp = request.header(TIMESTAMP_HEADER)
    signature = request.header(SIGNATURE_HEADER)
    if request.base64_error or not timestamp or not signature:
        raise Unverified("missing signature headers or undecodable body")
    try:
        body = request.body.decode("utf-8")
        valid = SignatureVerifier(signing_secret).is_valid(body, timestamp, signature)
    except (UnicodeDecodeError, ValueError, TypeError):
        # not UTF-8, a non-numeric timestamp, a non-ASCII signature: none can be genuine
        valid = False
    if not valid:
        raise Unverified("signature does not match or is stale")
    return body


def apigw_response(reply: HttpReply) -> dict[str, Any]:
    return {
        "statusCode": reply.status,
        "headers": {"Content-Type": "text/plain; charset=utf-8"},
        "body": reply.body,
    }
