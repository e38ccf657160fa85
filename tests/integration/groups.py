"""Security groups in a member account on moto, and the change records that describe them.

The test reaches the member account as anyone would: by assuming a role there (moto's
STS hands out credentials that belong to the account in the role ARN).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3

from sgrevert.model import Actor, Change, Direction, Rule, SourceKind
from tests.support import REGION

MEMBER_ACCOUNT = "111122223333"
NOW = datetime.now(UTC).replace(microsecond=0)


def account_session(account: str, region: str = REGION) -> boto3.Session:
    credentials = boto3.client("sts").assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/OrganizationAccountAccessRole",
        RoleSessionName="test-setup",
    )["Credentials"]
    return boto3.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name=region,
    )


@dataclass
class Group:
    """A security group and a way to add rules to it and see what it holds."""

    ec2: Any
    account: str
    region: str
    group_id: str

    @classmethod
    def create(
        cls, account: str = MEMBER_ACCOUNT, region: str = REGION, name: str = "web"
    ) -> Group:
        ec2 = account_session(account, region).client("ec2")
        vpc_id = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        group_id = ec2.create_security_group(
            GroupName=name, Description="test group", VpcId=vpc_id
        )["GroupId"]
        return cls(ec2, account, region, group_id)

    def authorize(
        self, direction: Direction, port: int, *cidrs: str, protocol: str = "tcp"
    ) -> list[Rule]:
        """Add one rule per CIDR; the rules as CloudTrail would record them, with their ids."""
        permission = {
            "IpProtocol": protocol,
            "FromPort": port,
            "ToPort": port,
            "IpRanges": [{"CidrIp": cidr} for cidr in cidrs],
        }
        call = (
            self.ec2.authorize_security_group_ingress
            if direction is Direction.INGRESS
            else self.ec2.authorize_security_group_egress
        )
        created = call(GroupId=self.group_id, IpPermissions=[permission])["SecurityGroupRules"]
        return [
            Rule(
                direction,
                protocol,
                port,
                port,
                SourceKind.CIDR_IPV4,
                str(rule["CidrIpv4"]),
                str(rule["SecurityGroupRuleId"]),
            )
            for rule in created
        ]

    def rules(self) -> set[tuple[str, str, int, str]]:
        """What the group allows: (direction, protocol, port, cidr) for every rule."""
        found = self.ec2.describe_security_group_rules(
            Filters=[{"Name": "group-id", "Values": [self.group_id]}]
        )["SecurityGroupRules"]
        return {
            (
                "egress" if rule["IsEgress"] else "ingress",
                str(rule["IpProtocol"]),
                int(rule["FromPort"]),
                str(rule.get("CidrIpv4") or rule.get("CidrIpv6")),
            )
            for rule in found
        }

    def rule_ids(self) -> set[str]:
        found = self.ec2.describe_security_group_rules(
            Filters=[{"Name": "group-id", "Values": [self.group_id]}]
        )["SecurityGroupRules"]
        return {str(rule["SecurityGroupRuleId"]) for rule in found}

    def change(
        self, rules: list[Rule], event_name: str = "AuthorizeSecurityGroupIngress"
    ) -> Change:
        """The change a CloudTrail record of adding `rules` to this group becomes."""
        return make_change(self.account, self.region, self.group_id, rules, event_name)


def make_change(
    account: str,
    region: str,
    group_id: str,
    rules: list[Rule],
    event_name: str = "AuthorizeSecurityGroupIngress",
) -> Change:
    """A recorded change as the detector builds it from a CloudTrail record."""
    return Change(
        event_id=str(uuid.uuid4()),
        event_name=event_name,
        event_time=NOW - timedelta(minutes=2),
        account=account,
        region=region,
        group_id=group_id,
        actor=Actor(
            arn=f"arn:aws:sts::{account}:assumed-role/developer/dev@example.com",
            type="AssumedRole",
            session_issuer=f"arn:aws:iam::{account}:role/developer",
            source_ip="192.0.2.10",
        ),
        rules=tuple(rules),
    )
