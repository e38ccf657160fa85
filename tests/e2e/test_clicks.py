"""Clicks that must change nothing, and the request shapes API Gateway may send."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import requests

from sandbox.apigw import FORM
from sandbox.servers import ALICE, Sandbox
from sgrevert.model import State
from tests.e2e.story import authorize, buttons, rule_ids

pytestmark = pytest.mark.e2e

STALE_SECONDS = 6 * 60  # Slack's window is 5 minutes


def test_forged_stale_and_unsigned_clicks_get_401_and_change_nothing(box: Sandbox) -> None:
    # Given a posted change
    made = authorize(box, "web", "0.0.0.0/0", 22)
    box.deliver_trail()
    box.run_detector()
    rules_before = rule_ids(box, "web")
    message_before = box.posted(made.event_id).message

    # When Deny is clicked with a forged signature, a stale one, and none
    forged = box.click(made.event_id, "deny", ALICE, signing_secret="not-the-signing-secret")
    stale = box.click(made.event_id, "deny", ALICE, timestamp=int(time.time()) - STALE_SECONDS)
    bare = requests.post(
        box.gateway.url,
        data=b"payload=%7B%22type%22%3A%22block_actions%22%7D",
        headers={"Content-Type": FORM},
        timeout=30,
    )
    box.wait_for_reverts()
    message = box.posted(made.event_id).message

    # Then each is refused with 401
    assert [forged.status_code, stale.status_code, bare.status_code] == [401, 401, 401]
    # and nothing changed: the record, the message, the rules, and no revert was started
    record = box.record(made.event_id)
    assert record.state is State.PENDING
    assert record.decided_by is None
    assert box.slack.updates == []
    assert box.slack.ephemerals == []
    assert message == message_before
    assert buttons(message.blocks) == ["approve", "approve_for", "deny"]
    assert rule_ids(box, "web") == rules_before
    assert [i for i in box.lambdas.invocations if i.invocation_type == "Event"] == []


@pytest.fixture
def plain_body_box() -> Iterator[Sandbox]:
    """API Gateway without binary media types: the form body arrives as plain text."""
    with Sandbox(binary_media_types=()) as sandbox:
        yield sandbox


def test_a_click_works_when_api_gateway_passes_the_body_as_text(
    plain_body_box: Sandbox,
) -> None:
    box = plain_body_box
    made = authorize(box, "db", "10.7.0.0/16", 5432)
    box.deliver_trail()
    box.run_detector()

    answer = box.click(made.event_id, "deny", ALICE)
    box.wait_for_reverts()

    assert answer.status_code == 200
    (exchange,) = box.gateway.exchanges
    assert exchange.event["isBase64Encoded"] is False
    assert exchange.event["body"].startswith("payload=")
    assert box.record(made.event_id).state is State.REVERTED
    assert not set(made.rule_ids) & rule_ids(box, "db")
