"""Reading a Slack request out of an API Gateway proxy event and verifying its signature."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from typing import Any

import pytest
from slack_sdk.signature import SignatureVerifier

from sgrevert.slack_request import (
    HttpReply,
    Unverified,
    apigw_response,
    from_apigw_event,
    verified_body,
)
from tests.support import SIGNING_SECRET

BODY = "payload=%7B%22type%22%3A%22block_actions%22%7D"


def sign(body: str, timestamp: int | None = None, secret: str = SIGNING_SECRET) -> dict[str, str]:
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    signature = SignatureVerifier(secret).generate_signature(timestamp=stamp, body=body)
    assert signature is not None
    return {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": signature}


def event(
    body: str | None, headers: dict[str, str] | None, base64_encoded: bool = False
) -> dict[str, Any]:
    return {
        "resource": "/slack/actions",
        "httpMethod": "POST",
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in (headers or {}).items()} or None,
        "body": body,
        "isBase64Encoded": base64_encoded,
    }


def test_given_a_signed_body_when_verified_then_its_text_is_returned() -> None:
    assert verified_body(from_apigw_event(event(BODY, sign(BODY))), SIGNING_SECRET) == BODY


@pytest.mark.parametrize("case", [str.lower, str.upper, str.title])
def test_given_header_names_in_any_case_when_verified_then_they_are_found(case: Any) -> None:
    headers = {case(name): value for name, value in sign(BODY).items()}
    assert verified_body(from_apigw_event(event(BODY, headers)), SIGNING_SECRET) == BODY


def test_given_only_multi_value_headers_when_read_then_they_are_used() -> None:
    request = from_apigw_event(
        {"multiValueHeaders": {k: [v] for k, v in sign(BODY).items()}, "body": BODY}
    )
    assert verified_body(request, SIGNING_SECRET) == BODY


def test_given_a_base64_body_when_read_then_the_signature_is_checked_on_the_decoded_bytes() -> None:
    encoded = base64.b64encode(BODY.encode()).decode()
    request = from_apigw_event(event(encoded, sign(BODY), base64_encoded=True))
    assert verified_body(request, SIGNING_SECRET) == BODY
    signed_over_encoding = from_apigw_event(event(encoded, sign(encoded), base64_encoded=True))
    with pytest.raises(Unverified):
        verified_body(signed_over_encoding, SIGNING_SECRET)


@pytest.mark.parametrize(
    "request_event",
    [
        lambda: event(BODY, None),
        lambda: event(BODY, {"X-Slack-Request-Timestamp": str(int(time.time()))}),
        lambda: event(BODY, {"X-Slack-Signature": sign(BODY)["X-Slack-Signature"]}),
        lambda: event(BODY, sign(BODY, secret="not-the-signing-secret")),
        lambda: event(BODY, sign(BODY, timestamp=int(time.time()) - 6 * 60)),
        lambda: event(BODY, sign(BODY, timestamp=int(time.time()) + 6 * 60)),
        lambda: event(BODY + "&extra=1", sign(BODY)),
        lambda: event(BODY, {**sign(BODY), "X-Slack-Request-Timestamp": "soon"}),
        lambda: event(BODY, {**sign(BODY), "X-Slack-Signature": "v0=é"}),
        lambda: event("%%%not base64", sign(BODY), base64_encoded=True),
        lambda: event(base64.b64encode(b"\xff\xfe").decode(), sign(BODY), base64_encoded=True),
        lambda: event("\udcff", sign(BODY)),
        lambda: event(None, sign(BODY)),
    ],
    ids=[
        "unsigned",
        "no-signature",
        "no-timestamp",
        "forged",
        "stale",
        "future",
        "tampered",
        "non-numeric-timestamp",
        "non-ascii-signature",
        "bad-base64",
        "not-utf8",
        "lone-surrogate",
        "no-body",
    ],
)
def test_given_no_valid_fresh_signature_when_verified_then_it_is_unverified(
    request_event: Callable[[], dict[str, Any]],
) -> None:
    # Built when the test runs, not at collection: timestamps are relative to now.
    with pytest.raises(Unverified):
        verified_body(from_apigw_event(request_event()), SIGNING_SECRET)


def test_given_odd_event_shapes_when_read_then_nothing_raises() -> None:
    for odd in ({}, {"headers": "x", "multiValueHeaders": [1], "body": 7}, {"headers": {1: "x"}}):
        with pytest.raises(Unverified):
            verified_body(from_apigw_event(odd), SIGNING_SECRET)


def test_given_a_reply_when_shaped_then_it_is_a_proxy_response() -> None:
    assert apigw_response(HttpReply(401, "no")) == {
        "statusCode": 401,
        "headers": {"Content-Type": "text/plain; charset=utf-8"},
        "body": "no",
    }
