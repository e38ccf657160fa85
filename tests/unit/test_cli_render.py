"""The CLI's terminal output: aligned tables, colour only when wanted, the query status line."""

from __future__ import annotations

import io
from datetime import UTC, datetime

from sgrevert.cli import CHANGES_HEADERS, changes_table
from sgrevert.cli_render import QueryStatus, Style, table, wants_colour
from sgrevert.cloudtrail import parse_record
from sgrevert.lake import QueryProgress
from sgrevert.model import ChangeRecord, State
from tests.support import load_event


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_colour_only_on_a_terminal_and_never_with_no_color() -> None:
    assert wants_colour(Terminal(), {})
    assert not wants_colour(Terminal(), {"NO_COLOR": "1"})
    assert not wants_colour(io.StringIO(), {})


def test_a_table_aligns_columns_and_colour_does_not_shift_them() -> None:
    rows = [["a", ("red", "CRITICAL")], ["longer", ("dim", "low")]]

    plain = table(["NAME", "RISK"], rows, Style(colour=False))
    coloured = table(["NAME", "RISK"], rows, Style(colour=True))

    assert plain.splitlines() == ["NAME    RISK", "a       CRITICAL", "longer  low"]
    assert "\033[31mCRITICAL\033[0m" in coloured
    assert coloured.replace("\033[1m", "").replace("\033[31m", "").replace("\033[2m", "").replace(
        "\033[0m", ""
    ).splitlines() == [
        "NAME    RISK",
        "a       CRITICAL",
        "longer  low",
    ]


def test_off_a_terminal_the_status_is_one_plain_line_per_change_of_state() -> None:
    stream = io.StringIO()
    status = QueryStatus(stream, live=False, clock=lambda: 0.0)

    for state in ("STARTED", "QUEUED", "RUNNING", "RUNNING", "FINISHED"):
        status(QueryProgress("q1", state))
    status(QueryProgress("q1", "READING", 2))
    status.done()

    assert stream.getvalue().splitlines() == [
        "CloudTrail Lake query q1: STARTED",
        "CloudTrail Lake query q1: QUEUED",
        "CloudTrail Lake query q1: RUNNING",
        "CloudTrail Lake query q1: FINISHED",
        "reading results: 2 rows",
    ]
    assert "\r" not in stream.getvalue()


def test_on_a_terminal_the_status_rewrites_one_line_and_clears_it_at_the_end() -> None:
    stream = Terminal()
    status = QueryStatus(stream, live=True, clock=lambda: 0.0)

    status(QueryProgress("q1", "RUNNING"))
    status(QueryProgress("q1", "RUNNING"))
    status.done()

    text = stream.getvalue()
    assert "\n" not in text
    assert text.count("\r\033[K") == 3
    assert text.endswith("\r\033[K")


def test_the_changes_table_shows_a_prefix_list_edit_by_its_list_id_where_the_group_goes() -> None:
    """Given a recorded prefix-list edit, when `sgrevert changes` lists it, then its row
    names the list's id in the GROUP column and the call in the EVENT column."""
    change = parse_record(load_event("modify_prefix_list_add"))
    record = ChangeRecord(change, State.PENDING, datetime(2026, 11, 27, 10, 45, tzinfo=UTC))

    header, row = changes_table([record], Style(colour=False)).splitlines()

    starts, at = {}, 0
    for name in CHANGES_HEADERS:  # columns are aligned: a cell starts where its header does
        at = starts[name] = header.index(name, at)

    def cell(name: str) -> str:
        return row[starts[name] :].split("  ")[0]

    assert cell("GROUP") == "pl-0123456789abcdef0"
    assert cell("EVENT") == "ModifyManagedPrefixList"
    assert cell("STATE") == "PENDING"
