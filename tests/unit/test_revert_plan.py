"""Working out a revert as plain data: which rules, where, and how the outcome reads."""

from __future__ import annotations

from datetime import UTC, datetime

from sgrevert.model import Actor, Change, Direction, Rule, SourceKind
from sgrevert.revert import (
    RevokeTally,
    ip_permission,
    management_account_failure,
    plan_revert,
    success_outcome,
)

ACTOR = Actor(arn="arn:aws:iam::111122223333:user/alice", type="IAMUser")


def change(*rules: Rule, partition: str = "aws") -> Change:
    return Change(
        event_id="ev-1",
        event_name="AuthorizeSecurityGroupIngress",
        event_time=datetime(2026, 11, 27, 12, 0, tzinfo=UTC),
        account="111122223333",
        region="eu-west-1",
        group_id="sg-0123456789abcdef0",
        actor=ACTOR,
        rules=rules,
        partition=partition,
    )


def ingress(source: str, rule_id: str | None, port: int = 22) -> Rule:
    return Rule(Direction.INGRESS, "tcp", port, port, SourceKind.CIDR_IPV4, source, rule_id)


def test_given_rules_with_ids_when_planned_then_ingress_and_egress_ids_are_kept_apart() -> None:
    planned = plan_revert(
        change(
            ingress("203.0.113.0/24", "sgr-in1"),
            Rule(
                Direction.EGRESS, "tcp", 5432, 5432, SourceKind.CIDR_IPV4, "10.1.0.0/16", "sgr-e1"
            ),
            ingress("198.51.100.0/24", "sgr-in2"),
        )
    )
    assert planned.ingress_rule_ids == ("sgr-in1", "sgr-in2")
    assert planned.egress_rule_ids == ("sgr-e1",)
    assert planned.ingress_permissions == planned.egress_permissions == ()
    assert (planned.account, planned.region, planned.partition, planned.group_id) == (
        "111122223333",
        "eu-west-1",
        "aws",
        "sg-0123456789abcdef0",
    )
    assert planned.rule_count == 3


def test_given_a_partition_when_planned_then_the_plan_carries_it() -> None:
    assert plan_revert(change(partition="aws-us-gov")).partition == "aws-us-gov"


def test_given_rules_without_ids_when_planned_then_only_those_fall_back_to_permissions() -> None:
    planned = plan_revert(
        change(ingress("203.0.113.0/24", "sgr-1"), ingress("198.51.100.7/32", None))
    )
    assert planned.ingress_rule_ids == ("sgr-1",)
    assert planned.ingress_permissions == (
        {
            "IpProtocol": "tcp",
            "FromPort": 22,
            "ToPort": 22,
            "IpRanges": [{"CidrIp": "198.51.100.7/32"}],
        },
    )


def test_given_the_same_rule_twice_when_planned_then_it_is_revoked_once() -> None:
    planned = plan_revert(
        change(
            ingress("203.0.113.0/24", "sgr-1"),
            ingress("203.0.113.0/24", "sgr-1"),
            ingress("198.51.100.7/32", None),
            ingress("198.51.100.7/32", None),
        )
    )
    assert planned.ingress_rule_ids == ("sgr-1",)
    assert len(planned.ingress_permissions) == 1


def test_given_each_kind_of_source_when_turned_into_a_permission_then_it_matches_that_rule_only() -> (
    None
):
    assert ip_permission(
        Rule(Direction.INGRESS, "-1", None, None, SourceKind.CIDR_IPV6, "2001:db8::/32")
    ) == {"IpProtocol": "-1", "Ipv6Ranges": [{"CidrIpv6": "2001:db8::/32"}]}
    assert ip_permission(
        Rule(Direction.INGRESS, "icmp", 8, -1, SourceKind.PREFIX_LIST, "pl-0abc")
    ) == {
        "IpProtocol": "icmp",
        "FromPort": 8,
        "ToPort": -1,
        "PrefixListIds": [{"PrefixListId": "pl-0abc"}],
    }
    assert ip_permission(
        Rule(
            Direction.EGRESS,
            "udp",
            53,
            None,
            SourceKind.GROUP,
            "sg-0peer",
            source_account="444455556666",
        )
    ) == {
        "IpProtocol": "udp",
        "FromPort": 53,
        "ToPort": 53,
        "UserIdGroupPairs": [{"GroupId": "sg-0peer", "UserId": "444455556666"}],
    }


def test_given_a_tally_when_worded_then_it_says_what_was_revoked_where() -> None:
    planned = plan_revert(change(ingress("203.0.113.0/24", "sgr-1")))
    assert success_outcome(planned, RevokeTally(revoked=2)) == (
        "2 rules revoked in 111122223333 / eu-west-1"
    )
    assert success_outcome(planned, RevokeTally(revoked=1, already_gone=1)) == (
        "1 rule revoked in 111122223333 / eu-west-1; 1 was already gone"
    )
    assert success_outcome(planned, RevokeTally(revoked=2, already_gone=3)).endswith(
        "; 3 were already gone"
    )
    assert success_outcome(planned, RevokeTally(already_gone=2)) == (
        "nothing left to revoke in 111122223333 / eu-west-1: all 2 were already gone"
    )


def test_given_a_management_account_change_when_refused_then_the_reason_says_what_to_run() -> None:
    planned = plan_revert(change(ingress("203.0.113.0/24", "sgr-1")))
    reason = management_account_failure(planned).reason
    assert "management account" in reason
    assert (
        "aws ec2 revoke-security-group-ingress --region eu-west-1 "
        "--group-id sg-0123456789abcdef0 --security-group-rule-ids sgr-1"
    ) in reason
