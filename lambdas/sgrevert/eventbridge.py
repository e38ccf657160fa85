"""EventBridge's `AWS API Call via CloudTrail` events: which ones sgrevert takes, and the
CloudTrail record inside one.

Pure: no AWS calls. CloudTrail hands EventBridge each management event a trail records;
the event's `detail` is the CloudTrail record (`eventID`, `recipientAccountId`,
`requestParameters`, `responseElements`...), which `cloudtrail.parse_record` reads as it
reads a record from Lake.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sgrevert.cloudtrail import EC2_SOURCE
from sgrevert.model import WATCHED_EVENTS

DETAIL_TYPE = "AWS API Call via CloudTrail"
SOURCE = "aws.ec2"


class MalformedEvent(ValueError):
    """Not an EventBridge event carrying a CloudTrail record: nothing to record, ever."""


def event_pattern() -> dict[str, Any]:
    """The EventBridge pattern for the calls the detector handles: the member accounts'
    forwarding rules and the central bus's rule both match exactly these."""
    return {
        "source": [SOURCE],
        "detail-type": [DETAIL_TYPE],
        "detail": {"eventSource": [EC2_SOURCE], "eventName": sorted(WATCHED_EVENTS)},
    }


def cloudtrail_record(event: Any) -> Mapping[str, Any]:
    """The CloudTrail record an `AWS API Call via CloudTrail` event carries.

    Raises MalformedEvent for anything else. A record that is not a change to post (a
    failed call, another service) is returned: the parser skips it with a reason, as it
    does for Lake rows.
    """
    if not isinstance(event, Mapping):
        raise MalformedEvent("the message is not a JSON object")
    detail_type = event.get("detail-type")
    if detail_type != DETAIL_TYPE:
        raise MalformedEvent(f"detail-type {str(detail_type)[:80]!r} is not {DETAIL_TYPE!r}")
    detail = event.get("detail")
    if not isinstance(detail, Mapping):
        raise MalformedEvent("the event has no detail object")
    event_id = detail.get("eventID")
    if not isinstance(event_id, str) or not event_id.strip():
        raise MalformedEvent("the CloudTrail record has no eventID")
    return detail
