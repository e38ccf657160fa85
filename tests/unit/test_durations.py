"""Durations of approvals for a while: parsed, said in words, and when the reminder comes."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from sgrevert.durations import (
    DEFAULT_TEMPORARY_APPROVALS,
    MAX_DURATION,
    MIN_DURATION,
    check_duration,
    duration_words,
    parse_duration,
    remind_at,
)

ALLOWED_AT = datetime(2026, 12, 1, 13, 32, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("15m", timedelta(minutes=15)),
        ("1h", timedelta(hours=1)),
        ("8h", timedelta(hours=8)),
        ("24h", timedelta(hours=24)),
        ("7d", timedelta(days=7)),
        ("30d", timedelta(days=30)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        (" 1 h 30 min ", timedelta(hours=1, minutes=30)),
        ("90 minutes", timedelta(minutes=90)),
        ("2 Days", timedelta(days=2)),
    ],
)
def test_a_duration_is_read_from_a_number_and_a_unit(text: str, expected: timedelta) -> None:
    """Given a duration as the policy writes it, when parsed, then it is that long."""
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "'' is not a duration: use a number and a unit, such as 15m, 1h"),
        ("h", "'h' is not a duration"),
        ("1", "'1' is not a duration"),
        ("-1h", "'-1h' is not a duration"),
        ("1h and", "'1h and' is not a duration"),
        ("2w", "'2w': 'w' is not a unit of time (use m, h or d"),
        ("1 fortnight", "'1 fortnight': 'fortnight' is not a unit of time"),
    ],
)
def test_what_is_not_a_duration_is_named_with_examples(text: str, message: str) -> None:
    """Given text that is not a duration, when parsed, then the error quotes it and shows
    the form a duration takes."""
    with pytest.raises(ValueError, match="^" + re.escape(message)):
        parse_duration(text)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("10m", "'10m' is shorter than 15 min: an approval for a while lasts from 15 min to 30 d"),
        ("0m", "'0m' is shorter than 15 min"),
        ("31d", "'31d' is longer than 30 d: an approval for a while lasts from 15 min to 30 d"),
        ("721h", "'721h' is longer than 30 d"),
    ],
)
def test_a_duration_out_of_bounds_says_the_bounds(text: str, message: str) -> None:
    """Given a duration shorter than 15 minutes or longer than 30 days, when parsed, then
    the error says which bound it broke and what the bounds are."""
    with pytest.raises(ValueError, match="^" + re.escape(message)):
        parse_duration(text)


def test_the_bounds_themselves_are_allowed_and_checked_durations_come_back_unchanged() -> None:
    """Given exactly 15 minutes and exactly 30 days, then both are allowed; a second
    beyond either is not."""
    assert parse_duration("15m") == MIN_DURATION
    assert parse_duration("30d") == MAX_DURATION
    assert check_duration(timedelta(hours=2)) == timedelta(hours=2)
    with pytest.raises(ValueError, match=r"^14 min 59 s is shorter than 15 min"):
        check_duration(MIN_DURATION - timedelta(seconds=1))
    with pytest.raises(ValueError, match=r"^30 d 1 s is longer than 30 d"):
        check_duration(MAX_DURATION + timedelta(seconds=1))


@pytest.mark.parametrize(
    ("duration", "words"),
    [
        (timedelta(minutes=15), "15 min"),
        (timedelta(hours=1), "1 h"),
        (timedelta(hours=1, minutes=30), "1 h 30 min"),
        (timedelta(hours=8), "8 h"),
        (timedelta(hours=24), "24 h"),
        (timedelta(hours=36), "1 d 12 h"),
        (timedelta(days=7), "7 d"),
        (timedelta(seconds=90), "1 min 30 s"),
        (timedelta(seconds=45), "45 s"),
        (timedelta(), "0 min"),
    ],
)
def test_a_duration_is_said_in_words(duration: timedelta, words: str) -> None:
    """Given a duration, then its words use d, h, min and s, leaving out what is zero."""
    assert duration_words(duration) == words


def test_words_read_back_as_the_same_duration() -> None:
    """Given the default durations and a few others, when said in words and read back,
    then the duration is the same."""
    for duration in (*DEFAULT_TEMPORARY_APPROVALS, timedelta(hours=1, minutes=30), MAX_DURATION):
        assert parse_duration(duration_words(duration)) == duration


def test_the_default_durations_are_an_hour_eight_hours_a_day_and_a_week() -> None:
    assert [duration_words(d) for d in DEFAULT_TEMPORARY_APPROVALS] == ["1 h", "8 h", "24 h", "7 d"]


@pytest.mark.parametrize(
    ("duration", "before"),
    [
        (timedelta(hours=1), timedelta(minutes=6)),  # a tenth of an hour
        (timedelta(hours=8), timedelta(minutes=15)),  # 15 minutes is shorter than 48
        (timedelta(minutes=15), timedelta(seconds=90)),  # a tenth of 15 minutes
        (timedelta(hours=2, minutes=30), timedelta(minutes=15)),  # exactly a tenth
        (timedelta(days=7), timedelta(minutes=15)),
    ],
)
def test_the_reminder_comes_15_minutes_or_a_tenth_of_the_duration_before_the_deadline(
    duration: timedelta, before: timedelta
) -> None:
    """Given an approval for `duration`, when its reminder time is worked out, then it is
    15 minutes before the deadline, or a tenth of the duration before it if shorter."""
    deadline = ALLOWED_AT + duration

    assert remind_at(ALLOWED_AT, deadline) == deadline - before


def test_a_deadline_already_reached_is_reminded_at_the_deadline() -> None:
    """Given a deadline that is not after the time it was set, then there is no lead."""
    assert remind_at(ALLOWED_AT, ALLOWED_AT) == ALLOWED_AT
    assert remind_at(ALLOWED_AT, ALLOWED_AT - timedelta(minutes=1)) == ALLOWED_AT - timedelta(
        minutes=1
    )
