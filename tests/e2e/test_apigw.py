"""The API Gateway stand-in: REST proxy events in, proxy responses out, over HTTP."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from sandbox.apigw import FORM, ApiGatewayStandIn

pytestmark = pytest.mark.e2e

ARN = "arn:aws:lambda:eu-west-1:111122223333:function:revertsg-2"


class Recorder:
    def __init__(self, answer: Any = None) -> None:
        self.calls: list[tuple[dict[str, Any], Any]] = []
        self.answer = answer or {"statusCode": 200, "headers": {"X-Test": "yes"}, "body": "ok"}

    def __call__(self, event: dict[str, Any], context: Any) -> Any:
        self.calls.append((event, context))
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


@pytest.fixture
def handler() -> Recorder:
    return Recorder()


@pytest.fixture
def gateway(handler: Recorder) -> Iterator[ApiGatewayStandIn]:
    with ApiGatewayStandIn(handler, ARN, account="111122223333") as api:
        yield api


def test_a_form_post_becomes_a_base64_rest_proxy_event(
    gateway: ApiGatewayStandIn, handler: Recorder
) -> None:
    body = b"payload=%7B%22type%22%3A%22block_actions%22%7D"

    answer = requests.post(
        gateway.url + "?retry=1",
        data=body,
        headers={"Content-Type": FORM, "X-Slack-Signature": "v0=abc", "X-Slack-Signature-2": "x"},
        timeout=10,
    )

    assert answer.status_code == 200
    assert answer.text == "ok"
    assert answer.headers["X-Test"] == "yes"
    assert answer.headers["x-amzn-RequestId"]
    ((event, context),) = handler.calls
    assert event["resource"] == "/slack/actions"
    assert event["path"] == "/slack/actions"
    assert event["httpMethod"] == "POST"
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == body
    # Header names arrive as the client sent them, in both maps
    assert event["headers"]["X-Slack-Signature"] == "v0=abc"
    assert event["multiValueHeaders"]["X-Slack-Signature"] == ["v0=abc"]
    assert event["queryStringParameters"] == {"retry": "1"}
    assert event["multiValueQueryStringParameters"] == {"retry": ["1"]}
    assert event["pathParameters"] is None
    request_context = event["requestContext"]
    assert request_context["stage"] == "prod"
    assert request_context["path"] == "/prod/slack/actions"
    assert request_context["accountId"] == "111122223333"
    assert request_context["identity"]["sourceIp"] == "127.0.0.1"
    assert request_context["requestId"] == answer.headers["x-amzn-RequestId"]
    # The function's context carries the ARN the responder invokes itself with
    assert context.invoked_function_arn == ARN
    assert context.function_name == "revertsg-2"
    assert 0 < context.get_remaining_time_in_millis() <= 30_000


def test_a_body_outside_the_binary_media_types_is_passed_as_text(handler: Recorder) -> None:
    with ApiGatewayStandIn(handler, ARN, binary_media_types=("image/*",)) as gateway:
        requests.post(gateway.url, data=b"a=1&b=%26", headers={"Content-Type": FORM}, timeout=10)

    ((event, _),) = handler.calls
    assert event["isBase64Encoded"] is False
    assert event["body"] == "a=1&b=%26"


def test_wildcard_binary_media_types_match_with_parameters(handler: Recorder) -> None:
    gateway = ApiGatewayStandIn(handler, ARN, binary_media_types=("*/*",))
    assert gateway.is_binary("application/x-www-form-urlencoded; charset=utf-8")
    assert not ApiGatewayStandIn(handler, ARN, binary_media_types=()).is_binary(FORM)


@pytest.mark.parametrize(
    ("method", "path"), [("POST", "/prod/other"), ("GET", "/prod/slack/actions")]
)
def test_other_routes_answer_403_missing_authentication_token(
    gateway: ApiGatewayStandIn, handler: Recorder, method: str, path: str
) -> None:
    answer = requests.request(method, gateway.endpoint_url + path, timeout=10)

    assert answer.status_code == 403
    assert answer.json() == {"message": "Missing Authentication Token"}
    assert handler.calls == []


@pytest.mark.parametrize(
    "answer", [RuntimeError("boom"), {"body": "no status"}, {"statusCode": 200, "body": 42}]
)
def test_a_failing_or_malformed_function_answers_502(answer: Any) -> None:
    with ApiGatewayStandIn(Recorder(answer), ARN) as gateway:
        response = requests.post(
            gateway.url, data=b"x=1", headers={"Content-Type": FORM}, timeout=10
        )
        (exchange,) = gateway.exchanges

    assert response.status_code == 502
    assert response.json() == {"message": "Internal server error"}
    assert exchange.error is not None


def test_base64_and_multi_value_answers_are_written_back() -> None:
    answer = {
        "statusCode": 201,
        "multiValueHeaders": {"Set-Cookie": ["a=1", "b=2"]},
        "body": base64.b64encode(b"\x00binary").decode(),
        "isBase64Encoded": True,
    }
    with ApiGatewayStandIn(Recorder(answer), ARN) as gateway:
        response = requests.post(gateway.url, timeout=10)

    assert response.status_code == 201
    assert response.content == b"\x00binary"
    assert response.raw.headers.getlist("Set-Cookie") == ["a=1", "b=2"]
