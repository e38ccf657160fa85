"""EventBridge's `AWS API Call via CloudTrail` events: which ones sgrevert takes, and the
CloudTrail record inside one.

Pure: no AWS calls. CloudTrail hands EventBridge each management event a trail records;
the event's `detail` is the CloudTrail record (`eventID`, `recipientAccountId`,
`requestParameters`, `responseElements`...), which `cloudtrail.parse_record` reads as it
reads a record from Lake. Records from before about 2021 lack `recipientAccountId`; the
envelope's `account` (the account the call was made in) stands in for it
(`with_envelope_account`), here and in `sgrevert replay`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from sgrevert.cloudtrail import EC2_SOURCE
from sgrevert.model import WATCHED_EVENTS

_ACCOUNT = re.compile(r"\d{12}")

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
    return with_envelope_account(detail, event.get("account"))


def with_envelope_account(detail: Mapping[str, Any], account: Any) -> Mapping[str, Any]:
    """The record, with the envelope's `account` as its `recipientAccountId` when it has
    none (2019-2021 records lack it); otherwise the record unchanged. The envelope's
    account is the account the call was made in, and stays so when a member account's
    rule forwards the event to the central bus."""
    recipient = detail.get("recipientAccountId")
    if isinstance(recipient, str) and recipient.strip():
        return detail
    if not isinstance(account, str) or not _ACCOUNT.fullmatch(account):
        return detail
    return {**detail, "recipientAccountId": account}
