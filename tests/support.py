"""Constants and small helpers shared by the test suites."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

REGION = "eu-west-1"
SECURITY_ACCOUNT = "123456789012"  # moto's default account: where the stack runs
BOT_TOKEN = "xoxb-test-token"
SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
EVENTS = Path(__file__).parent / "events"


def load_event(name: str) -> Any:
    """A fixture from tests/events/, by file name with or without `.json`."""
    path = EVENTS / (name if name.endswith(".json") else f"{name}.json")
    return json.loads(path.read_text())
