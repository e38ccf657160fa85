"""`sgrevert replay` and the CLI's argument handling: pure, no AWS anywhere.

Every AWS endpoint points at a closed port, so any call replay made would fail the test.
"""

from __future__ import annotations

import copy
import gzip
import io
import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sgrevert.cli import EXIT_OK, EXIT_USAGE, duration, main
from sgrevert.trail_file import CHUNK_SIZE, UnreadableInput, iter_records, read_records
from tests.support import load_event

INGRESS = load_event("authorize_ingress_ipv4")
FAILED = load_event("authorize_ingress_failed_duplicate")
EGRESS = load_event("authorize_egress")
REVOKE = load_event("revoke_egress_by_rule_ids")


@pytest.fixture(autouse=True)
def no_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "none")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "none")


def write(tmp_path: Path, name: str, data: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def replay_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    assert main(["replay", "--json", *args]) == EXIT_OK
    result: dict[str, Any] = json.loads(capsys.readouterr().out)
    return result


def test_given_one_record_when_replayed_then_the_change_and_its_exact_revoke_are_printed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, "one.json", json.dumps(INGRESS).encode())

    assert main(["replay", path]) == EXIT_OK

    out = capsys.readouterr().out
    rule_id = INGRESS["responseElements"]["securityGroupRuleSet"]["items"][0]
    assert INGRESS["eventID"] in out
    assert "ingress tcp/22 203.0.113.0/24" in out
    assert f"ingress rule {rule_id['securityGroupRuleId']}" in out
    assert "would revoke 1 rule(s) on sg-0c3d5e7f9a1b2c4d6 in 111122223333 / eu-west-1" in out


@pytest.mark.parametrize(
    "shape",
    ["list", "trail-log", "trail-log-gzip", "json-lines"],
)
def test_given_each_file_shape_when_replayed_then_changes_and_skips_are_the_same(
    shape: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    records = [INGRESS, FAILED, EGRESS, REVOKE]
    data = {
        "list": json.dumps(records).encode(),
        "trail-log": json.dumps({"Records": records}).encode(),
        "trail-log-gzip": gzip.compress(json.dumps({"Records": records}).encode()),
        "json-lines": "\n".join(json.dumps(r) for r in records).encode() + b"\n",
    }[shape]

    result = replay_json(capsys, write(tmp_path, "input", data))

    assert [c["change"]["event_id"] for c in result["changes"]] == [
        INGRESS["eventID"],
        EGRESS["eventID"],
        REVOKE["eventID"],
    ]
    ingress, egress, revoke = result["changes"]
    assert ingress["revert"]["ingress_rule_ids"] == ["sgr-0d2e4f6a8b0c1d3e5"]
    assert (ingress["revert"]["account"], ingress["revert"]["region"]) == (
        "111122223333",
        "eu-west-1",
    )
    assert egress["revert"]["egress_rule_ids"] == [
        "sgr-0f1a2b3c4d5e6f7a8",
        "sgr-0f1a2b3c4d5e6f7a9",
    ]
    assert revoke["revert"] is None  # informational: a Deny revokes nothing
    [skipped] = result["skipped"]
    assert skipped["event_id"] == FAILED["eventID"]
    assert skipped["reason"] == "call failed with Client.InvalidPermission.Duplicate"


def test_given_stdin_when_replayed_with_a_dash_then_it_is_read(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    stream = io.TextIOWrapper(io.BytesIO(json.dumps([INGRESS]).encode()))
    monkeypatch.setattr("sys.stdin", stream)

    result = replay_json(capsys, "-")

    assert [c["change"]["event_id"] for c in result["changes"]] == [INGRESS["eventID"]]


def test_given_a_failed_record_and_a_broken_line_when_replayed_then_each_skip_says_why(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    not_watched = copy.deepcopy(INGRESS)
    not_watched["eventName"] = "CreateSecurityGroup"
    lines = [json.dumps(FAILED), "{not json", json.dumps(not_watched)]
    path = write(tmp_path, "lines.jsonl", "\n".join(lines).encode())

    assert main(["replay", path]) == EXIT_OK

    captured = capsys.readouterr()
    assert f"skipped line 1 ({FAILED['eventID']}): call failed with" in captured.out
    assert "skipped line 2: not JSON" in captured.out
    assert "skipped line 3" in captured.out
    assert "'CreateSecurityGroup' is not watched" in captured.out
    assert "0 changes, 3 skipped" in captured.err


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"", "empty input"),
        (b"this is not json\nnor this\n", "neither JSON"),
        (b"\x1f\x8bnot really gzip", "does not decompress"),
        (b"\xff\xfe\x00bad", "not UTF-8"),
    ],
)
def test_given_unreadable_input_when_replayed_then_usage_error_says_what_was_expected(
    data: bytes, problem: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(UnreadableInput, match=problem):
        read_records(data)

    assert main(["replay", write(tmp_path, "bad", data)]) == EXIT_USAGE

    assert problem in capsys.readouterr().err


def test_given_a_missing_file_when_replayed_then_the_error_names_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = str(tmp_path / "nope.json")

    assert main(["replay", missing]) == EXIT_USAGE

    assert f"cannot read {missing}" in capsys.readouterr().err


# -- what users hold: EventBridge, lookup-events, Lake, several files ------------------------

OLD_EVENT = load_event("eventbridge/authorize_ingress_2019_no_recipient")
LOOKUP_EVENTS = load_event("replay/lookup_events")
QUERY_RESULTS = load_event("replay/get_query_results")
DIGEST = load_event("replay/digest")
RECORDS = [INGRESS, FAILED, EGRESS, REVOKE]


def trail_file(*records: dict[str, Any]) -> bytes:
    """A trail log file as CloudTrail writes it to S3: one compact line, no newline."""
    return json.dumps({"Records": list(records)}, separators=(",", ":")).encode()


def event_ids(result: dict[str, Any]) -> list[str]:
    return [c["change"]["event_id"] for c in result["changes"]]


def test_given_a_2019_eventbridge_event_without_recipient_account_then_its_envelope_account_is_used(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given an EventBridge event as the real-time path gets it, from before records carried
    # recipientAccountId
    path = write(tmp_path, "event.json", json.dumps(OLD_EVENT, indent=2).encode())

    result = replay_json(capsys, path)

    # Then the change is in the envelope's account, and its revoke is by permission (2019
    # responses had no rule ids)
    [change] = result["changes"]
    assert change["where"] == "record 1"
    assert change["change"]["account"] == "444455556666"
    assert change["revert"]["account"] == "444455556666"
    assert change["revert"]["ingress_permissions"] == [
        {
            "IpProtocol": "tcp",
            "FromPort": 3389,
            "ToPort": 3389,
            "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
        }
    ]
    assert result["skipped"] == []


def test_given_eventbridge_events_as_json_lines_then_each_is_read_and_other_kinds_are_skipped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scheduled = {**load_event("eventbridge/authorize_egress"), "detail-type": "Scheduled Event"}
    lines = [OLD_EVENT, load_event("eventbridge/authorize_ingress_ipv4"), scheduled]
    path = write(tmp_path, "events.jsonl", b"\n".join(json.dumps(e).encode() for e in lines))

    result = replay_json(capsys, path)

    assert event_ids(result) == [OLD_EVENT["detail"]["eventID"], INGRESS["eventID"]]
    assert [c["where"] for c in result["changes"]] == ["line 1", "line 2"]
    [skipped] = result["skipped"]
    assert skipped["where"] == "line 3"
    assert "an EventBridge event with no CloudTrail record" in skipped["reason"]
    assert "'Scheduled Event'" in skipped["reason"]


def test_given_lookup_events_output_then_each_cloudtrail_event_is_replayed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given `aws cloudtrail lookup-events` output: each record is a JSON string in
    # CloudTrailEvent, newest first
    path = write(tmp_path, "lookup.json", json.dumps(LOOKUP_EVENTS, indent=4).encode())

    result = replay_json(capsys, path)

    assert event_ids(result) == [EGRESS["eventID"], INGRESS["eventID"]]
    assert [c["where"] for c in result["changes"]] == ["record 1", "record 3"]
    assert result["changes"][1]["revert"]["ingress_rule_ids"] == ["sgr-0d2e4f6a8b0c1d3e5"]
    [skipped] = result["skipped"]
    assert (skipped["where"], skipped["event_id"]) == ("record 2", FAILED["eventID"])
    assert skipped["reason"] == "call failed with Client.InvalidPermission.Duplicate"


def test_given_a_lookup_events_entry_whose_cloudtrail_event_is_broken_then_it_alone_is_skipped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    page = copy.deepcopy(LOOKUP_EVENTS)
    page["Events"][0]["CloudTrailEvent"] = page["Events"][0]["CloudTrailEvent"][:-40]
    path = write(tmp_path, "lookup.json", json.dumps(page).encode())

    result = replay_json(capsys, path)

    assert event_ids(result) == [INGRESS["eventID"]]
    broken = result["skipped"][0]
    assert (broken["where"], broken["event_id"]) == ("record 1", EGRESS["eventID"])
    assert broken["reason"].startswith("its CloudTrailEvent is not JSON")


@pytest.mark.parametrize("column", ["eventjson", "eventJson", "event_json", "EventJSON"])
def test_given_lake_get_query_results_output_then_each_rows_event_json_is_replayed(
    column: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given `aws cloudtrail get-query-results` output: each row a list of one-key cells
    page = copy.deepcopy(QUERY_RESULTS)
    for row in page["QueryResultRows"]:
        row[2] = {column: row[2]["eventjson"]}
    path = write(tmp_path, "results.json", json.dumps(page, indent=4).encode())

    result = replay_json(capsys, path)

    assert event_ids(result) == [INGRESS["eventID"], EGRESS["eventID"]]
    [skipped] = result["skipped"]
    assert (skipped["where"], skipped["event_id"]) == ("record 3", FAILED["eventID"])


def test_given_lake_rows_without_the_event_json_column_then_the_skip_names_the_columns(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    page = copy.deepcopy(QUERY_RESULTS)
    page["QueryResultRows"] = [row[:2] for row in page["QueryResultRows"]]
    path = write(tmp_path, "results.json", json.dumps(page).encode())

    assert main(["replay", path]) == EXIT_USAGE

    error = capsys.readouterr().err
    assert "a Lake result row with no eventJson column (eventID, eventTime)" in error


@pytest.mark.parametrize("between", [b"", b"\n", b"\n\n  \n"])
def test_given_concatenated_trail_files_then_every_files_records_are_replayed(
    between: bytes, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given trail files joined as `cat` joins them (CloudTrail's files end without a newline)
    data = between.join([trail_file(INGRESS, FAILED), trail_file(EGRESS), trail_file(REVOKE)])

    result = replay_json(capsys, write(tmp_path, "day.json", data))

    assert event_ids(result) == [INGRESS["eventID"], EGRESS["eventID"], REVOKE["eventID"]]
    assert [c["where"] for c in result["changes"]] == ["record 1", "record 3", "record 4"]
    assert [s["event_id"] for s in result["skipped"]] == [FAILED["eventID"]]


def test_given_concatenated_gzip_trail_files_then_every_member_is_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given `cat *.json.gz` of three trail files: one gzip stream of three members
    members = [trail_file(INGRESS, FAILED), trail_file(EGRESS), trail_file(REVOKE)]
    data = b"".join(gzip.compress(member) for member in members)

    from_file = replay_json(capsys, write(tmp_path, "day.json.gz", data))
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(data)))
    from_stdin = replay_json(capsys, "-")

    assert event_ids(from_file) == [INGRESS["eventID"], EGRESS["eventID"], REVOKE["eventID"]]
    assert from_stdin == from_file


def test_given_a_list_of_trail_files_then_the_records_of_each_are_replayed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given `jq -s . *.json`: a list of {"Records": [...]} documents
    files = [{"Records": [INGRESS, FAILED]}, {"Records": []}, {"Records": [EGRESS, REVOKE]}]
    path = write(tmp_path, "files.json", json.dumps(files, indent=2).encode())

    result = replay_json(capsys, path)

    assert event_ids(result) == [INGRESS["eventID"], EGRESS["eventID"], REVOKE["eventID"]]
    assert [c["where"] for c in result["changes"]] == ["record 1", "record 3", "record 4"]


def test_given_a_digest_file_then_the_error_says_it_holds_no_events(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, "digest.json.gz", gzip.compress(json.dumps(DIGEST).encode()))

    assert main(["replay", path]) == EXIT_USAGE

    captured = capsys.readouterr()
    assert captured.out == ""
    assert (
        "this is a CloudTrail digest file: it holds hashes of log files, not events; "
        "replay the log files instead" in captured.err
    )


def test_given_a_digest_file_among_trail_files_then_it_alone_is_skipped_saying_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = b"\n".join([trail_file(INGRESS), json.dumps(DIGEST).encode(), trail_file(EGRESS)])

    result = replay_json(capsys, write(tmp_path, "mixed.json", data))

    assert event_ids(result) == [INGRESS["eventID"], EGRESS["eventID"]]
    [skipped] = result["skipped"]
    assert skipped["where"] == "line 2"
    assert skipped["reason"].startswith("this is a CloudTrail digest file")


DEEP = 100_000


@pytest.mark.parametrize(
    "data",
    [
        b"[" * DEEP + b"]" * DEEP,
        b'{"Records": [' + b"[" * DEEP + b"]" * DEEP + b"]}",
        b'{"eventName": "AuthorizeSecurityGroupIngress", "requestParameters": '
        + b'{"a": ' * DEEP
        + b"1"
        + b"}" * DEEP
        + b"}",
    ],
    ids=["nested-lists", "nested-in-records", "nested-objects-in-a-record"],
)
def test_given_json_nested_100000_deep_then_replay_says_so_and_exits_2_without_a_traceback(
    data: bytes, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["replay", write(tmp_path, "deep.json", data)]) == EXIT_USAGE

    captured = capsys.readouterr()
    assert "JSON nested too deeply to read" in captured.err
    assert "Traceback" not in captured.err + captured.out


def test_given_a_deeply_nested_line_among_good_ones_then_only_that_line_is_skipped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    deep_event = json.dumps({**INGRESS, "eventID": "deep"})[:-1] + ', "x": ' + "[" * DEEP
    deep_event += "]" * DEEP + "}"
    nested_string = copy.deepcopy(LOOKUP_EVENTS)
    nested_string["Events"] = [{"EventId": "e-1", "CloudTrailEvent": "[" * DEEP + "]" * DEEP}]
    lines = [
        json.dumps(INGRESS),
        "[" * DEEP + "]" * DEEP,
        deep_event,
        json.dumps(nested_string),
        json.dumps(EGRESS),
    ]
    path = write(tmp_path, "lines.jsonl", "\n".join(lines).encode())

    result = replay_json(capsys, path)

    assert event_ids(result) == [INGRESS["eventID"], EGRESS["eventID"]]
    reasons = {s["where"]: s["reason"] for s in result["skipped"]}
    assert reasons["record 1"] == "JSON nested too deeply to read (line 2)"
    assert reasons["line 3"] == "JSON nested too deeply to read (line 3)"
    assert reasons["record 2"] == "its CloudTrailEvent is JSON nested too deeply to read"


def test_given_the_same_change_in_a_trail_file_lookup_events_and_lake_output_then_it_is_replayed_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given overlapping exports of the same hour: every change appears three times
    data = b"\n".join(
        [
            trail_file(*RECORDS),
            json.dumps(LOOKUP_EVENTS).encode(),
            json.dumps(QUERY_RESULTS).encode(),
        ]
    )
    path = write(tmp_path, "overlap.json", data)

    result = replay_json(capsys, path)

    # Then each eventID is replayed the first time only, and the duplicates are counted
    assert event_ids(result) == [INGRESS["eventID"], EGRESS["eventID"], REVOKE["eventID"]]
    assert [s["event_id"] for s in result["skipped"]] == [FAILED["eventID"]]
    assert result["duplicates"] == 6  # three from lookup-events, three from Lake
    assert main(["replay", path]) == EXIT_OK
    assert "3 changes, 1 skipped, 6 duplicates dropped" in capsys.readouterr().err


def test_given_a_failed_call_seen_twice_then_it_is_skipped_once_and_counted_as_a_duplicate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, "twice.json", trail_file(FAILED, INGRESS, FAILED, INGRESS))

    assert main(["replay", path]) == EXIT_OK

    captured = capsys.readouterr()
    assert captured.out.count(INGRESS["eventID"]) == 1
    assert captured.out.count(f"skipped record 1 ({FAILED['eventID']})") == 1
    assert "1 changes, 1 skipped, 2 duplicates dropped" in captured.err


# -- streaming -------------------------------------------------------------------------------


class CountingReader(io.RawIOBase):
    """A binary stream of `count` copies of a trail file's records that says how much of it
    has been read: the input a streaming reader must not read ahead of."""

    def __init__(self, count: int) -> None:
        record = json.dumps(INGRESS, separators=(",", ":")).encode()
        self.parts = iter([b'{"Records":[', *([record + b","] * (count - 1)), record, b"]}"])
        self.pending = b""
        self.read_bytes = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self.pending:
            self.pending = next(self.parts, b"")
            if not self.pending:
                return 0
        size = min(len(buffer), len(self.pending))
        buffer[:size] = self.pending[:size]
        self.pending = self.pending[size:]
        self.read_bytes += size
        return size


def test_given_a_long_trail_file_then_it_is_read_only_as_far_as_the_records_taken() -> None:
    # Given a 40,000-record (about 75 MB) trail file
    stream = CountingReader(40_000)

    # When the first records are taken
    entries = iter_records(io.BufferedReader(stream))
    first = [next(entries) for _ in range(10)]

    # Then about one read-ahead chunk was read, not the file; the rest follows on demand
    assert [entry.where for entry in first] == [f"record {n}" for n in range(1, 11)]
    assert first[0].record == INGRESS
    assert stream.read_bytes <= 2 * CHUNK_SIZE
    assert sum(1 for _ in entries) == 40_000 - 10
    assert stream.read_bytes > 70_000_000


def test_given_json_output_when_written_piece_by_piece_then_it_is_exactly_the_whole_document(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, "day.json", trail_file(*RECORDS, INGRESS) + b"\n{not json\n")

    assert main(["replay", "--json", path]) == EXIT_OK

    out = capsys.readouterr().out
    assert out == json.dumps(json.loads(out), indent=2, sort_keys=True) + "\n"
    assert len(json.loads(out)["changes"]) == 3
    assert len(json.loads(out)["skipped"]) == 2


@pytest.mark.parametrize("data", [trail_file(FAILED), b"{}", b'{"Records": []}'])
def test_given_no_change_when_json_is_written_then_it_is_still_the_whole_document(
    data: bytes, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["replay", "--json", write(tmp_path, "input", data)]) == EXIT_OK

    out = capsys.readouterr().out
    assert out == json.dumps(json.loads(out), indent=2, sort_keys=True) + "\n"
    assert json.loads(out)["changes"] == []


def test_given_a_gzip_cut_short_after_some_changes_then_those_print_and_the_error_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a download cut off inside the second of two gzip members
    whole = gzip.compress(trail_file(INGRESS)) + gzip.compress(trail_file(EGRESS) * 200)
    path = write(tmp_path, "cut.json.gz", whole[: len(whole) - 100])

    assert main(["replay", "--json", path]) == EXIT_USAGE

    captured = capsys.readouterr()
    assert event_ids(json.loads(captured.out))[0] == INGRESS["eventID"]  # still whole JSON
    assert "a gzip file that does not decompress" in captured.err


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(st.characters(exclude_categories=["Cs"]), max_size=12),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.text(max_size=6).filter(lambda k: k not in ("Records", "Events")), inner, max_size=4
        )
    ),
    max_leaves=12,
)
RECORD_VALUES = st.dictionaries(
    st.sampled_from(["eventID", "eventName", "a", "ü", 'q"\\']), JSON_VALUES
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    files=st.lists(st.lists(RECORD_VALUES, max_size=4), min_size=1, max_size=4),
    indent=st.sampled_from([None, 0, 2]),
    ascii_only=st.booleans(),
    separator=st.sampled_from(["", "\n", " \r\n\t"]),
    gzipped=st.booleans(),
    chunk_size=st.integers(min_value=1, max_value=64),
)
def test_property_concatenated_trail_files_read_in_any_chunks_give_back_every_record(
    files: list[list[dict[str, Any]]],
    indent: int | None,
    ascii_only: bool,
    separator: str,
    gzipped: bool,
    chunk_size: int,
) -> None:
    # Given trail files of any records, written any way JSON can be written, concatenated
    text = separator.join(
        json.dumps({"Records": records}, indent=indent, ensure_ascii=ascii_only)
        for records in files
    )
    data = text.encode()
    if gzipped:
        data = b"".join(gzip.compress(part.encode()) for part in text.split("\n"))

    # When read a few characters at a time (values straddle every possible boundary)
    entries = list(iter_records(io.BytesIO(data), chunk_size=chunk_size))

    # Then every record comes back, equal to what the standard decoder reads, in order
    expected = [record for records in files for record in records]
    assert [entry.record for entry in entries] == expected
    assert [entry.where for entry in entries] == [
        f"record {n}" for n in range(1, len(expected) + 1)
    ]
    assert all(entry.problem is None for entry in entries)


@settings(max_examples=100, deadline=None)
@given(
    lines=st.lists(st.one_of(RECORD_VALUES, st.just("{broken")), min_size=2, max_size=6),
    chunk_size=st.integers(min_value=1, max_value=32),
)
def test_property_json_lines_with_broken_lines_give_back_every_good_line_by_number(
    lines: list[Any], chunk_size: int
) -> None:
    text = "\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines)

    try:
        entries = list(iter_records(io.BytesIO(text.encode()), chunk_size=chunk_size))
    except UnreadableInput:
        assert all(isinstance(line, str) for line in lines)  # nothing but broken lines
        return

    assert [(e.where, e.record) for e in entries if e.problem is None] == [
        (f"line {n}", line) for n, line in enumerate(lines, 1) if not isinstance(line, str)
    ]
    assert [e.where for e in entries if e.problem] == [
        f"line {n}" for n, line in enumerate(lines, 1) if isinstance(line, str)
    ]


def test_given_a_reader_that_leaves_early_then_replay_stops_without_a_traceback(
    tmp_path: Path,
) -> None:
    # Given `sgrevert replay day.json | head -1`: the pipe closes after the first line
    path = write(
        tmp_path, "day.json", trail_file(*[{**INGRESS, "eventID": f"id-{n}"} for n in range(3000)])
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "sgrevert.cli", "replay", path],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None and process.stderr is not None
    first = process.stdout.readline()
    process.stdout.close()
    error = process.stderr.read().decode()
    process.stderr.close()

    assert process.wait(timeout=60) == 1
    assert b"id-0" in first
    assert "Traceback" not in error
    assert "Exception ignored" not in error


# -- arguments -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30m", timedelta(minutes=30)),
        ("2h", timedelta(hours=2)),
        ("7d", timedelta(days=7)),
        ("1w", timedelta(weeks=1)),
        ("90s", timedelta(seconds=90)),
    ],
)
def test_durations_parse(text: str, expected: timedelta) -> None:
    assert duration(text) == expected


@pytest.mark.parametrize("bad", ["2", "h", "2x", "-1h", "0m", "1.5h", ""])
def test_a_bad_duration_is_a_usage_error_that_shows_the_form(
    bad: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["changes", f"--since={bad}"]) == EXIT_USAGE

    assert "is not a duration: use a positive number and a unit" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv",
    [["--help"], ["scan", "--help"], ["changes", "--help"], ["revert", "--help"], ["replay", "-h"]],
)
def test_help_on_every_command_exits_zero(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == EXIT_OK

    assert "usage: sgrevert" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv",
    [[], ["frobnicate"], ["scan", "--account", "12"], ["changes", "--state", "MAYBE"]],
)
def test_bad_usage_exits_two(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == EXIT_USAGE

    assert "error:" in capsys.readouterr().err
