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


def assumed_session(
    role_arn: str,
    session_name: str,
    base: boto3.Session | None = None,
    *,
    policy: str | None = None,
) -> boto3.Session:
    """A session holding temporary credentials for `role_arn`, assumed from `base`;
    `policy`, an STS session policy, narrows it to what the caller needs.

    Region and endpoints still come from the environment, so chained sessions
    reach the same (real or local) services as the caller.
    """
    sts = client("sts", base)
    extra = {"Policy": policy} if policy is not None else {}
    credentials = sts.assume_role(RoleArn=role_arn, RoleSessionName=session_name, **extra)[
        "Credentials"
    ]
    return boto3.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name=(base or session()).region_name,
    )


def table(name: str, boto_session: boto3.Session | None = None) -> Any:
    """The DynamoDB `Table` resource with sgrevert's retry policy."""
    return (boto_session or session()).resource("dynamodb", config=RETRY_CONFIG).Table(name)
