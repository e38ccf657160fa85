"""Cold import time of each handler module (fresh interpreter each, median of 5).

Run: .venv/bin/python bench/asset.py
"""

from __future__ import annotations

import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODULES = ["sgrevert.detect", "sgrevert.respond"]
RUNS = 5
PROBE = "import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"


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


def main() -> None:
    baseline = statistics.median(cold_import("json") for _ in range(RUNS))
    for module in MODULES:
        seconds = statistics.median(cold_import(module) for _ in range(RUNS))
        print(
            f"{module}: cold import {seconds * 1000:.0f} ms (median of {RUNS}); "
            f"{seconds / 3:.1%} of Slack's 3 s budget; {seconds / baseline:,.0f}x `import json`"
        )


if __name__ == "__main__":
    main()
