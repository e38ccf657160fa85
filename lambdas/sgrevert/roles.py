"""Role chain adapter: from this function's role to the spoke role in a change's account.

Hub first (when configured), then `arn:<partition>:iam::<account>:role/<spoke>`. The chain
carries who decided twice over, so a member account's CloudTrail shows it on every call:
- the STS `SourceIdentity` (`slack=U0123ABCD`, `cli=alice@example.com`, `policy=<rule>`,
  `expiry=U0123ABCD`), set on the first hop; STS keeps it through role chaining and it
  cannot be changed afterwards, so no later hop can hide who asked. Every role of the
  chain must allow `sts:SetSourceIdentity` in its trust policy;
- the session name `sgrevert-denied-by-<who>`, which the detector's default ignore rule
  recognises as sgrevert's own revokes.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from sgrevert import aws
from sgrevert.revert import assume_role_failure

if TYPE_CHECKING:
    from mypy_boto3_organizations.client import OrganizationsClient
    from mypy_boto3_sts.client import STSClient
    from mypy_boto3_sts.type_defs import AssumeRoleRequestTypeDef, CredentialsTypeDef

SESSION_SECONDS = 900  # the shortest STS allows; a revert takes seconds
# What STS accepts in RoleSessionName and SourceIdentity: ASCII only (`\w` alone would
# let "ü" through, which STS refuses).
_STS_FORBIDDEN = re.compile(r"[^\w+=,.@-]", re.ASCII)
_STS_MAX = 64  # both names
SESSION_PREFIX = "sgrevert-denied-by-"
# How a recorded decider (`ChangeRecord.decided_by`) names its kind; a bare id is Slack's.
_KINDS = ("cli", "policy", "expiry", "slack")


def decider_parts(decided_by: str) -> tuple[str, str]:
    """`("slack", "U0ALICE")`, `("cli", "alice@example.com")`, `("policy", rule)`, ...

    A CLI operator is recorded with their whole ARN; the part that names the person is
    its last segment (an IAM user's name, or an assumed role's session name, which for
    IAM Identity Center is the user name)."""
    kind, colon, who = decided_by.strip().partition(":")
    if not colon or kind not in _KINDS:
        return "slack", decided_by.strip()
    if kind == "cli":
        who = principal_name(who)
    return kind, who


def principal_name(arn: str) -> str:
    """`arn:aws:sts::1:assumed-role/Admin/alice@example.com` -> `alice@example.com`."""
    resource = arn.split(":", 5)[-1]
    return resource.rsplit("/", 1)[-1] or arn


def _sts_text(text: str) -> str:
    return _STS_FORBIDDEN.sub("-", text)


def session_name(denied_by: str) -> str:
    """`sgrevert-denied-by-<who>`: STS's charset, 64 characters, the person kept whole as
    far as the room allows (`U0ALICE`, `cli-alice@example.com`, `policy-<rule>`)."""
    kind, who = decider_parts(denied_by)
    who = _sts_text(who) or "unknown"
    who = who if kind == "slack" else f"{kind}-{who}"
    return f"{SESSION_PREFIX}{who}"[:_STS_MAX]


def source_identity(denied_by: str) -> str:
    """`slack=U0ALICE`, `cli=alice@example.com`, `policy=<rule>`, `expiry=U0ALICE`: who
    decided, in the STS charset (no `:` there, hence `=`), 2 to 64 characters."""
    kind, who = decider_parts(denied_by)
    return f"{kind}={_sts_text(who) or 'unknown'}"[:_STS_MAX]


READ_SESSION_NAME = "sgrevert-context"


def session_policy(actions: Sequence[str], resources: Sequence[str]) -> str:
    """An inline STS session policy: the session may do only this, whatever the role may.
    Compact JSON, since STS counts the packed size (2,048 characters at most)."""
    document = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": list(actions), "Resource": list(resources)}],
    }
    return json.dumps(document, separators=(",", ":"))


def spoke_role_arn(partition: str, account: str, role_name: str) -> str:
    """The spoke role in an account; `role_name` may carry a path (`security/spoke-001`)."""
    return f"arn:{partition}:iam::{account}:role/{role_name.strip('/')}"


class RoleChain:
    """Assumes hub then spoke with an injected STS client (moto or a Stubber in tests)."""

    def __init__(
        self,
        sts: STSClient,
        hub_role_arn: str | None,
        spoke_role_name: str,
        *,
        clients: boto3.Session | None = None,
    ) -> None:
        """`clients`: the session the hops' clients are made from, with each hop's
        credentials; one session for all of them, since a new session reloads botocore's
        models (about a tenth of a second each) and a run reads many accounts and regions."""
        self._sts = sts
        self._hub_role_arn = hub_role_arn
        self._spoke_role_name = spoke_role_name
        self._clients = clients
        self._clients_lock = threading.Lock()  # boto3 sessions are not thread-safe

    def spoke_session(
        self, account: str, partition: str, region: str, denied_by: str
    ) -> boto3.Session:
        """A session in `account`'s spoke role for `region`. RevertFailed if any hop fails."""
        spoke = self._spoke_credentials(
            account, partition, session_name(denied_by), source_identity(denied_by)
        )
        return _session(spoke, region)

    def read_client(
        self,
        account: str,
        partition: str,
        region: str,
        actions: Sequence[str],
        *,
        service: str,
        config: Config,
    ) -> Any:
        """A `service` client in `account`'s spoke role that can make only `actions`
        (describe calls): each hop carries a session policy, so a reading session can
        never revoke or authorize anything. RevertFailed (naming the role) if a hop fails."""
        spoke = self._spoke_credentials(
            account,
            partition,
            READ_SESSION_NAME,
            None,
            hub_policy=lambda spoke_arn: session_policy(["sts:AssumeRole"], [spoke_arn]),
            spoke_policy=session_policy(actions, ["*"]),
        )
        return self._client(spoke, service, region, config)

    def _spoke_credentials(
        self,
        account: str,
        partition: str,
        name: str,
        identity: str | None,
        *,
        hub_policy: Callable[[str], str] | None = None,
        spoke_policy: str | None = None,
    ) -> CredentialsTypeDef:
        """Hub (when configured), then the spoke role in `account`. `identity`, the source
        identity, is set on the first hop only: STS carries it on and refuses to change it.
        `hub_policy` gives the hub hop's session policy for the spoke role's ARN."""
        sts: Any = self._sts
        spoke_arn = spoke_role_arn(partition, account, self._spoke_role_name)
        if self._hub_role_arn:
            policy = hub_policy(spoke_arn) if hub_policy else None
            hub = _assume(sts, self._hub_role_arn, name, identity, policy)
            sts = self._client(hub, "sts", sts.meta.region_name, aws.RETRY_CONFIG)
            identity = None
        return _assume(sts, spoke_arn, name, identity, spoke_policy)

    def _client(
        self, credentials: CredentialsTypeDef, service: str, region: str | None, config: Config
    ) -> Any:
        with self._clients_lock:
            if self._clients is None:
                self._clients = boto3.Session()
            return self._clients.client(  # type: ignore[call-overload]
                service,
                region_name=region,
                config=config,
                aws_access_key_id=credentials["AccessKeyId"],
                aws_secret_access_key=credentials["SecretAccessKey"],
                aws_session_token=credentials["SessionToken"],
            )


def management_account(organizations: OrganizationsClient) -> str | None:
    """The organization's management account id, or None when it cannot be told.

    Not in an organization, or not allowed to ask: the caller goes on without the check
    and a missing spoke role then shows up as an AssumeRole failure instead.
    """
    try:
        return organizations.describe_organization()["Organization"]["MasterAccountId"]
    except (ClientError, BotoCoreError, KeyError):
        return None


def _assume(
    sts: STSClient,
    role_arn: str,
    name: str,
    identity: str | None,
    policy: str | None = None,
) -> CredentialsTypeDef:
    request: AssumeRoleRequestTypeDef = {
        "RoleArn": role_arn,
        "RoleSessionName": name,
        "DurationSeconds": SESSION_SECONDS,
    }
    if identity is not None:
        request["SourceIdentity"] = identity
    if policy is not None:
        request["Policy"] = policy
    try:
        return sts.assume_role(**request)["Credentials"]
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
