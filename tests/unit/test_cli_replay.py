"""`sgrevert replay` and the CLI's argument handling: pure, no AWS anywhere.

Every AWS endpoint points at a closed port, so any call replay made would fail the test.
"""

from __future__ import annotations

import copy
import gzip
import io
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from sgrevert.cli import EXIT_OK, EXIT_USAGE, duration, main
from sgrevert.trail_file import UnreadableInput, read_records
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
