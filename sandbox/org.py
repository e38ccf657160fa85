"""A small AWS Organization in moto, built over HTTP the way an operator would build it.

Who is who (moto's default caller, 123456789012, is whoever signs with the base
credentials, so it creates the organization and therefore is its management account):

| account    | id                 | holds                                                      |
|------------|--------------------|------------------------------------------------------------|
| management | 123456789012       | the organization, the org event data store (Lake), the     |
|            |                    | Lake read role `sgrevert-lake-read` and the account-names  |
|            |                    | role `sgrevert-org-read` (ListAccounts, ListParents)       |
| security   | from create_account| the sgrevert stack: table, Slack secret, both functions,   |
|            |                    | their execution roles and the hub role `sgrevert-hub`      |
| member-a   | from create_account| spoke role, a VPC (eu-west-1) with security groups `web`   |
|            |                    | (in front of the instance `web-1`, which has a public IP)  |
|            |                    | and `batch` (attached to nothing), and the customer-managed|
|            |                    | prefix list `corp-offices` (two office CIDRs) that a rule  |
|            |                    | of each of them references (web tcp 8443, batch tcp 22)    |
| member-b   | from create_account| spoke role, a VPC (us-east-1) with security group `db`     |
|            |                    | (on a database's network interface, as RDS makes one)      |

What the groups are attached to is what the detector reads as a change's context: the
instance's Name tag and public IP, the interface's "RDSNetworkInterface" description
(RDS also sets RequesterId "amazon-rds" and marks the interface requester-managed; moto
sets neither, so the description is what names it here), and nothing at all.

`BASTION_SSH` is not there yet: the story creates it (tcp 22 from 10.0.0.0/8 on web) so
that its Authorize is on record before someone widens it in place.

Every account is reached by assuming a role in it: moto's STS hands out credentials
that belong to the account in the role ARN, as AWS does. The IAM roles carry the
real trust and permission policies as documentation; moto does not enforce them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import boto3

if TYPE_CHECKING:
    from mypy_boto3_ec2.type_defs import IpPermissionTypeDef

MANAGEMENT_ACCOUNT = "123456789012"  # moto's default caller
HOME_REGION = "eu-west-1"  # where the security account runs sgrevert
ADMIN_ROLE = "OrganizationAccountAccessRole"  # created by create_account, trusts management
LAKE_READ_ROLE = "sgrevert-lake-read"
ORG_READ_ROLE = "sgrevert-org-read"  # cdk.json org_read_role_arn's example name
HUB_ROLE = "sgrevert-hub"
SPOKE_ROLE = "spoke-001"
DETECT_ROLE = "sgrevert-detect"
RESPOND_ROLE = "sgrevert-respond"
# Amazon Linux, one of moto's default AMIs in every region (listing them would cost
# seconds: DescribeImages loads moto's whole catalogue).
AMI = "ami-760aaa0f"
DEVELOPER_ROLE = "developer"  # the people whose changes sgrevert reviews
BASE_CREDENTIALS = {
    "aws_access_key_id": "testing",
    "aws_secret_access_key": "testing",
    "aws_session_token": "testing",
}


@dataclass(frozen=True)
class Attached:
    """Something a group is attached to: an instance, or another network interface."""

    kind: str  # "EC2 instance", "RDS network interface"
    resource_id: str  # i-..., eni-...
    name: str | None = None  # the instance's Name tag
    public_ip: str | None = None


@dataclass(frozen=True)
class Group:
    """A security group in a member account, and the rules it had before the story began."""

    key: str  # short name used by the demo and tests: "web", "db", "batch"
    account: str
    region: str
    vpc_id: str
    group_id: str
    name: str
    attached: tuple[Attached, ...] = ()  # () : attached to nothing


@dataclass(frozen=True)
class PrefixList:
    """A customer-managed prefix list in a member account, and what references it."""

    key: str  # short name used by the demo and tests: "offices"
    account: str
    region: str
    list_id: str  # pl-...
    name: str
    entries: tuple[tuple[str, str], ...]  # (CIDR, description) it starts with
    # The groups with a rule from the list (by key), and the tcp port each rule opens.
    referenced_by: Mapping[str, int]


@dataclass(frozen=True)
class Organization:
    endpoint_url: str
    organization_id: str
    management: str
    security: str
    members: Mapping[str, str]  # account name -> id
    groups: Mapping[str, Group]
    lake_read_role_arn: str
    hub_role_arn: str
    detect_role_arn: str
    respond_role_arn: str
    org_read_role_arn: str
    spoke_role_name: str = SPOKE_ROLE
    home_region: str = HOME_REGION
    names: Mapping[str, str] = field(default_factory=dict)  # account id -> name
    prefix_lists: Mapping[str, PrefixList] = field(default_factory=dict)

    def session(
        self,
        account: str,
        role_name: str = ADMIN_ROLE,
        session_name: str = "sandbox",
        region: str | None = None,
    ) -> boto3.Session:
        """Credentials in `account`, from assuming `role_name` there (base credentials for
        the management account's own admin)."""
        return account_session(
            self.endpoint_url,
            account,
            role_name=role_name,
            session_name=session_name,
            region=region or self.home_region,
        )

    def ec2(self, group: Group, role_name: str = ADMIN_ROLE) -> Any:
        """An EC2 client in the group's account and region."""
        return self.session(group.account, role_name, region=group.region).client(
            "ec2", endpoint_url=self.endpoint_url
        )

    def name_of(self, account: str) -> str:
        return self.names.get(account, account)


def base_session(region: str = HOME_REGION) -> boto3.Session:
    """The management account's own credentials (moto's default caller)."""
    return boto3.Session(
        aws_access_key_id=BASE_CREDENTIALS["aws_access_key_id"],
        aws_secret_access_key=BASE_CREDENTIALS["aws_secret_access_key"],
        aws_session_token=BASE_CREDENTIALS["aws_session_token"],
        region_name=region,
    )


def account_session(
    endpoint_url: str,
    account: str,
    *,
    role_name: str = ADMIN_ROLE,
    session_name: str = "sandbox",
    region: str = HOME_REGION,
) -> boto3.Session:
    if account == MANAGEMENT_ACCOUNT and role_name == ADMIN_ROLE:
        return base_session(region)
    sts = base_session(region).client("sts", endpoint_url=endpoint_url)
    credentials = sts.assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/{role_name}", RoleSessionName=session_name
    )["Credentials"]
    return boto3.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name=region,
    )


def _trust(principal: dict[str, str | list[str]], *, source_identity: bool = False) -> str:
    """`source_identity`: the role is part of the revert chain, whose sessions carry who
    decided (sgrevert.roles), so its trust allows sts:SetSourceIdentity as AWS needs."""
    action = ["sts:AssumeRole", "sts:SetSourceIdentity"] if source_identity else "sts:AssumeRole"
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": principal, "Action": action}],
        }
    )


def _policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def _allow(actions: list[str], resources: list[str] | str) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": actions, "Resource": resources}


def _create_role(iam: Any, name: str, trust: str, policy: str, description: str) -> str:
    arn: str = iam.create_role(
        RoleName=name, AssumeRolePolicyDocument=trust, Description=description
    )["Role"]["Arn"]
    iam.put_role_policy(RoleName=name, PolicyName=f"{name}-policy", PolicyDocument=policy)
    return arn


def _iam(endpoint_url: str, account: str) -> Any:
    return account_session(endpoint_url, account, session_name="org-builder").client(
        "iam", endpoint_url=endpoint_url
    )


# The rules each group starts with: what the story must leave untouched.
EXISTING_RULES: dict[str, dict[str, list[IpPermissionTypeDef]]] = {
    "web": {
        "ingress": [
            {
                "IpProtocol": "tcp",
                "FromPort": 443,
                "ToPort": 443,
                "IpRanges": [{"CidrIp": "0.0.0.0/0", "Description": "public HTTPS"}],
            },
        ],
        "egress": [],  # keeps the default allow-all egress rule
    },
    "db": {
        "ingress": [
            {
                "IpProtocol": "tcp",
                "FromPort": 5432,
                "ToPort": 5432,
                "IpRanges": [{"CidrIp": "10.1.0.0/16", "Description": "app tier"}],
            }
        ],
        "egress": [],
    },
    "batch": {"ingress": [], "egress": []},  # a group made for a job that never ran
}

# The rule the story adds on web, then widens in place (ModifySecurityGroupRules).
BASTION_SSH: IpPermissionTypeDef = {
    "IpProtocol": "tcp",
    "FromPort": 22,
    "ToPort": 22,
    "IpRanges": [{"CidrIp": "10.0.0.0/8", "Description": "bastion subnets"}],
}

# The customer-managed prefix list in member-a, and the rules that reference it.
OFFICES_LIST = "corp-offices"
OFFICE_CIDRS = (
    ("198.51.100.0/25", "London office"),
    ("198.51.100.128/25", "Lisbon office"),
)
OFFICES_REFERENCED_BY = {"web": (8443, "admin console"), "batch": (22, "SSH from the offices")}


@dataclass(frozen=True)
class _Network:
    """A VPC with one subnet in a member account, and an EC2 client there."""

    account: str
    region: str
    ec2: Any
    vpc_id: str
    subnet_id: str


def _network(endpoint_url: str, name: str, *, account: str, region: str, cidr: str) -> _Network:
    ec2 = account_session(endpoint_url, account, session_name="org-builder", region=region).client(
        "ec2", endpoint_url=endpoint_url
    )
    vpc_id = ec2.create_vpc(
        CidrBlock=cidr,
        TagSpecifications=[{"ResourceType": "vpc", "Tags": [{"Key": "Name", "Value": name}]}],
    )["Vpc"]["VpcId"]
    subnet = cidr.replace(".0.0/16", ".1.0/24")
    subnet_id = ec2.create_subnet(VpcId=vpc_id, CidrBlock=subnet)["Subnet"]["SubnetId"]
    return _Network(account, region, ec2, vpc_id, subnet_id)


def _make_group(
    net: _Network, key: str, *, description: str, tags: Mapping[str, str] | None = None
) -> Group:
    ec2 = net.ec2
    group_id = ec2.create_security_group(GroupName=key, Description=description, VpcId=net.vpc_id)[
        "GroupId"
    ]
    if tags:
        ec2.create_tags(
            Resources=[group_id], Tags=[{"Key": k, "Value": v} for k, v in tags.items()]
        )
    rules = EXISTING_RULES[key]
    if rules["ingress"]:
        ec2.authorize_security_group_ingress(GroupId=group_id, IpPermissions=rules["ingress"])
    if rules["egress"]:
        ec2.authorize_security_group_egress(GroupId=group_id, IpPermissions=rules["egress"])
    return Group(
        key=key,
        account=net.account,
        region=net.region,
        vpc_id=net.vpc_id,
        group_id=group_id,
        name=key,
    )


def _offices_list(net: _Network, groups: Mapping[str, Group]) -> PrefixList:
    """The offices' prefix list, and a tcp rule from it on each group that uses it."""
    created = net.ec2.create_managed_prefix_list(
        PrefixListName=OFFICES_LIST,
        AddressFamily="IPv4",
        MaxEntries=10,
        Entries=[{"Cidr": cidr, "Description": about} for cidr, about in OFFICE_CIDRS],
    )["PrefixList"]
    list_id = str(created["PrefixListId"])
    for key, (port, description) in OFFICES_REFERENCED_BY.items():
        net.ec2.authorize_security_group_ingress(
            GroupId=groups[key].group_id,
            IpPermissions=[
                {
                    "IpProtocol": "tcp",
                    "FromPort": port,
                    "ToPort": port,
                    "PrefixListIds": [{"PrefixListId": list_id, "Description": description}],
                }
            ],
        )
    return PrefixList(
        key="offices",
        account=net.account,
        region=net.region,
        list_id=list_id,
        name=OFFICES_LIST,
        entries=OFFICE_CIDRS,
        referenced_by={key: port for key, (port, _) in OFFICES_REFERENCED_BY.items()},
    )


def _with_instance(net: _Network, group: Group, name: str) -> Group:
    """`group` in front of an instance named `name` with a public IP, as a web tier is."""
    instance = net.ec2.run_instances(
        ImageId=AMI,
        InstanceType="t3.micro",
        MinCount=1,
        MaxCount=1,
        NetworkInterfaces=[
            {
                "DeviceIndex": 0,
                "SubnetId": net.subnet_id,
                "Groups": [group.group_id],
                "AssociatePublicIpAddress": True,
            }
        ],
        TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": name}]}],
    )["Instances"][0]
    public_ip = instance.get("PublicIpAddress") or (
        instance["NetworkInterfaces"][0].get("Association") or {}
    ).get("PublicIp")
    found = Attached("EC2 instance", instance["InstanceId"], name, public_ip)
    return replace(group, attached=(*group.attached, found))


def _with_database(net: _Network, group: Group) -> Group:
    """`group` on a database's network interface, described as RDS describes its own."""
    interface = net.ec2.create_network_interface(
        SubnetId=net.subnet_id, Groups=[group.group_id], Description="RDSNetworkInterface"
    )["NetworkInterface"]
    found = Attached("RDS network interface", interface["NetworkInterfaceId"])
    return replace(group, attached=(*group.attached, found))


def spoke_policy(account: str) -> str:
    """The spoke role's permissions in `account`, as infra/spoke-role.yaml grants them.
    IAM cannot limit the values the Modify calls write: what sgrevert writes with them is
    its code's promise (README's security model)."""
    return _policy(
        _allow(
            ["ec2:RevokeSecurityGroupIngress", "ec2:RevokeSecurityGroupEgress"],
            f"arn:aws:ec2:*:{account}:security-group/*",
        ),
        _allow(
            ["ec2:ModifySecurityGroupRules"],
            [
                f"arn:aws:ec2:*:{account}:security-group/*",
                f"arn:aws:ec2:*:{account}:security-group-rule/*",
            ],
        ),
        _allow(["ec2:ModifyManagedPrefixList"], f"arn:aws:ec2:*:{account}:prefix-list/*"),
        _allow(
            [
                "ec2:DescribeSecurityGroups",
                "ec2:DescribeSecurityGroupRules",
                "ec2:DescribeNetworkInterfaces",
                "ec2:DescribeInstances",
                "ec2:DescribeManagedPrefixLists",
                "ec2:GetManagedPrefixListEntries",
                "ec2:GetManagedPrefixListAssociations",
            ],
            "*",
        ),
    )


def build_organization(endpoint_url: str, event_data_store_arn: str | None = None) -> Organization:
    """Create the organization, its accounts, roles and groups in the moto at `endpoint_url`.

    `event_data_store_arn` only narrows the Lake read role's policy; `*` when not known yet.
    """
    management = base_session()
    orgs = management.client("organizations", endpoint_url=endpoint_url)
    organization_id: str = orgs.create_organization(FeatureSet="ALL")["Organization"]["Id"]
    root_id: str = orgs.list_roots()["Roots"][0]["Id"]
    ous = {
        name: orgs.create_organizational_unit(ParentId=root_id, Name=name)["OrganizationalUnit"][
            "Id"
        ]
        for name in ("Security", "Workloads")
    }
    accounts: dict[str, str] = {}
    for name, ou in (
        ("security", "Security"),
        ("member-a", "Workloads"),
        ("member-b", "Workloads"),
    ):
        status = orgs.create_account(AccountName=name, Email=f"aws+{name}@example.com")[
            "CreateAccountStatus"
        ]
        accounts[name] = status["AccountId"]
        orgs.move_account(
            AccountId=status["AccountId"], SourceParentId=root_id, DestinationParentId=ous[ou]
        )
    security = accounts["security"]
    members = {name: accounts[name] for name in ("member-a", "member-b")}

    # Security account: the functions' execution roles and the hub that fans out to spokes.
    iam = _iam(endpoint_url, security)
    lambda_trust = _trust({"Service": "lambda.amazonaws.com"})
    lake_read_role_arn = f"arn:aws:iam::{MANAGEMENT_ACCOUNT}:role/{LAKE_READ_ROLE}"
    org_read_role_arn = f"arn:aws:iam::{MANAGEMENT_ACCOUNT}:role/{ORG_READ_ROLE}"
    hub_role_arn = f"arn:aws:iam::{security}:role/{HUB_ROLE}"
    detect_role_arn = _create_role(
        iam,
        DETECT_ROLE,
        lambda_trust,
        _policy(
            # Lake, account names, and a changed group's context through the hub
            _allow(["sts:AssumeRole"], [lake_read_role_arn, org_read_role_arn, hub_role_arn]),
            _allow(
                ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query"],
                f"arn:aws:dynamodb:{HOME_REGION}:{security}:table/*",
            ),
            _allow(["secretsmanager:GetSecretValue"], "*"),
        ),
        "revertsg-1: queries Lake through the read role, records changes, reads their "
        "context, posts to Slack",
    )
    respond_role_arn = _create_role(
        iam,
        RESPOND_ROLE,
        lambda_trust,
        _policy(
            _allow(["sts:AssumeRole", "sts:SetSourceIdentity"], hub_role_arn),
            _allow(
                ["dynamodb:GetItem", "dynamodb:UpdateItem"],
                f"arn:aws:dynamodb:{HOME_REGION}:{security}:table/*",
            ),
            _allow(["secretsmanager:GetSecretValue"], "*"),
            _allow(
                ["lambda:InvokeFunction"], f"arn:aws:lambda:{HOME_REGION}:{security}:function:*"
            ),
        ),
        "revertsg-2: answers Slack clicks and reverts denied changes through the hub",
    )
    _create_role(
        iam,
        HUB_ROLE,
        # The responder to revert; the detector to read (its sessions carry a session
        # policy allowing only the describe calls: sgrevert.roles.RoleChain.read_client).
        _trust({"AWS": [respond_role_arn, detect_role_arn]}, source_identity=True),
        _policy(
            _allow(["sts:AssumeRole", "sts:SetSourceIdentity"], f"arn:aws:iam::*:role/{SPOKE_ROLE}")
        ),
        "the one role spoke roles trust; the responder and the detector assume it first",
    )

    # Management account: the read roles the detector assumes to query the org's Lake store
    # and to name the accounts and read their OUs (ListAccounts and ListParents answer only
    # in the management account or a delegated administrator, in moto as in AWS).
    management_iam = _iam(endpoint_url, MANAGEMENT_ACCOUNT)
    _create_role(
        management_iam,
        ORG_READ_ROLE,
        _trust({"AWS": detect_role_arn}),
        _policy(_allow(["organizations:ListAccounts", "organizations:ListParents"], "*")),
        "account names and OUs for sgrevert's messages and routes",
    )
    _create_role(
        management_iam,
        LAKE_READ_ROLE,
        _trust({"AWS": detect_role_arn}),
        _policy(
            _allow(
                [
                    "cloudtrail:StartQuery",
                    "cloudtrail:DescribeQuery",
                    "cloudtrail:GetQueryResults",
                    "cloudtrail:CancelQuery",
                ],
                event_data_store_arn or "*",
            ),
            _allow(["cloudtrail:ListEventDataStores"], "*"),
        ),
        "read-only CloudTrail Lake queries for sgrevert's detector",
    )

    # Member accounts: a spoke that can only undo, and a developer who changes groups.
    for account in members.values():
        member_iam = _iam(endpoint_url, account)
        _create_role(
            member_iam,
            SPOKE_ROLE,
            _trust({"AWS": hub_role_arn}, source_identity=True),
            spoke_policy(account),
            "sgrevert spoke: undoes denied changes (revokes added rules, restores modified "
            "ones, removes added prefix-list entries) and reads changed groups and lists for "
            "the security account",
        )
        _create_role(
            member_iam,
            DEVELOPER_ROLE,
            _trust({"AWS": f"arn:aws:iam::{MANAGEMENT_ACCOUNT}:root"}),
            _policy(_allow(["ec2:*"], "*")),
            "people who run workloads in this account",
        )

    workloads = _network(
        endpoint_url,
        "workloads",
        account=members["member-a"],
        region="eu-west-1",
        cidr="10.20.0.0/16",
    )
    data = _network(
        endpoint_url, "data", account=members["member-b"], region="us-east-1", cidr="10.30.0.0/16"
    )
    web = _make_group(workloads, "web", description="web tier", tags={"Team": "storefront"})
    db = _make_group(data, "db", description="database tier", tags={"Team": "data-platform"})
    groups = {
        "web": _with_instance(workloads, web, "web-1"),
        "db": _with_database(data, db),
        "batch": _make_group(workloads, "batch", description="nightly batch jobs"),
    }
    offices = _offices_list(workloads, groups)
    names = {MANAGEMENT_ACCOUNT: "management", **{v: k for k, v in accounts.items()}}
    return Organization(
        endpoint_url=endpoint_url,
        organization_id=organization_id,
        management=MANAGEMENT_ACCOUNT,
        security=security,
        members=members,
        groups=groups,
        lake_read_role_arn=lake_read_role_arn,
        hub_role_arn=hub_role_arn,
        detect_role_arn=detect_role_arn,
        respond_role_arn=respond_role_arn,
        org_read_role_arn=org_read_role_arn,
        names=names,
        prefix_lists={offices.key: offices},
    )


@dataclass(frozen=True)
class RuleView:
    """A security-group rule as `describe_security_group_rules` reports it, for display."""

    rule_id: str
    direction: str
    protocol: str
    ports: str
    source: str
    description: str


def describe_rules(org: Organization, group: Group) -> list[RuleView]:
    """The group's rules now, ingress first, in a stable order."""
    ec2 = org.ec2(group)
    views: list[RuleView] = []
    paginator = ec2.get_paginator("describe_security_group_rules")
    for page in paginator.paginate(Filters=[{"Name": "group-id", "Values": [group.group_id]}]):
        for rule in page["SecurityGroupRules"]:
            views.append(_view(rule))
    return sorted(views, key=lambda v: (v.direction != "ingress", v.ports, v.source, v.rule_id))


def _view(rule: Mapping[str, Any]) -> RuleView:
    protocol = str(rule.get("IpProtocol", "-1"))
    low, high = rule.get("FromPort", -1), rule.get("ToPort", -1)
    if protocol == "-1" or low in (None, -1):
        ports = "all"
    elif low == high:
        ports = str(low)
    else:
        ports = f"{low}-{high}"
    referenced = rule.get("ReferencedGroupInfo") or {}
    source = (
        rule.get("CidrIpv4")
        or rule.get("CidrIpv6")
        or rule.get("PrefixListId")
        or referenced.get("GroupId")
        or "?"
    )
    return RuleView(
        rule_id=str(rule["SecurityGroupRuleId"]),
        direction="egress" if rule.get("IsEgress") else "ingress",
        protocol="all" if protocol == "-1" else protocol,
        ports=ports,
        source=str(source),
        description=str(rule.get("Description") or ""),
    )
