"""The change store's transitions on moto's DynamoDB."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import boto3
import pytest

from sgrevert import store
from sgrevert.errors import AlreadyDecided, NotDecidable, UnknownChange
from sgrevert.model import Actor, Change, Direction, Rule, SourceKind, State

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def make_change(
    event_id: str = "ev-1", event_name: str = "AuthorizeSecurityGroupIngress"
) -> Change:
    return Change(
        event_id=event_id,
        event_name=event_name,
        event_time=NOW - timedelta(minutes=3),
        account="111122223333",
        region="eu-west-1",
        group_id="sg-0123456789abcdef0",
        actor=Actor(arn="arn:aws:iam::111122223333:user/alice", type="IAMUser"),
        rules=(Rule(Direction.INGRESS, "tcp", 22, 22, SourceKind.CIDR_IPV4, "0.0.0.0/0", "sgr-1"),),
    )


def test_table_definition_creates_the_deployed_shape(aws: str) -> None:
    client = boto3.client("dynamodb")
    store.create_table(client, "t1")
    described = client.describe_table(TableName="t1")["Table"]
    assert [k["AttributeName"] for k in described["KeySchema"]] == ["pk"]
    assert {i["IndexName"] for i in described["GlobalSecondaryIndexes"]} == {"unposted", "by_state"}
    ttl = client.describe_time_to_live(TableName="t1")["TimeToLiveDescription"]
    assert ttl["AttributeName"] == store.TTL_ATTRIBUTE


def test_a_change_is_recorded_once_and_round_trips(change_store: store.ChangeStore) -> None:
    change = make_change()
    assert change_store.record_new(change, NOW) is True
    assert change_store.record_new(change, NOW) is False
    record = change_store.require("ev-1")
    assert record.change == change
    assert record.state is State.PENDING
    assert change_store.unposted_ids() == ["ev-1"]


def test_posting_claims_are_exclusive_until_the_lease_ends(change_store: store.ChangeStore) -> None:
    change_store.record_new(make_change(), NOW)
    lease = timedelta(minutes=2)
    assert change_store.claim_post("ev-1", NOW, lease, "a1") == frozenset()
    assert change_store.claim_post("ev-1", NOW + timedelta(minutes=1), lease, "a2") is None
    # the first claim lapsed with its post unanswered: the next claim learns of it
    assert change_store.claim_post("ev-1", NOW + timedelta(minutes=3), lease, "a3") == {"a1"}
    change_store.mark_posted("ev-1", "C123", "1700000000.000100", NOW)
    assert change_store.unposted_ids() == []
    assert change_store.claim_post("ev-1", NOW + timedelta(hours=1), lease, "a4") is None
    assert change_store.require("ev-1").slack_ts == "1700000000.000100"


def test_a_post_slack_certainly_refused_is_forgotten_and_an_unknown_one_kept(
    change_store: store.ChangeStore,
) -> None:
    change_store.record_new(make_change(), NOW)
    lease = timedelta(minutes=2)
    change_store.claim_post("ev-1", NOW, lease, "refused")
    change_store.release_claim("ev-1", "refused")  # Slack said no: it did not post
    change_store.claim_post("ev-1", NOW, lease, "lost")
    change_store.release_claim("ev-1")  # no answer: it may have posted
    assert change_store.claim_post("ev-1", NOW, lease, "next") == {"lost"}


def test_a_found_post_is_taken_only_by_a_change_still_unposted(
    change_store: store.ChangeStore,
) -> None:
    change_store.record_new(make_change(), NOW)
    assert change_store.mark_posted("ev-1", "C1", "1.000001", NOW, found=True) is True
    assert change_store.mark_posted("ev-1", "C1", "2.000002", NOW, found=True) is False
    assert change_store.require("ev-1").slack_ts == "1.000001"


def test_exactly_one_decision_wins(change_store: store.ChangeStore) -> None:
    change_store.record_new(make_change(), NOW)
    decided = change_store.decide("ev-1", State.DENIED, "U1", NOW)
    assert (decided.state, decided.decided_by) == (State.DENIED, "U1")
    with pytest.raises(AlreadyDecided) as lost:
        change_store.decide("ev-1", State.APPROVED, "U2", NOW)
    assert lost.value.record.decided_by == "U1"
    assert change_store.require("ev-1").state is State.DENIED


def test_a_failed_revert_can_be_denied_again_but_a_reverted_one_cannot(
    change_store: store.ChangeStore,
) -> None:
    change_store.record_new(make_change(), NOW)
    change_store.decide("ev-1", State.DENIED, "U1", NOW)
    failed = change_store.finish_revert("ev-1", False, "AccessDenied", NOW)
    assert failed.state is State.REVERT_FAILED
    with pytest.raises(AlreadyDecided):
        change_store.decide("ev-1", State.APPROVED, "U2", NOW)
    change_store.decide("ev-1", State.DENIED, "U2", NOW)
    done = change_store.finish_revert("ev-1", True, "1 rule revoked", NOW)
    assert (done.state, done.decided_by, done.outcome) == (State.REVERTED, "U2", "1 rule revoked")
    with pytest.raises(AlreadyDecided):
        change_store.finish_revert("ev-1", True, "again", NOW)
    with pytest.raises(AlreadyDecided):
        change_store.decide("ev-1", State.DENIED, "U3", NOW)


def test_informational_and_unknown_changes_cannot_be_decided(
    change_store: store.ChangeStore,
) -> None:
    change_store.record_new(make_change("ev-2", "RevokeSecurityGroupIngress"), NOW)
    with pytest.raises(NotDecidable):
        change_store.decide("ev-2", State.DENIED, "U1", NOW)
    with pytest.raises(UnknownChange):
        change_store.decide("nope", State.DENIED, "U1", NOW)


def test_the_watermark_only_moves_forward(change_store: store.ChangeStore) -> None:
    assert change_store.get_watermark("lake") is None
    change_store.set_watermark("lake", NOW)
    change_store.set_watermark("lake", NOW - timedelta(hours=1))
    assert change_store.get_watermark("lake") == NOW


def test_changes_are_listed_by_state(change_store: store.ChangeStore) -> None:
    change_store.record_new(make_change("a"), NOW)
    change_store.record_new(make_change("b"), NOW)
    change_store.decide("b", State.APPROVED, "U1", NOW)
    assert [r.event_id for r in change_store.by_state(State.PENDING)] == ["a"]
    assert [r.event_id for r in change_store.by_state(State.APPROVED, since=NOW)] == []


def test_many_changes_are_read_in_batches_and_unknown_ids_are_left_out(
    change_store: store.ChangeStore,
) -> None:
    ids = [f"ev-{n}" for n in range(250)]  # three BatchGetItem calls' worth
    for event_id in ids[:230]:
        change_store.record_new(make_change(event_id), NOW)
    change_store.mark_posted("ev-7", "C1", "1.000001", NOW)

    found = change_store.get_many([*ids, "ev-7"])

    assert sorted(found) == sorted(ids[:230])
    assert found["ev-7"].slack_ts == "1.000001"
    assert found["ev-8"] == change_store.require("ev-8")
    assert change_store.recorded(ids) == set(ids[:230])
    assert change_store.get_many([]) == {}


def test_a_batch_reads_back_in_message_order_and_a_lost_member_is_named(
    change_store: store.ChangeStore,
) -> None:
    members = ["ev-3", "ev-1", "ev-2"]
    for event_id in members:
        change_store.record_new(make_change(event_id), NOW)
    change_store.save_batch("b1", members, NOW)
    change_store.save_batch("b2", ["ev-1", "ev-gone"], NOW)

    assert [r.event_id for r in change_store.batch_records("b1")] == members
    with pytest.raises(UnknownChange, match="ev-gone"):
        change_store.batch_records("b2")
