"""Which stretch of time a detector run queries. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

# Beyond this, a run queries only the most recent stretch and says so: a Lake query over
# weeks is slow and costly, and `sgrevert scan --since` covers a longer gap on demand.
MAX_CATCH_UP = timedelta(hours=24)


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime
    capped_from: datetime | None = None  # where the run would have started without the cap

    @property
    def capped(self) -> bool:
        return self.capped_from is not None


def detection_window(
    now: datetime,
    watermark: datetime | None,
    lookback: timedelta,
    max_catch_up: timedelta = MAX_CATCH_UP,
) -> Window:
    """From the earlier of the watermark and `now - lookback` to `now`.

    The lookback overlaps the previous run so events Lake delivers late are still
    seen; the watermark stretches the window back over any runs that failed.
    """
    start = now - lookback
    if watermark is not None and watermark < start:
        start = watermark
    floor = now - max(max_catch_up, lookback)
    if start < floor:
        return Window(start=floor, end=now, capped_from=start)
    return Window(start=start, end=now)
