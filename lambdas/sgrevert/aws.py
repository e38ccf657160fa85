"""boto3 plumbing shared by the adapters: one retry policy, region and endpoints from the env.

Region and endpoints are never hard-coded: boto3 reads `AWS_REGION` and
`AWS_ENDPOINT_URL_<SERVICE>` itself, which is how the sandbox and tests reach moto.
"""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config

# "standard" retries throttling and transient errors with backoff; adaptive adds client-side
# rate limiting, which helps when one revert touches a throttled EC2 API repeatedly.
RETRY_CONFIG = Config(
    retries={"mode": "adaptive", "max_attempts": 8},
    user_agent_extra="sgrevert",
)


def session() -> boto3.Session:
    return boto3.Session()


def client(service: str, boto_session: boto3.Session | None = None, **kwargs: Any) -> Any:
    """A client with sgrevert's retry policy (typed at the call site)."""
    return (boto_session or session()).client(service, config=RETRY_CONFIG, **kwargs)  # type: ignore[call-overload]
