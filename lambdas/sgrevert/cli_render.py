"""Terminal output for the operator CLI: aligned tables, colour, a query status line.

Colour and the spinner appear only on a terminal (never in pipes or files), and colour
not at all when NO_COLOR is set (https://no-color.org), so scripts read plain text.
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TextIO

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
