"""The CLI's terminal output: aligned tables, colour only when wanted, the query status line,
and one change as `sgrevert show` tells it."""

from __future__ import annotations

import io
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sgrevert.cli import CHANGES_HEADERS, changes_table, show_text
from sgrevert.cli_render import (
    QueryStatus,
    Style,
    expiry_text,
    fields,
    table,
    time_left,
    wants_colour,
)
from sgrevert.cloudtrail import parse_record
from sgrevert.context import ActorInfo, ChangeContext, Via
from sgrevert.lake import QueryProgress
from sgrevert.model import (
    Change,
    ChangeRecord,
    Direction,
    Prior,
    State,
    Step,
    Transition,
)
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


# -- approvals for a while, and `sgrevert show` -----------------------------------------------

NOW = datetime(2026, 12, 1, 13, 32, tzinfo=UTC)
UNTIL = NOW + timedelta(hours=1)


def temporary(change: Change | None = None, **values: Any) -> ChangeRecord:
    """A change posted at NOW - 3 min and allowed by U0ALICE at NOW for an hour, with the
    account's name and the actor read."""
    context = ChangeContext(
        read_at=NOW,
        account_name="prod-payments",
        actor=ActorInfo(Via.CONSOLE, "li.wei@example.com", "U0ACTOR"),
    )
    record = ChangeRecord(
        change or parse_record(load_event("authorize_ingress_ipv4")),
        State.APPROVED,
        NOW - timedelta(minutes=3),
        slack_channel="C0SECURITY",
        slack_ts="1700000000.000100",
        decided_by="U0ALICE",
        decided_at=NOW,
        risk="critical",
        context=context,
        approved_until=UNTIL,
        history=(
            Transition(Step.POSTED, NOW - timedelta(minutes=3)),
            Transition(Step.ALLOWED_UNTIL, NOW, by="U0ALICE", why="for 1 h", until=UNTIL),
        ),
    )
    return replace(record, **values)


def field(text: str, label: str) -> list[str]:
    """The lines of one field of `show`'s text: its first and those continuing it."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.split()[:1] == [label])
    column = lines[start].index(lines[start].split()[1], len(label) + 2)
    found = [lines[start][column:]]
    for line in lines[start + 1 :]:
        if not line.startswith(" " * column) or not line.strip():
            break
        found.append(line[column:])
    return found


@pytest.mark.parametrize(
    ("left", "words"),
    [
        (timedelta(hours=1), "1 h left"),
        (timedelta(minutes=59, seconds=59), "59 min left"),  # never rounded up
        (timedelta(days=6, hours=23, minutes=59), "6 d 23 h left"),  # to the hour past a day
        (timedelta(seconds=30), "less than a minute left"),
        (timedelta(seconds=-30), "due now"),
        (timedelta(minutes=-3), "3 min overdue"),
    ],
)
def test_the_time_left_is_said_to_the_minute_and_never_rounded_up(
    left: timedelta, words: str
) -> None:
    """Given a deadline `left` away, then the time left is said without overstating it."""
    assert time_left(NOW + left, NOW) == words


def test_an_expiry_is_said_as_a_time_in_utc_with_the_time_left() -> None:
    assert expiry_text(UNTIL, NOW) == "allowed until 2026-12-01 14:32 UTC (1 h left)"


def test_fields_align_their_values_and_continue_several_lines_under_the_first() -> None:
    """Given fields with one value, several and none, then values start in one column,
    continuations under the first, and a field with none is left out."""
    text = fields([("state", ["APPROVED"]), ("context", ["a", "b"]), ("note", [])], Style(False))

    assert text.splitlines() == ["  state    APPROVED", "  context  a", "           b"]


def test_show_tells_a_temporary_approval_with_its_context_expiry_and_history() -> None:
    """Given a change allowed for an hour, when shown an hour before its deadline, then
    the text names the account, the rule, who allowed it, the expiry with the time left,
    the context read at post time, and each step of its history on one line."""
    record = temporary()

    text = show_text(record, NOW, Style(colour=False))

    assert text.splitlines()[0] == record.event_id
    assert field(text, "account") == ["prod-payments (111122223333)"]
    assert field(text, "rules") == ["ingress tcp/22 203.0.113.0/24 (sgr-0d2e4f6a8b0c1d3e5)"]
    assert field(text, "state") == ["APPROVED"]
    assert field(text, "decided") == ["U0ALICE at 2026-12-01T13:32:00Z"]
    assert field(text, "expiry") == ["allowed until 2026-12-01 14:32 UTC (1 h left)"]
    assert field(text, "context") == ["by li.wei@example.com via the console"]
    assert field(text, "message") == ["C0SECURITY 1700000000.000100"]
    history = text.split("history:\n")[1].splitlines()
    assert [re.split(r"\s{2,}", line.strip()) for line in history] == [
        ["TIME", "STEP", "BY", "DETAIL"],
        ["2026-12-01T13:29:00Z", "posted", "-"],
        ["2026-12-01T13:32:00Z", "allowed_until", "U0ALICE", "until 2026-12-01 14:32 UTC; for 1 h"],
    ]
    assert all(line == line.rstrip() for line in text.splitlines())


def test_show_tells_an_expired_approval_by_its_decider_outcome_and_steps() -> None:
    """Given an approval that expired and was reverted, then the text shows it REVERTED
    by the expiry of U0ALICE's approval, with no expiry left, and the steps in order."""
    record = temporary(
        state=State.REVERTED,
        decided_by="expiry:U0ALICE",
        decided_at=UNTIL,
        approved_until=None,
        outcome="1 rule revoked in 111122223333 / eu-west-1",
    )
    record = replace(
        record,
        history=(
            *record.history,
            Transition(Step.EXPIRED, UNTIL, by="expiry:U0ALICE", why="approval by U0ALICE expired"),
            Transition(Step.REVERTED, UNTIL, why="1 rule revoked in 111122223333 / eu-west-1"),
        ),
    )

    text = show_text(record, UNTIL + timedelta(minutes=1), Style(colour=False))

    assert field(text, "state") == ["REVERTED"]
    assert field(text, "decided") == ["expiry:U0ALICE at 2026-12-01T14:32:00Z"]
    assert "expiry" not in [line.split()[0] for line in text.splitlines() if line.strip()]
    assert field(text, "outcome") == ["1 rule revoked in 111122223333 / eu-west-1"]
    steps = [line.split()[1] for line in text.split("history:\n")[1].splitlines()[1:]]
    assert steps == ["posted", "allowed_until", "expired", "reverted"]
    assert "expiry:U0ALICE  approval by U0ALICE expired" in text


def test_show_tells_a_modification_as_before_and_after() -> None:
    """Given a modification with its rule's earlier value on record, then its rule reads
    earlier value → new value."""
    change = parse_record(load_event("modify_rule_ssh_from_anywhere"))
    [rule] = change.rules
    before = replace(rule, direction=Direction.INGRESS, source="10.0.0.0/8")
    change = replace(change, prior=(Prior(before, NOW, "evt-authorize"),))

    text = show_text(temporary(change), NOW, Style(colour=False))

    assert field(text, "rules") == [
        f"{rule.rule_id}: tcp 22 from 10.0.0.0/8 → tcp 22 from 0.0.0.0/0"
    ]


def test_show_tells_a_prefix_list_edit_by_its_entries_and_a_record_without_history() -> None:
    """Given a recorded prefix-list edit never posted nor decided (no steps, no context),
    then it shows the list, its added entries, and says what was not recorded."""
    change = parse_record(load_event("modify_prefix_list_add"))
    record = ChangeRecord(change, State.PENDING, NOW)

    text = show_text(record, NOW, Style(colour=False))

    assert field(text, "group") == ["pl-0123456789abcdef0 (corp-ranges)"]
    assert field(text, "entries") == ["+0.0.0.0/0 (anywhere) (vendor access (temporary))"]
    assert field(text, "message") == ["not posted"]
    assert field(text, "context") == ["not read"]
    assert text.endswith("history: no steps recorded")
    assert "decided" not in text and "expiry" not in text


def test_the_changes_table_shows_when_a_temporary_approval_expires() -> None:
    """Given a change allowed for an hour and one approved for good, when listed, then
    the first's EXPIRES cell has its deadline and time left, the other's a dash."""
    allowed = temporary()
    kept = replace(temporary(), approved_until=None)
    kept = replace(kept, change=replace(kept.change, event_id="kept"))

    lines = changes_table([allowed, kept], Style(colour=False), NOW).splitlines()

    starts, at = {}, 0
    for name in CHANGES_HEADERS:
        at = starts[name] = lines[0].index(name, at)

    def cell(row: str, name: str) -> str:
        return row[starts[name] :].split("  ", maxsplit=1)[0]

    assert cell(lines[1], "EXPIRES") == "2026-12-01T14:32:00Z (1 h left)"
    assert cell(lines[2], "EXPIRES") == "-"
