# ruff: noqa: F811  (fixtures shared with test_respond are imported by name)
"""Safety lines that no other test guarded: each test here fails if its line breaks.

- an unlisted user's click on a group message changes nothing (responder: the approver
  check comes before the group branch);
- an egress rule recorded without a rule id is revoked as egress (revert/revoke);
- the Lake watermark moves only once the window's changes are recorded (detector);
- an ignore rule wins over `auto_revert_at_or_above` (policy);
- tcp/udp from a public source without ports counts as critical (risk).

The rules EC2 reports in `UnknownIpPermissions` are in tests/unit/test_safety_guards.py
(moto never returns them).

Everything goes through the real code: CloudTrail-shaped records into the detector, the
Slack stand-in over slack_sdk, signed clicks into revertsg-2's handler, the Lambda
stand-in for the asynchronous revert, and moto's EC2 and DynamoDB.
"""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError
from moto.dynamodb.exceptions import DynamodbException
from moto.dynamodb.models import DynamoDBBackend

from sandbox.clicks import SlackUser, block_actions_payload
from sandbox.lake import LakeStandIn
from sandbox.lambda_api import LambdaStandIn
from sandbox.slack_api import PostedMessage, SlackStandIn
from sgrevert import detect, respond
from sgrevert.model import Direction, State
from sgrevert.store import ChangeStore
from tests.integration.groups import MEMBER_ACCOUNT, Group
from tests.integration.test_noise_control import DEPLOY, detector, run, trail_record
from tests.integration.test_respond import (  # noqa: F401 (fixtures)
    ALICE,
    CHANNEL,
    MALLORY,
    Desk,
    desk,
    env,
    form,
    group,
    lambdas,
    slack,
    text_of,
)
from tests.support import REGION, LambdaContext, load_event


def click(desk: Desk, message: PostedMessage, user: SlackUser, action: str) -> dict[str, Any]:
    """`user` clicks `action` on `message` as it is now (a group message or a single one)."""
    current = desk.slack.message(CHANNEL, message.ts)
    payload = block_actions_payload(
        user=user,
        channel=CHANNEL,
        ts=current.ts,
        text=current.text,
        blocks=current.blocks,
        action_id=action,
        response_url=desk.slack.new_response_url(CHANNEL, current.ts),
    )
    return desk.send(form(payload))


# -- the approver check on a group message ---------------------------------------------------


@pytest.mark.parametrize("action", ["deny", "approve"])
def test_an_unlisted_user_clicking_a_group_message_changes_nothing(
    desk: Desk,
    group: Group,
    slack: SlackStandIn,
    lambdas: LambdaStandIn,
    monkeypatch: pytest.MonkeyPatch,
    action: str,
) -> None:
    monkeypatch.setenv("APPROVERS", "U0ALICE")
    respond.reset()
    added = [group.authorize(Direction.INGRESS, 8000 + i, f"10.9.{i}.0/24")[0] for i in range(3)]
    records = [
        trail_record(group.group_id, str(r.rule_id), f"10.9.{i}.0/24", 8000 + i)
        for i, r in enumerate(added)
    ]
    report = run(detector(desk.store, slack), records)
    assert (report.posted, report.messages) == (3, 1)  # one group message, one decision
    [message] = slack.posted
    rules_before = group.rule_ids()

    answer = click(desk, message, MALLORY, action)
    lambdas.wait_idle()

    assert answer["statusCode"] == 200
    for record in records:
        kept = desk.store.require(record["eventID"])
        assert (kept.state, kept.decided_by) == (State.PENDING, None)
    [told] = slack.ephemerals
    assert told.user == MALLORY.id
    assert "not allowed" in str(told.text)
    assert slack.updates == []
    assert slack.message(CHANNEL, message.ts).blocks == message.blocks
    # no revert started (a private reply that did not fit would be handed over, not this)
    assert [i for i in lambdas.invocations if i.payload.get("sgrevert") == "revert"] == []
    assert group.rule_ids() == rules_before

    # The same click by an approver does decide the group: the refusal was the check's.
    click(desk, message, ALICE, action)
    lambdas.wait_idle()
    decided = State.APPROVED if action == "approve" else State.REVERTED
    assert {desk.store.require(r["eventID"]).state for r in records} == {decided}


# -- an egress rule recorded without a rule id ----------------------------------------------


def egress_record_without_rule_id(group_id: str, cidr: str, port: int) -> dict[str, Any]:
    """An AuthorizeSecurityGroupEgress record as older CloudTrail wrote it: the request's
    permission, and a response without `securityGroupRuleSet`, so no rule id."""
    record: dict[str, Any] = copy.deepcopy(load_event("authorize_egress"))
    record["eventID"] = str(uuid.uuid4())
    record["eventTime"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    record["awsRegion"] = REGION
    record["recipientAccountId"] = MEMBER_ACCOUNT
    record["requestParameters"] = {
        "groupId": group_id,
        "ipPermissions": {
            "items": [
                {
                    "ipProtocol": "tcp",
                    "fromPort": port,
                    "toPort": port,
                    "groups": {},
                    "ipRanges": {"items": [{"cidrIp": cidr}]},
                    "ipv6Ranges": {},
                    "prefixListIds": {},
                }
            ]
        },
    }
    record["responseElements"] = {"requestId": str(uuid.uuid4()), "_return": True}
    return record


@pytest.mark.parametrize(
    "look_alike",
    [False, True],
    ids=["alone", "beside-an-identical-ingress-rule"],
)
def test_an_egress_rule_recorded_without_an_id_is_revoked_as_egress(
    desk: Desk, group: Group, slack: SlackStandIn, lambdas: LambdaStandIn, look_alike: bool
) -> None:
    if look_alike:  # revoking the permission as ingress would take this rule instead
        group.authorize(Direction.INGRESS, 5432, "10.1.0.0/16")
    before = group.rules()
    group.authorize(Direction.EGRESS, 5432, "10.1.0.0/16")
    assert ("egress", "tcp", 5432, "10.1.0.0/16") in group.rules()
    record = egress_record_without_rule_id(group.group_id, "10.1.0.0/16", 5432)
    assert run(detector(desk.store, slack), [record]).posted == 1
    [rule] = desk.store.require(record["eventID"]).change.rules
    assert (rule.direction, rule.rule_id) == (Direction.EGRESS, None)
    [message] = slack.posted

    click(desk, message, ALICE, "deny")
    lambdas.wait_idle()

    assert group.rules() == before  # the egress rule is gone, everything else is there
    done = desk.store.require(record["eventID"])
    assert done.state is State.REVERTED
    assert done.outcome == f"1 rule revoked in {MEMBER_ACCOUNT} / {REGION}"
    assert [i.results[0]["revoked"] for i in lambdas.invocations] == [1]
    assert [i.results[0]["already_gone"] for i in lambdas.invocations] == [0]


# -- the Lake watermark ----------------------------------------------------------------------


def run_detector() -> dict[str, Any]:
    """One scheduled run of revertsg-1's handler."""
    context: Any = LambdaContext()  # the attributes Lambda's context has
    return detect.handler({"source": "aws.events"}, context)


class WritesRefused(DynamodbException):
    def __init__(self) -> None:
        super().__init__(
            "com.amazonaws.dynamodb.v20120810#AccessDeniedException",
            "not authorized to perform: dynamodb:PutItem",
        )


class ChangeWritesRefused:
    """moto's DynamoDB refuses every write of a change item, and only those (the watermark
    can still be written), until `lift()`. moto runs in this process, so its backend is
    wrapped here, as tests/conftest.py's `atomic_writes` does."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.refused = 0
        self._on = True
        original: Callable[..., Any] = DynamoDBBackend.put_item

        def put_item(backend: Any, table: str, item: dict[str, Any], *a: Any, **k: Any) -> Any:
            if self._on and str(item.get("pk", {}).get("S", "")).startswith("change#"):
                self.refused += 1
                raise WritesRefused()
            return original(backend, table, item, *a, **k)

        monkeypatch.setattr(DynamoDBBackend, "put_item", put_item)

    def lift(self) -> None:
        self._on = False


@pytest.mark.usefixtures("detector_env")
def test_the_watermark_stays_put_until_the_windows_changes_are_recorded(
    lake: LakeStandIn,
    slack: SlackStandIn,
    data_store: str,
    change_store: ChangeStore,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = datetime.now(UTC)
    watermark = (now - timedelta(hours=6)).replace(microsecond=0)  # runs failed since
    change_store.set_watermark("lake", watermark)
    # a change in the catch-up part of the window, far behind the lookback
    missed = trail_record("sg-0123456789abcdef0", "sgr-0123456789abcdef0", "0.0.0.0/0", 22)
    missed["eventTime"] = (now - timedelta(hours=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    lake.put_records(data_store, [missed])
    writes = ChangeWritesRefused(monkeypatch)

    with pytest.raises(ClientError, match="AccessDenied"):
        run_detector()

    # the window was queried and its change read, but recording it failed
    assert (len(lake.statements), writes.refused) == (1, 1)
    assert change_store.get(missed["eventID"]) is None
    assert change_store.get_watermark("lake") == watermark
    writes.lift()

    report = run_detector()

    assert report["recorded"] == 1  # the next run's window still reaches back to it
    assert change_store.require(missed["eventID"]).posted
    moved = change_store.get_watermark("lake")
    assert moved is not None and moved >= now.replace(microsecond=0)


# -- an ignore rule wins over auto-revert ----------------------------------------------------


def test_an_ignore_rule_wins_over_auto_revert_so_a_pipelines_change_stays(
    desk: Desk, group: Group, slack: SlackStandIn, lambdas: LambdaStandIn
) -> None:
    policy = json.dumps(
        {
            "ignore": [
                {
                    "name": "pipeline",
                    "actor": "*:assumed-role/deploy-*/*",
                    "reason": "deploys are reviewed in pull requests",
                }
            ],
            "auto_revert_at_or_above": "critical",
        }
    )
    [deployed] = group.authorize(Direction.INGRESS, 22, "0.0.0.0/0")
    [by_hand] = group.authorize(Direction.INGRESS, 3389, "0.0.0.0/0")
    pipeline = trail_record(group.group_id, str(deployed.rule_id), "0.0.0.0/0", 22, actor=DEPLOY)
    person = trail_record(group.group_id, str(by_hand.rule_id), "0.0.0.0/0", 3389)

    report = run(detector(desk.store, slack, policy), [pipeline, person])
    lambdas.wait_idle()

    assert (report.recorded, report.ignored, report.auto_reverted) == (2, 1, 1)
    ignored = desk.store.require(pipeline["eventID"])
    assert (ignored.state, ignored.risk, ignored.decided_by) == (State.IGNORED, "critical", None)
    assert ignored.note == "ignored by pipeline: deploys are reviewed in pull requests"
    assert deployed.rule_id in group.rule_ids()  # the pipeline's rule stays
    # the same policy does revert the critical change nobody exempted
    assert desk.store.require(person["eventID"]).state is State.REVERTED
    assert by_hand.rule_id not in group.rule_ids()
    assert [i.payload["event_id"] for i in lambdas.invocations] == [person["eventID"]]
    # one message (its history steps are replies in its thread)
    messages = [m.ts for m in slack.posted if m.thread_ts is None]
    assert messages == [desk.store.require(person["eventID"]).slack_ts]


# -- tcp/udp from a public source without ports ----------------------------------------------


def without_ports(record: dict[str, Any], protocol: str, port: int | None) -> dict[str, Any]:
    """The record's permission with `protocol` and no ports (`port` None) or `port` for both
    ends (-1: EC2's "all ports"), as an older record without a rule set carries it."""
    permission = record["requestParameters"]["ipPermissions"]["items"][0]
    permission["ipProtocol"] = protocol
    for key in ("fromPort", "toPort"):
        if port is None:
            permission.pop(key, None)
        else:
            permission[key] = port
    del record["responseElements"]["securityGroupRuleSet"]
    return record


@pytest.mark.parametrize(
    ("protocol", "port"),
    [("tcp", None), ("udp", None), ("6", None), ("tcp", -1), ("udp", -1)],
    ids=["tcp", "udp", "protocol-6", "tcp-port-minus-1", "udp-port-minus-1"],
)
def test_tcp_or_udp_from_anywhere_without_ports_counts_as_touching_the_critical_ports(
    desk: Desk, slack: SlackStandIn, protocol: str, port: int | None
) -> None:
    policy = '{"min_risk_to_post": "critical"}'
    every_port = without_ports(trail_record("sg-1", "sgr-1", "0.0.0.0/0", 22), protocol, port)
    web = trail_record("sg-2", "sgr-2", "0.0.0.0/0", 443)  # public, no critical port: high

    report = run(detector(desk.store, slack, policy), [every_port, web])

    recorded = desk.store.require(every_port["eventID"])
    [rule] = recorded.change.rules
    assert rule.rule_id is None and rule.from_port in (None, -1)
    assert recorded.risk == "critical"
    assert recorded.posted
    assert desk.store.require(web["eventID"]).risk == "high"
    assert (report.posted, report.held) == (1, 1)
    [message] = slack.posted
    assert message.text is not None and message.text.startswith("[CRITICAL] ")
    assert "0.0.0.0/0" in text_of(message)
