"""The click's answer deadline: counted from API Gateway's receipt, or from the handler's start."""

from __future__ import annotations

from typing import Any

import pytest

from sgrevert.deadline import (
    ANSWER_BUDGET_SECONDS,
    COLD_START_ALLOWANCE_SECONDS,
    Deadline,
    answer_deadline,
)

NOW = 1_800_000_000.0  # Unix seconds


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def event(received_ms: Any) -> dict[str, Any]:
    return {"requestContext": {"requestTimeEpoch": received_ms}}


def test_given_a_fresh_receipt_time_when_the_deadline_is_set_then_it_counts_from_receipt() -> None:
    clock = Clock()

    deadline = answer_deadline(event((NOW - 0.9) * 1000), wall=lambda: NOW, clock=clock)

    assert deadline.remaining() == pytest.approx(ANSWER_BUDGET_SECONDS - 0.9)


@pytest.mark.parametrize(
    "received",
    [
        None,  # not an API Gateway event
        "1764236400123",  # not a number
        True,
        (NOW + 5) * 1000,  # in the future: a clock far off
        (NOW - 3600) * 1000,  # older than API Gateway ever waits: a replayed event
    ],
)
def test_given_an_untrustworthy_receipt_time_when_the_deadline_is_set_then_a_cold_start_is_allowed(
    received: Any,
) -> None:
    deadline = answer_deadline(event(received), wall=lambda: NOW, clock=Clock())

    assert deadline.remaining() == pytest.approx(
        ANSWER_BUDGET_SECONDS - COLD_START_ALLOWANCE_SECONDS
    )


def test_given_a_click_received_long_ago_when_the_deadline_is_set_then_no_time_is_left() -> None:
    deadline = answer_deadline(event((NOW - 2.8) * 1000), wall=lambda: NOW, clock=Clock())

    assert deadline.remaining() == 0.0
    assert not deadline.allows(0.01)


def test_given_time_passes_when_asked_then_the_time_left_shrinks_to_zero_and_stays() -> None:
    clock = Clock()
    deadline = Deadline.in_seconds(2.0, clock)

    clock.now += 1.5
    assert deadline.remaining() == pytest.approx(0.5)
    assert deadline.allows(0.5)
    assert not deadline.allows(0.6)

    clock.now += 10
    assert deadline.remaining() == 0.0
