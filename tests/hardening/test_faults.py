"""Faults the integration tests do not already cover, through the real handlers.

Already covered in tests/integration (not repeated here): a Slack outage during one run,
STS AccessDenied on the hub or spoke role, EC2 throttling and rules already gone during a
revoke, the async revert delivered twice, and concurrent clicks on one change.

Here: Slack's 429 with Retry-After during a run; DynamoDB throttling on the detector's and
the click's writes; a detector outage of six hours with changes spread over the gap.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto.dynamodb.exceptions import DynamodbException
from moto.dynamodb.models import DynamoDBBackend

from sandbox.lake import LakeStandIn
from sandbox.slack_api import SlackStandIn
from sgrevert import detect, respond, store
from sgrevert.model import State
from tests.hardening.conftest import World, quiet
from tests.hardening.test_requests import click, event, form, sign
from tests.support import LambdaContext, load_event

CHANNEL = "C0SECURITY"


class Throughput(DynamodbException):
    error_type = "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException"

    def __init__(self) -> None:
        super().__init__(self.error_type, "The level of configured provisioned throughput ...")


@pytest.fixture
def lake() -> Iterator[LakeStandIn]:
    with LakeStandIn(page_size=1000, running_polls=1) as stand_in:
        yield stand_in


@pytest.fixture
def detector_env(
    monkeypatch: pytest.MonkeyPatch,
    table_name: str,
    slack_secret_arn: str,
    lake: LakeStandIn,
    slack: SlackStandIn,
) -> Iterator[str]:
    data_store = lake.create_event_data_store("org-trail")
    monkeypatch.setenv("TABLE_NAME", table_name)
    monkeypatch.setenv("SLACK_SECRET_ARN", slack_secret_arn)
    monkeypatch.setenv("SLACK_CHANNEL_ID", CHANNEL)
    monkeypatch.setenv("SLACK_API_URL", slack.api_url)
    monkeypatch.setenv("EVENT_DATA_STORE", data_store)
    monkeypatch.setenv("AWS_ENDPOINT_URL_CLOUDTRAIL", lake.endpoint_url)
    detect.reset()
    with quiet():
        yield data_store
    detect.reset()


def authorize(when: datetime, group: str = "sg-0123456789abcdef0") -> dict[str, Any]:
    """A real-shaped AuthorizeSecurityGroupIngress record at `when`, with a unique id."""
    record = copy.deepcopy(load_event("authorize_ingress_ipv4"))
    record["eventID"] = str(uuid.uuid4())
    record["eventTime"] = when.strftime("%Y-%m-%dT%H:%M:%SZ")
    record["requestParameters"]["groupId"] = group
    rule = record["responseElements"]["securityGroupRuleSet"]["items"][0]
    rule["securityGroupRuleId"] = f"sgr-{uuid.uuid4().hex[:17]}"
    rule["groupId"] = group
    return record


def run() -> dict[str, Any]:
    return detect.handler({"source": "aws.events"}, LambdaContext())


def changes() -> store.ChangeStore:
    return store.ChangeStore(boto3.resource("dynamodb").Table(store.DEFAULT_TABLE_NAME))


def assert_posted_exactly_once(
    slack: SlackStandIn, event_ids: list[str], posts_before: int
) -> None:
    """Every change points at a message, and Slack holds no message beyond those (a message
    may carry several changes of one group)."""
    stamps = {changes().require(event_id).slack_ts for event_id in event_ids}
    assert None not in stamps
    assert sorted(m.ts for m in slack.posted[posts_before:]) == sorted(stamps)


# -- Slack rate limits ------------------------------------------------------------------------


def test_a_429_with_retry_after_is_waited_out_within_the_run(
    detector_env: str, lake: LakeStandIn, slack: SlackStandIn
) -> None:
    """Slack's own throttle (one post per two seconds per channel here, 429 and Retry-After
    beyond): back-to-back posts meet it however loaded the machine."""
    now = datetime.now(UTC)
    records = [authorize(now - timedelta(minutes=2), f"sg-{n:017x}") for n in range(3)]
    lake.put_records(detector_env, records)
    slack.rate_limit_per_second = 0.5

    report = run()

    assert slack.rate_limited >= 1
    assert report["left_unposted"] == 0
    assert_posted_exactly_once(slack, [r["eventID"] for r in records], 0)


# -- DynamoDB throttling ---------------------------------------------------------------------


def throttle(monkeypatch: pytest.MonkeyPatch, method: str, times: int) -> list[int]:
    """moto's DynamoDB answers `method` with ProvisionedThroughputExceededException `times`
    times, then serves it; returns a counter of the throttled calls."""
    original: Callable[..., Any] = getattr(DynamoDBBackend, method)
    throttled = [0]

    def maybe(*args: Any, **kwargs: Any) -> Any:
        if throttled[0] < times:
            throttled[0] += 1
            raise Throughput()
        return original(*args, **kwargs)

    monkeypatch.setattr(DynamoDBBackend, method, maybe)
    return throttled


@pytest.mark.parametrize("method", ["put_item", "update_item"])
def test_dynamodb_throttling_during_a_run_is_retried_and_nothing_is_lost_or_doubled(
    detector_env: str,
    lake: LakeStandIn,
    slack: SlackStandIn,
    monkeypatch: pytest.MonkeyPatch,
    method: str,
) -> None:
    records = [
        authorize(datetime.now(UTC) - timedelta(minutes=2), f"sg-{n:017x}") for n in range(3)
    ]
    lake.put_records(detector_env, records)
    throttled = throttle(monkeypatch, method, times=2)

    run()

    assert throttled[0] == 2
    assert_posted_exactly_once(slack, [r["eventID"] for r in records], 0)


def test_a_throttled_decision_write_is_retried_and_decides_once(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    throttled = throttle(monkeypatch, "update_item", times=2)
    body = form(click(world, "approve"))

    answer = respond.handler(event(body, sign(body)), LambdaContext("revertsg-2"))

    assert answer["statusCode"] == 200
    assert throttled[0] == 2
    decided = world.store.require(world.record.event_id)
    assert (decided.state, decided.decided_by) == (State.APPROVED, "U0ALICE")


# -- a six-hour detector outage ---------------------------------------------------------------


def test_after_a_six_hour_outage_the_next_run_catches_every_change_in_the_gap(
    detector_env: str, lake: LakeStandIn, slack: SlackStandIn
) -> None:
    now = datetime.now(UTC)
    changes().set_watermark("lake", now - timedelta(hours=6))  # the last run before the outage
    # changes kept happening every 20 minutes while no run came
    gap = [
        authorize(now - timedelta(hours=6) + timedelta(minutes=m), f"sg-{m:017x}")
        for m in range(1, 6 * 60, 20)
    ]
    lake.put_records(detector_env, gap)

    report = run()

    assert report["recorded"] == len(gap) == 18
    assert_posted_exactly_once(slack, [r["eventID"] for r in gap], 0)
    moved = changes().get_watermark("lake")
    # the watermark is stored to the second, as CloudTrail stamps events
    assert moved is not None and moved >= now.replace(microsecond=0)
