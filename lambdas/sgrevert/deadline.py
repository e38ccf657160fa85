"""One deadline for the whole answer to a click.

Slack shows the clicker an error unless the HTTP 200 reaches it within 3 seconds of
sending the click, and those seconds include API Gateway, a cold start and the way back.
The answer is therefore due `ANSWER_BUDGET_SECONDS` after API Gateway received the
request (`requestContext.requestTimeEpoch`, which also counts any cold start). When
that time cannot be trusted (absent, in the future, or older than API Gateway would
ever wait: a clock far off, or a replayed event), the budget counts from the handler's
start instead, shortened by what a cold start may already have taken.

Every Slack call on the click path takes its timeout from the time left, so one slow
or rate-limited answer cannot push the ack past the deadline.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

ANSWER_BUDGET_SECONDS = 2.5  # of Slack's 3 s; the rest is the trip back through API Gateway
COLD_START_ALLOWANCE_SECONDS = 0.8  # without a receipt time: what an init may have used
API_GATEWAY_MAX_WAIT_SECONDS = 29.0  # REST API integration timeout: no request is older


@dataclass(frozen=True)
class Deadline:
    """A moment on `clock` (monotonic seconds) by which the answer must be sent."""

    at: float
    clock: Callable[[], float] = time.monotonic

    @classmethod
    def in_seconds(cls, seconds: float, clock: Callable[[], float] = time.monotonic) -> Deadline:
        return cls(clock() + seconds, clock)

    def remaining(self) -> float:
        return max(0.0, self.at - self.clock())

    def allows(self, seconds: float) -> bool:
        """Whether `seconds` of work still fit before the deadline."""
        return self.remaining() >= seconds


def received_at(event: Mapping[str, Any]) -> float | None:
    """When API Gateway received the request, in Unix seconds, if the event says so."""
    context = event.get("requestContext")
    epoch_ms = context.get("requestTimeEpoch") if isinstance(context, Mapping) else None
    if isinstance(epoch_ms, bool) or not isinstance(epoch_ms, int | float):
        return None
    return float(epoch_ms) / 1000


def answer_deadline(
    event: Mapping[str, Any],
    *,
    wall: Callable[[], float] = time.time,
    clock: Callable[[], float] = time.monotonic,
) -> Deadline:
    """The deadline for answering the click in `event`, from API Gateway's receipt time."""
    received = received_at(event)
    elapsed = wall() - received if received is not None else None
    if elapsed is None or not 0 <= elapsed <= API_GATEWAY_MAX_WAIT_SECONDS:
        elapsed = COLD_START_ALLOWANCE_SECONDS
    return Deadline.in_seconds(max(0.0, ANSWER_BUDGET_SECONDS - elapsed), clock)
