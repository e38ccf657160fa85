"""The sandbox's clock: real time, moved ahead by hand, so "an hour later" takes no hour.

It starts at real now and runs with it: the trail stamps its records with real time, and
the detector's window (which ends at its clock) must still reach them. `advance` and
`move_to` put it ahead, never back, as time goes. The sandbox hands this one clock to the
responder and to the detector, so both see the same "now".
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta


def _utcnow() -> datetime:
    return datetime.now(UTC)


class SandboxClock:
    def __init__(self, real: Callable[[], datetime] = _utcnow) -> None:
        self._real = real
        self._ahead = timedelta()
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self._real() + self._ahead

    @property
    def ahead(self) -> timedelta:
        """How far it runs ahead of real time."""
        with self._lock:
            return self._ahead

    def advance(self, by: timedelta) -> datetime:
        """Move `by` ahead; returns the new now."""
        if by < timedelta():
            raise ValueError(f"the sandbox's clock only moves forward, not by {by}")
        with self._lock:
            self._ahead += by
            return self._real() + self._ahead

    def move_to(self, moment: datetime) -> datetime:
        """Move ahead to `moment`; a moment already past leaves it as it is. Returns now."""
        with self._lock:
            now = self._real() + self._ahead
            if moment > now:
                self._ahead += moment - now
                now = moment
            return now
