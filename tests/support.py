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


class LambdaContext:
    """The attributes of Lambda's context object that handlers and Powertools read."""

    def __init__(
        self,
        function_name: str = "revertsg-1",
        remaining_ms: int = 300_000,
        account: str = SECURITY_ACCOUNT,
    ) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = 512
        self.invoked_function_arn = f"arn:aws:lambda:{REGION}:{account}:function:{function_name}"
        self.aws_request_id = "c0ffee00-0000-4000-8000-000000000000"
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "2026/11/27/[$LATEST]0000"
        self.remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms
