"""The Slack Web API stand-in, driven only through slack_sdk's WebClient (and plain HTTP for
response URLs, as Slack's own clients post them)."""

from __future__ import annotations

import contextlib
import json
import math
import re
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import (
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)

from sandbox.slack_api import SlackStandIn
from tests.support import BOT_TOKEN

CHANNEL = "C0SECURITY"
SECTION = {"type": "section", "text": {"type": "mrkdwn", "text": "*sg-0001*: 0.0.0.0/0 on 22"}}


@pytest.fixture
def slack() -> Iterator[SlackStandIn]:
    with SlackStandIn(bot_token=BOT_TOKEN) as stand_in:
        yield stand_in


@pytest.fixture
def client(slack: SlackStandIn) -> WebClient:
    return WebClient(token=BOT_TOKEN, base_url=slack.api_url, timeout=5)


def slack_error(error: pytest.ExceptionInfo[SlackApiError]) -> tuple[int, str]:
    return error.value.response.status_code, str(error.value.response["error"])


def test_a_post_is_recorded_and_answered_like_slack(slack: SlackStandIn, client: WebClient) -> None:
    # When a message with blocks is posted
    answer = client.chat_postMessage(channel=CHANNEL, text="New rule on sg-0001", blocks=[SECTION])
    # Then Slack's answer carries the channel, a ts and the message
    assert answer["ok"] is True
    assert answer["channel"] == CHANNEL
    assert re.fullmatch(r"\d{10}\.\d{6}", answer["ts"])  # Unix time, to the microsecond
    assert answer["message"]["text"] == "New rule on sg-0001"
    assert answer["message"]["blocks"] == [SECTION]
    # And the stand-in recorded it
    [posted] = slack.posted
    assert (posted.channel, posted.ts, posted.text, posted.blocks) == (
        CHANNEL,
        answer["ts"],
        "New rule on sg-0001",
        [SECTION],
    )
    assert slack.calls[0][0] == "chat.postMessage"
    # And the next message gets a later ts, in the thread when asked
    reply = client.chat_postMessage(channel=CHANNEL, text="detail", thread_ts=answer["ts"])
    assert reply["ts"] > answer["ts"]
    assert slack.posted[1].thread_ts == answer["ts"]


def test_blocks_may_arrive_form_encoded_as_json_text(
    slack: SlackStandIn, client: WebClient
) -> None:
    client.api_call(
        "chat.postMessage",
        data={"channel": CHANNEL, "text": "fallback", "blocks": json.dumps([SECTION])},
    )
    assert slack.posted[0].blocks == [SECTION]


def test_an_update_changes_the_current_version(slack: SlackStandIn, client: WebClient) -> None:
    # Given a posted message
    ts = client.chat_postMessage(channel=CHANNEL, text="pending", blocks=[SECTION])["ts"]
    # When it is updated
    answer = client.chat_update(channel=CHANNEL, ts=ts, text="Denied by alice")
    # Then the current version changed, the original stays in post order, the edit is recorded
    assert answer["ts"] == ts
    assert slack.message(CHANNEL, ts).text == "Denied by alice"
    assert slack.message(CHANNEL, ts).blocks is None
    assert slack.posted[0].text == "pending"
    assert [(u.ts, u.text, u.via) for u in slack.updates] == [
        (ts, "Denied by alice", "chat.update")
    ]
    assert [m.text for m in slack.messages(CHANNEL)] == ["Denied by alice"]


def test_updating_an_unknown_message_fails(client: WebClient) -> None:
    with pytest.raises(SlackApiError) as error:
        client.chat_update(channel=CHANNEL, ts="1700000000.999999", text="x")
    assert slack_error(error) == (200, "message_not_found")


def test_an_ephemeral_is_recorded(slack: SlackStandIn, client: WebClient) -> None:
    answer = client.chat_postEphemeral(channel=CHANNEL, user="U0BOB", text="Only admins may deny")
    assert answer["ok"] is True
    assert "message_ts" in answer
    [ephemeral] = slack.ephemerals
    assert (ephemeral.channel, ephemeral.user, ephemeral.text) == (
        CHANNEL,
        "U0BOB",
        "Only admins may deny",
    )
    assert slack.posted == []


def test_auth(slack: SlackStandIn, client: WebClient) -> None:
    assert client.auth_test()["user_id"] == "U0SGREVERT"
    with pytest.raises(SlackApiError) as error:
        WebClient(token="xoxb-wrong", base_url=slack.api_url).chat_postMessage(
            channel=CHANNEL, text="x"
        )
    assert slack_error(error) == (200, "invalid_auth")
    with pytest.raises(SlackApiError) as error:
        WebClient(base_url=slack.api_url).auth_test()
    assert slack_error(error) == (200, "not_authed")
    assert slack.posted == []


def test_unknown_channels_and_empty_messages_are_refused(client: WebClient) -> None:
    with pytest.raises(SlackApiError) as error:
        client.chat_postMessage(channel="not-a-channel", text="x")
    assert slack_error(error) == (200, "channel_not_found")
    with pytest.warns(UserWarning, match="text"), pytest.raises(SlackApiError) as error:
        client.chat_postMessage(channel=CHANNEL)
    assert slack_error(error) == (200, "no_text")


def test_only_listed_channels_exist_when_listed(slack: SlackStandIn, client: WebClient) -> None:
    slack.channels = {CHANNEL}
    client.chat_postMessage(channel=CHANNEL, text="x")
    with pytest.raises(SlackApiError) as error:
        client.chat_postMessage(channel="C0OTHER", text="x")
    assert slack_error(error) == (200, "channel_not_found")


@pytest.mark.parametrize(
    ("blocks", "pointer"),
    [
        ([SECTION] * 51, "/blocks]"),
        (
            [{"type": "section", "fields": [{"type": "mrkdwn", "text": "f"}] * 11}],
            "/blocks/0/fields",
        ),
        ([{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}], "/blocks/0/text"),
        ([{"type": "section"}], "/blocks/0]"),
        (
            [
                {
                    "type": "actions",
                    "elements": [
                        {"type": "button", "text": {"type": "plain_text", "text": "D" * 76}}
                    ],
                }
            ],
            "/blocks/0/elements/0/text",
        ),
    ],
)
def test_oversize_blocks_are_invalid(
    slack: SlackStandIn, client: WebClient, blocks: list[dict[str, Any]], pointer: str
) -> None:
    with pytest.raises(SlackApiError) as error:
        client.chat_postMessage(channel=CHANNEL, text="fallback", blocks=blocks)
    assert slack_error(error) == (200, "invalid_blocks")
    assert pointer in error.value.response["errors"][0]
    assert slack.posted == []


def test_a_response_url_replaces_the_original_five_times_at_most(
    slack: SlackStandIn, client: WebClient
) -> None:
    # Given a posted message and the response URL of a click on it
    ts = client.chat_postMessage(channel=CHANNEL, text="pending")["ts"]
    url = slack.new_response_url(CHANNEL, ts)
    # When it is used six times
    answers = [
        requests.post(url, json={"replace_original": True, "text": f"edit {n}"}, timeout=5)
        for n in range(6)
    ]
    # Then five edits land and the sixth is refused
    assert [a.status_code for a in answers] == [200] * 5 + [404]
    assert answers[0].json() == {"ok": True}
    assert answers[5].json()["error"] == "used_url"
    assert slack.message(CHANNEL, ts).text == "edit 4"
    assert [u.via for u in slack.updates] == ["response_url"] * 5
    assert [p.error for p in slack.response_url_posts] == [None] * 5 + ["used_url"]


def test_a_response_url_expires(slack: SlackStandIn, client: WebClient) -> None:
    ts = client.chat_postMessage(channel=CHANNEL, text="pending")["ts"]
    url = slack.new_response_url(CHANNEL, ts)
    slack.response_url_ttl_seconds = 0  # as if 30 minutes had passed
    answer = requests.post(url, json={"replace_original": True, "text": "late"}, timeout=5)
    assert (answer.status_code, answer.json()["error"]) == (404, "expired_url")
    assert slack.message(CHANNEL, ts).text == "pending"


def test_a_response_url_can_reply_in_channel_or_to_the_clicker(
    slack: SlackStandIn, client: WebClient
) -> None:
    ts = client.chat_postMessage(channel=CHANNEL, text="pending")["ts"]
    url = slack.new_response_url(CHANNEL, ts)
    requests.post(url, json={"text": "only you can see this"}, timeout=5).raise_for_status()
    requests.post(
        url, json={"response_type": "in_channel", "text": "for everyone"}, timeout=5
    ).raise_for_status()
    assert [e.text for e in slack.ephemerals] == ["only you can see this"]
    assert [m.text for m in slack.posted] == ["pending", "for everyone"]
    requests.post(url, json={"delete_original": True}, timeout=5).raise_for_status()
    assert slack.message(CHANNEL, ts).deleted


def test_injected_http_errors_then_recovery(slack: SlackStandIn, client: WebClient) -> None:
    # Given two failures of chat.postMessage
    slack.fail("chat.postMessage", times=2, status=503)
    # Then the first two posts fail with HTTP 503, other methods work, the third post lands
    for _ in range(2):
        with pytest.raises(SlackApiError) as error:
            client.chat_postMessage(channel=CHANNEL, text="x")
        assert error.value.response.status_code == 503
    client.auth_test()
    client.chat_postMessage(channel=CHANNEL, text="x")
    assert len(slack.posted) == 1


def test_an_injected_slack_error(slack: SlackStandIn, client: WebClient) -> None:
    slack.fail(error="fatal_error")
    with pytest.raises(SlackApiError) as error:
        client.chat_postMessage(channel=CHANNEL, text="x")
    assert slack_error(error) == (200, "fatal_error")
    assert slack.posted == []


def test_server_errors_are_retried_by_the_server_error_handler(
    slack: SlackStandIn, client: WebClient
) -> None:
    slack.fail("chat.postMessage", status=500)
    client.retry_handlers.append(ServerErrorRetryHandler(max_retry_count=1))
    client.chat_postMessage(channel=CHANNEL, text="x")
    assert len(slack.posted) == 1
    assert [method for method, _ in slack.calls] == ["chat.postMessage"] * 2


def test_a_dropped_connection_is_retried_by_the_default_handler(
    slack: SlackStandIn, client: WebClient
) -> None:
    slack.fail("chat.postMessage", status=0)
    client.chat_postMessage(channel=CHANNEL, text="x")
    assert len(slack.posted) == 1


def test_an_outage_fails_everything_until_it_ends(slack: SlackStandIn, client: WebClient) -> None:
    ts = client.chat_postMessage(channel=CHANNEL, text="pending")["ts"]
    url = slack.new_response_url(CHANNEL, ts)
    with slack.outage():
        with pytest.raises(SlackApiError) as error:
            client.chat_postMessage(channel=CHANNEL, text="lost?")
        assert error.value.response.status_code == 503
        with pytest.raises(SlackApiError):
            client.chat_update(channel=CHANNEL, ts=ts, text="x")
        assert requests.post(url, json={"text": "x"}, timeout=5).status_code == 503
    client.chat_postMessage(channel=CHANNEL, text="after")
    assert [m.text for m in slack.posted] == ["pending", "after"]


def test_rate_limit_answers_429_with_an_honest_retry_after(
    slack: SlackStandIn, client: WebClient
) -> None:
    # Given one post a minute per channel (a margin no loaded machine uses up)
    slack.rate_limit_per_second = 1 / 60
    started = time.monotonic()
    client.chat_postMessage(channel=CHANNEL, text="first")
    # When a second post follows
    with pytest.raises(SlackApiError) as error:
        client.chat_postMessage(channel=CHANNEL, text="second")
    elapsed = time.monotonic() - started
    # Then it is refused with the seconds left to wait; another channel is not limited
    assert slack_error(error) == (429, "ratelimited")
    retry_after = error.value.response.headers["Retry-After"]
    assert math.ceil(60 - elapsed) <= int(retry_after) <= 60
    assert slack.rate_limited == 1
    client.chat_postMessage(channel="C0OTHER", text="elsewhere")
    client.chat_update(channel=CHANNEL, ts=slack.posted[0].ts, text="updates are not limited")
    assert [m.text for m in slack.posted] == ["first", "elsewhere"]


def test_rate_limited_posts_are_retried_by_the_rate_limit_handler(
    slack: SlackStandIn, client: WebClient
) -> None:
    # Given one post per two seconds per channel (the second post comes well within them)
    # and a client that waits out 429s
    slack.rate_limit_per_second = 0.5
    client.retry_handlers.append(RateLimitErrorRetryHandler(max_retry_count=2))
    # When two posts go out back to back
    started = time.monotonic()
    client.chat_postMessage(channel=CHANNEL, text="one")
    client.chat_postMessage(channel=CHANNEL, text="two")
    # Then the second waited out the Retry-After once and both landed
    assert time.monotonic() - started >= 1
    assert slack.rate_limited == 1
    assert [m.text for m in slack.posted] == ["one", "two"]


# -- message metadata, channel history, and answers that go missing --------------------------

NOTE = {"event_type": "sgrevert_change", "event_payload": {"attempt": "1-abc"}}


def test_history_pages_through_top_level_messages_newest_first_with_metadata_on_request(
    slack: SlackStandIn, client: WebClient
) -> None:
    stamps = [
        client.chat_postMessage(channel=CHANNEL, text=f"m{n}", metadata=NOTE)["ts"]
        for n in range(5)
    ]
    client.chat_postMessage(channel=CHANNEL, text="reply", thread_ts=stamps[0])
    client.chat_postMessage(channel="C0OTHER", text="elsewhere")

    first = client.conversations_history(channel=CHANNEL, limit=2, include_all_metadata=True)
    assert [m["ts"] for m in first["messages"]] == [stamps[4], stamps[3]]
    assert first["messages"][0]["metadata"] == NOTE
    assert first["has_more"] is True
    cursor = first["response_metadata"]["next_cursor"]
    rest = client.conversations_history(channel=CHANNEL, limit=10, cursor=cursor)
    assert [m["ts"] for m in rest["messages"]] == [stamps[2], stamps[1], stamps[0]]
    assert "metadata" not in rest["messages"][0]  # only with include_all_metadata
    assert rest["has_more"] is False
    since = client.conversations_history(channel=CHANNEL, oldest=stamps[3])
    assert [m["ts"] for m in since["messages"]] == [stamps[4]]  # oldest is exclusive


def test_history_without_its_scope_is_refused(slack: SlackStandIn, client: WebClient) -> None:
    slack.history_scope = False
    with pytest.raises(SlackApiError) as refused:
        client.conversations_history(channel=CHANNEL)
    assert slack_error(refused) == (200, "missing_scope")
    assert refused.value.response["needed"] == "channels:history"


def test_a_member_is_found_by_email_as_slack_answers(
    slack: SlackStandIn, client: WebClient
) -> None:
    # Given a member of the workspace
    slack.add_user("U0ALICE", "alice@example.com", name="alice", real_name="Alice Doe")

    # When the bot looks them up by email
    answer = client.users_lookupByEmail(email="alice@example.com")

    # Then Slack's user object comes back, the email in the profile
    assert answer["ok"] is True
    user = answer["user"]
    assert (user["id"], user["team_id"], user["name"], user["real_name"]) == (
        "U0ALICE",
        "T0SANDBOX",
        "alice",
        "Alice Doe",
    )
    assert (user["deleted"], user["is_bot"]) == (False, False)
    assert user["profile"]["email"] == "alice@example.com"
    assert user["profile"]["real_name"] == "Alice Doe"
    assert user["profile"]["display_name"] == "alice"
    # sent as Slack's SDK sends it: a GET with the email in the query, the token in a header
    assert slack.calls[-1] == ("users.lookupByEmail", {"email": "alice@example.com"})


def test_an_unknown_email_is_users_not_found(slack: SlackStandIn, client: WebClient) -> None:
    slack.add_user("U0ALICE", "alice@example.com")
    with pytest.raises(SlackApiError) as missing:
        client.users_lookupByEmail(email="bob@example.com")
    assert slack_error(missing) == (200, "users_not_found")


def test_a_lookup_without_an_email_is_invalid_arguments(client: WebClient) -> None:
    with pytest.raises(SlackApiError) as refused:
        client.users_lookupByEmail(email="")
    assert slack_error(refused) == (200, "invalid_arguments")
    assert refused.value.response["response_metadata"]["messages"] == [
        "[ERROR] missing required field: email"
    ]


def test_a_lookup_without_the_email_scope_names_it(slack: SlackStandIn, client: WebClient) -> None:
    # Given an app installed without users:read.email, and a member it would find
    slack.add_user("U0ALICE", "alice@example.com")
    slack.users_email_scope = False

    # Then Slack refuses, naming the scope it needs and the ones the token has
    with pytest.raises(SlackApiError) as refused:
        client.users_lookupByEmail(email="alice@example.com")
    assert slack_error(refused) == (200, "missing_scope")
    assert refused.value.response["needed"] == "users:read.email"
    provided = refused.value.response["provided"].split(",")
    assert "users:read.email" not in provided
    assert {"chat:write", "users:read"} <= set(provided)


def test_a_lookup_checks_the_token(slack: SlackStandIn) -> None:
    slack.add_user("U0ALICE", "alice@example.com")
    with pytest.raises(SlackApiError) as refused:
        WebClient(token="xoxb-wrong", base_url=slack.api_url).users_lookupByEmail(
            email="alice@example.com"
        )
    assert slack_error(refused) == (200, "invalid_auth")


def test_a_deactivated_member_is_found_marked_deleted(
    slack: SlackStandIn, client: WebClient
) -> None:
    slack.add_user("U0GONE", "gone@example.com", deleted=True)
    user = client.users_lookupByEmail(email="gone@example.com")["user"]
    assert (user["id"], user["deleted"], user["name"]) == ("U0GONE", True, "gone")


def test_a_user_groups_members_are_listed_as_slack_answers(
    slack: SlackStandIn, client: WebClient
) -> None:
    # Given a user group with two members
    slack.usergroups["S0ADMINS"] = ["U0ALICE", "W0BOB"]

    # When the bot lists its users
    answer = client.usergroups_users_list(usergroup="S0ADMINS")

    # Then Slack's answer is the members' ids
    assert answer.data == {"ok": True, "users": ["U0ALICE", "W0BOB"]}
    # sent as slack_sdk sends it: a GET with the group in the query
    assert slack.calls[-1] == ("usergroups.users.list", {"usergroup": "S0ADMINS"})


def test_a_user_group_is_listed_from_a_form_or_json_body_with_optional_arguments(
    slack: SlackStandIn, client: WebClient
) -> None:
    slack.usergroups["S0ADMINS"] = ["U0ALICE"]
    form = {"usergroup": "S0ADMINS", "include_disabled": "true", "team_id": "T0SANDBOX"}
    by_form = client.api_call("usergroups.users.list", data=form)
    by_json = client.api_call("usergroups.users.list", json={"usergroup": "S0ADMINS"})
    assert by_form["users"] == by_json["users"] == ["U0ALICE"]


def test_an_unknown_user_group_is_no_such_subteam(slack: SlackStandIn, client: WebClient) -> None:
    slack.usergroups["S0ADMINS"] = ["U0ALICE"]
    with pytest.raises(SlackApiError) as missing:
        client.usergroups_users_list(usergroup="S0NOBODY")
    assert slack_error(missing) == (200, "no_such_subteam")


def test_a_user_group_listing_without_a_group_is_invalid_arguments(client: WebClient) -> None:
    with pytest.raises(SlackApiError) as refused:
        client.usergroups_users_list(usergroup="")
    assert slack_error(refused) == (200, "invalid_arguments")
    assert refused.value.response["response_metadata"]["messages"] == [
        "[ERROR] missing required field: usergroup"
    ]


def test_a_user_group_listing_without_its_scope_names_it(
    slack: SlackStandIn, client: WebClient
) -> None:
    # Given an app installed without usergroups:read, and a group it would list
    slack.usergroups["S0ADMINS"] = ["U0ALICE"]
    slack.usergroups_scope = False

    # Then Slack refuses, naming the scope it needs and the ones the token has
    with pytest.raises(SlackApiError) as refused:
        client.usergroups_users_list(usergroup="S0ADMINS")
    assert slack_error(refused) == (200, "missing_scope")
    assert refused.value.response["needed"] == "usergroups:read"
    provided = refused.value.response["provided"].split(",")
    assert "usergroups:read" not in provided
    assert {"chat:write", "users:read.email"} <= set(provided)


def test_a_user_group_listing_checks_the_token(slack: SlackStandIn) -> None:
    slack.usergroups["S0ADMINS"] = ["U0ALICE"]
    with pytest.raises(SlackApiError) as refused:
        WebClient(token="xoxb-wrong", base_url=slack.api_url).usergroups_users_list(
            usergroup="S0ADMINS"
        )
    assert slack_error(refused) == (200, "invalid_auth")


def test_a_user_group_listing_can_be_rate_limited(slack: SlackStandIn, client: WebClient) -> None:
    slack.usergroups["S0ADMINS"] = ["U0ALICE"]
    slack.fail("usergroups.users.list", status=429, retry_after=20)
    with pytest.raises(SlackApiError) as limited:
        client.usergroups_users_list(usergroup="S0ADMINS")
    assert slack_error(limited) == (429, "ratelimited")
    assert limited.value.response.headers["Retry-After"] in ("20", ["20"])
    assert client.usergroups_users_list(usergroup="S0ADMINS")["users"] == ["U0ALICE"]


def test_malformed_metadata_is_refused(client: WebClient) -> None:
    with pytest.raises(SlackApiError) as refused:
        client.chat_postMessage(channel=CHANNEL, text="x", metadata={"event_type": "t"})
    assert slack_error(refused) == (200, "invalid_metadata_schema")


@pytest.mark.parametrize("status", [0, 500, 503])
def test_a_fault_after_the_call_posts_the_message_but_loses_the_answer(
    slack: SlackStandIn, status: int
) -> None:
    no_resend = WebClient(token=BOT_TOKEN, base_url=slack.api_url, timeout=5, retry_handlers=[])
    slack.fail("chat.postMessage", status=status, after=True)
    with pytest.raises((SlackApiError, OSError)):
        no_resend.chat_postMessage(channel=CHANNEL, text="lost answer")
    [posted] = slack.posted
    assert posted.text == "lost answer"


def test_a_fault_before_the_call_posts_nothing(slack: SlackStandIn) -> None:
    no_resend = WebClient(token=BOT_TOKEN, base_url=slack.api_url, timeout=5, retry_handlers=[])
    slack.fail("chat.postMessage", status=0)
    with pytest.raises(OSError):
        no_resend.chat_postMessage(channel=CHANNEL, text="never sent on")
    assert slack.posted == []


def test_a_slow_answer_outlasts_the_client_timeout(slack: SlackStandIn) -> None:
    impatient = WebClient(token=BOT_TOKEN, base_url=slack.api_url, timeout=1, retry_handlers=[])
    # far past the timeout, however loaded the machine; the hang ends when the stand-in stops
    slack.fail("chat.postMessage", status=200, after=True, hang=120)
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        impatient.chat_postMessage(channel=CHANNEL, text="slow")
    assert time.monotonic() - started < 60  # the client gave up; the answer never came
    assert [m.text for m in slack.posted] == ["slow"]


def test_stopping_the_stand_in_ends_a_hung_answer_at_once() -> None:
    with SlackStandIn(bot_token=BOT_TOKEN) as slack:
        slack.fail("chat.postMessage", status=200, after=True, hang=120)
        patient = WebClient(token=BOT_TOKEN, base_url=slack.api_url, timeout=60, retry_handlers=[])
        answered = threading.Event()

        def post() -> None:
            with contextlib.suppress(SlackApiError, OSError):
                patient.chat_postMessage(channel=CHANNEL, text="hung")
            answered.set()

        caller = threading.Thread(target=post, daemon=True)
        caller.start()
        assert not answered.wait(0.5)  # still hanging (a margin: the hang is 120 s)
        started = time.monotonic()
    assert answered.wait(30)
    assert time.monotonic() - started < 30


def test_an_injected_429_carries_its_retry_after(slack: SlackStandIn, client: WebClient) -> None:
    slack.fail("chat.postMessage", status=429, retry_after=7)
    with pytest.raises(SlackApiError) as limited:
        client.chat_postMessage(channel=CHANNEL, text="x")
    assert limited.value.response.status_code == 429
    assert limited.value.response.headers["Retry-After"] in ("7", ["7"])


def test_heal_forgets_pending_faults(slack: SlackStandIn, client: WebClient) -> None:
    slack.fail("chat.postMessage", times=3)
    slack.heal()
    assert client.chat_postMessage(channel=CHANNEL, text="fine")["ok"] is True
