"""The Lambda context object the runtime hands a handler, for the sandbox's invocations."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field


@dataclass
class InvocationContext:
    """What Powertools and the handlers read from a Lambda context: names, ARN, request id,
    and the time left before the function's timeout."""

    invoked_function_arn: str
    timeout_seconds: float = 30.0
    memory_limit_in_mb: int = 256
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    started: float = field(default_factory=time.monotonic)

    @property
    def function_name(self) -> str:
        # arn:aws:lambda:<region>:<account>:function:<name>[:<qualifier>]
        parts = self.invoked_function_arn.split(":")
        return parts[6] if len(parts) > 6 else self.invoked_function_arn

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    @property
    def log_stream_name(self) -> str:
        return f"sandbox/[{self.function_version}]{self.aws_request_id[:8]}"

    def get_remaining_time_in_millis(self) -> int:
        elapsed = time.monotonic() - self.started
        return max(0, int((self.timeout_seconds - elapsed) * 1000))


def function_arn(account: str, region: str, name: str) -> str:
    return f"arn:aws:lambda:{region}:{account}:function:{name}"
