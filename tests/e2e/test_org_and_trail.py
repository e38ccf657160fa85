"""The sandbox's organization and trail: what the demo and the other e2e tests stand on."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from sandbox.org import (
    DEVELOPER_ROLE,
    HUB_ROLE,
    LAKE_READ_ROLE,
    MANAGEMENT_ACCOUNT,
    ORG_READ_ROLE,
    SPOKE_ROLE,
    Organization,
    build_organization,
    describe_rules,
)
from sandbox.trail import Trail, request_parameters
from sgrevert.cloudtrail import parse_record
from sgrevert.model import Direction, SourceKind
from tests.support import load_event

pytestmark = pytest.mark.e2e


@pytest.fixture
def org(aws: str) -> Organization:
    return build_organization(aws)


def test_the_organization_has_its_four_accounts_and_roles(org: Organization) -> None:
    orgs = org.session(org.management).client("organizations", endpoint_url=org.endpoint_url)
    accounts = {a["Id"] for a in orgs.list_accounts()["Accounts"]}
    assert accounts == {org.management, org.security, *org.members.values()}
    assert org.management == MANAGEMENT_ACCOUNT
    assert len(accounts) == 4

    # The security account sees the management account as its organization's, as AWS does
    security_orgs = org.session(org.security).client("organizations", endpoint_url=org.endpoint_url)
    described = security_orgs.describe_organization()["Organization"]
    assert described["MasterAccountId"] == org.management

    def trust(account: str, role: str) -> Any:
        iam = org.session(account).client("iam", endpoint_url=org.endpoint_url)
        document = iam.get_role(RoleName=role)["Role"]["AssumeRolePolicyDocument"]
        return document if isinstance(document, dict) else json.loads(document)

    hub_trust = trust(org.security, HUB_ROLE)
    # the responder reverts through it, the detector reads through it
    assert hub_trust["Statement"][0]["Principal"] == {
        "AWS": [org.respond_role_arn, org.detect_role_arn]
    }
    for member in org.members.values():
        spoke = trust(member, SPOKE_ROLE)
        assert spoke["Statement"][0]["Principal"] == {"AWS": org.hub_role_arn}
    lake = trust(org.management, LAKE_READ_ROLE)
    assert lake["Statement"][0]["Principal"] == {"AWS": org.detect_role_arn}
    names = trust(org.management, ORG_READ_ROLE)
    assert names["Statement"][0]["Principal"] == {"AWS": org.detect_role_arn}
    assert org.org_read_role_arn == f"arn:aws:iam::{org.management}:role/{ORG_READ_ROLE}"


def test_account_names_are_listed_in_the_management_account_only(org: Organization) -> None:
    # Through the account-names role, every account by the name it was created with
    names = org.session(org.management, ORG_READ_ROLE, "sgrevert-accounts")
    orgs = names.client("organizations", endpoint_url=org.endpoint_url)
    listed = {a["Id"]: a["Name"] for a in orgs.list_accounts()["Accounts"]}
    assert {listed[account] for account in (org.security, *org.members.values())} == {
        "security",
        "member-a",
        "member-b",
    }
    # The security account itself lists none, as a member account cannot in AWS: hence the role
    security = org.session(org.security).client("organizations", endpoint_url=org.endpoint_url)
    assert security.list_accounts()["Accounts"] == []


def test_each_group_is_attached_as_the_story_needs(org: Organization) -> None:
    def interfaces(key: str) -> list[dict[str, Any]]:
        group = org.groups[key]
        found = org.ec2(group).describe_network_interfaces(
            Filters=[{"Name": "group-id", "Values": [group.group_id]}]
        )["NetworkInterfaces"]
        return list(found)

    # web: in front of the instance web-1, which has a public IP
    (web,) = interfaces("web")
    (attached,) = org.groups["web"].attached
    assert web["Attachment"]["InstanceId"] == attached.resource_id
    assert web["Association"]["PublicIp"] == attached.public_ip
    reservations = org.ec2(org.groups["web"]).describe_instances(
        InstanceIds=[attached.resource_id]
    )["Reservations"]
    (instance,) = reservations[0]["Instances"]
    assert {"Key": "Name", "Value": "web-1"} in instance["Tags"]
    # db: a database's interface, named by its description (moto cannot set RequesterId)
    (db,) = interfaces("db")
    assert db["Description"] == "RDSNetworkInterface"
    assert "Attachment" not in db or not db["Attachment"].get("InstanceId")
    assert "Association" not in db
    # batch: nothing at all
    assert interfaces("batch") == []
    assert org.groups["batch"].attached == ()


def test_member_groups_start_with_their_existing_rules(org: Organization) -> None:
    web, db = org.groups["web"], org.groups["db"]
    assert (web.account, web.region) == (org.members["member-a"], "eu-west-1")
    assert (db.account, db.region) == (org.members["member-b"], "us-east-1")

    web_rules = {(v.direction, v.ports, v.source) for v in describe_rules(org, web)}
    assert web_rules == {
        ("ingress", "443", "0.0.0.0/0"),
        ("ingress", "22", "10.0.0.0/8"),
        ("egress", "all", "0.0.0.0/0"),
    }
    # A group lives only in its own account: the other member cannot see it
    other = org.session(db.account, region=web.region).client("ec2", endpoint_url=org.endpoint_url)
    with pytest.raises(ClientError):
        other.describe_security_groups(GroupIds=[web.group_id])


def _developer_ec2(org: Organization, trail: Trail, key: str) -> Any:
    group = org.groups[key]
    session = org.session(group.account, DEVELOPER_ROLE, "erin.dev@example.com", group.region)
    return trail.ec2(session, group.region)


def _shape(value: Any) -> Any:
    """The keys of a record, recursively, without the values: to compare shapes."""
    if isinstance(value, dict):
        return {key: _shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_shape(value[0])] if value else []
    return type(value).__name__


def test_an_authorize_call_becomes_the_record_cloudtrail_would_deliver(org: Organization) -> None:
    trail = Trail(org.endpoint_url)
    web = org.groups["web"]
    ec2 = _developer_ec2(org, trail, "web")

    answer = ec2.authorize_security_group_ingress(
        GroupId=web.group_id,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 22,
                "ToPort": 22,
                "IpRanges": [{"CidrIp": "0.0.0.0/0", "Description": "debugging"}],
                "Ipv6Ranges": [{"CidrIpv6": "::/0"}],
            }
        ],
    )

    (record,) = trail.records
    # Same shape as a real record (the fixture was captured from CloudTrail)
    real = load_event("authorize_ingress_ipv4_ipv6_multi")
    real.pop("sessionCredentialFromConsole")
    assert set(record) == set(real)
    assert _shape(record["userIdentity"]) == _shape(real["userIdentity"])
    real_item = real["requestParameters"]["ipPermissions"]["items"][0]
    item = record["requestParameters"]["ipPermissions"]["items"][0]
    assert set(item) == set(real_item)
    assert item["ipv6Ranges"] == {"items": [{"cidrIpv6": "::/0"}]}
    assert item["groups"] == {} and item["prefixListIds"] == {}
    assert item["ipRanges"] == {"items": [{"cidrIp": "0.0.0.0/0", "description": "debugging"}]}
    # The response carries the rule ids moto returned, in CloudTrail's names
    returned = [r["SecurityGroupRuleId"] for r in answer["SecurityGroupRules"]]
    elements = record["responseElements"]["securityGroupRuleSet"]["items"]
    assert [e["securityGroupRuleId"] for e in elements] == returned
    assert {e["isEgress"] for e in elements} == {False}
    assert {e.get("cidrIpv4") or e.get("cidrIpv6") for e in elements} == {"0.0.0.0/0", "::/0"}
    assert record["responseElements"]["_return"] is True
    # Whose call, where
    assert record["recipientAccountId"] == web.account
    assert record["awsRegion"] == web.region
    assert record["userIdentity"]["arn"].endswith(":assumed-role/developer/erin.dev@example.com")
    assert record["userAgent"].startswith("Boto3/")
    # And sgrevert's own parser reads it as the change that was made
    change = parse_record(record)
    assert change.account == web.account
    assert change.group_id == web.group_id
    assert sorted(r.rule_id or "" for r in change.rules) == sorted(returned)
    assert {r.source_kind for r in change.rules} == {SourceKind.CIDR_IPV4, SourceKind.CIDR_IPV6}


def test_egress_failed_and_by_name_calls_are_recorded_as_cloudtrail_does(
    org: Organization,
) -> None:
    trail = Trail(org.endpoint_url)
    web = org.groups["web"]
    ec2 = _developer_ec2(org, trail, "web")
    egress = [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "192.0.2.0/24"}]}]

    ec2.authorize_security_group_egress(GroupId=web.group_id, IpPermissions=egress)
    with pytest.raises(ClientError):
        ec2.authorize_security_group_egress(GroupId=web.group_id, IpPermissions=egress)
    # The default VPC's default group, by name: CloudFormation and old scripts do this
    by_name = ec2.authorize_security_group_ingress(
        GroupName="default",
        IpPermissions=[
            {
                "IpProtocol": "udp",
                "FromPort": 53,
                "ToPort": 53,
                "PrefixListIds": [{"PrefixListId": "pl-0123456789abcdef0"}],
            }
        ],
    )

    added, failed, named = trail.records
    (rule,) = parse_record(added).rules
    assert rule.direction is Direction.EGRESS
    assert rule.protocol == "-1"
    assert added["responseElements"]["securityGroupRuleSet"]["items"][0]["fromPort"] == -1

    assert failed["errorCode"] == "Client.InvalidPermission.Duplicate"
    assert failed["responseElements"] is None
    assert failed["errorMessage"]

    assert "groupId" not in named["requestParameters"]
    assert named["requestParameters"]["groupName"] == "default"
    response_group = named["responseElements"]["securityGroupRuleSet"]["items"][0]["groupId"]
    assert response_group == by_name["SecurityGroupRules"][0]["GroupId"]
    assert parse_record(named).group_id == response_group


def test_revokes_by_rule_id_are_recorded_and_drain_hands_each_record_over_once(
    org: Organization,
) -> None:
    trail = Trail(org.endpoint_url)
    web = org.groups["web"]
    ec2 = _developer_ec2(org, trail, "web")
    rule_id = describe_rules(org, web)[0].rule_id

    ec2.revoke_security_group_ingress(GroupId=web.group_id, SecurityGroupRuleIds=[rule_id])

    (record,) = trail.drain()
    assert record["eventName"] == "RevokeSecurityGroupIngress"
    assert record["requestParameters"] == {
        "groupId": web.group_id,
        "securityGroupRuleIds": {"items": [{"securityGroupRuleId": rule_id}]},
    }
    assert trail.drain() == []


def test_request_parameters_keep_legacy_top_level_arguments() -> None:
    shaped = request_parameters(
        {
            "GroupId": "sg-1",
            "IpProtocol": "tcp",
            "FromPort": 80,
            "ToPort": 80,
            "CidrIp": "0.0.0.0/0",
            "DryRun": False,
        }
    )
    assert shaped == {
        "groupId": "sg-1",
        "ipProtocol": "tcp",
        "fromPort": 80,
        "toPort": 80,
        "cidrIp": "0.0.0.0/0",
        "ipPermissions": {},
    }


def test_calls_other_than_security_group_changes_are_not_recorded(org: Organization) -> None:
    trail = Trail(org.endpoint_url)
    ec2 = _developer_ec2(org, trail, "web")
    ec2.describe_security_groups()
    assert trail.records == []
