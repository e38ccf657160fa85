"""Detection throughput: CloudTrail records parsed per second (real-shaped fixtures).

Run: .venv/bin/python bench/detect.py
"""

from __future__ import annotations

import copy
import json
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "lambdas"), str(ROOT)]

from sgrevert.cloudtrail import SkipRecord, parse_record  # noqa: E402

EVENTS = ROOT / "tests" / "events"
ROWS = 10_000


def main() -> None:
    fixtures = [json.loads(p.read_text()) for p in sorted(EVENTS.glob("*.json"))]
    records = []
    for n in range(ROWS):
        record = copy.deepcopy(fixtures[n % len(fixtures)])
        record["eventID"] = str(uuid.uuid4())
        records.append(record)
    texts = [json.dumps(r) for r in records]  # as Lake hands them over: eventJson text
    started = time.perf_counter()
    parsed = skipped = 0
    for text in texts:
        try:
            parse_record(json.loads(text))
            parsed += 1
        except SkipRecord:
            skipped += 1
    elapsed = time.perf_counter() - started
    print(f"records: {ROWS} ({parsed} changes, {skipped} skipped)")
    print(f"parse (json.loads + parse_record): {elapsed:.3f} s = {ROWS / elapsed:,.0f} records/s")
    print(
        f"per record: {elapsed / ROWS * 1e6:.1f} us; a 10-minute window of 10,000 changes "
        f"costs {elapsed / 600 * 100:.3f}% of the schedule period in parsing"
    )


if __name__ == "__main__":
    main()
