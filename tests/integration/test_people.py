"""Slack users by email (`sgrevert.people`) against the Slack stand-in, through slack_sdk's
WebClient as the detector builds it."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from sandbox.slack_api import SlackStandIn
from sgrevert import people
from sgrevert.people import PeopleMemo, SlackPeople
from sgrevert.settings import SlackSettings
from sgrevert.slack import SlackCredentials, web_client
from tests.support import BOT_TOKEN, SIGNING_SECRET

ALICE = "alice@example.com"


@pytest.fixture
def slack() -> Iterator[SlackStandIn]:
    with SlackStandIn(bot_token=BOT_TOKEN) as stand_in:
        stand_in.add_user("U0ALICE", ALICE, name="alice", real_name="Alice Doe")
        yield stand_in


def directory(slack: SlackStandIn, memo: PeopleMemo | None = None) -> SlackPeople:
    client = web_client(
        SlackSettings(secret_arn="unused", api_url=slack.api_url),
        SlackCredentials(bot_token=BOT_TOKEN, signing_secret=SIGNING_SECRET),
        timeout=5,
    )
    return SlackPeople(client, memo if memo is not None else PeopleMemo())


def lookups(slack: SlackStandIn) -> list[str]:
    return [
        str(params.get("email")) for method, params in slack.calls if method.startswith("users.")
    ]


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name.startswith("sgrevert-detect") and r.levelno >= logging.WARNING
    ]


def test_a_member_is_found_and_remembered(slack: SlackStandIn) -> None:
    people_ = directory(slack)

    assert people_.user_for(ALICE) == "U0ALICE"
    assert people_.user_for(f"  {ALICE} ") == "U0ALICE"
    assert lookups(slack) == [ALICE]  # asked once


def test_someone_not_in_the_workspace_is_none_and_remembered(
    slack: SlackStandIn, caplog: pytest.LogCaptureFixture
) -> None:
    people_ = directory(slack)

    assert people_.user_for("contractor@example.org") is None
    assert people_.user_for("contractor@example.org") is None
    assert lookups(slack) == ["contractor@example.org"]  # a miss is an answer too
    assert warnings(caplog) == []  # and nothing went wrong


def test_a_deactivated_member_gets_no_mention(slack: SlackStandIn) -> None:
    slack.add_user("U0GONE", "gone@example.com", deleted=True)

    assert directory(slack).user_for("gone@example.com") is None


@pytest.mark.parametrize("actor", ["", "   ", "alice", "AROAEXAMPLE:i-0123456789abcdef0"])
def test_what_is_not_an_email_is_not_asked(slack: SlackStandIn, actor: str) -> None:
    assert directory(slack).user_for(actor) is None
    assert lookups(slack) == []


def test_without_the_email_scope_it_logs_once_and_stops_asking(
    slack: SlackStandIn, caplog: pytest.LogCaptureFixture
) -> None:
    # Given an app installed without users:read.email
    slack.users_email_scope = False
    people_ = directory(slack)

    # When several actors are looked up
    found = [people_.user_for(email) for email in (ALICE, "bob@example.com", ALICE)]

    # Then none is found, Slack was asked once, and the one warning names the scope
    assert found == [None, None, None]
    assert lookups(slack) == [ALICE]
    assert people_.stopped
    (warning,) = warnings(caplog)
    assert "users:read.email" in warning
    assert "chat:write" in warning  # what the token has, as Slack said


def test_another_slack_error_is_logged_once_and_asked_again_later(
    slack: SlackStandIn, caplog: pytest.LogCaptureFixture
) -> None:
    # Given Slack failing the first two lookups
    slack.fail("users.lookupByEmail", times=2, status=500)
    people_ = directory(slack)

    # Then both are None, with one warning naming the scope and Slack's answer
    assert people_.user_for(ALICE) is None
    assert people_.user_for("bob@example.com") is None
    (warning,) = warnings(caplog)
    assert "users:read.email" in warning and "internal_error" in warning
    # and a failure is not an answer: the next lookup asks again and finds her
    assert people_.user_for(ALICE) == "U0ALICE"
    assert not people_.stopped
    assert lookups(slack) == [ALICE, "bob@example.com", ALICE]


def test_an_application_error_is_none_too(
    slack: SlackStandIn, caplog: pytest.LogCaptureFixture
) -> None:
    slack.fail("users.lookupByEmail", error="ratelimited")

    assert directory(slack).user_for(ALICE) is None
    (warning,) = warnings(caplog)
    assert "ratelimited" in warning


def test_slack_unreachable_is_none_and_logged_once(
    slack: SlackStandIn, caplog: pytest.LogCaptureFixture
) -> None:
    # Given connections dropped unanswered (slack_sdk resends once after each)
    slack.fail("users.lookupByEmail", times=4, status=0)
    people_ = directory(slack)

    assert people_.user_for(ALICE) is None
    assert people_.user_for("bob@example.com") is None
    (warning,) = warnings(caplog)
    assert "did not answer" in warning and "users:read.email" in warning


def test_a_bad_token_is_none(slack: SlackStandIn) -> None:
    client = web_client(
        SlackSettings(secret_arn="unused", api_url=slack.api_url),
        SlackCredentials(bot_token="xoxb-wrong", signing_secret=SIGNING_SECRET),
    )

    assert SlackPeople(client, PeopleMemo()).user_for(ALICE) is None


def test_the_process_memo_is_shared_by_workspace_and_token(slack: SlackStandIn) -> None:
    # Given the default memo: the process's (a warm Lambda keeps it between runs)
    people.reset()
    try:
        settings = SlackSettings(secret_arn="unused", api_url=slack.api_url)
        token = SlackCredentials(bot_token=BOT_TOKEN, signing_secret=SIGNING_SECRET)

        # When two runs each build their own client and SlackPeople
        first = SlackPeople(web_client(settings, token)).user_for(ALICE)
        second = SlackPeople(web_client(settings, token)).user_for(ALICE)

        # Then the second run reuses the first one's answer
        assert first == second == "U0ALICE"
        assert lookups(slack) == [ALICE]
        # and another Slack (another URL) has a memo of its own
        with SlackStandIn(bot_token=BOT_TOKEN) as other:
            elsewhere = SlackSettings(secret_arn="unused", api_url=other.api_url)
            assert SlackPeople(web_client(elsewhere, token)).user_for(ALICE) is None
            assert lookups(other) == [ALICE]
        # and reset() forgets
        people.reset()
        assert SlackPeople(web_client(settings, token)).user_for(ALICE) == "U0ALICE"
        assert lookups(slack) == [ALICE, ALICE]
    finally:
        people.reset()
