"""The detector over the sandbox: overlapping runs and a Slack outage."""

from __future__ import annotations

import pytest

from sandbox.servers import Sandbox
from sgrevert.model import State
from tests.e2e.story import authorize, posted_event_ids

pytestmark = pytest.mark.e2e


def test_a_second_overlapping_run_posts_each_change_once(box: Sandbox) -> None:
    # Given two changes detected and posted by one run
    first = [authorize(box, "web", "0.0.0.0/0", 22), authorize(box, "db", "10.9.0.0/16", 5432)]
    box.deliver_trail()
    assert box.run_detector()["posted"] == 2

    # When a third change lands and the next run's window covers all three
    third = authorize(box, "web", "192.0.2.0/24", 8443)
    box.deliver_trail()
    report = box.run_detector()

    # Then the run saw all three but recorded and posted only the new one
    assert report["rows"] == 3
    assert (report["recorded"], report["already_recorded"], report["posted"]) == (1, 2, 1)
    # and each change has exactly one message in the channel
    expected = sorted(m.event_id for m in (*first, third))
    assert sorted(posted_event_ids(box)) == expected

    # When a third run finds nothing new
    assert box.run_detector()["posted"] == 0
    assert len(box.slack.posted) == 3


def test_a_slack_outage_loses_nothing_and_the_next_run_posts(box: Sandbox) -> None:
    # Given a change in Lake while Slack is down
    made = authorize(box, "web", "0.0.0.0/0", 3389)
    box.deliver_trail()
    with box.slack.outage():
        report = box.run_detector()

    # Then it is recorded but not posted
    assert report["recorded"] == 1
    assert report["posted"] == 0
    assert report["post_failed"] >= 1
    assert box.slack.posted == []
    record = box.record(made.event_id)
    assert record.state is State.PENDING
    assert not record.posted

    # When Slack is back and the detector runs again
    report = box.run_detector()

    # Then the change is posted, once, and can be decided as usual
    assert report["posted"] == 1
    assert posted_event_ids(box) == [made.event_id]
    assert box.record(made.event_id).posted
