"""The real-time path over the sandbox: the same change on EventBridge and in Lake."""

from __future__ import annotations

import pytest

from sandbox.servers import ALICE, Sandbox
from sgrevert.model import State
from tests.e2e.story import authorize, posted_event_ids, rule_ids

pytestmark = pytest.mark.e2e


def test_a_change_on_both_paths_is_posted_once_and_can_be_denied(box: Sandbox) -> None:
    # Given a rule added in a member account, which EventBridge delivers at once
    rules_before = rule_ids(box, "web")
    made = authorize(box, "web", "0.0.0.0/0", 22)
    (record,) = box.trail.records

    # When the event queue hands its EventBridge copy to the detector
    response = box.deliver_events([record])

    # Then it is posted right away, with nothing left to retry
    assert response == {"batchItemFailures": []}
    assert posted_event_ids(box) == [made.event_id]

    # When CloudTrail Lake, the backstop, gets the same call and the schedule runs
    box.deliver_trail()
    report = box.run_detector()

    # Then Lake finds it recorded and posts nothing: one change, one message
    assert (report["rows"], report["recorded"], report["already_recorded"]) == (1, 0, 1)
    assert report["posted"] == 0
    assert posted_event_ids(box) == [made.event_id]

    # and the message works like any other: Deny reverts exactly that rule
    assert box.click(made.event_id, "deny", ALICE).status_code == 200
    box.wait_for_reverts()
    assert box.record(made.event_id).state is State.REVERTED
    assert rule_ids(box, "web") == rules_before


def test_eventbridge_late_after_lake_posts_nothing_more(box: Sandbox) -> None:
    # Given a change Lake delivered first (EventBridge's copy arrives late)
    made = authorize(box, "db", "10.9.0.0/16", 5432)
    (record,) = box.trail.records
    box.deliver_trail()
    assert box.run_detector()["posted"] == 1

    # When the EventBridge copy reaches the detector, twice (SQS delivers at least once)
    first = box.deliver_events([record])
    again = box.deliver_events([record])

    # Then both batches succeed and the channel still has one message for it
    assert first == again == {"batchItemFailures": []}
    assert posted_event_ids(box) == [made.event_id]
    assert len(box.slack.posted) == 1
