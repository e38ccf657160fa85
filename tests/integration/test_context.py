"""Context at post time, through the real detector handler on moto and the stand-ins: the
account by name, the group and what it is attached to, the actor as a Slack person; and a
refused spoke role that still posts, once, saying what could not be read. For a prefix-list
edit: the groups whose rules reference the list, the risk rated on those rules, and a
refused associations call that still posts, rated at worst."""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from slack_sdk import WebClient

from sandbox.lake import LakeStandIn
from sandbox.slack_api import SlackStandIn
from sgrevert import detect, store
from sgrevert.account_names import AccountNames
from sgrevert.context import Gap
from sgrevert.context_read import READ_ACTIONS, REFERENCING_GROUPS, ContextReader
from sgrevert.detector import Detector, RunReport
from sgrevert.model import State
from sgrevert.people import SlackPeople
from sgrevert.roles import RoleChain
from sgrevert.slack import ChannelPoster
from tests.integration.groups import account_session
from tests.support import BOT_TOKEN, REGION, LambdaContext, load_event

CHANNEL = "C0SECURITY"
ALICE_EMAIL = "li.wei@example.com"  # the session name of the fixture's SSO caller
ALICE = "U0LIWEI"


@pytest.fixture
def slack() -> Iterator[SlackStandIn]:
    with SlackStandIn(bot_token=BOT_TOKEN) as stand_in:
        stand_in.add_user(ALICE, ALICE_EMAIL, name="li.wei")
        yield stand_in


@dataclass
class Member:
    """A member account of the organization, with a VPC and a subnet to put things in."""

    account: str
    ec2: Any
    vpc_id: str
    subnet_id: str

    def group(self, name: str, tags: dict[str, str] | None = None) -> str:
        group_id = str(
            self.ec2.create_security_group(
                GroupName=name, Description=f"{name} tier", VpcId=self.vpc_id
            )["GroupId"]
        )
        if tags:
            self.ec2.create_tags(
                Resources=[group_id], Tags=[{"Key": k, "Value": v} for k, v in tags.items()]
            )
        return group_id

    def instance(self, group_id: str, name: str, *, public: bool) -> str:
        image = self.ec2.describe_images()["Images"][0]["ImageId"]
        reservation = self.ec2.run_instances(
            ImageId=image,
            MinCount=1,
            MaxCount=1,
            NetworkInterfaces=[
                {
                    "DeviceIndex": 0,
                    "SubnetId": self.subnet_id,
                    "Groups": [group_id],
                    "AssociatePublicIpAddress": public,
                }
            ],
            TagSpecifications=[
                {"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": name}]}
            ],
        )
        return str(reservation["Instances"][0]["InstanceId"])

    def interface(self, group_id: str, description: str) -> str:
        return str(
            self.ec2.create_network_interface(
                SubnetId=self.subnet_id, Groups=[group_id], Description=description
            )["NetworkInterface"]["NetworkInterfaceId"]
        )

    def authorize(self, group_id: str, port: int, cidr: str) -> dict[str, Any]:
        """Open the port for real, and the CloudTrail record of that call."""
        rule = self.ec2.authorize_security_group_ingress(
            GroupId=group_id,
            IpPermissions=[
                {
                    "IpProtocol": "tcp",
                    "FromPort": port,
                    "ToPort": port,
                    "IpRanges": [{"CidrIp": cidr}],
                }
            ],
        )["SecurityGroupRules"][0]
        record = copy.deepcopy(load_event("authorize_ingress_ipv4"))
        record["eventID"] = str(uuid.uuid4())
        record["eventTime"] = (datetime.now(UTC) - timedelta(minutes=2)).strftime(
            "%Y-%m-%dT%H:%M:%SZ"
        )
        record["recipientAccountId"] = self.account
        record["awsRegion"] = REGION
        record["requestParameters"]["groupId"] = group_id
        permission = record["requestParameters"]["ipPermissions"]["items"][0]
        permission["ipRanges"] = {"items": [{"cidrIp": cidr}]}
        permission["fromPort"] = permission["toPort"] = port
        item = record["responseElements"]["securityGroupRuleSet"]["items"][0]
        item.update(
            groupId=group_id,
            groupOwnerId=self.account,
            securityGroupRuleId=rule["SecurityGroupRuleId"],
            cidrIpv4=cidr,
            fromPort=port,
            toPort=port,
        )
        return record

    def prefix_list(self, name: str, *cidrs: str) -> str:
        return str(
            self.ec2.create_managed_prefix_list(
                PrefixListName=name,
                MaxEntries=10,
                AddressFamily="IPv4",
                Entries=[{"Cidr": cidr} for cidr in cidrs],
            )["PrefixList"]["PrefixListId"]
        )

    def reference(self, group_id: str, list_id: str, *ports: int) -> None:
        """Rules of the group whose source is the list, one per tcp port."""
        self.ec2.authorize_security_group_ingress(
            GroupId=group_id,
            IpPermissions=[
                {
                    "IpProtocol": "tcp",
                    "FromPort": port,
                    "ToPort": port,
                    "PrefixListIds": [{"PrefixListId": list_id}],
                }
                for port in ports
            ],
        )

    def add_entry(self, list_id: str, cidr: str, description: str) -> dict[str, Any]:
        """Add the entry for real, and the CloudTrail record of that call."""
        [found] = self.ec2.describe_managed_prefix_lists(PrefixListIds=[list_id])["PrefixLists"]
        version = int(found["Version"])
        self.ec2.modify_managed_prefix_list(
            PrefixListId=list_id,
            CurrentVersion=version,
            AddEntries=[{"Cidr": cidr, "Description": description}],
        )
        record = copy.deepcopy(load_event("modify_prefix_list_add"))
        record["eventID"] = str(uuid.uuid4())
        record["eventTime"] = (datetime.now(UTC) - timedelta(minutes=2)).strftime(
            "%Y-%m-%dT%H:%M:%SZ"
        )
        record["recipientAccountId"] = self.account
        record["awsRegion"] = REGION
        request = record["requestParameters"]["ModifyManagedPrefixListRequest"]
        request.update(
            PrefixListId=list_id,
            CurrentVersion=version,
            AddEntry={"Cidr": cidr, "Description": description, "tag": 1},
        )
        described = record["responseElements"]["ModifyManagedPrefixListResponse"]["prefixList"]
        described.update(
            prefixListId=list_id,
            prefixListName=found["PrefixListName"],
            prefixListArn=found["PrefixListArn"],
            ownerId=self.account,
            version=version,
        )
        return record


@pytest.fixture
def member(aws: str) -> Member:
    organizations = boto3.client("organizations")
    organizations.create_organization(FeatureSet="ALL")
    status = organizations.create_account(
        Email="payments@example.com", AccountName="prod-payments"
    )["CreateAccountStatus"]
    account = str(status["AccountId"])
    ec2 = account_session(account).client("ec2")
    vpc_id = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet_id = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    return Member(account, ec2, vpc_id, subnet_id)


def run() -> dict[str, Any]:
    return detect.handler({"source": "aws.events"}, LambdaContext())


def changes() -> store.ChangeStore:
    return store.ChangeStore(boto3.resource("dynamodb").Table(store.DEFAULT_TABLE_NAME))


def text_of(blocks: Any) -> str:
    return json.dumps(blocks, ensure_ascii=False)


@pytest.mark.usefixtures("detector_env")
def test_a_posted_change_says_whose_account_what_the_group_protects_and_who_did_it(
    lake: LakeStandIn,
    slack: SlackStandIn,
    data_store: str,
    member: Member,
    assume_role_requests: Callable[[], list[dict[str, str]]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given roles to assume for Lake and for account names, as a deployment has them
    monkeypatch.setenv("LAKE_READ_ROLE_ARN", "arn:aws:iam::123456789012:role/sgrevert-lake-read")
    monkeypatch.setenv("ORG_READ_ROLE_ARN", "arn:aws:iam::123456789012:role/sgrevert-org-read")
    # and a tagged group in front of two instances (one with a public IP), a load
    # balancer and a database
    web = member.group("web", {"Team": "payments", "managed-by": "terraform"})
    instance = member.instance(web, "web-1", public=True)
    member.instance(web, "web-2", public=False)
    member.interface(web, "ELB app/web-prod/50dc6c495c0c9188")
    member.interface(web, "RDSNetworkInterface")
    record = member.authorize(web, 22, "0.0.0.0/0")
    lake.put_records(data_store, [record])
    before = len(assume_role_requests())

    # When the detector runs
    report = run()

    # Then the change is posted once, with its context
    assert (report["recorded"], report["posted"]) == (1, 1)
    [message] = slack.posted
    shown = text_of(message.blocks) + (message.text or "")
    assert f"prod-payments ({member.account})" in shown
    assert "web" in shown and "payments" in shown
    assert "Terraform" in shown
    assert f"<@{ALICE}>" in shown  # the actor, mentioned
    assert "reachable from the internet" in shown
    assert instance in shown and "web-1" in shown and "web-2" in shown
    assert "1 load balancer (web-prod)" in shown
    # and kept on the record, the group's rules included
    stored = changes().require(record["eventID"])
    assert stored.context is not None
    assert stored.context.account_name == "prod-payments"
    assert stored.context.actor is not None and stored.context.actor.slack_user == ALICE
    attachments = stored.context.attachments
    assert attachments is not None and attachments.total == 4
    assert attachments.reachable_from_internet and attachments.public_count == 1
    assert stored.context.rules is not None
    assert {r.rule_id for r in stored.context.rules} >= {
        record["responseElements"]["securityGroupRuleSet"]["items"][0]["securityGroupRuleId"]
    }
    assert stored.context.gaps == ()
    # and every role the detector assumed (Lake, account names, the group's account) came
    # with a session policy that names no write action
    assumed = assume_role_requests()[before:]
    assert {r["RoleSessionName"] for r in assumed} == {
        "sgrevert-detect",
        "sgrevert-accounts",
        "sgrevert-context",
    }
    for request in assumed:
        actions = set(json.loads(request["Policy"])["Statement"][0]["Action"])
        reads = [a for a in actions if a.split(":")[1].startswith(("Describe", "Get", "List"))]
        assert actions - set(reads) <= {
            "sts:AssumeRole",  # the hub hop, only onto the spoke role
            "cloudtrail:StartQuery",  # running the read-only Lake query
            "cloudtrail:CancelQuery",
        }, request["RoleSessionName"]
    context_reads = [r for r in assumed if r["RoleSessionName"] == "sgrevert-context"]
    assert set(json.loads(context_reads[-1]["Policy"])["Statement"][0]["Action"]) == set(
        READ_ACTIONS
    )


@pytest.mark.usefixtures("detector_env")
@pytest.mark.parametrize(("lower", "risk"), [(False, "critical"), (True, "high")])
def test_a_group_attached_to_nothing_says_so_and_the_policy_may_lower_its_risk(
    lake: LakeStandIn,
    slack: SlackStandIn,
    data_store: str,
    member: Member,
    monkeypatch: pytest.MonkeyPatch,
    lower: bool,
    risk: str,
) -> None:
    monkeypatch.setenv("POLICY", json.dumps({"lower_risk_when_unattached": lower}))
    spare = member.group("spare")
    record = member.authorize(spare, 3389, "0.0.0.0/0")  # RDP from anywhere: critical
    lake.put_records(data_store, [record])

    run()

    [message] = slack.posted
    assert "attached to nothing" in text_of(message.blocks)
    stored = changes().require(record["eventID"])
    assert stored.risk == risk
    assert f"[{risk.upper()} · attached to nothing]" in (message.text or "")
    if lower:
        assert stored.note == "critical lowered to high: the group is attached to nothing"


def refuse_spoke(sts: Any, account: str) -> None:
    """STS refuses the spoke role in `account`, as it does when the role is missing or does
    not trust the caller (botocore's event system answers before the request is sent)."""

    def refuse(params: dict[str, Any], **_: Any) -> None:
        if f":{account}:role/" in str(params.get("RoleArn")):
            raise ClientError(
                {
                    "Error": {
                        "Code": "AccessDenied",
                        "Message": f"User is not authorized to perform: sts:AssumeRole on "
                        f"resource: {params['RoleArn']}",
                    }
                },
                "AssumeRole",
            )

    sts.meta.events.register("provide-client-params.sts.AssumeRole", refuse)


def test_a_refused_spoke_still_posts_once_naming_what_could_not_be_read(
    table_name: str, slack: SlackStandIn, member: Member
) -> None:
    web = member.group("web")
    record = member.authorize(web, 22, "0.0.0.0/0")
    sts = boto3.client("sts")
    refuse_spoke(sts, member.account)
    client = WebClient(token=BOT_TOKEN, base_url=slack.api_url)
    detector = Detector(
        store=changes(),
        poster=ChannelPoster(client, CHANNEL),
        clock=lambda: datetime.now(UTC),
        time_left=lambda: 300.0,
        context=ContextReader(
            RoleChain(sts, None, "spoke-001"),
            AccountNames(lambda: boto3.client("organizations")),
            SlackPeople(client),
        ),
    )
    report = RunReport()

    detector.post_pending(detector.record([record], report), report)
    detector.post_pending([], report)  # a second pass posts nothing again

    [message] = slack.posted
    assert f"context unavailable for {member.account}: accessdenied assuming spoke-001" in (
        text_of(message.blocks).lower()
    )
    stored = changes().require(record["eventID"])
    assert stored.posted
    assert stored.context is not None
    assert [g.reason for g in stored.context.gaps if g.part == "group"] == [
        f"context unavailable for {member.account}: AccessDenied assuming spoke-001"
    ]
    assert stored.context.account_name == "prod-payments"  # what could be read still is


@pytest.mark.usefixtures("detector_env")
def test_a_prefix_list_edit_names_the_groups_that_reference_it_and_is_rated_on_their_rules(
    lake: LakeStandIn, slack: SlackStandIn, data_store: str, member: Member
) -> None:
    # Given a prefix list that two groups reference (tcp 443 only, and tcp 443 and 8443) and
    # a third group that does not
    corp = member.prefix_list("corp-ranges", "10.20.0.0/16")
    web = member.group("web")
    api = member.group("api")
    db = member.group("db")
    member.reference(web, corp, 443)
    member.reference(api, corp, 443, 8443)
    member.authorize(db, 5432, "10.20.0.0/16")
    # and 0.0.0.0/0 added to the list, as CloudTrail records it
    record = member.add_entry(corp, "0.0.0.0/0", "vendor access (temporary)")
    lake.put_records(data_store, [record])

    # When the detector runs
    report = run()

    # Then the edit is posted once, naming the list, the CIDR and both groups with their ports
    assert (report["recorded"], report["posted"]) == (1, 1)
    [message] = slack.posted
    shown = text_of(message.blocks)
    assert f"prefix list `{corp}` (corp-ranges)" in shown
    assert "`0.0.0.0/0` (anywhere)" in shown
    assert f"`{web}` (web): `tcp 443`" in shown
    assert f"`{api}` (api): `tcp 443`, `tcp 8443`" in shown
    assert db not in shown
    # and the references are kept on the record
    stored = changes().require(record["eventID"])
    assert stored.context is not None and stored.context.gaps == ()
    references = stored.context.references
    assert references is not None
    assert {
        (r.group_id, r.group_name, tuple(x.from_port for x in r.rules)) for r in references
    } == {
        (web, "web", (443,)),
        (api, "api", (443, 8443)),
    }
    assert all(x.source == corp for r in references for x in r.rules)
    # and the risk, critical at worst when recorded, is rated on the three referencing rules
    assert stored.risk == "high"
    assert stored.note == (
        f"rated on the 3 rules that reference {corp}: 0.0.0.0/0 to tcp 443 via prefix list "
        f"corp-ranges ({corp})"
    )
    assert (message.text or "").startswith("[HIGH] 1 entry added in prefix list")


def refuse_associations(ec2: Any) -> Any:
    """The read session lacks ec2:GetManagedPrefixListAssociations: EC2 answers as it does
    (botocore's event system answers before the request is sent)."""

    def refuse(params: dict[str, Any], **_: Any) -> None:
        raise ClientError(
            {
                "Error": {
                    "Code": "UnauthorizedOperation",
                    "Message": "You are not authorized to perform this operation. User: "
                    "arn:aws:sts::111122223333:assumed-role/spoke-001/sgrevert-context is not "
                    "authorized to perform: ec2:GetManagedPrefixListAssociations because no "
                    "session policy allows the ec2:GetManagedPrefixListAssociations action",
                }
            },
            "GetManagedPrefixListAssociations",
        )

    ec2.meta.events.register("provide-client-params.ec2.GetManagedPrefixListAssociations", refuse)
    return ec2


def test_a_refused_associations_call_still_posts_the_edit_once_rated_at_worst(
    table_name: str, slack: SlackStandIn, member: Member
) -> None:
    # Given a list a group references with tcp 443, and 0.0.0.0/0 added to it, read by a
    # session that may not list the list's associations
    corp = member.prefix_list("corp-ranges", "10.20.0.0/16")
    member.reference(member.group("web"), corp, 443)
    record = member.add_entry(corp, "0.0.0.0/0", "vendor access (temporary)")
    client = WebClient(token=BOT_TOKEN, base_url=slack.api_url)
    detector = Detector(
        store=changes(),
        poster=ChannelPoster(client, CHANNEL),
        clock=lambda: datetime.now(UTC),
        time_left=lambda: 300.0,
        context=ContextReader(
            RoleChain(boto3.client("sts"), None, "spoke-001"),
            AccountNames(lambda: boto3.client("organizations")),
            SlackPeople(client),
            watch=refuse_associations,
        ),
    )
    report = RunReport()

    # When it is recorded and posted (twice over)
    detector.post_pending(detector.record([record], report), report)
    detector.post_pending([], report)

    # Then it is posted once, saying the referencing groups are unknown and why, with Deny
    [message] = slack.posted
    shown = text_of(message.blocks)
    assert (
        "*Referenced by*: unknown (GetManagedPrefixListAssociations: UnauthorizedOperation), "
        "so rated as if the added entries reached all traffic"
    ) in shown
    assert '"action_id": "deny"' in shown
    # and the record keeps the gap, no references, and the worst-case risk
    stored = changes().require(record["eventID"])
    assert stored.posted and stored.context is not None
    assert stored.context.references is None
    assert stored.context.gaps == (
        Gap("references", "GetManagedPrefixListAssociations: UnauthorizedOperation"),
    )
    assert stored.risk == "critical"
    assert stored.context.account_name == "prod-payments"  # what could be read still is


def test_more_referencing_groups_than_are_read_are_cut_saying_so_and_the_worst_case_stands(
    table_name: str, slack: SlackStandIn, member: Member
) -> None:
    # Given a list that one group more than the reader reads references
    corp = member.prefix_list("corp-ranges", "10.20.0.0/16")
    for index in range(REFERENCING_GROUPS + 1):
        member.reference(member.group(f"svc-{index:02d}"), corp, 443)
    record = member.add_entry(corp, "0.0.0.0/0", "vendor access (temporary)")
    client = WebClient(token=BOT_TOKEN, base_url=slack.api_url)
    detector = Detector(
        store=changes(),
        poster=ChannelPoster(client, CHANNEL),
        clock=lambda: datetime.now(UTC),
        time_left=lambda: 300.0,
        context=ContextReader(RoleChain(boto3.client("sts"), None, "spoke-001"), None, None),
    )
    report = RunReport()

    # When it is recorded and posted
    detector.post_pending(detector.record([record], report), report)

    # Then the first groups are kept, a gap says the rest were not read, and the edit keeps
    # its worst-case rating, since an unread group may open more
    stored = changes().require(record["eventID"])
    assert stored.context is not None and stored.context.references is not None
    assert len(stored.context.references) == REFERENCING_GROUPS
    assert stored.context.gaps == (
        Gap(
            "references",
            f"more than {REFERENCING_GROUPS} security groups reference the list; the first "
            f"{REFERENCING_GROUPS} were read",
        ),
    )
    assert stored.risk == "critical"
    [message] = slack.posted
    assert "were read, so rated as if the added entries reached all traffic" in text_of(
        message.blocks
    )


@pytest.mark.usefixtures("detector_env")
@pytest.mark.parametrize(
    ("port", "risk", "auto_reverted"), [(443, "high", False), (22, "critical", True)]
)
def test_the_policy_judges_a_prefix_list_edit_on_the_rules_that_reference_the_list(
    lake: LakeStandIn,
    data_store: str,
    member: Member,
    monkeypatch: pytest.MonkeyPatch,
    port: int,
    risk: str,
    auto_reverted: bool,
) -> None:
    """Given auto_revert_at_or_above critical and a list referenced by one rule on tcp
    `port`, when 0.0.0.0/0 is added to it and the detector runs, then the policy judges the
    edit on that rule: tcp 443 is high and waits for a person; tcp 22 is critical and is
    denied by the policy at once (here the revert function does not exist, so the denial
    ends REVERT_FAILED saying the revert could not be started)."""
    monkeypatch.setenv("POLICY", '{"auto_revert_at_or_above": "critical"}')
    monkeypatch.setenv(
        "REVERT_FUNCTION_ARN", "arn:aws:lambda:eu-west-1:123456789012:function:revertsg-2"
    )
    corp = member.prefix_list("corp-ranges", "10.20.0.0/16")
    member.reference(member.group("web"), corp, port)
    record = member.add_entry(corp, "0.0.0.0/0", "vendor access")
    lake.put_records(data_store, [record])

    report = run()

    stored = changes().require(record["eventID"])
    assert (report["auto_reverted"], stored.risk) == (int(auto_reverted), risk)
    assert stored.note is not None and f"tcp {port}" in stored.note
    if auto_reverted:
        assert stored.state is State.REVERT_FAILED
        assert stored.decided_by == "policy:auto_revert_at_or_above=critical"
        assert (stored.outcome or "").startswith("the revert could not be started")
    else:
        assert (stored.state, stored.decided_by) == (State.PENDING, None)
