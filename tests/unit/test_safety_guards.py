"""Rules EC2 reports back in `UnknownIpPermissions` count as already gone, never as revoked.

A revoke by permissions (rules recorded without an id) can succeed, `Return: true`, and
still list the permissions EC2 did not find. moto never answers that way, so botocore's
Stubber gives the revoke adapter a client answering with the real response shape of
RevokeSecurityGroupIngress/Egress; the stubber also checks the exact request. The
other guarded safety lines are in tests/integration/test_safety_guards.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from sgrevert import aws
from sgrevert.model import Actor, Change, Direction, Rule, SourceKind
from sgrevert.revert import RevokeTally, plan_revoke, success_outcome
from sgrevert.revoke import revoke

ACCOUNT, REGION, GROUP = "111122223333", "eu-west-1", "sg-0123456789abcdef0"
WHERE = f"{ACCOUNT} / {REGION}"


def change(*rules: Rule) -> Change:
    return Change(
        event_id="ev-unknown-1",
        event_name="AuthorizeSecurityGroupIngress",
        event_time=datetime(2026, 11, 27, 12, 0, tzinfo=UTC),
        account=ACCOUNT,
        region=REGION,
        group_id=GROUP,
        actor=Actor(arn=f"arn:aws:iam::{ACCOUNT}:user/alice", type="IAMUser"),
        rules=rules,
    )


def without_id(cidr: str, direction: Direction = Direction.INGRESS, port: int = 22) -> Rule:
    return Rule(direction, "tcp", port, port, SourceKind.CIDR_IPV4, cidr)


def permission(port: int, *cidrs: str) -> dict[str, Any]:
    return {
        "IpProtocol": "tcp",
        "FromPort": port,
        "ToPort": port,
        "IpRanges": [{"CidrIp": cidr} for cidr in cidrs],
    }


@pytest.fixture
def ec2() -> Iterator[tuple[Any, Stubber]]:
    """An EC2 client built as the reverter builds it, answered by a Stubber."""
    session = boto3.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
    )
    client = aws.client("ec2", session, region_name=REGION)
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def test_a_rule_ec2_lists_as_unknown_is_reported_already_gone_and_the_rest_revoked(
    ec2: tuple[Any, Stubber],
) -> None:
    client, stubber = ec2
    plan = plan_revoke(change(without_id("203.0.113.0/24"), without_id("198.51.100.0/24")))
    stubber.add_response(
        "revoke_security_group_ingress",
        {"Return": True, "UnknownIpPermissions": [permission(22, "198.51.100.0/24")]},
        {
            "GroupId": GROUP,
            "IpPermissions": [permission(22, "203.0.113.0/24"), permission(22, "198.51.100.0/24")],
        },
    )

    tally = revoke(plan, client)

    assert tally == RevokeTally(revoked=1, already_gone=1)
    assert success_outcome(plan, tally) == f"1 rule revoked in {WHERE}; 1 was already gone"


def test_when_every_rule_is_unknown_nothing_counts_as_revoked(
    ec2: tuple[Any, Stubber],
) -> None:
    client, stubber = ec2
    plan = plan_revoke(change(without_id("10.1.0.0/16", Direction.EGRESS, 5432)))
    stubber.add_response(
        "revoke_security_group_egress",
        {"Return": True, "UnknownIpPermissions": [permission(5432, "10.1.0.0/16")]},
        {"GroupId": GROUP, "IpPermissions": [permission(5432, "10.1.0.0/16")]},
    )

    tally = revoke(plan, client)

    assert tally == RevokeTally(already_gone=1)
    assert success_outcome(plan, tally) == f"nothing left to revoke in {WHERE}: it was already gone"


def test_unknown_rules_merged_into_one_permission_each_count_as_gone(
    ec2: tuple[Any, Stubber],
) -> None:
    """EC2: "In some cases, unknownIpPermissionSet might be in a different format from the
    request parameter" -- here the two requested rules come back as one permission with
    both ranges. Neither was revoked."""
    client, stubber = ec2
    plan = plan_revoke(change(without_id("203.0.113.0/24"), without_id("198.51.100.0/24")))
    stubber.add_response(
        "revoke_security_group_ingress",
        {
            "Return": True,
            "UnknownIpPermissions": [permission(22, "203.0.113.0/24", "198.51.100.0/24")],
        },
        {
            "GroupId": GROUP,
            "IpPermissions": [permission(22, "203.0.113.0/24"), permission(22, "198.51.100.0/24")],
        },
    )

    tally = revoke(plan, client)

    assert tally == RevokeTally(already_gone=2)
    assert success_outcome(plan, tally) == (
        f"nothing left to revoke in {WHERE}: all 2 were already gone"
    )
