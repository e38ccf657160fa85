"""EventBridge's `AWS API Call via CloudTrail` events: the pattern, and the record inside."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from sgrevert.cloudtrail import SkipRecord, parse_record
from sgrevert.eventbridge import (
    MalformedEvent,
    cloudtrail_record,
    event_pattern,
    with_envelope_account,
)
from sgrevert.model import WATCHED_EVENTS
from tests.support import load_event


def test_the_pattern_names_exactly_the_calls_the_parser_handles() -> None:
    pattern = event_pattern()

    assert pattern["source"] == ["aws.ec2"]
    assert pattern["detail-type"] == ["AWS API Call via CloudTrail"]
    assert pattern["detail"]["eventSource"] == ["ec2.amazonaws.com"]
    assert set(pattern["detail"]["eventName"]) == WATCHED_EVENTS
    assert {"ModifySecurityGroupRules", "ModifyManagedPrefixList"} <= WATCHED_EVENTS


def test_a_prefix_list_edit_from_eventbridge_reads_as_the_lake_record() -> None:
    """Given a real-shaped ModifyManagedPrefixList event (the record as `detail`), when the
    record is taken out, then it parses to the same prefix-list change as Lake's copy."""
    event = load_event("eventbridge/modify_prefix_list_add")

    change = parse_record(cloudtrail_record(event))

    assert change == parse_record(load_event("modify_prefix_list_add"))
    assert change.prefix_list is not None and change.group_id == change.prefix_list.list_id


def test_a_record_that_is_no_change_is_still_a_record() -> None:
    # A failed call is CloudTrail's to report and the parser's to skip: not malformed
    event = load_event("eventbridge/authorize_ingress_ipv4")
    event["detail"]["errorCode"] = "Client.InvalidPermission.Duplicate"

    assert cloudtrail_record(event)["errorCode"] == "Client.InvalidPermission.Duplicate"


def _without(event: dict[str, Any], *path: str) -> dict[str, Any]:
    changed = copy.deepcopy(event)
    target = changed
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    return changed


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("not an object", "not a JSON object"),
        ("scheduled event", "detail-type 'Scheduled Event'"),
        ("no detail", "no detail object"),
        ("no eventID", "no eventID"),
        ("blank eventID", "no eventID"),
    ],
)
def test_anything_else_is_malformed(case: str, reason: str) -> None:
    event = load_event("eventbridge/authorize_ingress_ipv4")
    cases: dict[str, Any] = {
        "not an object": ["AWS API Call via CloudTrail"],
        "scheduled event": {**event, "detail-type": "Scheduled Event"},
        "no detail": _without(event, "detail"),
        "no eventID": _without(event, "detail", "eventID"),
        "blank eventID": {**event, "detail": {**event["detail"], "eventID": " "}},
    }

    with pytest.raises(MalformedEvent, match=reason):
        cloudtrail_record(cases[case])


# -- records without recipientAccountId (2019-2021) ------------------------------------------

OLD_EVENT = "eventbridge/authorize_ingress_2019_no_recipient"


def test_given_a_2019_record_without_recipient_account_then_the_envelope_account_is_used() -> None:
    # Given a real-shaped 2019 event: its detail has no recipientAccountId (and no rule ids),
    # so the record alone names no account
    event = load_event(OLD_EVENT)
    assert "recipientAccountId" not in event["detail"]
    with pytest.raises(SkipRecord, match="no recipientAccountId"):
        parse_record(event["detail"])

    # When the detector's EventBridge path takes the record out of the envelope
    record = cloudtrail_record(event)

    # Then the envelope's account stands in, and the record is a change in that account
    assert record["recipientAccountId"] == "444455556666"
    change = parse_record(record)
    assert (change.account, change.region, change.group_id) == (
        "444455556666",
        "us-east-1",
        "sg-0e4a7c9b1d3f50719",
    )
    assert "recipientAccountId" not in event["detail"]  # the event itself is left as it was


def test_given_a_record_with_its_own_recipient_account_then_it_is_kept() -> None:
    event = load_event("eventbridge/authorize_ingress_ipv4")

    record = with_envelope_account(event["detail"], "999988887777")

    assert record is event["detail"]
    assert record["recipientAccountId"] == "111122223333"


@pytest.mark.parametrize("account", [None, "", "not-an-account", "44445555666", "444455556666\n"])
def test_given_an_envelope_without_a_usable_account_then_the_record_is_left_for_the_parser_to_skip(
    account: Any,
) -> None:
    event = load_event(OLD_EVENT)
    event["account"] = account

    record = cloudtrail_record(event)

    assert "recipientAccountId" not in record
    with pytest.raises(SkipRecord, match="no recipientAccountId"):
        parse_record(record)


@pytest.mark.parametrize("blank", ["", "  ", None])
def test_given_a_blank_recipient_account_then_the_envelope_account_stands_in(blank: Any) -> None:
    event = load_event(OLD_EVENT)
    event["detail"]["recipientAccountId"] = blank

    assert cloudtrail_record(event)["recipientAccountId"] == "444455556666"
