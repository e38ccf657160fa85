"""`sgrevert replay` memory: peak RSS over 50,000 records, before and after streaming.

Run: .venv/bin/python -m bench.replay_memory   (options: --records N, --before REF)

Writes 50,000 real-shaped AuthorizeSecurityGroupIngress records (varied event ids, groups,
actors, ports, sources and rule ids; about 1.9 KB each) as

- `one.json.gz`: one trail log file, `{"Records": [...]}` on one line, gzipped, as
  CloudTrail writes it to S3 (only larger);
- `day.json.gz`: the same records as 50 trail files of 1,000, `cat`-ed together (a gzip
  stream of 50 members), as a day's files are usually handed over.

Then runs `sgrevert replay FILE` (text) and `sgrevert replay --json FILE`, output to
/dev/null, each in a fresh interpreter, and reads each one's peak RSS from `wait4`'s
rusage: the code in this tree ("after"), and beside it the code of commit REF ("before";
the last commit before the streaming reader, by default), extracted with `git archive`
into a temporary directory. The import floor (the interpreter with `sgrevert.cli` and
its imports loaded, doing nothing) is printed too: what replay adds is the peak above it.
"""

from __future__ import annotations

import argparse
import copy
import gzip
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "tests" / "events" / "authorize_ingress_ipv4.json"
RECORDS = 50_000
PER_FILE = 1_000
# The last commit whose replay read the whole input into memory.
BEFORE = "4cc1692ab6a75ffd1de111b85dfa0b7943d2ce00"

# Runs one CLI call with the package found first on sys.path (the tree's, or REF's).
RUNNER = """
import sys
sys.path.insert(0, sys.argv[1])
import sgrevert.cli
assert sgrevert.cli.__file__.startswith(sys.argv[1]), sgrevert.cli.__file__
sys.exit(sgrevert.cli.main(sys.argv[2:]) if len(sys.argv) > 2 else 0)
"""


def records(count: int) -> Iterator[dict[str, Any]]:
    template = json.loads(TEMPLATE.read_text())
    for n in range(count):
        record = copy.deepcopy(template)
        port = (22, 443, 3389, 5432, 8080)[n % 5]
        cidr = f"198.51.{n // 250 % 256}.{n % 250}/32"
        account = f"{111122220000 + n % 40:012d}"
        record["eventID"] = f"{n:08x}-5e6a-4b7c-8d9e-0f1a2b3c4d13"
        record["eventTime"] = f"2026-11-27T{n // 3600 % 24:02d}:{n // 60 % 60:02d}:{n % 60:02d}Z"
        record["recipientAccountId"] = account
        record["userIdentity"]["arn"] = (
            f"arn:aws:sts::{account}:assumed-role/AWSReservedSSO_Developer/user{n % 97}@example.com"
        )
        request = record["requestParameters"]
        request["groupId"] = f"sg-{n % 1000:017x}"
        permission = request["ipPermissions"]["items"][0]
        permission["fromPort"] = permission["toPort"] = port
        permission["ipRanges"]["items"][0]["cidrIp"] = cidr
        rule = record["responseElements"]["securityGroupRuleSet"]["items"][0]
        rule.update(
            groupId=request["groupId"],
            groupOwnerId=account,
            securityGroupRuleId=f"sgr-{n:017x}",
            fromPort=port,
            toPort=port,
            cidrIpv4=cidr,
        )
        yield record


def trail_file(batch: list[dict[str, Any]]) -> bytes:
    parts = (json.dumps(record, separators=(",", ":")) for record in batch)
    return ('{"Records":[' + ",".join(parts) + "]}").encode()


def write_inputs(directory: Path, count: int) -> tuple[Path, Path]:
    one, day = directory / "one.json.gz", directory / "day.json.gz"
    with gzip.open(one, "wb") as whole, day.open("wb") as members:
        whole.write(b'{"Records":[')
        batch: list[dict[str, Any]] = []
        for n, record in enumerate(records(count)):
            whole.write((b"," if n else b"") + json.dumps(record, separators=(",", ":")).encode())
            batch.append(record)
            if len(batch) == PER_FILE:
                members.write(gzip.compress(trail_file(batch)))
                batch = []
        whole.write(b"]}")
        if batch:
            members.write(gzip.compress(trail_file(batch)))
    return one, day


def extract(ref: str, directory: Path) -> Path | None:
    """The package as it was at `ref`, or None (said why) if git cannot give it."""
    found = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", ref, "lambdas/sgrevert"],
        capture_output=True,
        check=False,
    )
    if found.returncode != 0:
        print(f"before: cannot extract {ref}: {found.stderr.decode().strip()}")
        return None
    with tarfile.open(fileobj=io.BytesIO(found.stdout)) as archive:
        archive.extractall(directory, filter="data")
    return directory / "lambdas"


def run(package_root: Path, *argv: str) -> tuple[float, float, int, str]:
    """(peak RSS in MiB, seconds, exit code, last stderr line) of one fresh process."""
    started = time.perf_counter()
    with tempfile.TemporaryFile() as err:
        process = subprocess.Popen(
            [sys.executable, "-c", RUNNER, str(package_root), *argv],
            stdout=subprocess.DEVNULL,
            stderr=err,
            cwd=ROOT,
        )
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.perf_counter() - started
        err.seek(0)
        lines = err.read().decode(errors="replace").strip().splitlines()
    return usage.ru_maxrss / 1024, seconds, process.returncode, (lines or [""])[-1][:100]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--records", type=int, default=RECORDS)
    parser.add_argument("--before", default=BEFORE, help="commit with the old replay")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="replay-bench-") as temp:
        directory = Path(temp)
        one, day = write_inputs(directory, args.records)
        with gzip.open(one, "rb") as handle:
            size = sum(len(chunk) for chunk in iter(lambda: handle.read(1 << 20), b""))
        print(
            f"{args.records:,} records: {size / 2**20:.1f} MiB of JSON; one.json.gz "
            f"{one.stat().st_size / 2**20:.1f} MiB, day.json.gz {day.stat().st_size / 2**20:.1f} "
            f"MiB ({-(-args.records // PER_FILE)} gzip members)"
        )
        after = ROOT / "lambdas"
        before = extract(args.before, directory / "before")
        floor, _, _, _ = run(after)
        print(f"import floor (interpreter + sgrevert.cli imported): {floor:.0f} MiB")
        print()
        print(f"{'input':<12} {'output':<6} {'code':<16} {'peak RSS':>10} {'time':>8}  stderr")
        peaks: dict[tuple[str, str, str], float] = {}  # of the runs that exited 0
        for path in (one, day):
            for output in ("text", "json"):
                argv = ["replay", *(["--json"] if output == "json" else []), str(path)]
                codes = [("after", after)] + ([("before", before)] if before else [])
                for label, root in codes:
                    peak, seconds, code, last = run(root, *argv)
                    if code == 0:
                        peaks[(path.name, output, label)] = peak
                    name = label if label == "after" else f"before {args.before[:7]}"
                    print(
                        f"{path.name:<12} {output:<6} {name:<16} {peak:>6.0f} MiB {seconds:>7.1f}s"
                        f"  exit {code}: {last}"
                    )
        print()
        for path in (one, day):
            for output in ("text", "json"):
                old = peaks.get((path.name, output, "before"))
                new = peaks.get((path.name, output, "after"))
                if old and new:
                    print(
                        f"{path.name} {output}: before {old:.0f} MiB, after {new:.0f} MiB: "
                        f"{old / new:.1f}x less; above the import floor "
                        f"{old - floor:.0f} -> {new - floor:.0f} MiB"
                    )


if __name__ == "__main__":
    main()
