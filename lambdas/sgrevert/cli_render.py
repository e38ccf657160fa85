"""Terminal output for the operator CLI: aligned tables and fields, colour, a query status
line, and times as an operator reads them ("allowed until 2026-12-01 14:32 UTC (1 h left)").

Colour and the spinner appear only on a terminal (never in pipes or files), and colour
not at all when NO_COLOR is set (https://no-color.org), so scripts read plain text.
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TextIO

from sgrevert.durations import duration_words
from sgrevert.lake import QueryProgress

_CODES = {
    "bold": "1",
    "dim": "2",
    "red": "31",
    "green": "32",
    "yellow": "33",
    "cyan": "36",
}
STATE_COLOURS: Mapping[str, str] = {
    "PENDING": "yellow",
    "INFO": "dim",
    "APPROVED": "green",
    "DENIED": "yellow",
    "REVERTED": "green",
    "REVERT_FAILED": "red",
}


def wants_colour(stream: TextIO, environ: Mapping[str, str] | None = None) -> bool:
    env = os.environ if environ is None else environ
    return _isatty(stream) and not env.get("NO_COLOR")


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # closed or not a real stream
        return False


class Style:
    def __init__(self, colour: bool) -> None:
        self.colour = colour

    def __call__(self, name: str, text: str) -> str:
        code = _CODES.get(name)
        if not self.colour or code is None or not text:
            return text
        return f"\033[{code}m{text}\033[0m"

    def state(self, state: str) -> str:
        return self(STATE_COLOURS.get(state, ""), state)


Cell = str | tuple[str, str]  # plain text, or (style name, text)


def table(headers: Sequence[str], rows: Sequence[Sequence[Cell]], style: Style) -> str:
    """Left-aligned columns two spaces apart; styling is applied after padding, so escape
    codes never disturb the alignment."""
    plain = [[cell if isinstance(cell, str) else cell[1] for cell in row] for row in rows]
    widths = [len(h) for h in headers]
    for texts in plain:
        widths = [max(w, len(text)) for w, text in zip(widths, texts, strict=True)]
    widths[-1] = 0  # the last column is not padded: no trailing blanks
    lines = ["  ".join(style("bold", h.ljust(w)) for h, w in zip(headers, widths, strict=True))]
    for cells_in, texts in zip(rows, plain, strict=True):
        cells = []
        for cell, text, width in zip(cells_in, texts, widths, strict=True):
            padded = text.ljust(width)
            cells.append(padded if isinstance(cell, str) else style(cell[0], padded))
        lines.append("  ".join(cells))
    return "\n".join(lines)


def fields(pairs: Sequence[tuple[str, Sequence[str]]], style: Style, indent: str = "  ") -> str:
    """ "label  value" lines with the values aligned; a value of several lines continues
    under the first, and a label with no lines is left out."""
    shown = [(label, lines) for label, lines in pairs if lines]
    width = max((len(label) for label, _ in shown), default=0)
    out = []
    for label, lines in shown:
        out.append(f"{indent}{style('dim', label.ljust(width))}  {lines[0]}".rstrip())
        out += [f"{indent}{' ' * width}  {line}".rstrip() for line in lines[1:]]
    return "\n".join(out)


def utc_minute(moment: datetime) -> str:
    """ "2026-12-01 14:32 UTC": a deadline as a person reads it."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def time_left(until: datetime, now: datetime) -> str:
    """ "1 h left", "6 d 23 h left", "less than a minute left", "3 min overdue": to the
    minute (to the hour beyond a day), never rounded up."""
    seconds = (until - now).total_seconds()
    if 0 < seconds < 60:
        return "less than a minute left"
    if -60 < seconds <= 0:
        return "due now"
    step = 3600 if abs(seconds) >= 86_400 else 60
    words = duration_words(timedelta(seconds=abs(seconds) // step * step))
    return f"{words} left" if seconds > 0 else f"{words} overdue"


def expiry_text(until: datetime, now: datetime) -> str:
    """ "allowed until 2026-12-01 14:32 UTC (1 h left)"."""
    return f"allowed until {utc_minute(until)} ({time_left(until, now)})"


class QueryStatus:
    """Shows a Lake query's progress on `stream`: a spinner line on a terminal, plain lines
    (one per change of state) otherwise."""

    _FRAMES = "|/-\\"

    def __init__(
        self, stream: TextIO, *, live: bool, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._stream = stream
        self._live = live
        self._clock = clock
        self._started = clock()
        self._frames = itertools.cycle(self._FRAMES)
        self._last: str | None = None

    def __call__(self, progress: QueryProgress) -> None:
        elapsed = self._clock() - self._started
        if progress.state == "READING":
            text = f"reading results: {progress.rows} rows"
        else:
            text = f"CloudTrail Lake query {progress.query_id}: {progress.state}"
        if self._live:
            self._stream.write(f"\r\033[K{next(self._frames)} {text} ({elapsed:.0f}s)")
            self._stream.flush()
        elif text != self._last:
            self._stream.write(f"{text}\n")
            self._stream.flush()
        self._last = text

    def done(self) -> None:
        """Clear the spinner line so what follows starts on a clean line."""
        if self._live and self._last is not None:
            self._stream.write("\r\033[K")
            self._stream.flush()
