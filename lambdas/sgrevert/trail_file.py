"""CloudTrail records from a file, in the shapes people have them in.

One record (a JSON object), a JSON list of records, a trail log file (`{"Records": [...]}`,
gzipped as CloudTrail writes it to S3, or not), or JSON lines (one record a line, as
`jq -c` or an export writes them). Pure: bytes in, records out.
"""

from __future__ import annotations

import gzip
import json
import zlib
from dataclasses import dataclass
from typing import Any

_GZIP_MAGIC = b"\x1f\x8b"


class UnreadableInput(ValueError):
    """The bytes are not any of the accepted shapes; the message says what was expected."""


@dataclass(frozen=True)
class Entry:
    """One record as read, or, for a JSON line that does not parse, why it could not be."""

    where: str  # "record 3" or "line 7": how to find it in the file
    record: Any = None
    problem: str | None = None


def read_records(data: bytes) -> list[Entry]:
    if data.startswith(_GZIP_MAGIC):
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as error:
            raise UnreadableInput(f"a gzip file that does not decompress ({error})") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UnreadableInput("not UTF-8 text (nor gzip)") from None
    if not text.strip():
        raise UnreadableInput("empty input")
    try:
        document = json.loads(text)
    except ValueError:
        return _json_lines(text)
    if isinstance(document, dict) and isinstance(document.get("Records"), list):
        document = document["Records"]
    if isinstance(document, list):
        return [Entry(f"record {n}", record) for n, record in enumerate(document, 1)]
    return [Entry("record 1", document)]


def _json_lines(text: str) -> list[Entry]:
    entries: list[Entry] = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            entries.append(Entry(f"line {number}", json.loads(line)))
        except ValueError as error:
            entries.append(Entry(f"line {number}", problem=f"not JSON ({error.args[0]})"))
    if all(entry.problem for entry in entries):
        raise UnreadableInput(
            'neither JSON (a record, a list, or a trail log\'s {"Records": [...]}) nor JSON lines'
        )
    return entries
