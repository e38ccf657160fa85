"""The demo's Block Kit renderer: what a colleague reads in the terminal."""

from __future__ import annotations

from typing import Any

from sandbox.render import Renderer, message_texts


def test_mrkdwn_becomes_plain_text() -> None:
    r = Renderer(users={"U0ALICE": "alice"})
    text = (
        "*Denied* by <@U0ALICE> <!date^1795773733^{date_short_pretty}|2026-11-27 10:02 UTC>; "
        "`sg-1` &lt;ops&gt; &amp; _friends_ <https://example.com|docs> :white_check_mark:"
    )
    assert r.mrkdwn(text) == ("Denied by @alice 2026-11-27 10:02 UTC; sg-1 <ops> & friends docs ✅")


def test_blocks_render_in_order_with_fields_two_to_a_line() -> None:
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": "1 rule added"}},
        {
            "type": "section",
            "fields": [
                {"type": "mrkdwn", "text": "*Account*\n`111122223333`"},
                {"type": "mrkdwn", "text": "*Region*\n`eu-west-1`"},
                {"type": "mrkdwn", "text": "*API call*\n`AuthorizeSecurityGroupIngress`"},
            ],
        },
        {"type": "divider"},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "Allowed unless denied."}]},
        {
            "type": "actions",
            "elements": [
                {
                    "type": "button",
                    "text": {"type": "plain_text", "text": "Approve"},
                    "style": "primary",
                },
                {
                    "type": "button",
                    "text": {"type": "plain_text", "text": "Deny"},
                    "style": "danger",
                },
            ],
        },
    ]

    lines = Renderer(width=80).message(blocks).splitlines()

    assert lines[0] == "1 rule added"
    assert lines[1].startswith("Account: 111122223333") and lines[1].endswith("Region: eu-west-1")
    assert lines[2] == "API call: AuthorizeSecurityGroupIngress"
    assert set(lines[3]) == {"─"}
    assert lines[4].strip() == "Allowed unless denied."
    assert lines[5].strip() == "[ Approve ]  [ Deny ]"


def test_colour_only_when_asked() -> None:
    assert "\033[" not in Renderer().mrkdwn("*bold* `code`")
    assert "\033[1m" in Renderer(colour=True).mrkdwn("*bold*")


def test_a_message_without_blocks_shows_its_text() -> None:
    assert Renderer().message(None, "*fallback*") == "fallback"


def test_the_context_section_draws_its_emoji_and_names_the_mentioned_developer() -> None:
    r = Renderer(users={"U0ERIN": "erin"})
    lines = [
        ":rotating_light: *CRITICAL · reachable from the internet* · 2 inbound rules added",
        ":globe_with_meridians: *reachable from the internet*: `i-0abc` (web-1) `54.1.2.3`",
        "By <@U0ERIN> via the CLI or an SDK",
        ":grey_question: No account name: ListAccounts: AccessDenied",
        ":white_circle: LOW · :red_circle: HIGH · :large_orange_diamond: MEDIUM · :mute:",
    ]

    assert [r.mrkdwn(line) for line in lines] == [
        "🚨 CRITICAL · reachable from the internet · 2 inbound rules added",
        "🌐 reachable from the internet: i-0abc (web-1) 54.1.2.3",
        "By @erin via the CLI or an SDK",
        "❔ No account name: ListAccounts: AccessDenied",
        "⚪ LOW · 🔴 HIGH · 🔶 MEDIUM · 🔇",
    ]


def test_an_arn_is_not_taken_for_an_emoji() -> None:
    arn = "arn:aws:sts::123456789012:assumed-role/developer/erin.dev@example.com"
    assert Renderer().mrkdwn(arn) == arn


def test_message_texts_gathers_every_raw_text_of_the_blocks_after_the_fallback() -> None:
    """Given a message with a header, a section with fields and a button, when its texts
    are gathered, then each raw text comes once, fallback first, mrkdwn untouched."""
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": "1 rule modified"}},
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": "`tcp 22` from `10.0.0.0/8` → `0.0.0.0/0`"},
            "fields": [{"type": "mrkdwn", "text": "*Account*\n`111122223333`"}],
        },
        {
            "type": "actions",
            "elements": [{"type": "button", "text": {"type": "plain_text", "text": "Deny"}}],
        },
    ]

    texts = message_texts(blocks, "fallback")

    assert texts.splitlines() == [
        "fallback",
        "1 rule modified",
        "`tcp 22` from `10.0.0.0/8` → `0.0.0.0/0`",
        "*Account*",
        "`111122223333`",
        "Deny",
    ]
    assert message_texts(None, None) == ""


def test_a_user_group_mention_and_the_reminder_emoji_are_drawn() -> None:
    assert Renderer(users={"S0X": "oncall"}).mrkdwn("<!subteam^S0X>, :bell:") == "@oncall, 🔔"
