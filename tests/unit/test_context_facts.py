"""The facts read about a change, from AWS's own shapes: what a group is attached to, who
the actor is and how they called, whether a new rule changes anything, what the group is
and who manages it, and those facts in words."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from sgrevert.actor_identity import email_of, via
from sgrevert.attachments import attachment, summarize
from sgrevert.context import (
    ActorInfo,
    Attachment,
    AttachmentKind,
    Attachments,
    ChangeContext,
    Gap,
    GroupInfo,
    ListReference,
    Via,
)
from sgrevert.context_text import (
    MRKDWN,
    PLAIN,
    account_label,
    actor_line,
    attachments_line,
    context_lines,
    exposure_line,
    exposure_tag,
    exposure_word,
    gap_lines,
    group_line,
    iac_warning,
    modified_rule_words,
    reference_lines,
    risk_tag,
    rule_notes,
    unknown_prior_warning,
)
from sgrevert.group_info import DEFAULT_OWNER_TAG_KEYS, group_info
from sgrevert.model import (
    Actor,
    Change,
    Direction,
    PrefixListEdit,
    PrefixListEntry,
    Prior,
    Rule,
    SourceKind,
)
from sgrevert.rule_cover import covering_rule, first_open_to_internet, opens_to_internet, others

ACCOUNT = "111122223333"
READ_AT = datetime(2026, 11, 27, 10, 0, 30, tzinfo=UTC)
SSO_ARN = (
    "arn:aws:sts::111122223333:assumed-role/"
    "AWSReservedSSO_Developer_9a8b7c6d5e4f3a2b/Li.Wei@Example.com"
)
TERRAFORM_AGENT = (
    "APN/1.0 HashiCorp/1.0 Terraform/1.9.8 (+https://www.terraform.io) "
    "terraform-provider-aws/5.80.0 (+https://registry.terraform.io/providers/hashicorp/aws) "
    "aws-sdk-go-v2/1.32.6 ua/2.1 os/linux lang/go#1.23.3 md/GOOS#linux md/GOARCH#amd64 "
    "api/ec2#1.196.0"
)
CLI_AGENT = (
    "aws-cli/2.22.4 md/awscrt#0.23.4 ua/2.0 os/linux#6.8.0-1019-aws md/arch#x86_64 "
    "lang/python#3.12.6 md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe "
    "md/command#ec2.authorize-security-group-ingress"
)


# -- real-shaped AWS items -------------------------------------------------------------------


def interface(
    eni: str,
    *,
    interface_type: str = "interface",
    description: str = "",
    requester: str | None = None,
    instance: str | None = None,
    public_ip: str | None = None,
    ipv6: tuple[str, ...] = (),
) -> dict[str, Any]:
    """One DescribeNetworkInterfaces `NetworkInterfaces[]` item."""
    item: dict[str, Any] = {
        "AvailabilityZone": "eu-west-1a",
        "Description": description,
        "Groups": [{"GroupName": "web-prod", "GroupId": "sg-0c3d5e7f9a1b2c4d6"}],
        "InterfaceType": interface_type,
        "Ipv6Addresses": [{"Ipv6Address": a, "IsPrimaryIpv6": False} for a in ipv6],
        "MacAddress": "02:4f:1a:2b:3c:4d",
        "NetworkInterfaceId": eni,
        "OwnerId": ACCOUNT,
        "PrivateIpAddress": "10.0.1.25",
        "RequesterManaged": requester is not None,
        "SourceDestCheck": True,
        "Status": "in-use",
        "SubnetId": "subnet-0a1b2c3d4e5f60718",
        "TagSet": [],
        "VpcId": "vpc-0f1e2d3c4b5a69788",
    }
    if requester is not None:
        item["RequesterId"] = requester
    if instance is not None:
        item["Attachment"] = {
            "AttachTime": "2026-11-01T08:00:00+00:00",
            "AttachmentId": "eni-attach-0123456789abcdef0",
            "DeleteOnTermination": True,
            "DeviceIndex": 0,
            "NetworkCardIndex": 0,
            "InstanceId": instance,
            "InstanceOwnerId": ACCOUNT if requester is None else "amazon-aws",
            "Status": "attached",
        }
    if public_ip is not None:
        item["Association"] = {
            "IpOwnerId": "amazon",
            "PublicDnsName": f"ec2-{public_ip.replace('.', '-')}.eu-west-1.compute.amazonaws.com",
            "PublicIp": public_ip,
        }
    return item


def security_group(tags: dict[str, str]) -> dict[str, Any]:
    """One DescribeSecurityGroups `SecurityGroups[]` item."""
    return {
        "Description": "Web tier <prod> & friends",
        "GroupName": "web-prod",
        "IpPermissions": [],
        "OwnerId": ACCOUNT,
        "GroupId": "sg-0c3d5e7f9a1b2c4d6",
        "IpPermissionsEgress": [],
        "Tags": [{"Key": k, "Value": v} for k, v in tags.items()],
        "VpcId": "vpc-0f1e2d3c4b5a69788",
    }


def rule(
    source: str,
    from_port: int | None = 22,
    to_port: int | None = None,
    *,
    protocol: str = "tcp",
    kind: SourceKind | None = None,
    rule_id: str | None = None,
    direction: Direction = Direction.INGRESS,
) -> Rule:
    if kind is None:
        kind = SourceKind.CIDR_IPV6 if ":" in source else SourceKind.CIDR_IPV4
    return Rule(
        direction=direction,
        protocol=protocol,
        from_port=from_port,
        to_port=from_port if to_port is None else to_port,
        source_kind=kind,
        source=source,
        rule_id=rule_id,
    )


def actor(
    arn: str = SSO_ARN,
    *,
    user_agent: str | None = "AWS Internal",
    invoked_by: str | None = None,
    kind: str = "AssumedRole",
) -> Actor:
    return Actor(
        arn=arn,
        type=kind,
        session_issuer=None,
        invoked_by=invoked_by,
        source_ip="203.0.113.45",
        user_agent=user_agent,
    )


def change(
    *rules: Rule, event: str = "AuthorizeSecurityGroupIngress", who: Actor | None = None
) -> Change:
    return Change(
        event_id="b3f0c1d2-5e6a-4b7c-8d9e-0f1a2b3c4d13",
        event_name=event,
        event_time=datetime(2026, 11, 27, 9, 58, 47, tzinfo=UTC),
        account=ACCOUNT,
        region="eu-west-1",
        group_id="sg-0c3d5e7f9a1b2c4d6",
        actor=who or actor(),
        rules=rules,
        group_name="web-prod",
        vpc_id="vpc-0f1e2d3c4b5a69788",
    )


# -- attachments -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("item", "kind", "resource_id", "name"),
    [
        (
            interface(
                "eni-01", instance="i-0abc1234def567890", description="Primary network interface"
            ),
            AttachmentKind.INSTANCE,
            "i-0abc1234def567890",
            "web-1",
        ),
        (
            interface("eni-02", instance="i-0def", interface_type="efa"),
            AttachmentKind.INSTANCE,
            "i-0def",
            None,  # no Name tag
        ),
        (
            interface(
                "eni-03", description="ELB app/web-prod/50dc6c495c0c9188", requester="amazon-elb"
            ),
            AttachmentKind.LOAD_BALANCER,
            "web-prod",
            "web-prod",
        ),
        (
            interface(
                "eni-04",
                interface_type="network_load_balancer",
                description="ELB net/api-nlb/0b1c2d3e4f5a6b7c",
                requester="amazon-elb",
            ),
            AttachmentKind.LOAD_BALANCER,
            "api-nlb",
            "api-nlb",
        ),
        (
            interface(
                "eni-05",
                interface_type="gateway_load_balancer",
                description="ELB gwy/inspect/9f8e7d6c5b4a3f2e",
                requester="amazon-elb",
            ),
            AttachmentKind.LOAD_BALANCER,
            "inspect",
            "inspect",
        ),
        (
            interface("eni-06", description="ELB legacy-classic", requester="amazon-elb"),
            AttachmentKind.LOAD_BALANCER,
            "legacy-classic",
            "legacy-classic",
        ),
        (
            interface("eni-07", description="RDSNetworkInterface", requester="amazon-rds"),
            AttachmentKind.RDS,
            None,
            None,
        ),
        (
            interface(
                "eni-08",
                interface_type="lambda",
                description="AWS Lambda VPC ENI-orders-api-3f2a1b0c-9d8e-4f7a-b6c5-d4e3f2a1b0c9",
                requester="AROAQGYBPMNVEXAMPLE2:3f2a1b0c9d8e4f7ab6c5d4e3f2a1b0c9",
            ),
            AttachmentKind.LAMBDA,
            "orders-api",
            "orders-api",
        ),
        (
            interface(
                "eni-09", description="AWS Lambda VPC ENI-billing-worker", requester="AROAX:abc"
            ),
            AttachmentKind.LAMBDA,
            "billing-worker",
            "billing-worker",
        ),
        (
            interface(
                "eni-10", description="Amazon EKS payments-cluster", requester="444455556666"
            ),
            AttachmentKind.EKS,
            "payments-cluster",
            "payments-cluster",
        ),
        (
            interface(
                "eni-11",
                interface_type="vpc_endpoint",
                description="VPC Endpoint Interface vpce-0a1b2c3d4e5f67890",
                requester="727180786222",
            ),
            AttachmentKind.VPC_ENDPOINT,
            "vpce-0a1b2c3d4e5f67890",
            None,
        ),
        (
            interface(
                "eni-12",
                interface_type="nat_gateway",
                description="Interface for NAT Gateway nat-0f1e2d3c4b5a69788",
                requester="amazon-aws",
            ),
            AttachmentKind.NAT_GATEWAY,
            "nat-0f1e2d3c4b5a69788",
            None,
        ),
        (
            interface(
                "eni-13",
                description="EFS mount target for fs-0123abcd (fsmt-0456)",
                requester="641247547298",
            ),
            AttachmentKind.OTHER,
            None,
            "EFS mount target for fs-0123abcd (fsmt-0456)",
        ),
    ],
)
def test_each_kind_of_interface_names_its_resource(
    item: dict[str, Any], kind: AttachmentKind, resource_id: str | None, name: str | None
) -> None:
    """Given a DescribeNetworkInterfaces item of any kind, when read, then it names the
    resource behind it as a reviewer knows it."""
    found = attachment(item, {"i-0abc1234def567890": "web-1"})

    assert (found.kind, found.resource_id, found.name) == (kind, resource_id, name)
    assert found.interface_id == item["NetworkInterfaceId"]
    assert found.public_ip is None


def test_a_service_managed_interface_on_an_instance_is_not_the_callers_instance() -> None:
    """Given a requester-managed interface attached to an instance, then it is the
    service's, not counted as one of the caller's instances."""
    item = interface(
        "eni-20", instance="i-0fff", requester="amazon-elb", description="ELB app/web/1a2b"
    )

    assert attachment(item, {}).kind is AttachmentKind.LOAD_BALANCER


def test_a_public_ipv4_or_else_an_ipv6_address_makes_an_interface_public() -> None:
    """Given an interface with a public IPv4, one with only IPv6 addresses and a private
    one, then the first two are public (IPv6 in a VPC is globally routable)."""
    v4 = interface("eni-1", instance="i-1", public_ip="54.216.10.20", ipv6=("2a05:d018::1",))
    v6 = interface("eni-2", instance="i-2", ipv6=("2a05:d018:1234::10", "2a05:d018:1234::11"))
    private = interface("eni-3", instance="i-3")

    assert attachment(v4, {}).public_ip == "54.216.10.20"
    assert attachment(v6, {}).public_ip == "2a05:d018:1234::10"
    assert attachment(private, {}).public_ip is None


def test_a_summary_counts_resources_by_kind_with_a_few_examples_and_the_public_ones() -> None:
    """Given five instances, an ALB with an interface in three zones and an RDS database,
    when summarized, then it counts interfaces, resources per kind, keeps three examples
    of each kind and the public ones (the ALB once, by its public interface)."""
    names = {f"i-0{n}": f"web-{n}" for n in range(1, 6)}
    items = [
        attachment(
            interface(f"eni-i{n}", instance=f"i-0{n}", public_ip=f"54.0.0.{n}" if n < 3 else None),
            names,
        )
        for n in range(1, 6)
    ]
    items += [
        attachment(
            interface(
                f"eni-lb{zone}",
                description="ELB app/web-prod/50dc6c495c0c9188",
                requester="amazon-elb",
                public_ip="34.240.1.1" if zone == "c" else None,
            ),
            names,
        )
        for zone in "abc"
    ]
    items.append(
        attachment(
            interface("eni-db", description="RDSNetworkInterface", requester="amazon-rds"), names
        )
    )

    summary = summarize(items)

    assert summary.total == 9
    assert summary.counts == {
        AttachmentKind.INSTANCE: 5,
        AttachmentKind.LOAD_BALANCER: 1,
        AttachmentKind.RDS: 1,
    }
    assert [a.name for a in summary.examples if a.kind is AttachmentKind.INSTANCE] == [
        "web-1",
        "web-2",
        "web-3",
    ]
    assert summary.public_count == 3
    assert [(a.resource_id, a.public_ip) for a in summary.public] == [
        ("i-01", "54.0.0.1"),
        ("i-02", "54.0.0.2"),
        ("web-prod", "34.240.1.1"),
    ]
    assert summary.reachable_from_internet
    assert Attachments.from_dict(summary.to_dict()) == summary


def test_a_summary_of_nothing_is_empty_and_the_limits_are_kept() -> None:
    """Given no interfaces, then nothing is attached; given many public ones, then only
    `public_shown` are kept by name but all are counted."""
    assert summarize([]) == Attachments()
    many = [
        Attachment(AttachmentKind.INSTANCE, f"eni-{n}", f"i-{n}", None, f"54.0.1.{n}")
        for n in range(10)
    ]

    summary = summarize(many, per_kind=2, public_shown=1)

    assert len(summary.examples) == 2
    assert summary.public_count == 10
    assert len(summary.public) == 1


# -- the actor -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("arn", "kind", "expected"),
    [
        (SSO_ARN, "AssumedRole", "li.wei@example.com"),
        (
            "arn:aws:sts::111122223333:assumed-role/okta-admins/alice@example.com",
            "AssumedRole",
            "alice@example.com",
        ),
        (
            "arn:aws:iam::111122223333:user/Bob.Smith@Example.COM",
            "IAMUser",
            "bob.smith@example.com",
        ),
        (
            "arn:aws:iam::111122223333:user/contractors/carol@example.org",
            "IAMUser",
            "carol@example.org",
        ),
        (
            "arn:aws:sts::111122223333:federated-user/dave@example.net",
            "FederatedUser",
            "dave@example.net",
        ),
        (
            "arn:aws-us-gov:sts::111122223333:assumed-role/AWSReservedSSO_Ops_1/erin@example.gov",
            "AssumedRole",
            "erin@example.gov",
        ),
        (
            "arn:aws:sts::111122223333:assumed-role/terraform-apply/i-0abc1234def567890",
            "AssumedRole",
            None,
        ),
        (
            "arn:aws:sts::111122223333:assumed-role/deploy/botocore-session-1764237000",
            "AssumedRole",
            None,
        ),
        ("arn:aws:iam::111122223333:user/ops", "IAMUser", None),
        ("arn:aws:iam::111122223333:root", "Root", None),
        ("arn:aws:iam::111122223333:role/alice@example.com", "AssumedRole", None),  # not a session
        ("not-an-arn@example.com", "Unknown", None),
    ],
)
def test_the_email_comes_from_a_session_user_or_federated_name(
    arn: str, kind: str, expected: str | None
) -> None:
    """Given an actor's ARN, then its email is the session or user name when that is an
    email, lower-cased; None otherwise."""
    assert email_of(actor(arn, kind=kind)) == expected


@pytest.mark.parametrize(
    ("user_agent", "invoked_by", "kind", "expected"),
    [
        ("AWS Internal", None, "AssumedRole", Via.CONSOLE),
        ("console.amazonaws.com", None, "IAMUser", Via.CONSOLE),
        ("signin.amazonaws.com", None, "IAMUser", Via.CONSOLE),
        ("console.ec2.amazonaws.com", None, "AssumedRole", Via.CONSOLE),
        (CLI_AGENT, None, "AssumedRole", Via.CLI),
        (
            "aws-cli/1.16.170 Python/3.7.3 Linux/4.14.123-111.109.amzn2.x86_64 botocore/1.12.160",
            None,
            "IAMUser",
            Via.CLI,
        ),
        (
            "Boto3/1.35.76 md/Botocore#1.35.76 ua/2.0 os/linux#5.10.228 lang/python#3.12.7 Botocore/1.35.76",
            None,
            "AssumedRole",
            Via.CLI,
        ),
        (
            "aws-sdk-go-v2/1.30.3 os/linux lang/go#1.22.5 md/GOOS#linux api/ec2#1.173.0",
            None,
            "AssumedRole",
            Via.CLI,
        ),
        (
            "aws-sdk-java/2.25.0 Linux/5.10 OpenJDK_64-Bit_Server_VM/17.0.10",
            None,
            "AssumedRole",
            Via.CLI,
        ),
        (TERRAFORM_AGENT, None, "AssumedRole", Via.TERRAFORM),
        (
            "aws-cdk/2.170.0 (+https://github.com/aws/aws-cdk) aws-sdk-js/3.699.0",
            None,
            "AssumedRole",
            Via.CDK,
        ),
        (
            "cloudformation.amazonaws.com",
            "cloudformation.amazonaws.com",
            "AssumedRole",
            Via.CLOUDFORMATION,
        ),
        ("cloudformation.amazonaws.com", None, "AssumedRole", Via.CLOUDFORMATION),
        ("AWS Internal", "elasticloadbalancing.amazonaws.com", "AWSService", Via.AWS_SERVICE),
        ("ecs.amazonaws.com", None, "AWSService", Via.AWS_SERVICE),
        ("Slackbot 1.0 (+https://api.slack.com/robots)", None, "IAMUser", Via.UNKNOWN),
        (None, None, "IAMUser", Via.UNKNOWN),
    ],
)
def test_how_the_call_was_made_comes_from_the_user_agent_and_the_invoking_service(
    user_agent: str | None, invoked_by: str | None, kind: str, expected: Via
) -> None:
    """Given CloudTrail's userAgent and invokedBy, then the tool is named, the IaC tools
    before the SDKs they call through."""
    assert via(actor(user_agent=user_agent, invoked_by=invoked_by, kind=kind)) is expected


# -- rule cover ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("new", "wide"),
    [
        (rule("203.0.113.10/32"), rule("203.0.113.0/24", rule_id="sgr-wide")),
        (rule("203.0.113.10/32"), rule("0.0.0.0/0", 0, 65535, rule_id="sgr-wide")),
        (rule("10.1.2.0/24", 8080), rule("10.0.0.0/8", 8000, 8100, rule_id="sgr-wide")),
        (
            rule("10.1.2.0/24", 8080),
            rule("10.0.0.0/8", None, None, protocol="-1", rule_id="sgr-wide"),
        ),
        (
            rule("10.1.2.0/24", 53, protocol="udp"),
            rule("10.1.2.0/24", 0, 65535, protocol="17", rule_id="sgr-wide"),
        ),
        (rule("2001:db8:1234:1::/64", 443), rule("2001:db8::/32", 443, rule_id="sgr-wide")),
        (rule("2001:db8::1/128", 443), rule("::/0", 443, rule_id="sgr-wide")),
        (
            rule("10.0.0.1/32", 8, 0, protocol="icmp"),
            rule("10.0.0.0/16", -1, -1, protocol="icmp", rule_id="sgr-wide"),
        ),
        (
            rule("10.0.0.1/32", 8, 0, protocol="icmp"),
            rule("10.0.0.0/16", 8, -1, protocol="icmp", rule_id="sgr-wide"),
        ),
        (
            rule("10.0.0.1/32", 8, 0, protocol="1"),
            rule("10.0.0.0/16", 8, 0, protocol="icmp", rule_id="sgr-wide"),
        ),
        (
            rule("10.0.0.1/32", None, None, protocol="50"),
            rule("10.0.0.0/8", None, None, protocol="50", rule_id="sgr-wide"),
        ),
        (
            rule("pl-0123456789abcdef0", 443, kind=SourceKind.PREFIX_LIST),
            rule("pl-0123456789abcdef0", 0, 65535, kind=SourceKind.PREFIX_LIST, rule_id="sgr-wide"),
        ),
        (
            rule("sg-0123abcd4567ef890", 5432, kind=SourceKind.GROUP),
            rule(
                "sg-0123abcd4567ef890",
                None,
                None,
                protocol="-1",
                kind=SourceKind.GROUP,
                rule_id="sgr-wide",
            ),
        ),
    ],
)
def test_an_existing_rule_that_allows_all_the_new_one_allows_covers_it(
    new: Rule, wide: Rule
) -> None:
    """Given an existing rule with the same or a wider protocol, port range and source,
    then it covers the new rule."""
    assert covering_rule(new, [wide]) == wide


@pytest.mark.parametrize(
    ("new", "other"),
    [
        (rule("10.0.0.0/8"), rule("10.0.0.0/16", rule_id="sgr-narrow")),  # narrower source
        (rule("10.0.0.1/32", 22, 23), rule("10.0.0.0/8", 22, rule_id="sgr-x")),  # fewer ports
        (
            rule("10.0.0.1/32", 53, protocol="udp"),
            rule("10.0.0.0/8", 53, rule_id="sgr-x"),
        ),  # tcp not udp
        (
            rule("10.0.0.1/32", None, None, protocol="-1"),
            rule("10.0.0.0/8", 0, 65535, rule_id="sgr-x"),
        ),
        (rule("::/0", 443), rule("0.0.0.0/0", 443, rule_id="sgr-x")),  # IPv4 never covers IPv6
        (rule("::ffff:10.0.0.1/128", 443), rule("10.0.0.0/8", 443, rule_id="sgr-x")),
        (
            rule("10.0.0.1/32", -1, -1, protocol="icmp"),
            rule("10.0.0.0/8", 8, -1, protocol="icmp", rule_id="sgr-x"),
        ),
        (
            rule("10.0.0.1/32", 8, -1, protocol="icmp"),
            rule("10.0.0.0/8", 8, 0, protocol="icmp", rule_id="sgr-x"),
        ),
        (
            rule("10.0.0.1/32", 8, 0, protocol="icmpv6"),
            rule("10.0.0.0/8", -1, -1, protocol="icmp", rule_id="sgr-x"),
        ),
        (
            rule("pl-0aaa", 443, kind=SourceKind.PREFIX_LIST),
            rule("pl-0bbb", 443, kind=SourceKind.PREFIX_LIST, rule_id="sgr-x"),
        ),
        (
            rule("sg-0aaa", 443, kind=SourceKind.GROUP),
            rule("0.0.0.0/0", 443, rule_id="sgr-x"),  # a CIDR never covers a group
        ),
        (
            rule("10.0.0.1/32", 443),
            rule("10.0.0.0/8", 0, 65535, direction=Direction.EGRESS, rule_id="sgr-x"),
        ),
    ],
)
def test_a_rule_that_allows_less_or_other_traffic_does_not_cover(new: Rule, other: Rule) -> None:
    """Given an existing rule narrower in source, ports or protocol, of another address
    family, kind of source or direction, then it does not cover the new rule."""
    assert covering_rule(new, [other]) is None


def test_a_rule_never_covers_itself_in_the_rules_read_after_the_change() -> None:
    """Given the group's rules read after the change (so holding the new rule, by id, and
    an id-less copy of another), then the new rule is not covered by itself, and `others`
    leaves out every rule of the change."""
    added = rule("0.0.0.0/0", 22, rule_id="sgr-new")
    twin = rule("0.0.0.0/0", 443)
    read_after = [
        rule("0.0.0.0/0", 22, rule_id="sgr-new"),
        rule("0.0.0.0/0", 443, rule_id="sgr-0443"),
        rule("10.0.0.0/8", 5432, rule_id="sgr-db"),
    ]

    assert covering_rule(added, read_after) is None
    assert [r.rule_id for r in others(change(added, twin), read_after)] == ["sgr-db"]


def test_opening_to_the_internet_means_a_cidr_of_prefix_length_zero() -> None:
    """Given sources, then 0.0.0.0/0, ::/0 and any /0 are the internet; the rest are not."""
    assert opens_to_internet(rule("0.0.0.0/0"))
    assert opens_to_internet(rule("::/0"))
    assert opens_to_internet(rule("10.0.0.0/0"))
    assert not opens_to_internet(rule("0.0.0.0/1"))
    assert not opens_to_internet(rule("pl-0123", kind=SourceKind.PREFIX_LIST))
    assert not opens_to_internet(rule("not-a-cidr"))


def test_the_first_rule_open_to_the_internet_is_the_only_one_in_its_direction() -> None:
    """Given a group with no public ingress rule but a public egress one, then a new public
    ingress rule is its first open to the internet; with another public ingress rule, it
    is not; and a private rule never is."""
    new = rule("0.0.0.0/0", 443, rule_id="sgr-new")
    egress = rule(
        "0.0.0.0/0", None, None, protocol="-1", direction=Direction.EGRESS, rule_id="sgr-eg"
    )
    private = rule("10.0.0.0/8", 22, rule_id="sgr-p")
    public_ssh = rule("::/0", 22, rule_id="sgr-ssh")

    assert first_open_to_internet(new, [new, egress, private])
    assert not first_open_to_internet(new, [new, egress, private, public_ssh])
    assert not first_open_to_internet(private, [private])


# -- the group -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tags", "managed_by"),
    [
        (
            {
                "aws:cloudformation:stack-name": "web-prod",
                "aws:cloudformation:logical-id": "WebSecurityGroup",
                "aws:cloudformation:stack-id": "arn:aws:cloudformation:eu-west-1:111122223333:stack/web-prod/1",
            },
            "CloudFormation stack web-prod",
        ),
        ({"managed-by": "terraform"}, "Terraform"),
        ({"ManagedBy": "Terraform"}, "Terraform"),
        ({"managed_by": "TERRAFORM-cloud"}, "Terraform"),
        ({"terraform": "true"}, "Terraform"),
        ({"TerraformWorkspace": "prod"}, "Terraform"),
        ({"managed-by": "pulumi"}, "pulumi"),
        ({"Name": "web-prod", "Owner": "payments"}, None),
    ],
)
def test_the_iac_that_owns_a_group_comes_from_its_tags(
    tags: dict[str, str], managed_by: str | None
) -> None:
    """Given a group's tags, then CloudFormation, Terraform or a declared manager is named."""
    assert group_info(security_group(tags)).managed_by == managed_by


def test_a_group_keeps_its_name_description_vpc_and_the_owner_tags_the_policy_names() -> None:
    """Given a DescribeSecurityGroups item with owner tags (one spelt in lower case) and
    other tags, then the policy's owner tags are kept under the policy's spelling."""
    item = security_group(
        {"Name": "web-prod-sg", "owner": "team-payments", "Environment": "prod", "CostCenter": "42"}
    )

    info = group_info(item)

    assert info == GroupInfo(
        name="web-prod",
        description="Web tier <prod> & friends",
        vpc_id="vpc-0f1e2d3c4b5a69788",
        owner_tags={"Name": "web-prod-sg", "Owner": "team-payments", "Environment": "prod"},
        managed_by=None,
    )
    assert DEFAULT_OWNER_TAG_KEYS == ("Name", "Owner", "Team", "Service", "Environment")
    assert group_info(item, ("CostCenter",)).owner_tags == {"CostCenter": "42"}
    assert group_info({"GroupName": "default"}) == GroupInfo(name="default")


# -- in words --------------------------------------------------------------------------------


def context_of(
    *,
    account_name: str | None = "prod-payments",
    group: GroupInfo | None = None,
    rules: tuple[Rule, ...] | None = None,
    attachments: Attachments | None = None,
    actor_info: ActorInfo | None = None,
    gaps: tuple[Gap, ...] = (),
) -> ChangeContext:
    return ChangeContext(
        read_at=READ_AT,
        account_name=account_name,
        group=group,
        rules=rules,
        attachments=attachments,
        actor=actor_info,
        gaps=gaps,
    )


WEB = summarize(
    [
        Attachment(AttachmentKind.INSTANCE, "eni-1", "i-0abc", "web-1", "54.216.10.20"),
        Attachment(AttachmentKind.INSTANCE, "eni-2", "i-0def", "web-2", "54.216.10.21"),
        Attachment(AttachmentKind.LOAD_BALANCER, "eni-3", "web-prod", "web-prod", "34.240.1.1"),
        Attachment(AttachmentKind.INSTANCE, "eni-4", "i-0123", "web-3", "54.216.10.22"),
        Attachment(AttachmentKind.INSTANCE, "eni-5", "i-0456", None, None),
    ],
    public_shown=1,
)


def test_the_account_is_named_when_its_name_is_known() -> None:
    """Given a context with the account's name, then the label is name (id); otherwise the
    id alone, in both markups."""
    c = change(rule("203.0.113.0/24"))

    assert account_label(c, context_of(), PLAIN) == "prod-payments (111122223333)"
    assert account_label(c, context_of(), MRKDWN) == "prod-payments (`111122223333`)"
    assert account_label(c, context_of(account_name=None), PLAIN) == "111122223333"
    assert account_label(c, None) == "`111122223333`"


def test_the_attachments_and_exposure_are_said_with_names_and_counts() -> None:
    """Given a group on four instances (three public) and a public load balancer, then
    the attachments line counts and names them and the exposure line names the first
    public one and counts the rest."""
    c = change(rule("0.0.0.0/0", 22))
    context = context_of(attachments=WEB)

    assert attachments_line(c, context, PLAIN) == (
        "attached to 4 EC2 instances (web-1, web-2, web-3 and 1 more), 1 load balancer (web-prod)"
    )
    assert (
        exposure_line(context, PLAIN)
        == "reachable from the internet: i-0abc (web-1) 54.216.10.20 and 3 more"
    )
    assert exposure_line(context, MRKDWN) == (
        ":globe_with_meridians: *reachable from the internet*: `i-0abc` (web-1) `54.216.10.20` and 3 more"
    )
    assert exposure_tag(context) == "reachable from the internet"
    assert risk_tag("critical", context) == "critical · reachable from the internet"
    assert exposure_word(context) == "internet (4)"


def test_a_group_attached_to_nothing_says_the_rule_has_no_effect_yet() -> None:
    """Given a group with no network interfaces, then the rule has no effect until used."""
    context = context_of(attachments=Attachments())

    assert attachments_line(change(rule("0.0.0.0/0")), context) == (
        "attached to nothing: the rule has no effect until the group is used"
    )
    assert exposure_line(context) is None
    assert risk_tag("critical", context) == "critical · attached to nothing"
    assert exposure_word(context) == "unattached"


def test_without_attachments_read_nothing_is_said_about_exposure() -> None:
    """Given a context whose attachments could not be read, then no exposure is claimed."""
    context = context_of()

    assert attachments_line(change(rule("10.0.0.0/8")), context) is None
    assert exposure_tag(context) is None
    assert risk_tag("low", context) == "low"
    assert risk_tag(None, None) is None
    assert exposure_word(None) == "-"
    private = context_of(attachments=summarize([Attachment(AttachmentKind.RDS, "eni-db")]))
    assert exposure_word(private) == "private"
    assert exposure_tag(private) is None


def test_the_group_line_has_its_name_description_vpc_and_owner_tags_escaped() -> None:
    """Given group details with control characters in the description, then the group
    line shows them escaped."""
    group = group_info(security_group({"Owner": "team-<payments>", "Environment": "prod"}))
    context = context_of(group=group)

    line = group_line(change(rule("10.0.0.0/8")), context)

    assert line == (
        "*Group* web-prod: Web tier &lt;prod&gt; &amp; friends · VPC `vpc-0f1e2d3c4b5a69788` · "
        "Owner team-&lt;payments&gt; · Environment prod"
    )


def test_iac_warnings_say_a_revert_will_not_last() -> None:
    """Given a group CloudFormation manages, when the change came from CloudFormation, then
    a revert comes back with the next deploy; when made by hand, it is drift."""
    group = group_info(security_group({"aws:cloudformation:stack-name": "web-prod"}))
    context = context_of(group=group)
    by_stack = change(
        rule("10.0.0.0/8"),
        who=actor(
            user_agent="cloudformation.amazonaws.com", invoked_by="cloudformation.amazonaws.com"
        ),
    )
    by_hand = change(rule("10.0.0.0/8"), who=actor(user_agent="AWS Internal"))

    assert iac_warning(by_stack, context, PLAIN) == (
        "managed by CloudFormation stack web-prod: a revert will come back with the next deploy; "
        "fix it in code"
    )
    assert iac_warning(by_hand, context, MRKDWN) == (
        ":warning: managed by CloudFormation stack web-prod: this change was made outside it, "
        "so the next deploy may undo it"
    )
    assert iac_warning(by_hand, context_of(group=GroupInfo(name="x"))) is None


def test_the_actor_is_a_mention_an_email_or_the_arns_name_and_how_they_called() -> None:
    """Given an actor mapped to a Slack user, one with only an email, and a role session,
    then the line mentions, names by email, or by role/session, with how they called."""
    sso = change(rule("10.0.0.0/8"))
    terraform = change(
        rule("10.0.0.0/8"),
        who=actor(
            "arn:aws:sts::111122223333:assumed-role/terraform-apply/i-0abc",
            user_agent=TERRAFORM_AGENT,
        ),
    )
    mapped = context_of(actor_info=ActorInfo(Via.CONSOLE, "li.wei@example.com", "U024BE7LH"))
    forged = context_of(actor_info=ActorInfo(Via.CONSOLE, None, "<!channel>"))

    assert actor_line(sso, mapped) == "by <@U024BE7LH> via the console"
    assert actor_line(sso, mapped, PLAIN) == "by li.wei@example.com via the console"
    assert actor_line(sso, context_of()) == "by li.wei@example.com via the console"
    assert actor_line(sso, forged) == "by li.wei@example.com via the console"
    assert actor_line(terraform, context_of()) == "by `terraform-apply/i-0abc` via Terraform"
    service = change(rule("10.0.0.0/8"), who=actor(invoked_by="elasticloadbalancing.amazonaws.com"))
    assert actor_line(service, context_of()).endswith("via `elasticloadbalancing.amazonaws.com`")


def test_each_added_rule_gets_a_note_when_it_changes_little_or_opens_the_group() -> None:
    """Given a change adding a covered rule, the group's first public rule and a second
    public rule, read after the change, then the first two get notes and the third none;
    a revoke gets none."""
    covered = rule("203.0.113.10/32", 22, rule_id="sgr-0a")
    first_public = rule("0.0.0.0/0", 443, rule_id="sgr-0b")
    second_public = rule("::/0", 443, rule_id="sgr-0c")
    c = change(covered, first_public, second_public)
    read_after = (
        covered,
        first_public,
        second_public,
        rule("203.0.113.0/24", 0, 65535, rule_id="sgr-0wide"),
        rule("0.0.0.0/0", None, None, protocol="-1", direction=Direction.EGRESS, rule_id="sgr-0eg"),
    )

    notes = rule_notes(c, context_of(rules=read_after))

    assert notes == (
        "already allowed by `sgr-0wide` (`tcp 0-65535` from `203.0.113.0/24`): changes little",
        "the group's first rule open to the internet",
        None,
    )
    assert rule_notes(c, context_of(rules=None)) == (None, None, None)
    assert rule_notes(
        change(covered, event="RevokeSecurityGroupIngress"), context_of(rules=read_after)
    ) == (None,)


def test_gaps_say_what_could_not_be_read_and_why() -> None:
    """Given the spoke's parts failing alike and the Slack lookup failing, then one line
    says the account's context is unavailable and another names the missing part."""
    denied = "AccessDenied assuming spoke-001"
    context = context_of(
        gaps=(
            Gap("group", denied),
            Gap("rules", denied),
            Gap("attachments", denied),
            Gap("actor", "users:read.email <missing> scope"),
            Gap("account", "organizations:DescribeAccount denied"),
        )
    )

    assert gap_lines(change(), context, PLAIN) == [
        "context unavailable for 111122223333: AccessDenied assuming spoke-001",
        "the actor's Slack user unavailable: users:read.email <missing> scope",
        "account name unavailable: organizations:DescribeAccount denied",
    ]
    assert gap_lines(change(), context)[1].endswith("users:read.email &lt;missing&gt; scope")
    partial = context_of(gaps=(Gap("group", "Throttling"), Gap("rules", "Throttling")))
    assert gap_lines(change(), partial, PLAIN) == [
        "group details and the group's rules unavailable: Throttling"
    ]


def test_gaps_that_name_what_is_missing_are_shown_as_they_are() -> None:
    """Given reasons the reader already phrased ("context unavailable for …", "no account
    name: …"), then they are not prefixed again, only escaped."""
    context = context_of(
        gaps=(
            Gap("group", "context unavailable for 111122223333: AccessDenied assuming spoke-001"),
            Gap("account", "no account name: organizations:DescribeAccount <denied>"),
            Gap("attachments", "DescribeNetworkInterfaces: UnauthorizedOperation"),
        )
    )

    assert gap_lines(change(), context) == [
        "context unavailable for 111122223333: AccessDenied assuming spoke-001",
        "no account name: organizations:DescribeAccount &lt;denied&gt;",
        "attachments unavailable: DescribeNetworkInterfaces: UnauthorizedOperation",
    ]


def test_the_context_lines_come_in_reading_order_and_skip_what_was_not_read() -> None:
    """Given a full context, then group, IaC warning, attachments, exposure and actor
    come in that order; given an empty one, only the actor is said."""
    group = group_info(security_group({"managed-by": "terraform"}))
    full = context_of(
        group=group, attachments=WEB, actor_info=ActorInfo(Via.CONSOLE, None, "U024BE7LH")
    )

    lines = context_lines(change(rule("0.0.0.0/0")), full)

    assert [line.split(" ")[0] for line in lines] == [
        "*Group*",
        ":warning:",
        "attached",
        ":globe_with_meridians:",
        "by",
    ]
    assert context_lines(change(rule("0.0.0.0/0")), context_of()) == [
        "by li.wei@example.com via the console"
    ]


# -- modified rules and prefix-list edits in words ---------------------------------------------

LIST_ID = "pl-0123456789abcdef0"


def modification(*rules: Rule, priors: tuple[Rule, ...] = ()) -> Change:
    """A ModifySecurityGroupRules change: the rules' new values, and the earlier values the
    detector found for some of them (by rule id)."""
    return replace(
        change(*rules, event="ModifySecurityGroupRules"),
        prior=tuple(Prior(p, READ_AT, "evt-earlier") for p in priors),
    )


def list_edit(*added: str, removed: tuple[str, ...] = ()) -> Change:
    """A ModifyManagedPrefixList change: the list's id where the group's goes, no rules."""
    return replace(
        change(event="ModifyManagedPrefixList"),
        group_id=LIST_ID,
        group_name=None,
        vpc_id=None,
        prefix_list=PrefixListEdit(
            LIST_ID,
            "corp-ranges",
            3,
            tuple(PrefixListEntry(c) for c in added),
            tuple(PrefixListEntry(c) for c in removed),
        ),
    )


def test_a_modified_rule_is_said_as_before_and_after_or_with_no_earlier_value() -> None:
    """Given a modified rule with an earlier value on record and one without, then the first
    reads before → after, the direction taken from the earlier value, and the second says
    its previous value is not on record."""
    after = rule("0.0.0.0/0", 22, rule_id="sgr-0a")
    egress_after = rule("0.0.0.0/0", 443, rule_id="sgr-0b")
    c = modification(
        after,
        egress_after,
        rule("::/0", 3389, rule_id="sgr-0c"),
        priors=(
            rule("10.0.0.0/8", 22, rule_id="sgr-0a"),
            rule("10.1.0.0/16", 443, rule_id="sgr-0b", direction=Direction.EGRESS),
        ),
    )

    assert modified_rule_words(c, after, PLAIN) == "tcp 22 from 10.0.0.0/8 → tcp 22 from 0.0.0.0/0"
    assert modified_rule_words(c, egress_after) == (
        "`tcp 443` to `10.1.0.0/16` → `tcp 443` to `0.0.0.0/0`"
    )
    assert modified_rule_words(c, c.rules[2], PLAIN) == (
        "tcp 3389 from ::/0 (previous value not on record)"
    )


def test_a_modified_rule_that_narrows_gets_a_note_and_one_that_widens_none() -> None:
    """Given a modification that narrows one rule, widens another and has no earlier value
    for a third, then only the narrowing one is noted."""
    c = modification(
        rule("10.0.0.0/16", 22, rule_id="sgr-0a"),
        rule("0.0.0.0/0", 22, rule_id="sgr-0b"),
        rule("10.0.0.0/16", 22, rule_id="sgr-0c"),
        priors=(rule("10.0.0.0/8", 22, rule_id="sgr-0a"), rule("10.0.0.0/8", 22, rule_id="sgr-0b")),
    )

    assert rule_notes(c, None) == ("narrows: lets in no more than before", None, None)


@pytest.mark.parametrize(
    ("unknown", "total", "expected"),
    [
        (("sgr-0a",), 1, "previous value unknown: Deny removes this rule"),
        (("sgr-0a",), 3, "previous value unknown for sgr-0a: Deny removes this rule"),
        (("sgr-0a", "sgr-0b"), 2, "previous values unknown: Deny removes these 2 rules"),
        (
            ("sgr-0a", "sgr-0b"),
            3,
            "previous values unknown for 2 rules (sgr-0a, sgr-0b): Deny removes these rules",
        ),
        ((), 2, None),
    ],
)
def test_the_warning_for_rules_without_an_earlier_value_is_singular_or_plural(
    unknown: tuple[str, ...], total: int, expected: str | None
) -> None:
    """Given modified rules without an earlier value, among `total`, then the warning Deny's
    dialog shows says "this rule" for one and "these rules" for several, naming them when
    the change modified others too."""
    rules = [rule("0.0.0.0/0", 22, rule_id=i) for i in unknown]

    assert unknown_prior_warning(rules, total) == expected


def test_a_prefix_list_edit_names_each_referencing_group_with_its_rules_ports() -> None:
    """Given an edit read with two referencing groups (one with an egress rule), then the
    references are one line each, with the rules' protocols and ports."""
    context = replace(
        context_of(),
        references=(
            ListReference("sg-0aaa", "web", (rule(LIST_ID, 443, kind=SourceKind.PREFIX_LIST),)),
            ListReference(
                "sg-0bbb",
                None,
                (
                    rule(LIST_ID, 8000, 8100, kind=SourceKind.PREFIX_LIST),
                    rule(
                        LIST_ID,
                        None,
                        protocol="-1",
                        kind=SourceKind.PREFIX_LIST,
                        direction=Direction.EGRESS,
                    ),
                ),
            ),
        ),
    )

    assert reference_lines(list_edit("0.0.0.0/0"), context, PLAIN) == [
        "Referenced by 2 security groups:",
        "• sg-0aaa (web): tcp 443",
        "• sg-0bbb: tcp 8000-8100, all traffic outbound",
    ]


def test_a_prefix_list_edit_says_why_its_references_are_unknown_or_that_there_are_none() -> None:
    """Given an edit whose references could not be read, then the line says why and that it
    is rated at worst (only when it added entries); given none, it says so; any other change
    has no such line."""
    denied = context_of(gaps=(Gap("references", "GetManagedPrefixListAssociations: AccessDenied"),))

    assert reference_lines(list_edit("0.0.0.0/0"), denied, PLAIN) == [
        "Referenced by: unknown (GetManagedPrefixListAssociations: AccessDenied), so rated as "
        "if the added entries reached all traffic"
    ]
    assert reference_lines(list_edit(removed=("10.0.0.0/8",)), denied, PLAIN) == [
        "Referenced by: unknown (GetManagedPrefixListAssociations: AccessDenied)"
    ]
    assert reference_lines(list_edit("0.0.0.0/0"), replace(context_of(), references=()), PLAIN) == [
        "Referenced by: no security group references this list"
    ]
    assert reference_lines(change(rule("0.0.0.0/0")), context_of(), PLAIN) == []
    assert reference_lines(list_edit("0.0.0.0/0"), None, PLAIN) == []
    assert gap_lines(list_edit("0.0.0.0/0"), denied) == []  # said with the references


def test_a_context_with_references_round_trips_and_an_older_one_loads_without() -> None:
    """Given a context holding a prefix list's references, then it survives the record's
    JSON; given a context stored before references existed, it loads with none."""
    context = replace(
        context_of(gaps=(Gap("reference names", "DescribeSecurityGroups: Throttling"),)),
        references=(
            ListReference(
                "sg-0aaa", None, (rule(LIST_ID, 443, kind=SourceKind.PREFIX_LIST, rule_id="sgr-1"),)
            ),
        ),
    )

    assert ChangeContext.from_dict(context.to_dict()) == context
    assert context.references_complete
    older = context_of().to_dict()
    del older["references"]
    assert ChangeContext.from_dict(older).references is None
    assert not ChangeContext.from_dict(older).references_complete
    cut = replace(context, gaps=(Gap("references", "more than 50 security groups ..."),))
    assert not cut.references_complete
