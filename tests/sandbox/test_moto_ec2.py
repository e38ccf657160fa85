"""The EC2 parts moto lacks (sandbox/moto_ec2.py), driven only through boto3 over HTTP."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.support import REGION


@pytest.fixture
def ec2(aws: str) -> Any:
    return boto3.client("ec2", region_name=REGION)


def _prefix_list(ec2: Any, *cidrs: str) -> str:
    created = ec2.create_managed_prefix_list(
        PrefixListName="corp-offices",
        AddressFamily="IPv4",
        MaxEntries=10,
        Entries=[{"Cidr": cidr} for cidr in cidrs],
    )
    return str(created["PrefixList"]["PrefixListId"])


def _group(ec2: Any, name: str) -> str:
    vpc = ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    return str(ec2.create_security_group(GroupName=name, Description=name, VpcId=vpc)["GroupId"])


def _authorize(ec2: Any, group: str, **source: Any) -> str:
    permission = {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, **source}
    added = ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[permission])
    return str(added["SecurityGroupRules"][0]["SecurityGroupRuleId"])


def _version(ec2: Any, list_id: str) -> int:
    lists = ec2.describe_managed_prefix_lists(PrefixListIds=[list_id])["PrefixLists"]
    return int(lists[0]["Version"])


def test_associations_name_the_groups_whose_rules_reference_the_list(ec2: Any) -> None:
    """Given two groups, one with a rule from a prefix list, when its associations are
    asked for, then only that group is named, with its owner."""
    list_id = _prefix_list(ec2, "10.0.0.0/8")
    using = _group(ec2, "web")
    _group(ec2, "unrelated")
    _authorize(ec2, using, PrefixListIds=[{"PrefixListId": list_id}])

    answer = ec2.get_managed_prefix_list_associations(PrefixListId=list_id)

    assert answer["PrefixListAssociations"] == [
        {"ResourceId": using, "ResourceOwner": "123456789012"}
    ]


def test_associations_page_with_next_token(ec2: Any) -> None:
    """Given six groups referencing a list, when read five at a time, then two pages hold
    all six once."""
    list_id = _prefix_list(ec2, "10.0.0.0/8")
    groups = {_group(ec2, f"g{n}") for n in range(6)}
    for group in groups:
        _authorize(ec2, group, PrefixListIds=[{"PrefixListId": list_id}])

    first = ec2.get_managed_prefix_list_associations(PrefixListId=list_id, MaxResults=5)
    second = ec2.get_managed_prefix_list_associations(
        PrefixListId=list_id, MaxResults=5, NextToken=first["NextToken"]
    )

    named = [a["ResourceId"] for a in first["PrefixListAssociations"]]
    named += [a["ResourceId"] for a in second["PrefixListAssociations"]]
    assert sorted(named) == sorted(groups)
    assert "NextToken" not in second


def test_an_unknown_list_is_not_found(ec2: Any) -> None:
    """Given no such list, when its associations are asked for, then EC2's NotFound."""
    with pytest.raises(ClientError) as raised:
        ec2.get_managed_prefix_list_associations(PrefixListId="pl-0000000000000000a")

    assert raised.value.response["Error"]["Code"] == "InvalidPrefixListID.NotFound"


def test_a_stale_current_version_is_refused_and_changes_nothing(ec2: Any) -> None:
    """Given a list at version v, when modified naming v - 1, then PrefixListVersionMismatch
    and the entries and version are as they were; naming v works and keeps the name."""
    list_id = _prefix_list(ec2, "10.0.0.0/8")
    ec2.modify_managed_prefix_list(
        PrefixListId=list_id, CurrentVersion=1, AddEntries=[{"Cidr": "192.0.2.0/24"}]
    )

    with pytest.raises(ClientError) as raised:
        ec2.modify_managed_prefix_list(
            PrefixListId=list_id, CurrentVersion=1, RemoveEntries=[{"Cidr": "10.0.0.0/8"}]
        )

    assert raised.value.response["Error"]["Code"] == "PrefixListVersionMismatch"
    assert _version(ec2, list_id) == 2
    entries = ec2.get_managed_prefix_list_entries(PrefixListId=list_id)["Entries"]
    assert sorted(e["Cidr"] for e in entries) == ["10.0.0.0/8", "192.0.2.0/24"]
    listed = ec2.describe_managed_prefix_lists(PrefixListIds=[list_id])["PrefixLists"][0]
    assert listed["PrefixListName"] == "corp-offices"


@pytest.mark.parametrize(
    ("source", "described"),
    [
        ({"CidrIpv4": "0.0.0.0/0"}, ("CidrIpv4", "0.0.0.0/0")),
        ({"PrefixListId": "LIST"}, ("PrefixListId", "LIST")),
    ],
)
def test_modify_rules_replaces_the_source_whatever_its_kind(
    ec2: Any, source: dict[str, str], described: tuple[str, str]
) -> None:
    """Given a rule from 10.0.0.0/8 with a description, when modified to another source
    without a description, then the rule holds exactly the new value."""
    group = _group(ec2, "web")
    list_id = _prefix_list(ec2, "10.0.0.0/8")
    rule_id = _authorize(ec2, group, IpRanges=[{"CidrIp": "10.0.0.0/8", "Description": "vpn"}])
    new = {k: (list_id if v == "LIST" else v) for k, v in source.items()}

    ec2.modify_security_group_rules(
        GroupId=group,
        SecurityGroupRules=[
            {
                "SecurityGroupRuleId": rule_id,
                "SecurityGroupRule": {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, **new},
            }
        ],
    )

    rule = ec2.describe_security_group_rules(SecurityGroupRuleIds=[rule_id])["SecurityGroupRules"]
    key, value = described
    assert rule[0][key] == (list_id if value == "LIST" else value)
    assert (rule[0]["FromPort"], rule[0]["ToPort"]) == (22, 22)
    assert "Description" not in rule[0]
    assert "CidrIpv4" not in rule[0] or key == "CidrIpv4"


def test_modify_rules_with_two_sources_is_refused(ec2: Any) -> None:
    """Given a rule, when modified naming two sources, then EC2 refuses and the rule stays."""
    group = _group(ec2, "web")
    rule_id = _authorize(ec2, group, IpRanges=[{"CidrIp": "10.0.0.0/8"}])

    with pytest.raises(ClientError) as raised:
        ec2.modify_security_group_rules(
            GroupId=group,
            SecurityGroupRules=[
                {
                    "SecurityGroupRuleId": rule_id,
                    "SecurityGroupRule": {
                        "IpProtocol": "tcp",
                        "FromPort": 22,
                        "ToPort": 22,
                        "CidrIpv4": "0.0.0.0/0",
                        "CidrIpv6": "::/0",
                    },
                }
            ],
        )

    assert raised.value.response["Error"]["Code"] == "InvalidParameterCombination"
    rule = ec2.describe_security_group_rules(SecurityGroupRuleIds=[rule_id])["SecurityGroupRules"]
    assert rule[0]["CidrIpv4"] == "10.0.0.0/8"
