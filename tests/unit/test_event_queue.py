"""The event queue adapter: telling an SQS batch apart, and one failure staying alone."""

from __future__ import annotations

from typing import Any

import pytest

from sandbox.eventbridge import queue_arn, sqs_event
from sgrevert.event_queue import QueuedEvents, is_sqs_batch
from sgrevert.eventbridge import MalformedEvent, cloudtrail_record
from tests.support import load_event

QUEUE = queue_arn("222222222222", "eu-west-1")


def test_an_sqs_batch_is_told_apart_from_the_schedule() -> None:
    assert is_sqs_batch(load_event("sqs/eventbridge_batch_with_malformed"))
    assert not is_sqs_batch({"source": "aws.events", "detail-type": "Scheduled Event"})
    assert not is_sqs_batch({"Records": []})
    assert not is_sqs_batch({"Records": [{"eventSource": "aws:sns"}]})


def test_each_message_reaches_take_and_only_failures_are_reported() -> None:
    # Given a batch whose second message is not an EventBridge event
    event = sqs_event(
        [load_event("eventbridge/authorize_egress"), {"hello": "queue"}, "not json"], QUEUE
    )
    taken: list[str] = []

    def take(body: Any) -> None:
        taken.append(cloudtrail_record(body)["eventID"])

    # When the adapter hands the messages over
    batch = QueuedEvents(event, None)
    batch.each(take)

    # Then the good one was taken and the two others are reported, in order
    assert taken == [load_event("authorize_egress")["eventID"]]
    records = event["Records"]
    assert batch.response == {
        "batchItemFailures": [
            {"itemIdentifier": records[1]["messageId"]},
            {"itemIdentifier": records[2]["messageId"]},
        ]
    }


@pytest.mark.parametrize("error", [MalformedEvent("bad"), RuntimeError("table unavailable")])
def test_a_failing_take_fails_its_message_and_the_batch_goes_on(error: Exception) -> None:
    event = sqs_event([{"n": 1}, {"n": 2}], QUEUE)
    seen: list[int] = []

    def take(body: Any) -> None:
        seen.append(body["n"])
        if body["n"] == 1:
            raise error

    batch = QueuedEvents(event, None)
    batch.each(take)

    assert seen == [1, 2]
    assert batch.response == {
        "batchItemFailures": [{"itemIdentifier": event["Records"][0]["messageId"]}]
    }
