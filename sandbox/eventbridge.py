"""The real-time path, for the sandbox: a CloudTrail record as EventBridge delivers it, and
SQS batches of such events as the detector's event source mapping hands them over.

- `envelope(record)`: the `AWS API Call via CloudTrail` event CloudTrail puts on the
  member account's default bus (and the forwarding rule on the central bus): `source`
  `aws.ec2`, `account` and `region` of the call, `time` the event time, `detail` the
  record. EventBridge's copy lacks some fields of a trail file's (`tlsDetails`, for one, is
  not in the events we compare against); the detector needs none of them.
- `sqs_event(bodies)`: Lambda's SQS event (`Records[]` with `messageId`, `body`,
  `attributes`, `md5OfBody`, `eventSource` `aws:sqs`...), one record per body.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

DETAIL_TYPE = "AWS API Call via CloudTrail"
QUEUE_NAME = "sgrevert-EventIntakeQueue"
# Fields of a trail file's record that EventBridge's copy does not carry.
_NOT_IN_EVENTS = ("tlsDetails",)
# The principal SQS reports as the sender of the messages EventBridge delivers.
_EVENTBRIDGE_SENDER = "AROAEVENTBRIDGESENDER:eventbridge"


def envelope(record: Mapping[str, Any]) -> dict[str, Any]:
    """The EventBridge event carrying one CloudTrail record."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": DETAIL_TYPE,
        "source": "aws.ec2",
        "account": record["recipientAccountId"],
        "time": record["eventTime"],
        "region": record["awsRegion"],
        "resources": [],
        "detail": {k: v for k, v in record.items() if k not in _NOT_IN_EVENTS},
    }


def queue_arn(account: str, region: str) -> str:
    return f"arn:aws:sqs:{region}:{account}:{QUEUE_NAME}"


def sqs_event(bodies: Iterable[str | Mapping[str, Any]], arn: str) -> dict[str, Any]:
    """Lambda's SQS event for messages with these bodies (mappings are sent as JSON)."""
    now = str(int(time.time() * 1000))
    records = []
    for body in bodies:
        text = body if isinstance(body, str) else json.dumps(body)
        records.append(
            {
                "messageId": str(uuid.uuid4()),
                "receiptHandle": f"AQEB{uuid.uuid4().hex}{uuid.uuid4().hex}",
                "body": text,
                "attributes": {
                    "ApproximateReceiveCount": "1",
                    "SentTimestamp": now,
                    "SenderId": _EVENTBRIDGE_SENDER,
                    "ApproximateFirstReceiveTimestamp": now,
                },
                "messageAttributes": {},
                # SQS's checksum of the body, not a security measure.
                "md5OfBody": hashlib.md5(text.encode(), usedforsecurity=False).hexdigest(),
                "eventSource": "aws:sqs",
                "eventSourceARN": arn,
                "awsRegion": arn.split(":")[3],
            }
        )
    return {"Records": records}
