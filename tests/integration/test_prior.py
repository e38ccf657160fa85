"""A modified rule's "before", found by the real detector at record time: from the
Authorize that created it, from a stored context snapshot of its group, or not at all;
and the state that follows (decidable unless the modification only narrowed)."""

from __future__ import annotations

import copy
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from slack_sdk import WebClient

from sandbox.lake import LakeStandIn
from sandbox.slack_api import SlackStandIn
from sgrevert import detect, store
from sgrevert.context_read import ContextReader
from sgrevert.detector import Detector, RunReport
from sgrevert.model import Direction, Prior, State
from sgrevert.roles import RoleChain
from sgrevert.slack import ChannelPoster
from tests.integration.conftest import CHANNEL
from tests.integration.groups import Group
from tests.support import BOT_TOKEN, REGION, LambdaContext, load_event

ACCOUNT = "111122223333"  # the fixtures' recipientAccountId
GROUP_ID = "sg-0a1b2c3d4e5f60718"
RULE_ID = "sgr-01a2b3c4d5e6f7082"


def trail_time(minutes_ago: float) -> str:
    return (datetime.now(UTC) - timedelta(minutes=minutes_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")


def authorize(
    minutes_ago: float, cidr: str, *, group_id: str = GROUP_ID, rule_id: str = RULE_ID
) -> dict[str, Any]:
    """A real-shaped AuthorizeSecurityGroupIngress record of tcp 22 from `cidr`."""
    record = copy.deepcopy(load_event("authorize_ingress_ipv4"))
    record["eventID"] = str(uuid.uuid4())
    record["eventTime"] = trail_time(minutes_ago)
    record["requestParameters"]["groupId"] = group_id
    record["requestParameters"]["ipPermissions"]["items"][0]["ipRanges"] = {
        "items": [{"cidrIp": cidr}]
    }
    [rule] = record["responseElements"]["securityGroupRuleSet"]["items"]
    rule.update(groupId=group_id, securityGroupRuleId=rule_id, cidrIpv4=cidr)
    return record


def modify(
    minutes_ago: float, cidr: str, *, group_id: str = GROUP_ID, rule_id: str = RULE_ID
) -> dict[str, Any]:
    """A real-shaped ModifySecurityGroupRules record setting rule `rule_id` to tcp 22 from
    `cidr`."""
    record = copy.deepcopy(load_event("modify_rules"))
    record["eventID"] = str(uuid.uuid4())
    record["eventTime"] = trail_time(minutes_ago)
    request = record["requestParameters"]["ModifySecurityGroupRulesRequest"]
    request["GroupId"] = group_id
    request["SecurityGroupRule"]["SecurityGroupRuleId"] = rule_id
    request["SecurityGroupRule"]["SecurityGroupRule"].update(CidrIpv4=cidr, Description="ssh")
    return record


def run() -> dict[str, Any]:
    return detect.handler({"source": "aws.events"}, LambdaContext())


def changes() -> store.ChangeStore:
    return store.ChangeStore(boto3.resource("dynamodb").Table(store.DEFAULT_TABLE_NAME))


@pytest.mark.usefixtures("detector_env")
def test_a_widening_modification_takes_its_before_from_the_authorize_and_is_decidable(
    lake: LakeStandIn, slack: SlackStandIn, data_store: str
) -> None:
    """Given a run that recorded the Authorize of tcp 22 from 10.0.0.0/8, when a later run
    sees that rule modified to 0.0.0.0/0, then the modification's prior is the Authorize's
    rule, seen at its time, and the modification waits for a decision."""
    created = authorize(minutes_ago=12, cidr="10.0.0.0/8")
    lake.put_records(data_store, [created])
    assert run()["recorded"] == 1
    edit = modify(minutes_ago=5, cidr="0.0.0.0/0")
    lake.put_records(data_store, [edit])

    report = run()

    assert report["recorded"] == 1
    authorized = changes().require(created["eventID"])
    modified = changes().require(edit["eventID"])
    assert modified.change.prior == (
        Prior(authorized.change.rules[0], authorized.change.event_time, created["eventID"]),
    )
    assert modified.state is State.PENDING


@pytest.mark.usefixtures("detector_env")
def test_a_narrowing_modification_is_informational(
    lake: LakeStandIn, slack: SlackStandIn, data_store: str
) -> None:
    """Given the recorded Authorize of tcp 22 from 10.0.0.0/8, when the rule is modified to
    10.1.0.0/16 (a subset), then the modification is recorded for information only."""
    lake.put_records(data_store, [authorize(minutes_ago=12, cidr="10.0.0.0/8")])
    assert run()["recorded"] == 1
    edit = modify(minutes_ago=5, cidr="10.1.0.0/16")
    lake.put_records(data_store, [edit])

    run()

    modified = changes().require(edit["eventID"])
    assert [p.rule.source for p in modified.change.prior] == ["10.0.0.0/8"]
    assert modified.state is State.INFO


@pytest.mark.usefixtures("detector_env")
def test_a_modification_with_nothing_on_record_is_decidable_without_a_prior(
    lake: LakeStandIn, slack: SlackStandIn, data_store: str
) -> None:
    """Given nothing recorded about a rule (an Authorize of another group aside), when it
    is modified to 10.1.0.0/16, then it has no prior and waits for a decision: nobody can
    tell it narrowed."""
    lake.put_records(
        data_store,
        [authorize(minutes_ago=12, cidr="10.0.0.0/8", group_id="sg-0c3d5e7f9a1b2c4d6")],
    )
    assert run()["recorded"] == 1
    edit = modify(minutes_ago=5, cidr="10.1.0.0/16")
    lake.put_records(data_store, [edit])

    run()

    modified = changes().require(edit["eventID"])
    assert modified.change.prior == ()
    assert modified.state is State.PENDING


@pytest.mark.usefixtures("detector_env")
def test_an_authorize_and_its_modification_in_one_run_out_of_order_still_pair(
    lake: LakeStandIn, slack: SlackStandIn, data_store: str
) -> None:
    """Given a rule's Authorize and its narrowing modification, delivered modification
    first, when one run records both, then the modification's prior is the Authorize."""
    created = authorize(minutes_ago=12, cidr="10.0.0.0/8")
    edit = modify(minutes_ago=5, cidr="10.1.0.0/16")
    lake.put_records(data_store, [edit, created])

    report = run()

    assert report["recorded"] == 2
    modified = changes().require(edit["eventID"])
    assert [p.source for p in modified.change.prior] == [created["eventID"]]
    assert modified.state is State.INFO


def detector(table: Any, slack: SlackStandIn) -> Detector:
    """The detector as the handler builds it, on `table`, without context reads."""
    return Detector(
        store=store.ChangeStore(table),
        poster=ChannelPoster(WebClient(token=BOT_TOKEN, base_url=slack.api_url), CHANNEL),
        clock=lambda: datetime.now(UTC),
        time_left=lambda: 300.0,
    )


def test_records_handed_over_out_of_order_in_one_call_are_recorded_oldest_first(
    table_name: str, slack: SlackStandIn
) -> None:
    """Given one batch holding a narrowing modification before the Authorize it edits (as a
    batch of events may), when the detector records the batch, then the modification
    still finds the Authorize as its before."""
    created = authorize(minutes_ago=12, cidr="10.0.0.0/8")
    edit = modify(minutes_ago=5, cidr="10.1.0.0/16")
    table = boto3.resource("dynamodb").Table(table_name)

    recorded = detector(table, slack).record([edit, created], RunReport())

    assert recorded == [created["eventID"], edit["eventID"]]
    modified = changes().require(edit["eventID"])
    assert [p.source for p in modified.change.prior] == [created["eventID"]]
    assert modified.state is State.INFO


def test_a_history_that_cannot_be_read_leaves_the_modification_decidable(
    aws: str, slack: SlackStandIn
) -> None:
    """Given a table whose group-history index is not there yet (deployed before the
    update that adds it finished), when a narrowing modification is recorded after its
    Authorize, then the history read fails, the prior stays empty and the modification
    waits for a decision: nothing is judged narrowing on a guess."""
    client = boto3.client("dynamodb")
    definition = store.table_definition("before-the-index")
    definition["GlobalSecondaryIndexes"] = [
        index
        for index in definition["GlobalSecondaryIndexes"]
        if index["IndexName"] != store.GROUP_INDEX
    ]
    definition["AttributeDefinitions"] = [
        a for a in definition["AttributeDefinitions"] if a["AttributeName"] != "group_key"
    ]
    client.create_table(**definition)
    table = boto3.resource("dynamodb").Table("before-the-index")
    created = authorize(minutes_ago=12, cidr="10.0.0.0/8")
    edit = modify(minutes_ago=5, cidr="10.1.0.0/16")
    report = RunReport()

    detector(table, slack).record([created], report)
    detector(table, slack).record([edit], report)

    assert report.recorded == 2
    modified = store.ChangeStore(table).require(edit["eventID"])
    assert modified.change.prior == ()
    assert modified.state is State.PENDING


@pytest.mark.usefixtures("detector_env")
def test_a_stored_snapshot_of_the_group_is_the_before_of_a_rule_created_outside_the_window(
    lake: LakeStandIn, slack: SlackStandIn, data_store: str
) -> None:
    """Given an egress rule made before anything was watched, and the context of a later
    change to its group (its rules, read ten minutes ago) kept on that change's record,
    when the egress rule is modified, then its prior is the snapshot's rule, egress, seen at
    the read time, and the modification is decidable as it widened."""
    group = Group.create(ACCOUNT, REGION)
    [outside] = group.authorize(Direction.EGRESS, 5432, "10.20.0.0/16")
    [later] = group.authorize(Direction.INGRESS, 22, "10.0.0.0/8")
    read_at = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)
    posted = authorize(15, "10.0.0.0/8", group_id=group.group_id, rule_id=str(later.rule_id))
    earlier = Detector(
        store=changes(),
        poster=ChannelPoster(WebClient(token=BOT_TOKEN, base_url=slack.api_url), CHANNEL),
        clock=lambda: read_at,  # the earlier run, ten minutes ago
        time_left=lambda: 300.0,
        context=ContextReader(RoleChain(boto3.client("sts"), None, "sgrevert-spoke"), None, None),
    )
    report = RunReport()
    earlier.post_pending(earlier.record([posted], report), report)
    snapshot = changes().require(posted["eventID"]).context
    assert snapshot is not None and snapshot.rules is not None
    [seen] = [r for r in snapshot.rules if r.rule_id == outside.rule_id]
    edit = modify(2, "0.0.0.0/0", group_id=group.group_id, rule_id=str(outside.rule_id))
    lake.put_records(data_store, [edit])

    run()

    modified = changes().require(edit["eventID"])
    assert seen.direction is Direction.EGRESS
    assert modified.change.prior == (Prior(seen, read_at, posted["eventID"], from_snapshot=True),)
    assert modified.state is State.PENDING
