"""CloudTrail records from a file, in the shapes people have them in, read as a stream.

Accepted, alone or several concatenated (plain, or gzip with one member or many, as `cat`
of `.json.gz` files makes):

- one record (a JSON object), a JSON list of records, or JSON lines (one record a line,
  as `jq -c` or an export writes them);
- a trail log file (`{"Records": [...]}`, as CloudTrail writes it to S3), or a list of
  them (`jq -s . *.json`);
- EventBridge `AWS API Call via CloudTrail` events: the record is the `detail`, with the
  envelope's `account` standing in for a `recipientAccountId` older records lack;
- `aws cloudtrail lookup-events` output: `{"Events": [{"CloudTrailEvent": "<JSON>"}...]}`;
- CloudTrail Lake `get-query-results` output: `{"QueryResultRows": [[{"eventJson":
  "<JSON>"}, ...], ...]}`, the column spelled `eventJson`, `eventjson` or `event_json`.

Streaming: whatever the input's size, only the value being decoded and about a megabyte of
read-ahead are held. The lists that hold records (`Records`, `Events`, `QueryResultRows`,
a top-level list) are walked item by item, each item decoded by the standard library's
JSON decoder (`JSONDecoder.raw_decode`); only the punctuation between items is read here.

A problem is an `Entry` saying why, not an exception: a JSON line that does not parse
(reading goes on at the next line; in a document of several lines it stops there, saying
so), a CloudTrail digest file, an EventBridge event of another kind, JSON nested too
deeply to decode. `UnreadableInput` is raised for input that is not gzip or UTF-8, that
is empty, or that holds no record at all (after the entries read before it).
Pure: bytes in, records out.
"""

from __future__ import annotations

import codecs
import gzip
import io
import json
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import IO, Any

from sgrevert.eventbridge import MalformedEvent, cloudtrail_record

CHUNK_SIZE = 1 << 20  # bytes read at a time
EXPECTED = (
    'a record, a list, a trail log\'s {"Records": [...]}, an EventBridge event, '
    "lookup-events or get-query-results output"
)
DIGEST_PROBLEM = (
    "this is a CloudTrail digest file: it holds hashes of log files, not events; "
    "replay the log files instead"
)
TOO_DEEP = "JSON nested too deeply to read"

_GZIP_MAGIC = b"\x1f\x8b"
_WHITESPACE = re.compile("[ \t\n\r\ufeff]*")  # a byte-order mark may begin any joined file
_SLACK = 16  # a decode error this near the end of what is read may be a value cut short
_CONTAINERS = frozenset({"Records", "Events", "QueryResultRows"})
_DIGEST_KEYS = frozenset(
    {
        "digestStartTime",
        "digestEndTime",
        "digestS3Bucket",
        "digestS3Object",
        "digestSignatureAlgorithm",
        "digestPublicKeyFingerprint",
        "previousDigestSignature",
        "previousDigestHashValue",
    }
)


class UnreadableInput(ValueError):
    """The bytes are not any of the accepted shapes; the message says what was expected."""


@dataclass(frozen=True)
class Entry:
    """One record as read, or, where no record could be had, why not."""

    where: str  # "record 3" or "line 7": how to find it in the input
    record: Any = None
    problem: str | None = None
    event_id: str | None = None  # the record's eventID, when it has one as text


def read_records(data: bytes) -> list[Entry]:
    """Every entry of an input already in memory."""
    return list(iter_records(io.BytesIO(data)))


def iter_records(stream: IO[bytes] | IO[str], chunk_size: int = CHUNK_SIZE) -> Iterator[Entry]:
    """The entries of a binary stream (gzip or UTF-8 text), or of a text stream, in input
    order. Raises UnreadableInput (possibly after some entries) as the module says."""
    yield from _Reader(_decoded(stream, chunk_size)).entries()


# -- bytes to text ---------------------------------------------------------------------------


class _Prefixed:
    """A binary stream whose first bytes were already read to look at them."""

    def __init__(self, head: bytes, rest: IO[bytes]) -> None:
        self._head = head
        self._rest = rest

    def read(self, size: int = -1) -> bytes:
        head, self._head = self._head, b""
        if size < 0:
            return head + self._rest.read()
        if len(head) >= size:
            self._head = head[size:]
            return head[:size]
        return head + self._rest.read(size - len(head))

    def seek(self, offset: int, /) -> int:  # gzip's type asks for it; reading never seeks
        raise io.UnsupportedOperation("a stream is read once, from the start")


def _decoded(stream: IO[bytes] | IO[str], chunk_size: int) -> Iterator[str]:
    head = stream.read(2)
    if isinstance(head, str):  # stdin as text: already decoded
        chunk = head.removeprefix("\ufeff")
        while chunk:
            yield chunk
            chunk = stream.read(chunk_size)  # type: ignore[assignment]
        return
    gzipped = head == _GZIP_MAGIC
    raw = _Prefixed(head, stream)  # type: ignore[arg-type]
    # read1: what is decompressed so far, so a file cut short still yields what precedes
    read = gzip.GzipFile(fileobj=raw, mode="rb").read1 if gzipped else raw.read
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    while True:
        try:
            data = read(chunk_size)
        except (gzip.BadGzipFile, EOFError, zlib.error) as error:
            raise UnreadableInput(f"a gzip file that does not decompress ({error})") from None
        try:
            text = decoder.decode(data, final=not data)
        except UnicodeDecodeError:
            raise UnreadableInput(
                "not UTF-8 text" + (" inside the gzip" if gzipped else " (nor gzip)")
            ) from None
        if text:
            yield text
        if not data:
            return


# -- text to entries -------------------------------------------------------------------------


class _Broken(Exception):
    """The JSON stops making sense at `at` (an offset in the reader's buffer)."""

    def __init__(self, message: str, at: int, where: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.at = at
        self.where = where


class _Reader:
    """A buffer over the text, and the walk over the values in it."""

    def __init__(self, chunks: Iterator[str]) -> None:
        self._chunks = chunks
        self._buf = ""
        self._pos = 0
        self._eof = False
        self._dropped = 0  # characters dropped from the front of the buffer so far
        self._line = 1  # the line number at buffer offset _line_pos
        self._line_pos = 0
        self._numbered = 0  # entries named "record N" so far
        self._decode = json.JSONDecoder().raw_decode

    # -- the buffer

    def _fill(self, at_least: int = 1) -> bool:
        """Drop what is consumed, append at least `at_least` characters (fewer only at the
        end of the input). False if nothing more was there."""
        if self._eof:
            return False
        if self._pos:
            self._line_at(self._pos)
            self._buf = self._buf[self._pos :]
            self._dropped += self._pos
            self._line_pos = max(self._line_pos - self._pos, 0)
            self._pos = 0
        added: list[str] = []
        size = 0
        while size < at_least:
            chunk = next(self._chunks, "")
            if not chunk:
                self._eof = True
                break
            added.append(chunk)
            size += len(chunk)
        self._buf += "".join(added)
        return size > 0

    def _line_at(self, at: int) -> int:
        if at >= self._line_pos:
            self._line += self._buf.count("\n", self._line_pos, at)
            self._line_pos = at
            return self._line
        return self._line - self._buf.count("\n", at, self._line_pos)

    def _peek(self) -> str:
        """The next character that is not whitespace ("" at the end), left unconsumed."""
        while True:
            found = _WHITESPACE.match(self._buf, self._pos)
            self._pos = found.end() if found else self._pos
            if self._pos < len(self._buf):
                return self._buf[self._pos]
            if not self._fill():
                return ""

    def _value(self) -> Any:
        """Decode the value that starts at the current position."""
        while True:
            start = self._pos
            more = max(len(self._buf) - start, 1)  # doubling keeps re-decoding linear
            try:
                value, end = self._decode(self._buf, start)
            except json.JSONDecodeError as error:
                cut_short = error.msg.startswith("Unterminated string") or (
                    error.pos >= len(self._buf) - _SLACK
                )
                if cut_short and not self._eof:
                    self._fill(more)
                    continue
                raise _Broken(error.msg, error.pos) from None
            except RecursionError:
                raise _Broken(TOO_DEEP, start) from None
            if end > len(self._buf) - _SLACK and not self._eof:
                self._fill(more)  # a number may go on ("1" "." "5") in what is not read yet
                continue
            self._pos = end
            return value

    def _expect(self, wanted: str, message: str) -> None:
        if self._peek() != wanted:
            raise _Broken(message, self._pos)
        self._pos += 1

    # -- the walk

    def entries(self) -> Iterator[Entry]:
        values = records = problems = 0
        first: Entry | None = None  # the first problem
        only_syntax = same_problem = True
        held: Entry | None = None  # a first value that is a record: "record 1" if alone
        for index, entry, alone in self._walk():
            values = index
            if held is not None:
                yield held
                held = None
            if entry is None:
                continue
            if entry.problem is None:
                records += 1
            else:
                problems += 1
                first = first or entry
                only_syntax = only_syntax and entry.problem.startswith("not JSON")
                same_problem = same_problem and entry.problem == first.problem
            if index == 1 and alone:
                held = entry
            else:
                yield entry
        if held is not None:
            yield replace(held, where="record 1")
        if values == 0:
            raise UnreadableInput("empty input")
        if records == 0 and first is not None:
            if only_syntax:
                raise UnreadableInput(
                    f"neither JSON ({EXPECTED}) nor JSON lines ({first.where}: {first.problem})"
                )
            if same_problem:
                raise UnreadableInput(str(first.problem))
            raise UnreadableInput(f"no record in it ({first.where}: {first.problem}, and more)")

    def _walk(self) -> Iterator[tuple[int, Entry | None, bool]]:
        """(which top-level value, entry, whether the entry is that whole value). An entry
        of None marks the start of a value that has none (an empty container)."""
        index = 0
        while char := self._peek():
            index += 1
            line = self._line_at(self._pos)
            yield index, None, False
            try:
                if char == "{":
                    for entry, alone in self._object(line):
                        yield index, entry, alone
                elif char == "[":
                    for entry in self._items(top_level=True):
                        yield index, entry, False
                else:
                    yield index, _entry(self._value(), f"line {line}"), True
            except _Broken as broken:
                where = broken.where or f"line {line}"
                at_line = self._line_at(broken.at)
                if broken.message == TOO_DEEP:
                    problem = f"{TOO_DEEP} (line {at_line})"
                else:
                    character = self._dropped + broken.at + 1
                    problem = f"not JSON ({broken.message}, line {at_line} character {character})"
                if at_line != line:  # inside a document of several lines: no telling where
                    yield index, Entry(where, problem=f"{problem}; the rest is not read"), False
                    return
                yield index, Entry(where, problem=problem), False
                self._skip_line(broken.at)  # as JSON lines: go on at the next line

    def _skip_line(self, at: int) -> None:
        self._pos = at
        while True:
            newline = self._buf.find("\n", self._pos)
            if newline >= 0:
                self._pos = newline + 1
                return
            self._pos = len(self._buf)
            if not self._fill():
                return

    def _number(self) -> str:
        self._numbered += 1
        return f"record {self._numbered}"

    def _object(self, line: int | None) -> Iterator[tuple[Entry, bool]]:
        """At `{`: the items of the lists it holds records in, or else itself as one entry.
        `line` is where it starts if it is a top-level value, None in a top-level list."""
        self._pos += 1
        fields: dict[str, Any] = {}
        container = False
        char = self._peek()
        if char == "}":
            self._pos += 1
        while char != "}":
            if char != '"':
                raise _Broken("Expecting property name enclosed in double quotes", self._pos)
            key = self._value()
            self._expect(":", "Expecting ':' delimiter")
            if self._peek() == "[" and key in _CONTAINERS:
                container = True
                for entry in self._items(top_level=False):
                    yield entry, False
            else:
                fields[key] = self._value()
            char = self._peek()
            if char not in (",", "}"):
                raise _Broken("Expecting ',' delimiter", self._pos)
            self._pos += 1
            if char == ",":
                char = self._peek()
                if char == "}":
                    raise _Broken("Expecting property name enclosed in double quotes", self._pos)
        if not container:
            if line is None:
                yield _entry(fields, self._number()), False
            else:
                yield _entry(fields, f"line {line}"), True

    def _items(self, top_level: bool) -> Iterator[Entry]:
        """At `[`: each item as an entry. In a top-level list an object may itself be a
        trail log file (or another list holder), whose records are walked in turn."""
        self._pos += 1
        char = self._peek()
        if char == "]":
            self._pos += 1
            return
        while True:
            try:
                if top_level and char == "{":
                    for entry, _alone in self._object(None):
                        yield entry
                else:
                    value = self._value()
                    yield _entry(value, self._number())
                char = self._peek()
                if char not in (",", "]"):
                    raise _Broken("Expecting ',' delimiter", self._pos)
            except _Broken as broken:
                broken.where = broken.where or self._number()
                raise
            self._pos += 1
            if char == "]":
                return
            char = self._peek()


# -- one value to an entry -------------------------------------------------------------------


def _entry(value: Any, where: str) -> Entry:
    """The record a value is or carries, or why it is none. Values that are no object at
    all are entries too: the parser says why they are skipped, as for any record."""
    row = _row(value) if isinstance(value, list) else None
    if row is not None:
        if _event_json_column(row) is None:
            columns = ", ".join(sorted(row))[:200]
            return Entry(where, problem=f"a Lake result row with no eventJson column ({columns})")
        value = row
    if not isinstance(value, dict):
        return Entry(where, value)
    if isinstance(value.get("CloudTrailEvent"), str):  # a lookup-events entry
        return _embedded(value["CloudTrailEvent"], "CloudTrailEvent", where, value.get("EventId"))
    column = _event_json_column(value)
    if column is not None:  # a Lake result row
        event_id = value.get("eventID", value.get("event_id", value.get("eventid")))
        carried = value[column]
        if isinstance(carried, dict):
            return _record(carried, where)
        if isinstance(carried, str):
            return _embedded(carried, column, where, event_id)
        return Entry(where, problem=f"its {column} is not JSON text", event_id=_text(event_id))
    return _record(value, where)


def _record(value: dict[str, Any], where: str) -> Entry:
    if "detail-type" in value:
        try:
            record = cloudtrail_record(value)
        except MalformedEvent as error:
            return Entry(where, problem=f"an EventBridge event with no CloudTrail record ({error})")
        return Entry(where, record, event_id=_text(record.get("eventID")))
    if len(_DIGEST_KEYS.intersection(value)) >= 2:
        return Entry(where, problem=DIGEST_PROBLEM)
    return Entry(where, value, event_id=_text(value.get("eventID")))


def _embedded(text: str, name: str, where: str, event_id: Any) -> Entry:
    """A record given as JSON text inside another document."""
    try:
        value = json.loads(text)
    except RecursionError:
        return Entry(where, problem=f"its {name} is {TOO_DEEP}", event_id=_text(event_id))
    except ValueError as error:
        return Entry(where, problem=f"its {name} is not JSON ({error})", event_id=_text(event_id))
    if not isinstance(value, dict):
        return Entry(where, problem=f"its {name} is not a JSON object", event_id=_text(event_id))
    return _record(value, where)


def _event_json_column(value: dict[str, Any]) -> str | None:
    for key in value:
        if len(key) in (9, 10) and key.lower().replace("_", "") == "eventjson":
            return key
    return None


def _row(value: list[Any]) -> dict[str, Any] | None:
    """A Lake result row ([{"eventID": "..."}, {"eventJson": "..."}]) as one object, or
    None for any other list."""
    if not value or not all(isinstance(cell, dict) and len(cell) == 1 for cell in value):
        return None
    return {key: cell for one in value for key, cell in one.items()}


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None
