"""The Lambda Invoke stand-in, driven by boto3 as the responder drives real Lambda."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from sandbox.lambda_api import LambdaStandIn

ARN = "arn:aws:lambda:eu-west-1:123456789012:function:revertsg-2"


@pytest.fixture
def lambdas() -> Iterator[LambdaStandIn]:
    with LambdaStandIn(region="eu-west-1") as stand_in:
        yield stand_in


@pytest.fixture
def client(lambdas: LambdaStandIn) -> Any:
    return boto3.client(
        "lambda",
        endpoint_url=lambdas.endpoint_url,
        region_name="eu-west-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"mode": "standard", "total_max_attempts": 1}),
    )


def test_given_an_event_invocation_when_invoked_then_202_and_the_handler_runs_in_the_background(
    lambdas: LambdaStandIn, client: Any
) -> None:
    release = threading.Event()
    seen: list[tuple[Any, str]] = []

    def handler(event: Any, context: Any) -> dict[str, bool]:
        release.wait(60)  # set below; the 60 s only bound a test that failed first
        seen.append((event, context.invoked_function_arn))
        return {"ok": True}

    lambdas.register(ARN, handler)

    answer = client.invoke(FunctionName=ARN, InvocationType="Event", Payload=b'{"a": 1}')

    assert answer["StatusCode"] == 202
    assert seen == []  # still blocked: the caller was answered first
    release.set()
    lambdas.wait_idle()
    assert seen == [({"a": 1}, ARN)]
    [invocation] = lambdas.invocations
    assert (invocation.invocation_type, invocation.results) == ("Event", [{"ok": True}])


def test_given_a_request_response_invocation_by_name_when_invoked_then_the_result_comes_back(
    lambdas: LambdaStandIn, client: Any
) -> None:
    lambdas.register(
        "revertsg-2", lambda event, context: {"echo": event, "fn": context.function_name}
    )

    answer = client.invoke(FunctionName="revertsg-2", Payload=json.dumps({"x": "y"}).encode())

    assert answer["StatusCode"] == 200
    assert json.loads(answer["Payload"].read()) == {"echo": {"x": "y"}, "fn": "revertsg-2"}


def test_given_a_handler_that_raises_when_invoked_synchronously_then_it_is_a_function_error(
    lambdas: LambdaStandIn, client: Any
) -> None:
    def handler(event: Any, context: Any) -> None:
        raise ValueError("boom")

    lambdas.register(ARN, handler)

    answer = client.invoke(FunctionName=ARN, Payload=b"{}")

    assert answer["FunctionError"] == "Unhandled"
    assert json.loads(answer["Payload"].read())["errorType"] == "ValueError"


def test_given_a_failing_async_handler_when_invoked_then_it_is_retried_like_lambda(
    lambdas: LambdaStandIn, client: Any
) -> None:
    attempts: list[int] = []

    def handler(event: Any, context: Any) -> str:
        attempts.append(1)
        if len(attempts) < 3:
            raise RuntimeError("transient")
        return "done"

    lambdas.register(ARN, handler)

    client.invoke(FunctionName=ARN, InvocationType="Event", Payload=b"{}")
    lambdas.wait_idle()

    [invocation] = lambdas.invocations
    assert invocation.errors == ["RuntimeError: transient"] * 2
    assert invocation.results == ["done"]


def test_given_two_deliveries_when_an_event_is_invoked_then_the_handler_runs_twice(
    lambdas: LambdaStandIn, client: Any
) -> None:
    runs: list[Any] = []
    lambdas.register(ARN, lambda event, context: runs.append(event))
    lambdas.async_deliveries = 2

    client.invoke(FunctionName=ARN, InvocationType="Event", Payload=b'{"n": 1}')
    lambdas.wait_idle()

    assert runs == [{"n": 1}, {"n": 1}]
    assert lambdas.invocations[0].runs == 2


def test_given_injected_failures_and_unknown_functions_when_invoked_then_lambda_errors_come_back(
    lambdas: LambdaStandIn, client: Any
) -> None:
    lambdas.register(ARN, lambda event, context: None)
    lambdas.fail(403, "AccessDeniedException", "not authorized")

    with pytest.raises(ClientError) as refused:
        client.invoke(FunctionName=ARN, InvocationType="Event", Payload=b"{}")
    with pytest.raises(ClientError) as missing:
        client.invoke(FunctionName="nope", Payload=b"{}")

    assert refused.value.response["Error"]["Code"] == "AccessDeniedException"
    assert missing.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert client.invoke(FunctionName=ARN, InvocationType="DryRun")["StatusCode"] == 204
    assert lambdas.invocations == []


def test_given_a_stuck_invocation_when_waiting_then_it_times_out_instead_of_hanging(
    lambdas: LambdaStandIn, client: Any
) -> None:
    release = threading.Event()
    lambdas.register(ARN, lambda event, context: release.wait(60))
    client.invoke(FunctionName=ARN, InvocationType="Event", Payload=b"{}")

    with pytest.raises(TimeoutError):  # held by `release`: it cannot end in time
        lambdas.wait_idle(timeout=0.2)
    release.set()
    lambdas.wait_idle()
