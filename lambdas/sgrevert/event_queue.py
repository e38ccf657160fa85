"""The event queue adapter: an SQS batch of EventBridge events, as Lambda delivers it.

Powertools' batch processor hands each message to the detector and reports the ones that
raised as `batchItemFailures` (the mapping has `ReportBatchItemFailures`), so one bad
message is retried, and after `maxReceiveCount` dead-lettered, alone: the rest of the
batch is deleted from the queue.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from sgrevert.eventbridge import MalformedEvent

logger = Logger(service="sgrevert-detect", child=True)

SQS_EVENT_SOURCE = "aws:sqs"


def is_sqs_batch(event: Mapping[str, Any]) -> bool:
    """True for what an SQS event source mapping delivers (the schedule sends anything else)."""
    records = event.get("Records")
    return (
        isinstance(records, list)
        and bool(records)
        and all(
            isinstance(r, Mapping) and r.get("eventSource") == SQS_EVENT_SOURCE for r in records
        )
    )


class QueuedEvents:
    """One SQS batch; `each` hands every message's event to the detector, failures apart."""

    def __init__(self, event: dict[str, Any], context: LambdaContext | None) -> None:
        self._event = event
        self._context = context
        self.response: PartialItemFailureResponse = {"batchItemFailures": []}

    def each(self, take: Callable[[Any], None]) -> None:
        # Powertools passes the message as `record=`.
        def handle(record: SQSRecord) -> None:
            log = {"message_id": record.message_id}
            try:
                take(record.json_body)
            except (MalformedEvent, json.JSONDecodeError) as error:
                # Retrying cannot help: say which message it was before it fails alone.
                logger.warning(
                    "malformed message on the event queue", extra={**log, "error": str(error)}
                )
                raise
            except Exception:
                # Retried after the visibility timeout; the invocation itself succeeds.
                logger.exception("could not record an event; it is retried", extra=log)
                raise

        # A batch whose every message failed is reported like any other, message by message:
        # the dead-letter queue and its alarm, not a failed invocation, tell of poison messages.
        processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
        self.response = process_partial_response(
            event=self._event, record_handler=handle, processor=processor, context=self._context
        )
