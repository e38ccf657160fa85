"""The CloudTrail Lake SQL the detector runs: pure text, so tests and the CLI share it."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from sgrevert.model import WATCHED_EVENTS

_STORE_ID = re.compile(r"^[A-Za-z0-9-]{1,128}$")
ACCOUNT_ID = re.compile(r"^\d{12}$")
REGION_NAME = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d{1,2}$")


def lake_time(moment: datetime) -> str:
    """Lake compares `eventTime` (a timestamp) with a literal in this form."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def security_group_changes(
    store_id: str,
    start: datetime,
    end: datetime,
    *,
    account: str | None = None,
    region: str | None = None,
) -> str:
    """Successful EC2 security-group rule changes with `start <= eventTime < end`,
    optionally only in one account (`recipientAccountId`) and/or region.

    Only the whole record (`eventJson`) and the two keys used for ordering and logging
    are selected; every expression is aliased, since Lake names unaliased ones `_col0`.
    """
    if not _STORE_ID.match(store_id):
        raise ValueError(f"not an event data store id: {store_id!r}")
    if end <= start:
        raise ValueError(f"empty window: {start} .. {end}")
    if account is not None and not ACCOUNT_ID.match(account):
        raise ValueError(f"not an AWS account id (12 digits): {account!r}")
    if region is not None and not REGION_NAME.match(region):
        raise ValueError(f"not an AWS region name: {region!r}")
    scope = (f"AND recipientAccountId = '{account}' " if account else "") + (
        f"AND awsRegion = '{region}' " if region else ""
    )
    names = ", ".join(f"'{name}'" for name in sorted(WATCHED_EVENTS))
    # Only validated values are interpolated: the store id, account and region (checked
    # above), our own event names and formatted timestamps. Lake has no bind parameters
    # for ad-hoc queries.
    return (
        "SELECT eventID AS event_id, eventTime AS event_time, eventJson AS event_json "  # noqa: S608
        f"FROM {store_id} "
        "WHERE eventSource = 'ec2.amazonaws.com' "
        f"AND eventName IN ({names}) "
        "AND errorCode IS NULL "
        f"{scope}"
        f"AND eventTime >= '{lake_time(start)}' "
        f"AND eventTime < '{lake_time(end)}' "
        "ORDER BY eventTime, eventID"
    )
