"""The CloudTrail parser and the detector under generated, corrupted and truncated records.

Every input becomes a well-formed Change (one that survives the table and renders as a
Slack message) or a SkipRecord with a reason; nothing else escapes. A detector batch with
bad rows records and posts every good one and skips the rest, each with its reason.
"""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sandbox.slack_api import SlackStandIn
from sgrevert import blocks
from sgrevert.cloudtrail import SkipRecord, parse_record
from sgrevert.detector import Detector, RunReport
from sgrevert.model import Change, ChangeRecord, State
from sgrevert.settings import SlackSettings
from sgrevert.slack import ChannelPoster, SlackCredentials, web_client
from sgrevert.store import ChangeStore
from tests.hardening.conftest import quiet
from tests.support import BOT_TOKEN, EVENTS, load_event

FIXTURES = sorted(path.stem for path in EVENTS.glob("*.json"))
RECORDS = {name: load_event(name) for name in FIXTURES}
GOOD = [name for name in FIXTURES if "failed" not in name]

leaves = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats()
    | st.text(max_size=12)
    | st.sampled_from(["", "-1", "tcp", "65536", "1e9", "{}", "[]", "sg-1", "0.0.0.0/0", "::/0"])
)
values = st.recursive(
    leaves,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=10), children, max_size=3)
    ),
    max_leaves=10,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if prefix:
        yield prefix
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _paths(child, (*prefix, index))


@st.composite
def corrupted(draw: st.DrawFn) -> Any:
    """A real-shaped record with several values replaced, deleted, or re-encoded as JSON
    text (as Lake's `requestParameters` map holds nested values)."""
    record = copy.deepcopy(RECORDS[draw(st.sampled_from(FIXTURES))])
    for _ in range(draw(st.integers(1, 4))):
        paths = list(_paths(record))
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent: Any = record
        for key in path[:-1]:
            parent = parent[key]
        how = draw(st.sampled_from(["replace", "delete", "as-json-text"]))
        if how == "delete" and isinstance(parent, dict):
            del parent[path[-1]]
        elif how == "as-json-text":
            parent[path[-1]] = json.dumps(parent[path[-1]])
        else:
            parent[path[-1]] = draw(values)
    return record


@st.composite
def truncated(draw: st.DrawFn) -> Any:
    """A record cut short as text and read back as far as JSON allows (or not at all)."""
    text = json.dumps(RECORDS[draw(st.sampled_from(FIXTURES))])
    cut = text[: draw(st.integers(0, len(text) - 1))]
    try:
        return json.loads(cut)
    except ValueError:
        return draw(st.just(cut) | values)


def assert_well_formed(change: Change) -> None:
    assert change.event_id and change.account and change.region
    assert change.group_id
    assert change.rules or (
        change.prefix_list is not None and (change.prefix_list.added or change.prefix_list.removed)
    )
    assert change.event_time.tzinfo is not None
    for rule in change.rules:
        for port in (rule.from_port, rule.to_port):
            assert port is None or isinstance(port, int)
    # it survives the table and renders within Slack's limits
    assert Change.from_dict(json.loads(json.dumps(change.to_dict()))) == change
    message = blocks.message(ChangeRecord(change, State.PENDING, datetime.now(UTC)))
    assert message.text
    assert len(message.blocks) <= 50


def parse_or_skip(record: Any) -> Change | None:
    try:
        change = parse_record(record)
    except SkipRecord as skipped:
        assert skipped.reason
        return None
    assert_well_formed(change)
    return change


@settings(max_examples=1500)
@given(record=corrupted())
def test_corrupted_records_become_well_formed_changes_or_are_skipped(record: Any) -> None:
    parse_or_skip(record)


@settings(max_examples=500)
@given(record=truncated())
def test_truncated_records_become_well_formed_changes_or_are_skipped(record: Any) -> None:
    parse_or_skip(record)


@settings(max_examples=500)
@given(record=values | st.dictionaries(st.sampled_from(list(RECORDS[GOOD[0]])), values))
def test_arbitrary_json_is_skipped_with_a_reason(record: Any) -> None:
    with pytest.raises(SkipRecord) as skipped:
        parse_record(record)
    assert skipped.value.reason


@pytest.mark.parametrize("name", GOOD)
def test_every_real_shaped_record_parses_well_formed(name: str) -> None:
    """The properties' baseline: unmutated records do become changes."""
    change = parse_or_skip(RECORDS[name])
    assert change is not None
    assert change.event_id == RECORDS[name]["eventID"]


# -- a batch with bad rows ------------------------------------------------------------------


class Rows:
    """Lake rows as the detector reads them: `event_json` text (cut or broken for bad rows)."""

    def __init__(self, rows: list[dict[str, str]]) -> None:
        self._rows = rows

    def rows(self, statement: str, timeout_seconds: float) -> Iterable[dict[str, str]]:
        return iter(self._rows)


def good_record(name: str) -> dict[str, Any]:
    record = copy.deepcopy(RECORDS[name])
    record["eventID"] = str(uuid.uuid4())
    return record


bad_rows = st.one_of(
    truncated().map(lambda r: {"event_json": r if isinstance(r, str) else json.dumps(r)}),
    corrupted().map(lambda r: {"event_json": json.dumps(r)}),
    st.text(max_size=40).map(lambda t: {"event_json": t}),
    st.just({"event_id": "no-json"}),
)


def test_a_batch_with_bad_rows_records_and_posts_every_good_one(
    change_store: ChangeStore, slack: SlackStandIn
) -> None:
    client = web_client(SlackSettings("unused", slack.api_url), SlackCredentials(BOT_TOKEN, "-"))

    @settings(max_examples=15)
    @given(
        good=st.lists(st.sampled_from(GOOD), min_size=1, max_size=4),
        bad=st.lists(bad_rows, min_size=1, max_size=6),
        order=st.randoms(use_true_random=False),
    )
    def property_(good: list[str], bad: list[dict[str, str]], order: Any) -> None:
        records = [good_record(name) for name in good]
        rows = [{"event_json": json.dumps(r), "event_id": r["eventID"]} for r in records]
        rows += [{**row, "event_id": f"bad-{uuid.uuid4()}"} for row in bad]
        order.shuffle(rows)
        posts_before = len(slack.posted)
        detector = Detector(
            store=change_store,
            poster=ChannelPoster(client, "C0SECURITY"),
            clock=lambda: datetime.now(UTC),
            time_left=lambda: 300.0,
        )

        with quiet():
            report: RunReport = detector.poll_lake(Rows(rows), "store", timedelta(minutes=20))

        assert report.rows == len(rows)
        for record in records:
            saved = change_store.require(record["eventID"])
            assert saved.posted
        # every row was either recorded or skipped with its reason: none was lost to another
        assert report.recorded + report.already_recorded + report.skipped == len(rows)
        assert len(report.skipped_reasons) == report.skipped
        assert report.skipped <= len(bad)
        # (messages may group changes of one group: at least one post when anything is new)
        assert (len(slack.posted) > posts_before) == (report.recorded > 0)

    property_()
