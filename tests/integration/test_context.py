"""Context at post time, through the real detector handler on moto and the stand-ins: the
account by name, the group and what it is attached to, the actor as a Slack person; and a
refused spoke role that still posts, once, saying what could not be read."""

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
from sgrevert.context_read import READ_ACTIONS, ContextReader
from sgrevert.detector import Detector, RunReport
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
