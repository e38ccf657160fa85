"""revertsg-1's real-time path in one process: SQS batches of EventBridge events through the
real handler, against moto (DynamoDB, Secrets Manager), the Slack stand-in and, where Lake
is the backstop, the CloudTrail Lake stand-in."""

from __future__ import annotations

import copy
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from sandbox.eventbridge import envelope, queue_arn, sqs_event
from sandbox.lake import LakeStandIn
from sandbox.slack_api import SlackStandIn
from sgrevert import detect, store
from sgrevert.model import State
from tests.support import BOT_TOKEN, REGION, SECURITY_ACCOUNT, LambdaContext, load_event

CHANNEL = "C0SECURITY"
QUEUE = queue_arn(SECURITY_ACCOUNT, REGION)


@pytest.fixture
def slack() -> Iterator[SlackStandIn]:
    with SlackStandIn(bot_token=BOT_TOKEN) as stand_in:
        yield stand_in


@pytest.fixture
def lake() -> Iterator[LakeStandIn]:
    with LakeStandIn(page_size=1000, running_polls=1) as stand_in:
        yield stand_in


@pytest.fixture
def eventbridge_alone(
    monkeypatch: pytest.MonkeyPatch, table_name: str, slack_secret_arn: str, slack: SlackStandIn
) -> Iterator[None]:
    """The detector as deployed without CloudTrail Lake: no Lake setting at all."""
    monkeypatch.setenv("TABLE_NAME", table_name)
    monkeypatch.setenv("SLACK_SECRET_ARN", slack_secret_arn)
    monkeypatch.setenv("SLACK_CHANNEL_ID", CHANNEL)
    monkeypatch.setenv("SLACK_API_URL", slack.api_url)
    for name in ("EVENT_DATA_STORE", "DETECTION", "LAKE_READ_ROLE_ARN", "LOOKBACK_MINUTES"):
        monkeypatch.delenv(name, raising=False)
    detect.reset()
    yield
    detect.reset()


@pytest.fixture
def both(
    eventbridge_alone: None, monkeypatch: pytest.MonkeyPatch, lake: LakeStandIn
) -> Iterator[str]:
    """Both paths: an event data store configured, so the schedule polls Lake."""
    data_store = lake.create_event_data_store("org-trail")
    monkeypatch.setenv("EVENT_DATA_STORE", data_store)
    monkeypatch.setenv("AWS_ENDPOINT_URL_CLOUDTRAIL", lake.endpoint_url)
    detect.reset()
    yield data_store
    detect.reset()


def fresh(name: str = "authorize_ingress_ipv4", minutes_ago: float = 1) -> dict[str, Any]:
    """A fixture's CloudTrail record as a new call: unique eventID, recent eventTime."""
    record = copy.deepcopy(load_event(name))
    record["eventID"] = str(uuid.uuid4())
    record["eventTime"] = (datetime.now(UTC) - timedelta(minutes=minutes_ago)).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )
    return record


def deliver(*bodies: str | dict[str, Any]) -> dict[str, Any]:
    """One SQS batch from the event queue, through the handler."""
    return detect.handler(sqs_event(bodies, QUEUE), LambdaContext())


def scheduled_run() -> dict[str, Any]:
    return detect.handler(
        {"source": "aws.events", "detail-type": "Scheduled Event"}, LambdaContext()
    )


def changes() -> store.ChangeStore:
    return store.ChangeStore(boto3.resource("dynamodb").Table(store.DEFAULT_TABLE_NAME))


def failed_ids(response: dict[str, Any]) -> list[str]:
    return [failure["itemIdentifier"] for failure in response["batchItemFailures"]]


def buttons(message: Any) -> list[str]:
    return [e["action_id"] for b in message.blocks if b["type"] == "actions" for e in b["elements"]]


# -- one batch -------------------------------------------------------------------------------


@pytest.mark.usefixtures("eventbridge_alone")
def test_a_malformed_message_fails_alone_and_the_rest_is_posted(slack: SlackStandIn) -> None:
    # Given a batch as Lambda delivers it: an Authorize, a message sent by hand, a Revoke
    batch = load_event("sqs/eventbridge_batch_with_malformed")
    authorize_id = load_event("authorize_ingress_ipv4")["eventID"]
    revoke_id = load_event("revoke_ingress_by_permissions")["eventID"]

    # When the detector takes it
    response = detect.handler(batch, LambdaContext())

    # Then only the malformed message is reported, to be retried and dead-lettered
    assert response == {
        "batchItemFailures": [{"itemIdentifier": "7b9d1f3e-5a2c-4e6b-8d0f-1a3c5e7b9d2e"}]
    }
    # and both changes are recorded and posted, as on the Lake path
    assert changes().require(authorize_id).state is State.PENDING
    assert changes().require(revoke_id).state is State.INFO
    assert all(changes().require(e).posted for e in (authorize_id, revoke_id))
    by_ts = {m.ts: m for m in slack.posted}
    assert buttons(by_ts[str(changes().require(authorize_id).slack_ts)]) == [
        "approve",
        "approve_for",
        "deny",
    ]
    assert buttons(by_ts[str(changes().require(revoke_id).slack_ts)]) == []
    assert len(slack.posted) == 2


@pytest.mark.usefixtures("eventbridge_alone")
def test_a_body_that_is_not_json_fails_alone(slack: SlackStandIn) -> None:
    first, second = fresh(), fresh("authorize_egress")
    event = sqs_event(
        [envelope(first), '{"version": "0", "detail-type": "AWS API', envelope(second)], QUEUE
    )

    response = detect.handler(event, LambdaContext())

    assert failed_ids(response) == [event["Records"][1]["messageId"]]
    assert changes().require(first["eventID"]).posted
    assert changes().require(second["eventID"]).posted


@pytest.mark.usefixtures("eventbridge_alone")
def test_a_batch_of_nothing_but_malformed_messages_reports_each(slack: SlackStandIn) -> None:
    event = sqs_event(["hello", {"detail-type": "Scheduled Event", "detail": {}}], QUEUE)

    response = detect.handler(event, LambdaContext())

    # Reported message by message (not a failed invocation): the dead-letter queue tells
    assert failed_ids(response) == [r["messageId"] for r in event["Records"]]
    assert slack.posted == []


@pytest.mark.usefixtures("eventbridge_alone")
def test_a_call_that_changed_nothing_is_consumed_without_a_post(slack: SlackStandIn) -> None:
    # A failed call is a well-formed event: skipped with its reason, never retried
    failed = fresh()
    failed["errorCode"] = "Client.InvalidPermission.Duplicate"
    failed["responseElements"] = None

    response = deliver(envelope(failed))

    assert response == {"batchItemFailures": []}
    assert changes().get(failed["eventID"]) is None
    assert slack.posted == []


@pytest.mark.usefixtures("eventbridge_alone")
def test_a_redelivered_event_is_posted_once(slack: SlackStandIn) -> None:
    # SQS delivers at least once: the same event can come back
    record = fresh()
    deliver(envelope(record))

    deliver(envelope(record))

    assert len(slack.posted) == 1
    assert changes().require(record["eventID"]).posted


# -- EventBridge alone: the schedule retries what Slack refused ------------------------------


@pytest.mark.usefixtures("eventbridge_alone")
def test_a_slack_outage_loses_nothing_and_the_schedule_posts_it(
    slack: SlackStandIn, lake: LakeStandIn
) -> None:
    record = fresh()
    with slack.outage():
        response = deliver(envelope(record))

    # The event is consumed (recording is what counts), the change waits unposted
    assert response == {"batchItemFailures": []}
    assert not changes().require(record["eventID"]).posted

    # When the scheduled run comes, without Lake to poll
    report = scheduled_run()

    # Then it posts the change, and queries nothing
    assert (report["posted"], report["window_start"]) == (1, None)
    assert changes().require(record["eventID"]).posted
    assert lake.statements == []


# -- both paths ------------------------------------------------------------------------------


def test_a_change_on_both_paths_is_posted_once(
    both: str, lake: LakeStandIn, slack: SlackStandIn
) -> None:
    # Given a change that EventBridge delivered and the detector posted at once
    record = fresh(minutes_ago=2)
    deliver(envelope(record))
    assert len(slack.posted) == 1

    # When Lake, the backstop, sees the same call on its next run
    lake.put_records(both, [record])
    report = scheduled_run()

    # Then Lake finds it already recorded and posts nothing more
    assert (report["rows"], report["recorded"], report["already_recorded"]) == (1, 0, 1)
    assert report["posted"] == 0
    assert len(slack.posted) == 1


def test_lake_posts_what_the_real_time_path_missed(
    both: str, lake: LakeStandIn, slack: SlackStandIn
) -> None:
    # Given two changes; EventBridge (best effort) delivered only the first
    seen, missed = fresh(minutes_ago=3), fresh("authorize_egress", minutes_ago=3)
    deliver(envelope(seen))
    lake.put_records(both, [seen, missed])

    report = scheduled_run()

    # Then the Lake run records and posts just the missed one
    assert (report["recorded"], report["already_recorded"], report["posted"]) == (1, 1, 1)
    assert len(slack.posted) == 2
    assert changes().require(missed["eventID"]).posted

    # and the late EventBridge copy of it posts nothing
    deliver(envelope(missed))
    assert len(slack.posted) == 2


def test_both_paths_at_once_post_each_change_once(
    both: str, lake: LakeStandIn, slack: SlackStandIn
) -> None:
    # Given changes that reach both paths at the same moment, round after round
    records = [fresh(minutes_ago=1) for _ in range(6)]
    errors: list[BaseException] = []

    def run(call: Any) -> None:
        try:
            call()
        except BaseException as error:  # surfaced below
            errors.append(error)

    for record in records:
        lake.put_records(both, [record])
        threads = [
            threading.Thread(target=run, args=(lambda r=record: deliver(envelope(r)),)),
            threading.Thread(target=run, args=(scheduled_run,)),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)

    # Then every change is posted, and no message goes beyond the one each change names:
    # a second post of a change would leave a message no change points to
    assert errors == []
    ts = {changes().require(r["eventID"]).slack_ts for r in records}
    assert None not in ts
    assert sorted(m.ts for m in slack.posted) == sorted(str(t) for t in ts)
