"""The responder's message edits through slack_sdk to the Slack stand-in: off a click's
answer an edit Slack failed with a 5xx or a lost connection is tried once more."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from slack_sdk import WebClient

from sandbox.slack_api import SlackStandIn
from sgrevert import blocks
from sgrevert.deadline import Deadline
from sgrevert.replies import SlackReplies
from tests.support import BOT_TOKEN

CHANNEL = "C0SECURITY"
EDIT = blocks.notice("Denied by <@U0ALICE>; 1 rule revoked.")


@pytest.fixture
def slack() -> Iterator[SlackStandIn]:
    with SlackStandIn(bot_token=BOT_TOKEN) as stand_in:
        yield stand_in


def posted(slack: SlackStandIn) -> tuple[WebClient, str]:
    client = WebClient(token=BOT_TOKEN, base_url=slack.api_url)
    ts = str(client.chat_postMessage(channel=CHANNEL, text="reverting…")["ts"])
    return client, ts


@pytest.mark.parametrize("status", [500, 503, 0], ids=["500", "503", "connection dropped"])
def test_an_edit_slack_failed_is_made_on_the_second_try(slack: SlackStandIn, status: int) -> None:
    client, ts = posted(slack)
    slack.fail("chat.update", times=1, status=status)

    assert SlackReplies(client).show(EDIT, CHANNEL, ts, "ev-1") is True

    assert [u.text for u in slack.updates] == [EDIT.text]


def test_an_edit_slack_refuses_is_not_tried_again(slack: SlackStandIn) -> None:
    client, ts = posted(slack)
    slack.fail("chat.update", times=1, error="message_not_found")
    slack.fail("chat.update", times=1, status=500)  # a second try would meet this

    assert SlackReplies(client).show(EDIT, CHANNEL, ts, "ev-1") is False

    assert slack.updates == []


def test_on_a_clicks_answer_an_edit_is_tried_once(slack: SlackStandIn) -> None:
    """The answer has no time for a second try: the caller hands the edit over instead."""
    client, ts = posted(slack)
    slack.fail("chat.update", times=1, status=500)

    assert SlackReplies(client, Deadline.in_seconds(2.5)).show(EDIT, CHANNEL, ts, "ev-1") is False

    assert slack.updates == []
