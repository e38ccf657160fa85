"""The hub role, in the security account with the stack: the one role the spokes trust.

Every revert passes through it: the responder (`revertsg-2`) for a Deny in Slack, and the
operators named in `operator_role_arns` for the break-glass `sgrevert revert`. Both
chain on to the spoke role of the change's account, carrying who decided as the STS
source identity, so the trust allows `sts:SetSourceIdentity` beside `sts:AssumeRole`.
The detector (`revertsg-1`) passes through it too, to read a changed group before posting
it: its sessions carry a session policy allowing only the describe calls.
"""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from constructs import Construct

from infra import nag

# Who may assume it, and what it may do: start a session with a source identity.
TRUST_ACTIONS = ["sts:AssumeRole", "sts:SetSourceIdentity"]
MAX_SESSION = cdk.Duration.hours(1)  # a chained session lasts at most an hour anyway


def account_of(role_arn: str) -> str:
    return role_arn.split(":")[4]


class HubRole(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        role_name: str,
        responder_role_name: str,
        detector_role_name: str,
        operator_role_arns: Sequence[str],
        spoke_role_name: str,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = cdk.Stack.of(self)
        responder = stack.format_arn(
            service="iam", region="", resource="role", resource_name=responder_role_name
        )
        detector = stack.format_arn(
            service="iam", region="", resource="role", resource_name=detector_role_name
        )
        trusted = [responder, detector, *operator_role_arns]
        # Trust the accounts, then pin the exact roles by ARN: survives a role being
        # recreated, unlike a role principal, which IAM turns into a fixed unique id.
        accounts = dict.fromkeys([stack.account, *(account_of(arn) for arn in operator_role_arns)])
        principals = [iam.AccountPrincipal(account) for account in accounts]
        self.role = iam.Role(
            self,
            "Role",
            role_name=role_name,
            assumed_by=iam.CompositePrincipal(*principals),
            description="sgrevert hub: the only role the spoke roles trust; assumed by the "
            "responder, the detector (describe-only sessions) and the break-glass operators",
            max_session_duration=MAX_SESSION,
        )
        trust = self.role.assume_role_policy
        assert trust is not None  # a Role always has one
        # Replace the plain AssumeRole the principal adds with the conditioned statement.
        self.role.node.default_child.add_property_override(  # type: ignore[union-attr]
            "AssumeRolePolicyDocument",
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "TrustSgrevertAndOperators",
                        "Effect": "Allow",
                        "Principal": {
                            "AWS": [
                                stack.format_arn(
                                    service="iam",
                                    region="",
                                    account=account,
                                    resource="root",
                                    arn_format=cdk.ArnFormat.NO_RESOURCE_NAME,
                                )
                                for account in accounts
                            ]
                        },
                        "Action": TRUST_ACTIONS,
                        # ArnLike: an operator entry may end in * (IAM Identity Center roles
                        # carry a random suffix: AWSReservedSSO_SecurityAdmin_*).
                        "Condition": {"ArnLike": {"aws:PrincipalArn": trusted}},
                    }
                ],
            },
        )
        self.spoke_pattern = stack.format_arn(
            service="iam",
            region="",
            account="*",
            resource="role",
            resource_name=spoke_role_name.strip("/"),
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="AssumeSpokeRoles", actions=TRUST_ACTIONS, resources=[self.spoke_pattern]
            )
        )
        nag.acknowledge(
            self.role,
            "AwsSolutions-IAM5",
            f"Resource::arn:<AWS::Partition>:iam::*:role/{spoke_role_name.strip('/')}",
            "the hub assumes the spoke role in whichever member account a denied change "
            "happened; only that role name, in any account",
        )

    @property
    def role_arn(self) -> str:
        return self.role.role_arn
