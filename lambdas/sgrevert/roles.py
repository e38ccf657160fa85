"""Role chain adapter: from this function's role to the spoke role in a change's account.

Hub first (when configured), then `arn:<partition>:iam::<account>:role/<spoke>`; each hop
is tagged with a session name saying who denied the change, so the revoke shows up in
the member account's CloudTrail under that name.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from sgrevert import aws
from sgrevert.revert import assume_role_failure

if TYPE_CHECKING:
    from mypy_boto3_organizations.client import OrganizationsClient
    from mypy_boto3_sts.client import STSClient
    from mypy_boto3_sts.type_defs import CredentialsTypeDef

SESSION_SECONDS = 900  # the shortest STS allows; a revert takes seconds
_SESSION_NAME_CHARS = re.compile(r"[^\w+=,.@-]")  # what STS accepts in RoleSessionName
_SESSION_NAME_MAX = 64


def session_name(denied_by: str) -> str:
    """`sgrevert-denied-by-<who>`, cut down to STS's charset and 64 characters."""
    who = _SESSION_NAME_CHARS.sub("-", denied_by.strip()) or "unknown"
    return f"sgrevert-denied-by-{who}"[:_SESSION_NAME_MAX]


def spoke_role_arn(partition: str, account: str, role_name: str) -> str:
    """The spoke role in an account; `role_name` may carry a path (`security/spoke-001`)."""
    return f"arn:{partition}:iam::{account}:role/{role_name.strip('/')}"


class RoleChain:
    """Assumes hub then spoke with an injected STS client (moto or a Stubber in tests)."""

    def __init__(self, sts: STSClient, hub_role_arn: str | None, spoke_role_name: str) -> None:
        self._sts = sts
        self._hub_role_arn = hub_role_arn
        self._spoke_role_name = spoke_role_name

    def spoke_session(
        self, account: str, partition: str, region: str, denied_by: str
    ) -> boto3.Session:
        """A session in `account`'s spoke role for `region`. RevertFailed if any hop fails."""
        name = session_name(denied_by)
        sts = self._sts
        if self._hub_role_arn:
            hub = _assume(sts, self._hub_role_arn, name)
            sts = aws.client("sts", _session(hub, sts.meta.region_name))
        spoke = _assume(sts, spoke_role_arn(partition, account, self._spoke_role_name), name)
        return _session(spoke, region)


def management_account(organizations: OrganizationsClient) -> str | None:
    """The organization's management account id, or None when it cannot be told.

    Not in an organization, or not allowed to ask: the caller goes on without the check
    and a missing spoke role then shows up as an AssumeRole failure instead.
    """
    try:
        return organizations.describe_organization()["Organization"]["MasterAccountId"]
    except (ClientError, BotoCoreError, KeyError):
        return None


def _assume(sts: STSClient, role_arn: str, name: str) -> CredentialsTypeDef:
    try:
        return sts.assume_role(
            RoleArn=role_arn, RoleSessionName=name, DurationSeconds=SESSION_SECONDS
        )["Credentials"]
    except ClientError as error:
        details = error.response.get("Error", {})
        raise assume_role_failure(
            role_arn, details.get("Code", "ClientError"), details.get("Message", str(error))
        ) from error
    except BotoCoreError as error:
        raise assume_role_failure(role_arn, type(error).__name__, str(error)) from error


def _session(credentials: CredentialsTypeDef, region: str | None) -> boto3.Session:
    return boto3.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name=region,
    )
