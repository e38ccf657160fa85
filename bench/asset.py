"""Cold import time of each handler module, and the size of the Lambda code asset.

Run: .venv/bin/python -m bench.asset   (`.venv/bin/python bench/asset.py` works too)

1. Cold import: each handler module in a fresh interpreter, median of 5, beside Slack's 3 s
   acknowledgement budget.
2. Asset size: the code asset built exactly as synth builds it (`infra.asset.PipBundling`:
   pip installs lambdas/requirements.txt as Lambda-platform wheels, then copies the
   package) into a temporary directory; its unzipped size against Lambda's 250 MB limit
   (code and layers, unzipped) and its zipped size against the 50 MB limit on a direct
   upload. Needs PyPI (or `PIP_INDEX_URL`); importing infra starts CDK's jsii runtime (node).
"""

from __future__ import annotations

import csv
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT)]

MODULES = ["sgrevert.detect", "sgrevert.respond"]
RUNS = 5
PROBE = "import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"

PACKAGE = "sgrevert"
MIB = 1024 * 1024  # Lambda's "250 MB" is 262,144,000 bytes (GetAccountSettings' AccountLimit)
UNZIPPED_LIMIT = 250 * MIB  # CodeSizeUnzipped: the function's code and all its layers, extracted
# CodeSizeZipped: a zip uploaded directly to Lambda. CDK uploads the asset to S3 and points the
# function at it, where only the unzipped limit applies; shown for scale.
ZIPPED_LIMIT = 50 * MIB
TOP = 5


def cold_import(module: str) -> float:
    result = subprocess.run(
        [sys.executable, "-c", PROBE.format(module=module)],
        cwd=ROOT / "lambdas",
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/usr/bin:/bin", "AWS_REGION": "eu-west-1"},
    )
    return float(result.stdout.strip())


def cold_imports() -> None:
    baseline = statistics.median(cold_import("json") for _ in range(RUNS))
    for module in MODULES:
        seconds = statistics.median(cold_import(module) for _ in range(RUNS))
        print(
            f"{module}: cold import {seconds * 1000:.0f} ms (median of {RUNS}); "
            f"{seconds / 3:.1%} of Slack's 3 s budget; {seconds / baseline:,.0f}x `import json`"
        )


def owners(bundle: Path) -> dict[Path, str]:
    """Each installed file's distribution, from the RECORD pip writes in every *.dist-info."""
    found: dict[Path, str] = {}
    for record in bundle.glob("*.dist-info/RECORD"):
        distribution = record.parent.name.split("-")[0]
        for row in csv.reader(record.read_text().splitlines()):
            if not row:
                continue
            path = bundle / row[0]
            if row[0].startswith("../"):  # scripts: recorded relative to pip's staging dir
                path = bundle / "bin" / Path(row[0]).name
            found[path.resolve()] = distribution
    return found


def asset_size() -> None:
    started = time.perf_counter()
    from infra.asset import ARCHITECTURE, LAMBDA_ROOT, PLATFORM, RUNTIME, PipBundling  # noqa: PLC0415

    imported = time.perf_counter() - started
    print(f"import infra.asset (aws_cdk, jsii and its node runtime): {imported:.1f} s")
    with tempfile.TemporaryDirectory(prefix="sgrevert-asset-") as tmp:
        bundle = Path(tmp) / "asset"
        started = time.perf_counter()
        PipBundling(LAMBDA_ROOT, RUNTIME, PLATFORM).try_bundle(str(bundle))
        built = time.perf_counter() - started
        installed = owners(bundle)
        sizes: Counter[str] = Counter()  # by distribution; our package by its name
        files = 0
        for path in bundle.rglob("*"):
            if path.is_file() and not path.is_symlink():
                name = installed.get(path.resolve(), path.relative_to(bundle).parts[0])
                sizes[name] += path.stat().st_size
                files += 1
        total = sum(sizes.values())
        archive = Path(shutil.make_archive(str(Path(tmp) / "asset"), "zip", root_dir=bundle))
        zipped = archive.stat().st_size
    print(
        f"asset ({RUNTIME.name} on {ARCHITECTURE.name}, wheels for {PLATFORM}; "
        f"pip install + copy: {built:.1f} s): "
        f"{total:,} bytes = {total / MIB:.2f} MiB unzipped in {files:,} files"
    )
    own = sizes.pop(PACKAGE, 0)
    print(f"  {PACKAGE} (ours): {own / MIB:.2f} MiB = {own / total:.1%} of the asset")
    print(
        f"  dependencies: {(total - own) / MIB:.2f} MiB = {(total - own) / total:.1%} "
        f"in {len(sizes)} distributions; largest:"
    )
    for name, size in sizes.most_common(TOP):
        print(f"    {name:34}{size / MIB:>8.2f} MiB {size / total:>7.1%}")
    print(
        f"unzipped: {total / UNZIPPED_LIMIT:.1%} of Lambda's 250 MB limit ({UNZIPPED_LIMIT:,} "
        f"bytes, code and layers extracted); {UNZIPPED_LIMIT / total:,.0f}x headroom"
    )
    print(
        f"zipped (shutil.make_archive, deflate): {zipped:,} bytes = {zipped / MIB:.2f} MiB; "
        f"{zipped / ZIPPED_LIMIT:.1%} of the 50 MB ({ZIPPED_LIMIT:,} bytes) direct-upload limit "
        f"(ratio {zipped / total:.0%} of unzipped)"
    )


def main() -> None:
    cold_imports()
    print()
    asset_size()


if __name__ == "__main__":
    main()
