"""revertsg-1 end to end in one process: the real handler against moto (STS, DynamoDB,
Secrets Manager), the CloudTrail Lake stand-in and the Slack stand-in, all over HTTP."""

from __future__ import annotations

import copy
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from sandbox.lake import LakeStandIn
from sandbox.slack_api import SlackStandIn
from sgrevert import detect, store
from sgrevert.errors import ConfigError, LakeQueryError
from sgrevert.model import State
from tests.support import LambdaContext, load_event

CHANNEL = "C0SECURITY"


def authorize(minutes_ago: float, cidr: str = "203.0.113.0/24", port: int = 22) -> dict[str, Any]:
    """A real-shaped AuthorizeSecurityGroupIngress record, `minutes_ago` old, unique id."""
    record = copy.deepcopy(load_event("authorize_ingress_ipv4"))
    record["eventID"] = str(uuid.uuid4())
    record["eventTime"] = (datetime.now(UTC) - timedelta(minutes=minutes_ago)).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )
    permission = record["requestParameters"]["ipPermissions"]["items"][0]
    permission["ipRanges"] = {"items": [{"cidrIp": cidr}]}
    permission["fromPort"] = permission["toPort"] = port
    rule = record["responseElements"]["securityGroupRuleSet"]["items"][0]
    record["responseElements"]["securityGroupRuleSet"]["items"] = [
        {
            **rule,
            "cidrIpv4": cidr,
            "fromPort": port,
            "toPort": port,
            "securityGroupRuleId": f"sgr-{uuid.uuid4().hex[:17]}",
        }
    ]
    return record


def run() -> dict[str, Any]:
    return detect.handler({"source": "aws.events"}, LambdaContext())


def table() -> Any:
    return boto3.resource("dynamodb").Table(store.DEFAULT_TABLE_NAME)


def changes() -> store.ChangeStore:
    return store.ChangeStore(table())


@pytest.mark.usefixtures("detector_env")
def test_a_new_change_is_recorded_and_posted_with_approve_and_deny(
    lake: LakeStandIn, slack: SlackStandIn, data_store: str
) -> None:
    record = authorize(minutes_ago=3)
    lake.put_records(data_store, [record])

    report = run()

    assert (report["recorded"], report["posted"]) == (1, 1)
    [message] = slack.posted
    assert message.channel == CHANNEL
    action_ids = [
        element["action_id"]
        for block in message.blocks
        if block["type"] == "actions"
        for element in block["elements"]
    ]
    assert action_ids == ["approve", "approve_for", "deny"]
    saved = changes().require(record["eventID"])
    assert saved.state is State.PENDING
    assert (saved.slack_channel, saved.slack_ts) == (CHANNEL, message.ts)


@pytest.mark.usefixtures("detector_env")
def test_overlapping_runs_post_each_change_once(
    lake: LakeStandIn, slack: SlackStandIn, data_store: str
) -> None:
    first, second = authorize(minutes_ago=15), authorize(minutes_ago=2, cidr="198.51.100.7/32")
    lake.put_records(data_store, [first])
    run()
    lake.put_records(data_store, [second])  # both now fall inside the second run's window

    report = run()

    assert (report["rows"], report["recorded"], report["already_recorded"]) == (2, 1, 1)
    posted_ts = sorted(m.ts for m in slack.posted)
    assert posted_ts == sorted(
        str(changes().require(e["eventID"]).slack_ts) for e in (first, second)
    )


@pytest.mark.usefixtures("detector_env")
def test_a_slack_outage_loses_nothing(
    lake: LakeStandIn, slack: SlackStandIn, data_store: str
) -> None:
    record = authorize(minutes_ago=4)
    lake.put_records(data_store, [record])
    with slack.outage():
        during = run()
    assert (during["recorded"], during["posted"], during["left_unposted"]) == (1, 0, 1)
    assert not changes().require(record["eventID"]).posted

    after = run()

    assert (after["recorded"], after["posted"]) == (0, 1)
    assert len(slack.posted) == 1
    assert changes().require(record["eventID"]).posted


@pytest.mark.usefixtures("detector_env")
def test_a_failed_query_leaves_the_watermark_where_it_was(
    lake: LakeStandIn, slack: SlackStandIn, data_store: str
) -> None:
    lake.put_records(data_store, [authorize(minutes_ago=2)])
    run()
    before = changes().get_watermark("lake")
    lake.fail_next_query("FAILED", "Query failed: out of resources")

    with pytest.raises(LakeQueryError, match="FAILED"):
        run()

    assert changes().get_watermark("lake") == before


@pytest.mark.usefixtures("detector_env")
def test_pagination_reads_every_page(
    lake: LakeStandIn, slack: SlackStandIn, data_store: str
) -> None:
    lake.page_size = 2
    lake.running_polls = 2
    records = [authorize(minutes_ago=10 - i, cidr=f"192.0.2.{i}/32") for i in range(7)]
    lake.put_records(data_store, records)

    report = run()

    assert (report["rows"], report["recorded"], report["posted"]) == (7, 7, 7)
    assert {changes().require(r["eventID"]).state for r in records} == {State.PENDING}


@pytest.mark.usefixtures("detector_env")
def test_events_outside_the_window_and_failed_calls_are_not_recorded(
    lake: LakeStandIn, slack: SlackStandIn, data_store: str
) -> None:
    old = authorize(minutes_ago=90)
    failed = authorize(minutes_ago=3)
    failed["errorCode"] = "Client.InvalidPermission.Duplicate"
    failed["errorMessage"] = "the specified rule already exists"
    del failed["responseElements"]
    lake.put_records(data_store, [old, failed])

    report = run()

    assert (report["rows"], report["recorded"]) == (0, 0)
    assert changes().get(old["eventID"]) is None


@pytest.mark.usefixtures("detector_env")
def test_a_watermark_from_hours_ago_widens_the_window_to_catch_up(
    lake: LakeStandIn, slack: SlackStandIn, data_store: str
) -> None:
    changes().set_watermark("lake", datetime.now(UTC) - timedelta(hours=6, minutes=5))
    missed = authorize(minutes_ago=5 * 60)
    lake.put_records(data_store, [missed])

    report = run()

    assert report["recorded"] == 1
    assert changes().require(missed["eventID"]).posted


@pytest.mark.usefixtures("detector_env")
def test_informational_changes_are_posted_without_buttons(
    lake: LakeStandIn, slack: SlackStandIn, data_store: str
) -> None:
    revoke = copy.deepcopy(load_event("revoke_ingress_by_permissions"))
    revoke["eventTime"] = (datetime.now(UTC) - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    lake.put_records(data_store, [revoke])

    run()

    [message] = slack.posted
    assert not [b for b in message.blocks if b["type"] == "actions"]
    assert changes().require(revoke["eventID"]).state is State.INFO


@pytest.mark.usefixtures("detector_env")
def test_the_read_role_is_assumed_before_querying(
    monkeypatch: pytest.MonkeyPatch, lake: LakeStandIn, slack: SlackStandIn, data_store: str
) -> None:
    monkeypatch.setenv("LAKE_READ_ROLE_ARN", "arn:aws:iam::999988887777:role/sgrevert-lake-read")
    detect.reset()
    lake.put_records(data_store, [authorize(minutes_ago=1)])

    report = run()

    assert report["posted"] == 1
    # Lake was called with the role's temporary credentials, not the function's own.
    assert lake.access_keys
    assert all(key.startswith("ASIA") for key in lake.access_keys)


def test_a_missing_setting_fails_the_run_naming_it(
    monkeypatch: pytest.MonkeyPatch, aws: str
) -> None:
    for name in ("TABLE_NAME", "SLACK_SECRET_ARN", "SLACK_CHANNEL_ID", "EVENT_DATA_STORE"):
        monkeypatch.delenv(name, raising=False)
    detect.reset()
    with pytest.raises(ConfigError, match="TABLE_NAME"):
        run()
    detect.reset()
