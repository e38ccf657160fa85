"""revertsg-2 under generated requests, through its real handler.

Every property aims at one pending change and sends what an attacker, a broken proxy or
another Slack feature could send. Whatever arrives: the answer is 200, 400 or 401 (never an
exception), no forgery is accepted, and nothing a rejected request carries changes the
table or reaches Slack. 10,025 requests in all (the `max_examples` below).
"""

from __future__ import annotations

import base64
import copy
import json
import re
import time
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from slack_sdk.signature import SignatureVerifier

from sandbox.clicks import SlackUser, block_actions_payload
from sandbox.lambda_api import LambdaStandIn
from sgrevert import respond
from tests.hardening.conftest import CHANNEL, World
from tests.support import REGION, SECURITY_ACCOUNT, SIGNING_SECRET, LambdaContext, load_event

ALICE = SlackUser("U0ALICE", "alice")
TIMESTAMP = "X-Slack-Request-Timestamp"
SIGNATURE = "X-Slack-Signature"
STALE_AFTER = 300  # Slack's window: 5 minutes either side
CHANNEL_ID = re.compile(r"[CGD][A-Z0-9]{2,31}")
API_EVENT = load_event("apigw/slack_block_actions")
CONTEXT = LambdaContext("revertsg-2")


# -- building requests ----------------------------------------------------------------------


def click(world: World, action: str = "deny") -> dict[str, Any]:
    """What Slack sends when Alice clicks `action` on the change's message."""
    return block_actions_payload(
        user=ALICE,
        channel=CHANNEL,
        ts=str(world.record.slack_ts),
        text="change",
        blocks=world.blocks,
        action_id=action,
        response_url="https://hooks.slack.com/actions/T0/1/x",
    )


def form(payload: Any) -> str:
    return urlencode({"payload": json.dumps(payload, separators=(",", ":"))})


def sign(body: str, timestamp: str | None = None, secret: str = SIGNING_SECRET) -> dict[str, str]:
    stamp = str(int(time.time())) if timestamp is None else timestamp
    signature = SignatureVerifier(secret).generate_signature(timestamp=stamp, body=body)
    assert signature is not None
    return {TIMESTAMP: stamp, SIGNATURE: signature}


def event(
    body: str,
    headers: dict[str, str],
    *,
    base64_flag: bool = False,
    multi_value_only: bool = False,
) -> dict[str, Any]:
    """API Gateway's REST proxy event for a POST of `body` with Slack's `headers`."""
    built = copy.deepcopy(API_EVENT)
    for name in (TIMESTAMP, SIGNATURE):
        del built["headers"][name]
        del built["multiValueHeaders"][name]
    for name, value in headers.items():
        if not multi_value_only:
            built["headers"][name] = value
        built["multiValueHeaders"][name] = [value]
    built["body"] = body
    built["isBase64Encoded"] = base64_flag
    # API Gateway stamps when it received the request; the answer's deadline counts from it.
    built["requestContext"]["requestTimeEpoch"] = int(time.time() * 1000)
    return built


def send(built: dict[str, Any]) -> int:
    answer = respond.handler(built, CONTEXT)
    status = answer["statusCode"]
    assert status in (200, 400, 401), answer
    return int(status)


def assert_untouched(world: World) -> None:
    """Per request: no DynamoDB write was even attempted and Slack heard nothing."""
    assert world.writes == []
    assert world.slack.calls == []


def cased(name: str) -> st.SearchStrategy[str]:
    """`name` with any mix of upper and lower case letters."""
    return st.lists(st.booleans(), min_size=len(name), max_size=len(name)).map(
        lambda upper: "".join(
            c.upper() if u else c.lower() for c, u in zip(name, upper, strict=True)
        )
    )


texts = st.text(max_size=80)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | texts,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(texts, children, max_size=4),
    max_leaves=12,
)


# -- forgeries: 3,500 requests ----------------------------------------------------------------


@st.composite
def forgeries(draw: st.DrawFn, body: str) -> tuple[str, dict[str, str], bool]:
    """A deny click on the real change, made unverifiable by exactly one kind of mutation."""
    now = int(time.time())
    signed = sign(body)
    kind = draw(
        st.sampled_from(
            [
                "signature",
                "secret",
                "no-signature",
                "no-timestamp",
                "past",
                "future",
                "non-numeric",
                "truncated",
                "appended",
                "flipped",
                "base64-flag-on-raw",
                "signed-over-base64",
                "base64-body-flag-off",
            ]
        )
    )
    base64_flag = False
    headers = dict(signed)
    if kind == "signature":
        forged = draw(
            texts | st.text("0123456789abcdef", min_size=64, max_size=64).map("v0=".__add__)
        )
        headers[SIGNATURE] = forged
        if forged == signed[SIGNATURE]:
            headers[SIGNATURE] = forged + "0"
    elif kind == "secret":
        secret = draw(
            st.text(min_size=1, max_size=40).filter(lambda s: s.strip() and s != SIGNING_SECRET)
        )
        headers = sign(body, secret=secret)
    elif kind == "no-signature":
        del headers[SIGNATURE]
    elif kind == "no-timestamp":
        del headers[TIMESTAMP]
    elif kind == "past":
        headers = sign(body, str(now - draw(st.integers(STALE_AFTER + 2, 10**10))))
    elif kind == "future":
        headers = sign(body, str(now + draw(st.integers(STALE_AFTER + 2, 10**10))))
    elif kind == "non-numeric":
        stamp = draw(texts.filter(lambda t: not t.strip().lstrip("+-").isdigit()))
        headers = sign(body, stamp)
    elif kind == "truncated":
        body = body[: draw(st.integers(0, len(body) - 1))]
    elif kind == "appended":
        body += draw(st.text(min_size=1, max_size=200))
    elif kind == "flipped":
        index = draw(st.integers(0, len(body) - 1))
        char = draw(st.characters().filter(lambda c: c != body[index]))
        body = body[:index] + char + body[index + 1 :]
    elif kind == "base64-flag-on-raw":
        base64_flag = True
    elif kind == "signed-over-base64":
        # the signature covers the base64 text; the decoded bytes are what must verify
        body, base64_flag = base64.b64encode(body.encode()).decode(), True
        headers = sign(body)
    elif kind == "base64-body-flag-off":
        body = base64.b64encode(body.encode()).decode()
    renamed = {draw(cased(name)): value for name, value in headers.items()}
    return body, renamed, base64_flag


def test_no_forged_or_stale_click_is_ever_accepted(world: World) -> None:
    body = form(click(world, "deny"))
    before = world.item()

    @settings(max_examples=3500)
    @given(forgery=forgeries(body), multi_value_only=st.booleans())
    def property_(forgery: tuple[str, dict[str, str], bool], multi_value_only: bool) -> None:
        forged_body, headers, base64_flag = forgery
        status = send(
            event(forged_body, headers, base64_flag=base64_flag, multi_value_only=multi_value_only)
        )
        assert status == 401
        assert_untouched(world)

    property_()
    assert world.item() == before


# -- signed, but not one click on our buttons: 4,525 requests ----------------------------------


OTHER_TYPES = [
    "view_submission",
    "view_closed",
    "shortcut",
    "message_action",
    "block_suggestion",
    "interactive_message",
    "dialog_submission",
    "workflow_step_edit",
]


@st.composite
def not_a_click(draw: st.DrawFn, payload: dict[str, Any]) -> str:
    """A form body Slack could sign that is not exactly one approve/deny click on a change."""
    action = payload["actions"][0]
    kind = draw(
        st.sampled_from(
            [
                "other-type",
                "unknown-action",
                "action-count",
                "malformed-id",
                "bad-user",
                "bad-channel",
                "json",
                "not-json",
                "form",
                "truncated",
            ]
        )
    )
    if kind == "other-type":
        kind_name = draw(
            st.sampled_from(OTHER_TYPES) | texts.filter(lambda t: t != "block_actions")
        )
        return form({**payload, "type": kind_name})
    if kind == "unknown-action":
        action_id = draw(json_values.filter(lambda a: a not in ("approve", "deny")))
        return form({**payload, "actions": [{**action, "action_id": action_id}]})
    if kind == "action-count":
        count = draw(st.sampled_from([0, 2, 3, 50]))
        return form({**payload, "actions": [action] * count})
    if kind == "malformed-id":
        value = draw(
            json_values.filter(lambda v: not isinstance(v, str))
            | st.just("")
            | texts.map(lambda t: "../" + t)
            | st.text(min_size=129, max_size=300, alphabet="abc123")
            | texts.filter(
                lambda t: any(not (c.isascii() and (c.isalnum() or c in "._:-")) for c in t)
            )
        )
        return form({**payload, "actions": [{**action, "value": value}]})
    if kind == "bad-user":
        user = draw(json_values.filter(lambda u: not isinstance(u, dict)) | st.just({"id": "eve"}))
        return form({**payload, "user": user})
    if kind == "bad-channel":
        channel = draw(texts.filter(lambda t: not CHANNEL_ID.fullmatch(t)))
        return form({**payload, "channel": {"id": channel}, "container": {}})
    if kind == "json":
        return form(draw(json_values))
    if kind == "not-json":
        return urlencode({"payload": draw(texts.filter(_not_json))})
    if kind == "form":
        return draw(st.text(max_size=300).filter(lambda t: "payload=" not in t))
    whole = form(payload)
    return whole[: draw(st.integers(0, len(whole) - 1))]


def _not_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return True
    return False


def test_signed_requests_that_are_not_one_click_get_400_and_change_nothing(
    world: World,
) -> None:
    payload = click(world, "deny")
    before = world.item()

    @settings(max_examples=3000)
    @given(body=not_a_click(payload))
    def property_(body: str) -> None:
        assert send(event(body, sign(body))) == 400
        assert_untouched(world)

    property_()
    assert world.item() == before


def test_header_case_and_base64_encoding_never_change_the_verdict(world: World) -> None:
    payload = click(world, "deny")
    before = world.item()

    @settings(max_examples=1500)
    @given(
        action=texts.filter(lambda a: a not in ("approve", "deny")),
        timestamp_name=cased(TIMESTAMP),
        signature_name=cased(SIGNATURE),
        encode=st.booleans(),
        multi_value_only=st.booleans(),
        skew=st.integers(-STALE_AFTER + 5, STALE_AFTER - 5),
    )
    def property_(
        action: str,
        timestamp_name: str,
        signature_name: str,
        encode: bool,
        multi_value_only: bool,
        skew: int,
    ) -> None:
        body = form({**payload, "actions": [{**payload["actions"][0], "action_id": action}]})
        signed = sign(body, str(int(time.time()) + skew))
        headers = {timestamp_name: signed[TIMESTAMP], signature_name: signed[SIGNATURE]}
        sent = base64.b64encode(body.encode()).decode() if encode else body
        built = event(sent, headers, base64_flag=encode, multi_value_only=multi_value_only)
        # Verified (not 401) in every spelling and encoding, then refused as no click of ours.
        assert send(built) == 400
        assert_untouched(world)

    property_()
    assert world.item() == before


def test_oversized_signed_bodies_are_refused_whole(world: World) -> None:
    payload = click(world, "deny")
    before = world.item()

    @settings(max_examples=25)
    @given(size=st.integers(256 * 1024, 6 * 1024 * 1024), field=st.sampled_from(["pad", "value"]))
    def property_(size: int, field: str) -> None:
        padding = "x" * size
        if field == "value":
            body = form({**payload, "actions": [{**payload["actions"][0], "value": padding}]})
        else:
            body = form(payload) + "&pad=" + padding + "&payload=" + "%7B%7D"
        assert send(event(body, sign(body))) == 400
        assert_untouched(world)

    property_()
    assert world.item() == before


# -- well-formed ids of changes not on record: 500 requests -----------------------------------


def test_clicks_on_changes_not_on_record_are_told_and_create_nothing(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A reply that misses the answer's deadline (a stall on a loaded machine) is handed to
    # an asynchronous invocation of the responder: let that run too, so each clicker is
    # told exactly once however the machine is doing.
    lambdas = LambdaStandIn(region=REGION, account=SECURITY_ACCOUNT).start()
    lambdas.register(CONTEXT.invoked_function_arn, respond.handler)
    monkeypatch.setenv("AWS_ENDPOINT_URL_LAMBDA", lambdas.endpoint_url)
    payload = click(world, "deny")
    before = world.items()
    told = 0

    @settings(max_examples=500)
    @given(
        event_id=st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}", fullmatch=True).filter(
            lambda e: e != world.record.event_id
        ),
        action=st.sampled_from(["approve", "deny"]),
    )
    def property_(event_id: str, action: str) -> None:
        nonlocal told
        action_ = {**payload["actions"][0], "action_id": action, "value": event_id}
        body = form({**payload, "actions": [action_]})
        assert send(event(body, sign(body))) == 200
        lambdas.wait_idle()
        told += 1
        assert world.items() == before
        # the clicker alone is told; no message is edited, no revert started
        assert len(world.slack.ephemerals) == told
        assert world.slack.updates == []
        assert [i.payload["sgrevert"] for i in lambdas.invocations if i.payload] in (
            [],
            ["tell"] * len(lambdas.invocations),
        )

    try:
        property_()
    finally:
        lambdas.stop()
    assert told == len(world.slack.ephemerals) > 0


# -- whatever API Gateway could hand over: 1,500 events ---------------------------------------


header_values = json_values | texts | st.integers()
header_maps = st.dictionaries(
    st.sampled_from([TIMESTAMP, SIGNATURE, TIMESTAMP.lower(), "Content-Type"]) | texts,
    header_values,
    max_size=4,
)
odd_events = st.fixed_dictionaries(
    {},
    optional={
        "headers": header_maps | json_values,
        "multiValueHeaders": st.dictionaries(
            texts, st.lists(header_values, max_size=3) | json_values
        )
        | json_values,
        "body": texts | json_values | st.binary(max_size=64).map(lambda b: b.decode("latin-1")),
        "isBase64Encoded": json_values,
        "httpMethod": texts,
        "requestContext": json_values,
    },
)


def test_any_event_shape_is_answered_401_without_raising(world: World) -> None:
    before = world.item()

    @settings(max_examples=1500)
    @given(odd=odd_events)
    def property_(odd: dict[str, Any]) -> None:
        assert send(odd) == 401
        assert_untouched(world)

    property_()
    assert world.item() == before


@pytest.mark.parametrize("action", ["approve", "deny"])
def test_the_unmutated_click_is_accepted(world: World, action: str) -> None:
    """The properties' baseline: the request every forgery starts from does decide."""
    body = form(click(world, action))

    assert send(event(body, sign(body))) == 200

    decided = world.store.require(world.record.event_id)
    assert decided.decided_by == ALICE.id
    # (a Deny's revert cannot start here, so it ends REVERT_FAILED rather than DENIED)
    assert decided.state.value == ("APPROVED" if action == "approve" else "REVERT_FAILED")
