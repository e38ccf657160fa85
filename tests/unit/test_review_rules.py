"""The policy's review keys: reminders, fail-closed deadlines, self-approval, two-person
rules; how they are read, every refusal naming its path, and what they answer."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sgrevert.errors import ConfigError
from sgrevert.policy import parse_policy
from sgrevert.review_rules import Remind, ReviewRules, read_review
from sgrevert.risk import Risk

POSTED = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
WEEK = "10080 (7 days)"


def read(
    document: dict[str, Any], *, min_risk: Risk = Risk.LOW, auto: Risk | None = None
) -> tuple[ReviewRules, list[str]]:
    errors: list[str] = []
    rules = read_review(document, errors, min_risk_to_post=min_risk, auto_revert_at_or_above=auto)
    return rules, errors


def test_without_the_keys_nobody_is_reminded_nothing_fails_closed_and_one_approval_does() -> None:
    """Given no policy, or one without the review keys, then the defaults hold: no
    reminders, no deadlines, no self-approval, one approver for every level."""
    assert parse_policy(None).review == ReviewRules()
    defaults = parse_policy('{"min_risk_to_post": "medium"}').review
    assert defaults == ReviewRules(
        remind=None, deny_if_undecided_after={}, self_approval=False, approvals_required={}
    )
    assert parse_policy('{"remind": null}').review.remind is None


def test_each_review_key_is_read_into_the_rules() -> None:
    """Given all four keys, as the module's example writes them, then each is read with
    levels as risks and minutes as durations."""
    policy = parse_policy(
        json.dumps(
            {
                "min_risk_to_post": "medium",
                "remind": {
                    "at_or_above": "high",
                    "after_minutes": 30,
                    "every_minutes": 60,
                    "times": 3,
                    "escalate_to": ["S0SECONCALL", "U0123ABCD", "W0456EFGH"],
                },
                "deny_if_undecided_after": {"critical": 30, "high": 240},
                "self_approval": True,
                "approvals_required": {"critical": 2, "medium": 1},
            }
        )
    )

    assert policy.review == ReviewRules(
        remind=Remind(
            at_or_above=Risk.HIGH,
            after=timedelta(minutes=30),
            every=timedelta(minutes=60),
            times=3,
            escalate_to=("S0SECONCALL", "U0123ABCD", "W0456EFGH"),
        ),
        deny_if_undecided_after={
            Risk.CRITICAL: timedelta(minutes=30),
            Risk.HIGH: timedelta(hours=4),
        },
        self_approval=True,
        approvals_required={Risk.CRITICAL: 2, Risk.MEDIUM: 1},
    )


def test_one_reminder_needs_no_interval_and_mentions_nobody_by_default() -> None:
    """Given a remind with only its required keys, then it is one reminder, with nobody
    mentioned and nothing to space out."""
    rules, errors = read({"remind": {"at_or_above": "medium", "after_minutes": 45}})

    assert errors == []
    assert rules.remind == Remind(Risk.MEDIUM, timedelta(minutes=45), timedelta(0), 1, ())


def test_level_names_are_read_in_any_case() -> None:
    rules, errors = read(
        {
            "remind": {"at_or_above": "High", "after_minutes": 10},
            "deny_if_undecided_after": {"CRITICAL": 15},
            "approvals_required": {"Critical": 3},
        }
    )

    assert errors == []
    assert rules.remind is not None and rules.remind.at_or_above is Risk.HIGH
    assert rules.deny_if_undecided_after == {Risk.CRITICAL: timedelta(minutes=15)}
    assert rules.approvals_required == {Risk.CRITICAL: 3}


def test_the_limits_themselves_are_allowed() -> None:
    """Given each number at the edge of its range, then it is accepted."""
    rules, errors = read(
        {
            "remind": {
                "at_or_above": "low",
                "after_minutes": 1,
                "every_minutes": 10080,
                "times": 10,
                "escalate_to": [f"U{n:04d}ABC" for n in range(20)],
            },
            "deny_if_undecided_after": {"critical": 5, "high": 10080},
            "approvals_required": {"critical": 5},
        }
    )

    assert errors == []
    assert rules.remind is not None and len(rules.remind.escalate_to) == 20
    assert rules.deny_if_undecided_after[Risk.CRITICAL] == timedelta(minutes=5)
    assert rules.deny_if_undecided_after[Risk.HIGH] == timedelta(days=7)


REMIND = {"at_or_above": "high", "after_minutes": 30}


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (
            {"remind": "high"},
            'remind must be an object such as {"at_or_above": "high", "after_minutes": 30}, '
            "not 'high'",
        ),
        (
            {"remind": {**REMIND, "channel": "C0123"}},
            "remind.channel is not a remind key (after_minutes, at_or_above, escalate_to, "
            "every_minutes, times)",
        ),
        (
            {"remind": {"after_minutes": 30}},
            "remind.at_or_above is required: the lowest level reminded (low, medium, high, "
            "critical)",
        ),
        (
            {"remind": {**REMIND, "at_or_above": "severe"}},
            "remind.at_or_above: 'severe' is not a risk level (low, medium, high, critical)",
        ),
        (
            {"remind": {**REMIND, "at_or_above": 3}},
            "remind.at_or_above must be a risk level (low, medium, high, critical), not 3",
        ),
        (
            {"remind": {"at_or_above": "high"}},
            "remind.after_minutes is required: the minutes from the post to the first "
            f"reminder, a whole number from 1 to {WEEK}",
        ),
        (
            {"remind": {**REMIND, "after_minutes": 0}},
            f"remind.after_minutes must be a whole number of minutes from 1 to {WEEK}, not 0",
        ),
        (
            {"remind": {**REMIND, "after_minutes": 10081}},
            f"remind.after_minutes must be a whole number of minutes from 1 to {WEEK}, not 10081",
        ),
        (
            {"remind": {**REMIND, "after_minutes": 7.5}},
            f"remind.after_minutes must be a whole number of minutes from 1 to {WEEK}, not 7.5",
        ),
        (
            {"remind": {**REMIND, "after_minutes": "30"}},
            f"remind.after_minutes must be a whole number of minutes from 1 to {WEEK}, not '30'",
        ),
        (
            {"remind": {**REMIND, "times": 3}},
            "remind.every_minutes is required when remind.times is more than 1: the minutes "
            f"between reminders, a whole number from 1 to {WEEK}",
        ),
        (
            {"remind": {**REMIND, "times": 3, "every_minutes": 0}},
            f"remind.every_minutes must be a whole number of minutes from 1 to {WEEK}, not 0",
        ),
        (
            {"remind": {**REMIND, "times": 11, "every_minutes": 60}},
            "remind.times must be a whole number from 1 to 10, not 11",
        ),
        (
            {"remind": {**REMIND, "times": True}},
            "remind.times must be a whole number from 1 to 10, not True",
        ),
        (
            {"remind": {**REMIND, "escalate_to": "S0SECONCALL"}},
            "remind.escalate_to must be a list of Slack user ids (U…, W…) and user group ids "
            "(S…), not 'S0SECONCALL'",
        ),
        (
            {"remind": {**REMIND, "escalate_to": ["S0SECONCALL", "@security-oncall"]}},
            "remind.escalate_to[1] '@security-oncall' is not a Slack user id (U…, W…) or user "
            "group id (S…): use the id, not a name or handle",
        ),
        (
            {"remind": {**REMIND, "escalate_to": ["C0123ABCD"]}},
            "remind.escalate_to[0] 'C0123ABCD' is not a Slack user id (U…, W…) or user group "
            "id (S…): use the id, not a name or handle",
        ),
        (
            {"remind": {**REMIND, "escalate_to": [42]}},
            "remind.escalate_to[0] 42 is not a Slack user id (U…, W…) or user group id (S…): "
            "use the id, not a name or handle",
        ),
        (
            {"remind": {**REMIND, "escalate_to": ["U0123ABCD", "S0SECONCALL", "U0123ABCD"]}},
            "remind.escalate_to[2] 'U0123ABCD' is listed twice",
        ),
        (
            {"remind": {**REMIND, "escalate_to": [f"S{n:04d}ABC" for n in range(21)]}},
            "remind.escalate_to lists 21 ids: at most 20",
        ),
        (
            {"deny_if_undecided_after": 30},
            "deny_if_undecided_after must be an object of risk level (low, medium, high, "
            'critical) to a number, such as {"critical": 30} (minutes), not 30',
        ),
        (
            {"deny_if_undecided_after": {"urgent": 30}},
            "deny_if_undecided_after.urgent: 'urgent' is not a risk level (low, medium, high, "
            "critical)",
        ),
        (
            {"deny_if_undecided_after": {"critical": 4}},
            "deny_if_undecided_after.critical must be a whole number of minutes from 5 to "
            f"{WEEK}, not 4",
        ),
        (
            {"deny_if_undecided_after": {"critical": "30m"}},
            "deny_if_undecided_after.critical must be a whole number of minutes from 5 to "
            f"{WEEK}, not '30m'",
        ),
        (
            {"deny_if_undecided_after": {"critical": 30, "Critical": 60}},
            "deny_if_undecided_after.Critical: critical is given twice ('critical' and 'Critical')",
        ),
        ({"self_approval": "no"}, "self_approval must be true or false, not 'no'"),
        ({"self_approval": 0}, "self_approval must be true or false, not 0"),
        (
            {"approvals_required": [2]},
            "approvals_required must be an object of risk level (low, medium, high, critical) "
            'to a number, such as {"critical": 2} (approvers), not [2]',
        ),
        (
            {"approvals_required": {"top": 2}},
            "approvals_required.top: 'top' is not a risk level (low, medium, high, critical)",
        ),
        (
            {"approvals_required": {"critical": 6}},
            "approvals_required.critical must be a whole number of distinct approvers from 1 "
            "to 5, not 6",
        ),
        (
            {"approvals_required": {"critical": 0}},
            "approvals_required.critical must be a whole number of distinct approvers from 1 "
            "to 5, not 0",
        ),
        (
            {"approvals_required": {"HIGH": 2, "high": 3}},
            "approvals_required.high: high is given twice ('HIGH' and 'high')",
        ),
    ],
)
def test_a_bad_review_key_is_named_with_what_is_allowed(
    document: dict[str, Any], message: str
) -> None:
    """Given one problem, then exactly one message, naming its path, says what is wrong
    and what is allowed."""
    _, errors = read(document)

    assert errors == [message]


def test_a_deadline_below_min_risk_to_post_is_refused() -> None:
    """Given changes below min_risk_to_post are not posted, then they cannot fail closed:
    nobody would see them before they were reverted."""
    _, errors = read({"deny_if_undecided_after": {"low": 60, "medium": 60}}, min_risk=Risk.MEDIUM)

    assert errors == [
        "deny_if_undecided_after.low: low changes are below min_risk_to_post (medium): they "
        "are not posted, so nobody could approve them before they were reverted"
    ]


def test_levels_reverted_at_once_cannot_be_reviewed() -> None:
    """Given auto_revert_at_or_above, then no review key may name a level at or above it:
    those changes are denied by policy as they are recorded."""
    _, errors = read(
        {
            "remind": {"at_or_above": "critical", "after_minutes": 30},
            "deny_if_undecided_after": {"high": 60, "critical": 30},
            "approvals_required": {"high": 2, "critical": 2},
        },
        auto=Risk.HIGH,
    )

    assert errors == [
        "remind.at_or_above: critical changes are at or above auto_revert_at_or_above (high): "
        "they are reverted at once, never reminded about",
        "deny_if_undecided_after.high: high changes are at or above auto_revert_at_or_above "
        "(high): they are reverted at once, never denied for want of a decision",
        "deny_if_undecided_after.critical: critical changes are at or above "
        "auto_revert_at_or_above (high): they are reverted at once, never denied for want of "
        "a decision",
        "approvals_required.high: high changes are at or above auto_revert_at_or_above (high): "
        "they are reverted at once, never approved",
        "approvals_required.critical: critical changes are at or above auto_revert_at_or_above "
        "(high): they are reverted at once, never approved",
    ]


def test_the_policy_checks_the_levels_against_its_own_thresholds() -> None:
    """Given the thresholds and the review keys in one document, then the review keys are
    checked against those thresholds, and every problem of the policy is named at once."""
    with pytest.raises(ConfigError) as raised:
        parse_policy(
            json.dumps(
                {
                    "min_risk_to_post": "high",
                    "auto_revert_at_or_above": "critical",
                    "max_messages_per_run": 0,
                    "remind": {"at_or_above": "high", "after_minutes": 30, "times": 2},
                    "deny_if_undecided_after": {"medium": 60, "critical": 30},
                    "self_approval": "yes",
                    "approvals_required": {"critical": 2, "high": 9},
                }
            )
        )

    message = str(raised.value)
    assert message.startswith("POLICY is invalid: ")
    for problem in (
        "max_messages_per_run must be a whole number",
        "remind.every_minutes is required when remind.times is more than 1",
        "deny_if_undecided_after.medium: medium changes are below min_risk_to_post (high)",
        "deny_if_undecided_after.critical: critical changes are at or above "
        "auto_revert_at_or_above (critical)",
        "self_approval must be true or false, not 'yes'",
        "approvals_required.critical: critical changes are at or above",
        "approvals_required.high must be a whole number of distinct approvers from 1 to 5",
    ):
        assert problem in message


def test_an_unreadable_remind_is_dropped_with_every_problem_named() -> None:
    """Given a remind with several problems, then each is named and no half-read remind
    is kept."""
    rules, errors = read(
        {"remind": {"at_or_above": "hihg", "after_minutes": -1, "escalate_to": ["bob"]}}
    )

    assert rules.remind is None
    assert [e.split(" ")[0].rstrip(":") for e in errors] == [
        "remind.at_or_above",
        "remind.after_minutes",
        "remind.escalate_to[0]",
    ]


RULES = ReviewRules(
    remind=Remind(Risk.HIGH, timedelta(minutes=30), timedelta(hours=1), 3, ("S0SECONCALL",)),
    deny_if_undecided_after={Risk.CRITICAL: timedelta(minutes=30)},
    approvals_required={Risk.CRITICAL: 2},
)


@pytest.mark.parametrize(
    ("risk", "expected"),
    [
        ("critical", timedelta(minutes=30)),
        ("CRITICAL", timedelta(minutes=30)),
        ("high", None),  # levels are exact: critical says nothing about high
        (None, None),  # unrated, older records never fail closed
        ("unknown", None),
    ],
)
def test_deny_after_is_the_deadline_of_exactly_that_level(
    risk: str | None, expected: timedelta | None
) -> None:
    assert RULES.deny_after(risk) == expected


@pytest.mark.parametrize(
    ("risk", "expected"), [("critical", 2), ("high", 1), ("low", 1), (None, 1), ("??", 1)]
)
def test_approvals_for_is_one_unless_the_level_needs_more(risk: str | None, expected: int) -> None:
    assert RULES.approvals_for(risk) == expected


@pytest.mark.parametrize(
    ("risk", "reminded"),
    [("critical", True), ("high", True), ("medium", False), ("low", False), (None, False)],
)
def test_reminds_applies_at_or_above_its_level(risk: str | None, reminded: bool) -> None:
    assert RULES.reminds(risk) == (RULES.remind if reminded else None)


def test_without_a_remind_no_level_is_reminded() -> None:
    assert ReviewRules().reminds("critical") is None


def test_reminders_are_due_after_the_post_then_every_interval() -> None:
    """Given 30 minutes, then every hour, then reminders 1, 2, 3 are due at 10:30, 11:30
    and 12:30 for a change posted at 10:00."""
    remind = RULES.remind
    assert remind is not None

    assert [remind.due(POSTED, n) for n in (1, 2, 3)] == [
        POSTED + timedelta(minutes=30),
        POSTED + timedelta(minutes=90),
        POSTED + timedelta(minutes=150),
    ]
