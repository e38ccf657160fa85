# ruff: noqa: F811 -- the responder tests' fixtures are imported, and used by name
"""What a click, a revert and a detector run write as metrics and send to Security Hub, through
the real handlers: revertsg-2 against moto, the Slack stand-in and the Lambda stand-in;
revertsg-1 against moto, the CloudTrail Lake stand-in and the Slack stand-in."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from slack_sdk import WebClient

from sandbox import moto_securityhub
from sandbox.lake import LakeStandIn
from sandbox.lambda_api import LambdaStandIn
from sgrevert import blocks, detect, metrics, respond, security_hub
from sgrevert.finding import finding_id
from sgrevert.model import ChangeRecord, Direction, State
from sgrevert.risk import Risk
from tests.integration.groups import NOW, Group
from tests.integration.test_respond import (  # noqa: F401 -- the responder's fixtures
    ALICE,
    CHANNEL,
    Desk,
    desk,
    env,
    group,
    lambdas,
    slack,
)
from tests.integration.test_run_metrics import authorize
from tests.support import BOT_TOKEN, LambdaContext

Values = Callable[..., list[float]]


@pytest.fixture
def hub(aws: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    moto_securityhub.install()
    client = boto3.client("securityhub")
    client.enable_security_hub()
    monkeypatch.setenv("SECURITY_HUB", "true")
    return client


@pytest.fixture
def written(capsys: pytest.CaptureFixture[str]) -> Iterator[Values]:
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
            if (
                name in {m["Name"] for m in directive["Metrics"]}
                and {k: document[k] for k in keys} == dims
            ):
                found.extend(document[name])
        return found

    yield values


def post_critical(desk: Desk, group: Group) -> ChangeRecord:
    """SSH from anywhere, recorded and posted as the detector does it."""
    change = group.change(group.authorize(Direction.INGRESS, 22, "0.0.0.0/0"))
    assert desk.store.record_new(change, NOW, risk="critical")
    message = blocks.message(desk.store.require(change.event_id))
    posted = WebClient(token=BOT_TOKEN, base_url=desk.slack.api_url).chat_postMessage(
        channel=CHANNEL, text=message.text, blocks=message.blocks
    )
    desk.store.mark_posted(change.event_id, CHANNEL, str(posted["ts"]), NOW)
    record = desk.store.require(change.event_id)
    security_hub.from_settings(True, Risk.HIGH).posted([record])  # as the detector's post does
    return record


def the_finding(hub: Any, event_id: str) -> dict[str, Any]:
    [found] = [f for f in hub.get_findings()["Findings"] if f["Id"] == finding_id(event_id)]
    return dict(found)


def test_an_approve_click_counts_the_decision_and_suppresses_the_finding(
    hub: Any, desk: Desk, group: Group, lambdas: LambdaStandIn, written: Values
) -> None:
    record = post_critical(desk, group)
    respond.reset()  # the responder reads SECURITY_HUB at its cold start

    desk.click(record, ALICE, "approve")
    lambdas.wait_idle()  # what did not fit in the answer (a loaded machine) is handed over

    assert written(metrics.DECISIONS, kind="approve") == [1]
    [latency] = written(metrics.DECISION_LATENCY)
    assert latency >= 0
    found = the_finding(hub, record.event_id)
    assert found["Workflow"] == {"Status": "SUPPRESSED"}
    assert "Slack user U0ALICE" in found["Note"]["Text"]


def test_a_deny_click_counts_the_decision_the_revert_and_resolves_the_finding(
    hub: Any, desk: Desk, group: Group, lambdas: LambdaStandIn, written: Values
) -> None:
    record = post_critical(desk, group)
    respond.reset()

    desk.click(record, ALICE, "deny")
    lambdas.wait_idle()

    assert desk.store.require(record.event_id).state is State.REVERTED
    assert written(metrics.DECISIONS, kind="deny") == [1]
    assert written(metrics.REVERTS_SUCCEEDED) == [1]
    assert the_finding(hub, record.event_id)["Workflow"] == {"Status": "RESOLVED"}


@pytest.mark.usefixtures("detector_env")
def test_a_lake_run_counts_what_it_detected_its_lag_and_imports_the_finding(
    hub: Any, lake: LakeStandIn, data_store: str, written: Values
) -> None:
    record = authorize(6)
    lake.put_records(data_store, [record])
    detect.reset()

    detect.handler({"source": "aws.events"}, LambdaContext())

    assert written(metrics.CHANGES_DETECTED, path="lake", risk="critical") == [1]
    [lag] = written(metrics.DETECTION_LAG, path="lake")
    assert 6 * 60 <= lag < 10 * 60
    assert the_finding(hub, record["eventID"])["Workflow"] == {"Status": "NEW"}
