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
    OFFICE_CIDRS,
    ORG_READ_ROLE,
    SPOKE_ROLE,
    Organization,
    build_organization,
    describe_rules,
)
from sandbox.trail import EC2_XMLNS, Trail, request_parameters
from sgrevert.cloudtrail import SkipRecord, parse_record
from sgrevert.model import Direction, PrefixListEntry, Rule, SourceKind
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

    offices = org.prefix_lists["offices"].list_id
    web_rules = {(v.direction, v.ports, v.source) for v in describe_rules(org, web)}
    assert web_rules == {
        ("ingress", "443", "0.0.0.0/0"),
        ("ingress", "8443", offices),
        ("egress", "all", "0.0.0.0/0"),
    }
    batch_rules = {
        (v.direction, v.ports, v.source) for v in describe_rules(org, org.groups["batch"])
    }
    assert batch_rules == {("ingress", "22", offices), ("egress", "all", "0.0.0.0/0")}
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


def test_the_offices_prefix_list_holds_two_cidrs_and_web_and_batch_reference_it(
    org: Organization,
) -> None:
    """Given the organization, when member-a's prefix list is read, then it holds the two
    office CIDRs, and its associations name exactly the web and batch groups."""
    offices = org.prefix_lists["offices"]
    web, batch = org.groups["web"], org.groups["batch"]
    ec2 = org.ec2(web)

    entries = ec2.get_managed_prefix_list_entries(PrefixListId=offices.list_id)["Entries"]
    associations = ec2.get_managed_prefix_list_associations(PrefixListId=offices.list_id)

    assert (offices.account, offices.region) == (web.account, web.region)
    assert {(e["Cidr"], e["Description"]) for e in entries} == set(OFFICE_CIDRS)
    (described,) = ec2.describe_managed_prefix_lists(PrefixListIds=[offices.list_id])["PrefixLists"]
    assert described["PrefixListName"] == offices.name == "corp-offices"
    assert {a["ResourceId"] for a in associations["PrefixListAssociations"]} == {
        web.group_id,
        batch.group_id,
    }
    assert offices.referenced_by == {"web": 8443, "batch": 22}


def test_the_spoke_role_may_modify_rules_and_prefix_lists_of_its_own_account_only(
    org: Organization,
) -> None:
    """Given a member account's spoke role, when its policy is read, then it allows the
    Modify calls on that account's group, rule and prefix-list ARNs, and the reads."""
    account = org.members["member-a"]
    iam = org.session(account).client("iam", endpoint_url=org.endpoint_url)

    document = iam.get_role_policy(RoleName=SPOKE_ROLE, PolicyName=f"{SPOKE_ROLE}-policy")[
        "PolicyDocument"
    ]

    policy = document if isinstance(document, dict) else json.loads(document)
    granted: dict[str, Any] = {}
    for statement in policy["Statement"]:
        assert statement["Effect"] == "Allow"
        for action in statement["Action"]:
            granted[action] = statement["Resource"]
    assert granted["ec2:ModifySecurityGroupRules"] == [
        f"arn:aws:ec2:*:{account}:security-group/*",
        f"arn:aws:ec2:*:{account}:security-group-rule/*",
    ]
    assert granted["ec2:ModifyManagedPrefixList"] == f"arn:aws:ec2:*:{account}:prefix-list/*"
    assert granted["ec2:RevokeSecurityGroupIngress"] == f"arn:aws:ec2:*:{account}:security-group/*"
    for read in (
        "ec2:DescribeSecurityGroupRules",
        "ec2:DescribeManagedPrefixLists",
        "ec2:GetManagedPrefixListEntries",
        "ec2:GetManagedPrefixListAssociations",
    ):
        assert read in granted
    # it writes nothing else
    writes = {a for a in granted if not a.startswith(("ec2:Describe", "ec2:Get"))}
    assert writes == {
        "ec2:RevokeSecurityGroupIngress",
        "ec2:RevokeSecurityGroupEgress",
        "ec2:ModifySecurityGroupRules",
        "ec2:ModifyManagedPrefixList",
    }


def _authorized(ec2: Any, group_id: str, port: int, cidr: str) -> str:
    added = ec2.authorize_security_group_ingress(
        GroupId=group_id,
        IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": port, "ToPort": port, "IpRanges": [{"CidrIp": cidr}]}
        ],
    )
    return str(added["SecurityGroupRules"][0]["SecurityGroupRuleId"])


def test_a_modify_rules_call_becomes_the_record_cloudtrail_would_deliver(
    org: Organization,
) -> None:
    """Given a rule on web, when a developer edits it in place with
    ModifySecurityGroupRules, then the trail writes the query-style record CloudTrail
    writes (one rule as one object, tagged 1), and sgrevert reads the rule's new value."""
    trail = Trail(org.endpoint_url)
    web = org.groups["web"]
    ec2 = _developer_ec2(org, trail, "web")
    rule_id = _authorized(ec2, web.group_id, 22, "10.0.0.0/8")
    trail.drain()

    ec2.modify_security_group_rules(
        GroupId=web.group_id,
        SecurityGroupRules=[
            {
                "SecurityGroupRuleId": rule_id,
                "SecurityGroupRule": {
                    "IpProtocol": "tcp",
                    "FromPort": 22,
                    "ToPort": 22,
                    "CidrIpv4": "0.0.0.0/0",
                    "Description": "vendor support",
                },
            }
        ],
    )

    (record,) = trail.records
    real = load_event("modify_rules")
    real.pop("sessionCredentialFromConsole")
    assert set(record) == set(real)
    assert record["eventName"] == "ModifySecurityGroupRules"
    assert record["requestParameters"] == {
        "ModifySecurityGroupRulesRequest": {
            "GroupId": web.group_id,
            "SecurityGroupRule": {
                "SecurityGroupRuleId": rule_id,
                "SecurityGroupRule": {
                    "IpProtocol": "tcp",
                    "FromPort": 22,
                    "ToPort": 22,
                    "CidrIpv4": "0.0.0.0/0",
                    "Description": "vendor support",
                },
                "tag": 1,
            },
        }
    }
    assert _shape(record["requestParameters"]) == _shape(real["requestParameters"])
    assert record["responseElements"] == {
        "ModifySecurityGroupRulesResponse": {
            "xmlns": EC2_XMLNS,
            "requestId": record["requestID"],
            "return": True,
        }
    }
    assert _shape(record["responseElements"]) == _shape(real["responseElements"])
    assert record["recipientAccountId"] == web.account
    change = parse_record(record)
    assert (change.account, change.region, change.group_id) == (
        web.account,
        web.region,
        web.group_id,
    )
    assert change.rules == (
        Rule(
            Direction.INGRESS,  # CloudTrail does not say; the parser's placeholder
            "tcp",
            22,
            22,
            SourceKind.CIDR_IPV4,
            "0.0.0.0/0",
            rule_id=rule_id,
            description="vendor support",
        ),
    )


def test_several_modified_rules_are_a_tagged_list_as_cloudtrail_writes_them(
    org: Organization,
) -> None:
    """Given two rules on web, when one call modifies both (one to a prefix-list source),
    then the record lists them tagged 1 and 2, like the real several-rules record."""
    trail = Trail(org.endpoint_url)
    web = org.groups["web"]
    offices = org.prefix_lists["offices"].list_id
    ec2 = _developer_ec2(org, trail, "web")
    first = _authorized(ec2, web.group_id, 8080, "10.0.0.0/8")
    second = _authorized(ec2, web.group_id, 8081, "10.0.0.0/8")
    trail.drain()

    ec2.modify_security_group_rules(
        GroupId=web.group_id,
        SecurityGroupRules=[
            {
                "SecurityGroupRuleId": first,
                "SecurityGroupRule": {
                    "IpProtocol": "tcp",
                    "FromPort": 8080,
                    "ToPort": 8080,
                    "CidrIpv4": "192.0.2.0/24",
                },
            },
            {
                "SecurityGroupRuleId": second,
                "SecurityGroupRule": {
                    "IpProtocol": "tcp",
                    "FromPort": 8081,
                    "ToPort": 8081,
                    "PrefixListId": offices,
                },
            },
        ],
    )

    (record,) = trail.records
    request = record["requestParameters"]["ModifySecurityGroupRulesRequest"]
    real = load_event("modify_rules_several")["requestParameters"]
    assert set(request) == set(real["ModifySecurityGroupRulesRequest"])
    assert [(r["SecurityGroupRuleId"], r["tag"]) for r in request["SecurityGroupRule"]] == [
        (first, 1),
        (second, 2),
    ]
    rules = parse_record(record).rules
    assert [(r.rule_id, r.source_kind, r.source) for r in rules] == [
        (first, SourceKind.CIDR_IPV4, "192.0.2.0/24"),
        (second, SourceKind.PREFIX_LIST, offices),
    ]


def test_a_prefix_list_edit_becomes_the_record_cloudtrail_would_deliver(
    org: Organization,
) -> None:
    """Given the offices' prefix list at its version, when a developer adds 0.0.0.0/0 to
    it, then the trail writes the query-style record CloudTrail writes, with the list as
    EC2 answered, in the list owner's account, and sgrevert reads the added entry."""
    trail = Trail(org.endpoint_url)
    offices = org.prefix_lists["offices"]
    ec2 = _developer_ec2(org, trail, "web")
    (described,) = ec2.describe_managed_prefix_lists(PrefixListIds=[offices.list_id])["PrefixLists"]
    version = int(described["Version"])

    answer = ec2.modify_managed_prefix_list(
        PrefixListId=offices.list_id,
        CurrentVersion=version,
        AddEntries=[{"Cidr": "0.0.0.0/0", "Description": "vendor access (temporary)"}],
    )

    (record,) = trail.records
    real = load_event("modify_prefix_list_add")
    real.pop("sessionCredentialFromConsole", None)
    assert set(record) == set(real)
    assert record["requestParameters"] == {
        "ModifyManagedPrefixListRequest": {
            "PrefixListId": offices.list_id,
            "CurrentVersion": version,
            "AddEntry": {"Cidr": "0.0.0.0/0", "Description": "vendor access (temporary)", "tag": 1},
        }
    }
    assert _shape(record["requestParameters"]) == _shape(real["requestParameters"])
    response = record["responseElements"]["ModifyManagedPrefixListResponse"]
    assert _shape(record["responseElements"]) == _shape(real["responseElements"])
    assert response["xmlns"] == EC2_XMLNS
    assert response["requestId"] == record["requestID"]
    listed = answer["PrefixList"]
    assert response["prefixList"] == {
        "prefixListId": offices.list_id,
        "addressFamily": "IPv4",
        "state": listed["State"],
        "prefixListArn": listed["PrefixListArn"],
        "prefixListName": "corp-offices",
        "maxEntries": listed["MaxEntries"],
        "version": listed["Version"],
        "ownerId": offices.account,
    }
    assert record["recipientAccountId"] == offices.account
    change = parse_record(record)
    assert (change.account, change.region, change.group_id) == (
        offices.account,
        offices.region,
        offices.list_id,
    )
    assert change.rules == ()
    assert change.prefix_list is not None
    assert change.prefix_list.name == "corp-offices"
    assert change.prefix_list.version == version
    assert change.prefix_list.added == (PrefixListEntry("0.0.0.0/0", "vendor access (temporary)"),)
    assert change.prefix_list.removed == ()


def test_a_prefix_list_edit_adding_several_and_removing_one_lists_only_the_several(
    org: Organization,
) -> None:
    """Given the offices' prefix list, when one call adds two entries and removes one,
    then AddEntry is a tagged list and RemoveEntry one tagged object, as in the real
    add-and-remove record, and sgrevert reads both sides."""
    trail = Trail(org.endpoint_url)
    offices = org.prefix_lists["offices"]
    ec2 = _developer_ec2(org, trail, "web")
    gone = OFFICE_CIDRS[1][0]

    ec2.modify_managed_prefix_list(
        PrefixListId=offices.list_id,
        CurrentVersion=1,
        AddEntries=[
            {"Cidr": "203.0.113.0/24", "Description": "new office"},
            {"Cidr": "192.0.2.64/26", "Description": "DR site"},
        ],
        RemoveEntries=[{"Cidr": gone}],
    )

    (record,) = trail.records
    request = record["requestParameters"]["ModifyManagedPrefixListRequest"]
    real = load_event("modify_prefix_list_add_and_remove")["requestParameters"]
    assert _shape(record["requestParameters"]) == _shape(real)
    assert request["AddEntry"] == [
        {"Cidr": "203.0.113.0/24", "Description": "new office", "tag": 1},
        {"Cidr": "192.0.2.64/26", "Description": "DR site", "tag": 2},
    ]
    assert request["RemoveEntry"] == {"Cidr": gone, "tag": 1}
    edit = parse_record(record).prefix_list
    assert edit is not None
    assert [e.cidr for e in edit.added] == ["203.0.113.0/24", "192.0.2.64/26"]
    assert edit.removed == (PrefixListEntry(gone),)


def test_a_prefix_list_edit_at_a_stale_version_is_recorded_as_failed(org: Organization) -> None:
    """Given the offices' prefix list at version 1, when an edit names version 7, then
    the call fails and the trail writes it as CloudTrail does a failed call, which
    sgrevert skips."""
    trail = Trail(org.endpoint_url)
    offices = org.prefix_lists["offices"]
    ec2 = _developer_ec2(org, trail, "web")

    with pytest.raises(ClientError):
        ec2.modify_managed_prefix_list(
            PrefixListId=offices.list_id, CurrentVersion=7, AddEntries=[{"Cidr": "0.0.0.0/0"}]
        )

    (record,) = trail.records
    assert record["errorCode"] == "Client.PrefixListVersionMismatch"
    assert record["errorMessage"] == "The prefix list has the incorrect version number."
    assert record["responseElements"] is None
    assert record["requestParameters"]["ModifyManagedPrefixListRequest"]["CurrentVersion"] == 7
    with pytest.raises(SkipRecord, match="PrefixListVersionMismatch"):
        parse_record(record)
