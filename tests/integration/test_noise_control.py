# ruff: noqa: F811  (fixtures shared with test_respond are imported by name)
"""The detector with a policy, and group decisions through the real responder.

The detector runs with the real store (moto), the Slack stand-in and, for policy
reverts, the Lambda stand-in running the responder's handler, as in production.
"""

from __future__ import annotations

import copy
import json
import uuid
from datetime import UTC, datetime
from typing import Any

import boto3

from sandbox.clicks import block_actions_payload
from sandbox.lambda_api import LambdaStandIn
from sandbox.slack_api import SlackStandIn
from sgrevert.detector import Detector, RunReport
from sgrevert.model import Direction, State
from sgrevert.policy import parse_policy
from sgrevert.selfinvoke import RevertJob, SelfInvoker
from sgrevert.settings import SlackSettings
from sgrevert.slack import ChannelPoster, SlackCredentials, web_client
from sgrevert.store import ChangeStore
from tests.integration.groups import Group
from tests.integration.test_respond import (  # noqa: F401 (fixtures)
    ALICE,
    CHANNEL,
    FUNCTION_ARN,
    Desk,
    desk,
    env,
    form,
    group,
    lambdas,
    slack,
)
from tests.support import BOT_TOKEN, load_event

DEPLOY = "arn:aws:sts::111122223333:assumed-role/deploy-app/cloudformation"


def trail_record(
    group_id: str, rule_id: str, cidr: str, port: int, actor: str | None = None
) -> dict[str, Any]:
    record = copy.deepcopy(load_event("authorize_ingress_ipv4"))
    record["eventID"] = str(uuid.uuid4())
    record["eventTime"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    record["requestParameters"]["groupId"] = group_id
    permission = record["requestParameters"]["ipPermissions"]["items"][0]
    permission["ipRanges"] = {"items": [{"cidrIp": cidr}]}
    permission["fromPort"] = permission["toPort"] = port
    item = record["responseElements"]["securityGroupRuleSet"]["items"][0]
    item.update(groupId=group_id, securityGroupRuleId=rule_id, cidrIpv4=cidr)
    item["fromPort"] = item["toPort"] = port
    if actor:
        record["userIdentity"]["arn"] = actor
    return record


def detector(store: ChangeStore, slack: SlackStandIn, policy: str = "{}") -> Detector:
    # The detector's own client: it waits out 429s as in production.
    client = web_client(SlackSettings("unused", slack.api_url), SlackCredentials(BOT_TOKEN, "-"))
    invoker = SelfInvoker(boto3.client("lambda"))

    def start(job: RevertJob) -> None:
        invoker.start(FUNCTION_ARN, job)

    return Detector(
        store,
        ChannelPoster(client, CHANNEL),
        lambda: datetime.now(UTC),
        lambda: 300.0,
        policy=parse_policy(policy),
        start_revert=start,
    )


def run(d: Detector, records: list[dict[str, Any]]) -> RunReport:
    report = RunReport()
    d.post_pending(d.record(records, report), report)
    return report


def test_ignored_and_low_risk_changes_are_recorded_visibly_but_not_posted(
    desk: Desk, slack: SlackStandIn
) -> None:
    policy = json.dumps(
        {
            "ignore": [{"name": "pipeline", "actor": "*:assumed-role/deploy-*/*", "reason": "CI"}],
            "min_risk_to_post": "high",
        }
    )
    ignored = trail_record("sg-1", "sgr-1", "0.0.0.0/0", 22, actor=DEPLOY)
    low = trail_record("sg-2", "sgr-2", "10.1.0.0/16", 22)
    public = trail_record("sg-3", "sgr-3", "0.0.0.0/0", 443)

    report = run(detector(desk.store, slack, policy), [ignored, low, public])

    assert (report.recorded, report.ignored, report.held, report.messages) == (3, 1, 1, 1)
    first = desk.store.require(ignored["eventID"])
    assert (first.state, first.note, first.risk) == (
        State.IGNORED,
        "ignored by pipeline: CI",
        "critical",
    )
    held = desk.store.require(low["eventID"])
    assert (held.state, held.posted, held.risk) == (State.PENDING, False, "low")
    assert [r.event_id for r in desk.store.by_state(State.IGNORED)] == [ignored["eventID"]]
    [message] = slack.posted
    assert message.text is not None and message.text.startswith("[HIGH] ")
    assert desk.store.unposted_ids() == []


def test_auto_revert_goes_through_the_responder_and_ends_reverted_by_policy(
    desk: Desk, group: Group, slack: SlackStandIn, lambdas: LambdaStandIn
) -> None:
    [added] = group.authorize(Direction.INGRESS, 22, "0.0.0.0/0")
    assert added.rule_id is not None
    record = trail_record(group.group_id, added.rule_id, "0.0.0.0/0", 22)
    d = detector(desk.store, slack, '{"auto_revert_at_or_above": "critical"}')

    report = run(d, [record])
    lambdas.wait_idle()

    assert report.auto_reverted == 1
    done = desk.store.require(record["eventID"])
    assert (done.state, done.decided_by) == (
        State.REVERTED,
        "policy:auto_revert_at_or_above=critical",
    )
    assert added.rule_id not in group.rule_ids()
    shown = json.dumps(slack.message(CHANNEL, str(done.slack_ts)).blocks)
    assert "Reverted by policy" in shown and "auto_revert_at_or_above=critical" in shown


def test_a_burst_is_one_message_and_one_deny_decides_every_open_member(
    desk: Desk, group: Group, slack: SlackStandIn, lambdas: LambdaStandIn
) -> None:
    added = [group.authorize(Direction.INGRESS, 8000 + i, f"10.9.{i}.0/24")[0] for i in range(4)]
    records = [
        trail_record(group.group_id, str(r.rule_id), f"10.9.{i}.0/24", 8000 + i)
        for i, r in enumerate(added)
    ]
    report = run(detector(desk.store, slack), records)
    assert (report.posted, report.messages) == (4, 1)
    [message] = slack.posted
    members = [desk.store.require(r["eventID"]) for r in records]
    assert {m.slack_ts for m in members} == {message.ts}
    # One member was approved elsewhere (the CLI) before the click: it keeps its decision.
    desk.store.decide(members[0].event_id, State.APPROVED, "cli:ops", datetime.now(UTC))

    payload = block_actions_payload(
        user=ALICE,
        channel=CHANNEL,
        ts=message.ts,
        text=message.text,
        blocks=message.blocks,
        action_id="deny",
        response_url=slack.new_response_url(CHANNEL, message.ts),
    )
    assert desk.send(form(payload))["statusCode"] == 200
    lambdas.wait_idle()

    states = [desk.store.require(r["eventID"]).state for r in records]
    assert states == [State.APPROVED, State.REVERTED, State.REVERTED, State.REVERTED]
    assert group.rule_ids() & {str(r.rule_id) for r in added} == {str(added[0].rule_id)}
    assert any("already decided" in e.text for e in slack.ephemerals)
    final = json.dumps(slack.message(CHANNEL, message.ts).blocks)
    assert "3 reverted" in final and "1 approved" in final


def test_a_run_of_2000_changes_records_all_caps_messages_and_leaves_all_decidable(
    desk: Desk, slack: SlackStandIn
) -> None:
    slack.rate_limit_per_second = 20  # enforced; kept fast for the suite (the bench uses 1)
    records = [
        trail_record(f"sg-{i % 500}", f"sgr-{i}", f"10.{i % 200}.{i // 200}.0/24", 443)
        for i in range(2000)
    ]
    report = run(detector(desk.store, slack, '{"max_messages_per_run": 30}'), records)

    assert report.recorded == 2000
    assert report.messages == 31  # the cap, then one summary
    assert "more changes" in json.dumps(slack.posted[-1].blocks)
    assert report.posted + report.summarized == 2000
    pending = {r.event_id for r in desk.store.by_state(State.PENDING)}
    assert pending == {r["eventID"] for r in records}  # every change decidable
    assert len(desk.store.unposted_ids()) == report.summarized  # later runs post them
