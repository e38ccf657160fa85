"""How long an approval for a while lasts, and when its approver is reminded.

Pure. A duration is written as the policy and the CLI write it, `15m`, `1h`, `8h`,
`24h`, `7d` (parts may be combined, `1h30m`; `min`, `hour`, `day` and their plurals are
accepted too), and said back in words, "1 h 30 min", as Slack and the CLI show it.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

MIN_DURATION = timedelta(minutes=15)
MAX_DURATION = timedelta(days=30)
DEFAULT_TEMPORARY_APPROVALS = (
    timedelta(hours=1),
    timedelta(hours=8),
    timedelta(hours=24),
    timedelta(days=7),
)
REMIND_BEFORE = timedelta(minutes=15)  # at most; a tenth of the duration when shorter

_PART = re.compile(r"(\d+)\s*([a-z]+)")
_UNITS = {
    **dict.fromkeys(("m", "min", "mins", "minute", "minutes"), timedelta(minutes=1)),
    **dict.fromkeys(("h", "hr", "hrs", "hour", "hours"), timedelta(hours=1)),
    **dict.fromkeys(("d", "day", "days"), timedelta(days=1)),
}
_EXAMPLES = "15m, 1h, 8h, 24h, 7d"


def parse_duration(text: str) -> timedelta:
    """`1h` -> 1 hour. ValueError, naming the problem, for anything that is not a
    duration from MIN_DURATION to MAX_DURATION."""
    cleaned = text.strip().lower()
    total = timedelta()
    position = 0
    for part in _PART.finditer(cleaned):
        if cleaned[position : part.start()].strip():
            break  # something between the parts that is not a part
        unit = _UNITS.get(part.group(2))
        if unit is None:
            raise ValueError(
                f"{text!r}: {part.group(2)!r} is not a unit of time (use m, h or d, "
                f"such as {_EXAMPLES})"
            )
        total += int(part.group(1)) * unit
        position = part.end()
    if not cleaned or position == 0 or cleaned[position:].strip():
        raise ValueError(
            f"{text!r} is not a duration: use a number and a unit, such as {_EXAMPLES}"
        )
    return check_duration(total, text)


def check_duration(duration: timedelta, what: str | None = None) -> timedelta:
    """`duration` itself when an approval may last that long; ValueError otherwise."""
    if MIN_DURATION <= duration <= MAX_DURATION:
        return duration
    name = repr(what) if what is not None else duration_words(abs(duration))
    low, high = duration_words(MIN_DURATION), duration_words(MAX_DURATION)
    how = f"shorter than {low}" if duration < MIN_DURATION else f"longer than {high}"
    raise ValueError(f"{name} is {how}: an approval for a while lasts from {low} to {high}")


def duration_words(duration: timedelta) -> str:
    """ "15 min", "1 h", "1 h 30 min", "24 h", "7 d", "1 d 12 h": hours up to a day, days
    and hours beyond; seconds only when there are some (a reminder's lead, time left)."""
    seconds = int(duration.total_seconds())
    if seconds < 0:
        raise ValueError(f"a duration cannot be negative ({duration})")
    days, rest = divmod(seconds, 86_400)
    if days == 1 and rest == 0:
        days, rest = 0, 86_400  # "24 h" rather than "1 d"
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [
        f"{value} {unit}"
        for value, unit in ((days, "d"), (hours, "h"), (minutes, "min"), (secs, "s"))
        if value
    ]
    return " ".join(parts) or "0 min"


def remind_at(allowed_at: datetime, deadline: datetime) -> datetime:
    """When to remind the approver: 15 minutes before the deadline, or a tenth of the
    duration before it when that is shorter (6 minutes before an hour's approval). A
    deadline not after `allowed_at` leaves no time to remind ahead: the deadline itself."""
    return deadline - max(timedelta(), min(REMIND_BEFORE, (deadline - allowed_at) / 10))
