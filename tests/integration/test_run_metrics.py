"""The metrics revertsg-1's handler writes at the end of each run, read from Powertools' EMF
output: the run's counts, the Slack errors of an outage, and the undecided backlog of a
scheduled run. Against moto, the CloudTrail Lake stand-in and the Slack stand-in."""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sandbox.eventbridge import envelope, queue_arn, sqs_event
from sandbox.lake import LakeStandIn
from sandbox.slack_api import SlackStandIn
from sgrevert import detect, metrics
from tests.support import REGION, SECURITY_ACCOUNT, LambdaContext, load_event

Values = Callable[..., list[float]]


def authorize(minutes_ago: float, cidr: str = "0.0.0.0/0", port: int = 22) -> dict[str, Any]:
    """SSH from `cidr` (critical from anywhere), `minutes_ago` old, with a unique id."""
    record = copy.deepcopy(load_event("authorize_ingress_ipv4"))
    record["eventID"] = str(uuid.uuid4())
    record["eventTime"] = (datetime.now(UTC) - timedelta(minutes=minutes_ago)).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )
    permission = record["requestParameters"]["ipPermissions"]["items"][0]
    permission["ipRanges"] = {"items": [{"cidrIp": cidr}]}
    permission["fromPort"] = permission["toPort"] = port
    [rule] = record["responseElements"]["securityGroupRuleSet"]["items"]
    rule.update(cidrIpv4=cidr, fromPort=port, toPort=port)
    rule["securityGroupRuleId"] = f"sgr-{uuid.uuid4().hex[:17]}"
    return record


@pytest.fixture
def written(capsys: pytest.CaptureFixture[str]) -> Iterator[Values]:
    """`written(name, **dimensions)`: every value the handler wrote of one metric."""
    metrics.flush()
    capsys.readouterr()
    documents: list[dict[str, Any]] = []

    def values(name: str, **dims: str) -> list[float]:
        for line in capsys.readouterr().out.splitlines():
            if line.startswith("{") and '"_aws"' in line:
                documents.append(json.loads(line))
        found: list[float] = []
        for document in documents:
            [directive] = document["_aws"]["CloudWatchMetrics"]
            [keys] = directive["Dimensions"]
            named = {m["Name"] for m in directive["Metrics"]}
            if name in named and {k: document[k] for k in keys} == dims:
                found.extend(document[name])
        return found

    yield values


def scheduled_run() -> dict[str, Any]:
    return detect.handler({"source": "aws.events"}, LambdaContext())


@pytest.mark.usefixtures("detector_env")
def test_a_lake_run_writes_its_counts_and_the_undecided_backlog(
    lake: LakeStandIn, data_store: str, written: Values
) -> None:
    # Given two new changes in Lake, one critical (from anywhere) and one low
    lake.put_records(data_store, [authorize(5), authorize(3, cidr="203.0.113.7/32", port=443)])

    report = scheduled_run()

    assert report["posted"] == 2
    assert written(metrics.CHANGES_POSTED) == [2]
    assert written(metrics.CHANGES_IGNORED) == written(metrics.CHANGES_HELD) == [0]
    assert written(metrics.SLACK_ERRORS) == written(metrics.LATE_EXPIRIES) == [0]
    # both are undecided: one each at critical and low, the critical one about 5 minutes old
    assert written(metrics.UNDECIDED_BACKLOG, risk="critical") == [1]
    assert written(metrics.UNDECIDED_BACKLOG, risk="low") == [1]
    assert written(metrics.UNDECIDED_BACKLOG, risk="high") == [0]
    [oldest] = written(metrics.OLDEST_UNDECIDED, risk="critical")
    assert 5 * 60 <= oldest < 10 * 60


@pytest.mark.usefixtures("detector_env")
def test_a_slack_outage_is_counted_as_slack_errors(
    lake: LakeStandIn, slack: SlackStandIn, data_store: str, written: Values
) -> None:
    lake.put_records(data_store, [authorize(4)])

    with slack.outage():
        report = scheduled_run()

    assert report["post_failed"] == 1
    assert written(metrics.SLACK_ERRORS) == [1]
    assert written(metrics.CHANGES_POSTED) == [0]


@pytest.mark.usefixtures("detector_env")
def test_an_event_batch_writes_its_counts_and_no_backlog(written: Values) -> None:
    """The real-time path's invocations are many: the backlog is the schedule's to count."""
    event = sqs_event([envelope(authorize(1))], queue_arn(SECURITY_ACCOUNT, REGION))

    response = detect.handler(event, LambdaContext())

    assert response["batchItemFailures"] == []
    assert written(metrics.CHANGES_POSTED) == [1]
    assert written(metrics.UNDECIDED_BACKLOG, risk="critical") == []
