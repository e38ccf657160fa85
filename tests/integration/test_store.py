"""The change store's transitions on moto's DynamoDB."""

from __future__ import annotations

from dataclasses import replace
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
    assert {i["IndexName"] for i in described["GlobalSecondaryIndexes"]} == {
        "unposted",
        "by_state",
        "by_group",
    }
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


# -- a group's history -----------------------------------------------------------------


def at(event_id: str, minutes_ago: int, **where: str) -> Change:
    """A change `minutes_ago` before NOW, in the usual group unless `where` says otherwise."""
    return replace(make_change(event_id), event_time=NOW - timedelta(minutes=minutes_ago), **where)


def history_ids(
    change_store: store.ChangeStore,
    *,
    before: datetime | None = None,
    after: datetime | None = None,
    limit: int = 50,
    oldest_first: bool = False,
) -> list[str]:
    records = change_store.group_history(
        "111122223333",
        "eu-west-1",
        "sg-0123456789abcdef0",
        before=before,
        after=after,
        limit=limit,
        oldest_first=oldest_first,
    )
    return [r.event_id for r in records]


def test_a_record_carries_its_group_key(change_store: store.ChangeStore) -> None:
    """Given a recorded change, then its item names the group as account/region/group id."""
    change_store.record_new(make_change(), NOW)

    item = (
        boto3.resource("dynamodb")
        .Table(store.DEFAULT_TABLE_NAME)
        .get_item(Key={"pk": "change#ev-1"})["Item"]
    )

    assert item["group_key"] == "111122223333/eu-west-1/sg-0123456789abcdef0"


def test_a_groups_history_is_its_own_records_newest_first_within_open_bounds(
    change_store: store.ChangeStore,
) -> None:
    """Given five changes of a group, one of another group and one of the same group id in
    another region, when the history is read with and without bounds, then it holds only
    the group's records strictly between the bounds, newest first."""
    for minutes_ago, event_id in ((30, "m30"), (10, "m10"), (50, "m50"), (20, "m20"), (40, "m40")):
        change_store.record_new(at(event_id, minutes_ago), NOW)
    change_store.record_new(at("other-group", 25, group_id="sg-0fedcba9876543210"), NOW)
    change_store.record_new(at("other-region", 25, region="eu-central-1"), NOW)

    assert history_ids(change_store) == ["m10", "m20", "m30", "m40", "m50"]
    assert history_ids(change_store, before=NOW - timedelta(minutes=20)) == ["m30", "m40", "m50"]
    assert history_ids(change_store, after=NOW - timedelta(minutes=30)) == ["m10", "m20"]
    assert history_ids(
        change_store, after=NOW - timedelta(minutes=50), before=NOW - timedelta(minutes=10)
    ) == ["m20", "m30", "m40"]
    assert history_ids(change_store, after=NOW, before=NOW - timedelta(minutes=60)) == []
    [newest] = change_store.group_history(
        "111122223333", "eu-west-1", "sg-0123456789abcdef0", limit=1
    )
    assert newest == change_store.require("m10")  # whole records, not index keys


def test_a_groups_history_stops_at_its_limit_reading_on_past_a_bound(
    change_store: store.ChangeStore,
) -> None:
    """Given five changes of a group, when at most two are asked for between the oldest and
    the newest (so the first page of two holds the excluded newest), then the two newest
    inside the bounds come back, from a second page."""
    for minutes_ago in (10, 20, 30, 40, 50):
        change_store.record_new(at(f"m{minutes_ago}", minutes_ago), NOW)

    assert history_ids(change_store, limit=2) == ["m10", "m20"]
    assert history_ids(
        change_store,
        after=NOW - timedelta(minutes=50),
        before=NOW - timedelta(minutes=10),
        limit=2,
    ) == ["m20", "m30"]


def test_a_groups_history_oldest_first_gives_the_changes_nearest_after_its_bound(
    change_store: store.ChangeStore,
) -> None:
    """Given five changes of a group, when the two oldest after the 50-minute-old one are
    asked for, then the 40- and 30-minute-old ones come back, oldest first: the ones a
    later change of a rule is looked for among."""
    for minutes_ago in (10, 20, 30, 40, 50):
        change_store.record_new(at(f"m{minutes_ago}", minutes_ago), NOW)

    assert history_ids(
        change_store, after=NOW - timedelta(minutes=50), limit=2, oldest_first=True
    ) == ["m40", "m30"]
