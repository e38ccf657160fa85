"""The Lake statement: bounded on both sides, only successful watched calls, all aliased."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from sgrevert.model import WATCHED_EVENTS
from sgrevert.query import security_group_changes

START = datetime(2026, 11, 27, 11, 40, tzinfo=UTC)
END = START + timedelta(minutes=20)
STORE = "EXAMPLE-f852-4e8f-8bd1-bcf6cEXAMPLE"


def test_the_statement_reads_from_the_store_and_bounds_event_time() -> None:
    sql = security_group_changes(STORE, START, END)
    assert f"FROM {STORE} " in sql
    assert "eventTime >= '2026-11-27 11:40:00'" in sql
    assert "eventTime < '2026-11-27 12:00:00'" in sql
    assert "errorCode IS NULL" in sql
    assert "eventSource = 'ec2.amazonaws.com'" in sql
    for name in WATCHED_EVENTS:
        assert f"'{name}'" in sql


def test_the_statement_selects_modifications_and_prefix_list_edits() -> None:
    """Given the detector's statement, then it selects ModifySecurityGroupRules and
    ModifyManagedPrefixList along with the Authorize and Revoke calls."""
    sql = security_group_changes(STORE, START, END)

    names = re.search(r"eventName IN \((.*?)\)", sql)
    assert names is not None
    assert names.group(1).split(", ") == [
        "'AuthorizeSecurityGroupEgress'",
        "'AuthorizeSecurityGroupIngress'",
        "'ModifyManagedPrefixList'",
        "'ModifySecurityGroupRules'",
        "'RevokeSecurityGroupEgress'",
        "'RevokeSecurityGroupIngress'",
    ]


def test_every_selected_expression_is_aliased() -> None:
    sql = security_group_changes(STORE, START, END)
    selected = re.match(r"SELECT (.*?) FROM", sql)
    assert selected is not None
    for expression in selected.group(1).split(","):
        assert " AS " in expression


@pytest.mark.parametrize("store", ["", "x; DROP TABLE y", "a b"])
def test_a_store_id_that_is_not_an_id_is_refused(store: str) -> None:
    with pytest.raises(ValueError, match="event data store"):
        security_group_changes(store, START, END)


def test_an_empty_window_is_refused() -> None:
    with pytest.raises(ValueError, match="empty window"):
        security_group_changes(STORE, END, START)
