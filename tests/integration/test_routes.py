# ruff: noqa: F811  (fixtures shared with test_respond and test_temporary are imported by name)
"""Routes end to end: the policy's `routes` and `also_to` through both real handlers.

revertsg-1 runs over the CloudTrail Lake stand-in with the records of real changes to
groups in member accounts of moto's Organizations: it reads each account's OU chain
(`ListParents`) and each group's tags (its context) to route the change, posts it into
its route's channel in the Slack stand-in, and posts copies for information. revertsg-2
takes signed clicks: they count only from the change's workspace, channel and message
(or a reply in its thread), and only from its route's approvers, users and user groups
(`usergroups.users.list`); the outcome shows in the message and in its copies.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import boto3
import pytest

from sandbox.clicks import TEAM, SlackUser, block_actions_payload
from sandbox.lake import LakeStandIn
from sandbox.lambda_api import LambdaStandIn
from sandbox.slack_api import PostedMessage, SlackStandIn
from sgrevert import detect, respond
from sgrevert.expiry_schedule import reminder_name
from sgrevert.model import ChangeRecord, PostedCopy, State
from sgrevert.store import ChangeStore
from tests.integration.groups import account_session
from tests.integration.test_context import Member
from tests.integration.test_respond import (  # noqa: F401 (fixtures)
    ALICE,
    BOB,
    CHANNEL,
    FUNCTION,
    MALLORY,
    api_event,
    buttons,
    env,
    form,
    lambdas,
    slack,
    text_of,
)
from tests.integration.test_temporary import (  # noqa: F401 (fixtures)
    SCHEDULE_GROUP,
    SCHEDULER_ROLE_ARN,
    fire,
    schedule,
    scheduler,
)
from tests.support import REGION, LambdaContext

PAYMENTS = "C0PAYMENTS"
PLATFORM = "C0PLATFORM"
ONCALL = "C0ONCALL"
AUDIT = "C0AUDIT"
PAYMENT_LEADS = "S0PAYLEADS"  # a user group
OTHER_TEAM = "T0ELSEWHERE"  # a workspace sgrevert does not serve


# -- the world: an organization, both functions, clicks from anywhere ---------------------------


@dataclass(frozen=True)
class Org:
    """An organization: root > Workloads > Payments (nested OUs), with an account in
    Payments and two accounts under the root, each with a VPC to put groups in."""

    workloads: str  # an OU under the root, Payments' parent
    payments: Member  # in Payments
    platform: Member  # under the root
    sandbox: Member  # under the root


@pytest.fixture
def org(aws: str) -> Org:
    orgs = boto3.client("organizations")
    orgs.create_organization(FeatureSet="ALL")
    root = str(orgs.list_roots()["Roots"][0]["Id"])

    def ou(parent: str, name: str) -> str:
        created = orgs.create_organizational_unit(ParentId=parent, Name=name)
        return str(created["OrganizationalUnit"]["Id"])

    def account(name: str, parent: str) -> Member:
        status = orgs.create_account(AccountName=name, Email=f"{name}@example.com")
        account_id = str(status["CreateAccountStatus"]["AccountId"])
        if parent != root:
            orgs.move_account(AccountId=account_id, SourceParentId=root, DestinationParentId=parent)
        ec2 = account_session(account_id).client("ec2")
        vpc_id = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        subnet = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
        return Member(account_id, ec2, vpc_id, subnet)

    workloads = ou(root, "Workloads")
    return Org(
        workloads=workloads,
        payments=account("payments", ou(workloads, "Payments")),
        platform=account("platform", root),
        sandbox=account("sandbox", root),
    )


@dataclass
class Deployment:
    """Both functions under one policy: the detector's scheduled run over Lake, and the
    responder's handler taking signed clicks."""

    slack: SlackStandIn
    lake: LakeStandIn
    data_store: str
    store: ChangeStore
    lambdas: LambdaStandIn

    def run(self, *records: Mapping[str, Any]) -> dict[str, Any]:
        """A scheduled run of revertsg-1 with `records` in the Lake."""
        self.lake.put_records(self.data_store, records)
        report: dict[str, Any] = detect.handler({"source": "aws.events"}, LambdaContext())
        return report

    def record(self, trail: Mapping[str, Any]) -> ChangeRecord:
        return self.store.require(str(trail["eventID"]))

    def message(self, record: ChangeRecord) -> PostedMessage:
        """The change's message as it is now, in the channel it was posted to."""
        assert record.slack_channel is not None and record.slack_ts is not None
        return self.slack.message(record.slack_channel, record.slack_ts)

    def copy(self, record: ChangeRecord) -> PostedMessage:
        """The change's one copy for information, as it is now."""
        [posted] = self.store.require(record.event_id).copies
        return self.slack.message(posted.channel, posted.ts)

    def top_level(self, channel: str) -> list[PostedMessage]:
        """The messages in `channel` that are not thread replies, in post order."""
        return [m for m in self.slack.messages(channel) if m.thread_ts is None]

    def click(
        self,
        record: ChangeRecord,
        user: SlackUser,
        action: str,
        option: str | None = None,
        *,
        on: PostedMessage | None = None,
        channel: str | None = None,
        ts: str | None = None,
        team: str | None = None,
    ) -> int:
        """`user` clicks `action` on the change's message (or on the reply `on`), as Slack
        sends it from the message's channel and workspace unless `channel`, `ts` or `team`
        say otherwise; then what the answer handed over runs. Returns the HTTP status."""
        message = on or self.message(record)
        where = channel or message.channel
        payload = block_actions_payload(
            user=user,
            channel=where,
            ts=ts or message.ts,
            text=message.text,
            blocks=message.blocks,
            action_id=action,
            response_url=self.slack.new_response_url(where, ts or message.ts),
            option=option,
            thread_ts=message.thread_ts,
        )
        if team is not None:
            payload["team"] = {"id": team, "domain": "elsewhere"}
            payload["user"]["team_id"] = team
        answer = respond.handler(api_event(form(payload)), LambdaContext(FUNCTION))
        self.lambdas.wait_idle()
        return int(answer["statusCode"])

    def told(self, user: SlackUser) -> list[str]:
        """The private replies `user` got, in words."""
        return [
            json.dumps([e.text, e.blocks], ensure_ascii=False)
            for e in self.slack.ephemerals
            if e.user == user.id
        ]


Deploy = Callable[..., Deployment]


@pytest.fixture
def deploy(
    detector_env: None,
    env: None,
    monkeypatch: pytest.MonkeyPatch,
    slack: SlackStandIn,
    lake: LakeStandIn,
    data_store: str,
    change_store: ChangeStore,
    lambdas: LambdaStandIn,
) -> Deploy:
    """`deploy(policy, approvers=..., team=..., schedules=...)`: both functions configured
    with the POLICY document, APPROVERS (the default route's), SLACK_TEAM_ID and, with
    `schedules`, the scheduler role and group that approvals for a while need."""

    def configure(
        policy: dict[str, Any],
        *,
        approvers: str | None = None,
        team: str | None = None,
        schedules: bool = False,
    ) -> Deployment:
        monkeypatch.setenv("POLICY", json.dumps(policy))
        if approvers is not None:
            monkeypatch.setenv("APPROVERS", approvers)
        if team is not None:
            monkeypatch.setenv("SLACK_TEAM_ID", team)
        if schedules:
            monkeypatch.setenv("SCHEDULER_ROLE_ARN", SCHEDULER_ROLE_ARN)
            monkeypatch.setenv("EXPIRY_SCHEDULE_GROUP", SCHEDULE_GROUP)
        detect.reset()
        respond.reset()
        return Deployment(slack, lake, data_store, change_store, lambdas)

    return configure


def by_account(name: str, member: Member, channel: str, *approvers: str) -> dict[str, Any]:
    return {
        "name": name,
        "match": {"account": [member.account]},
        "channel": channel,
        "approvers": list(approvers),
    }


def ssh_from_anywhere(member: Member, name: str) -> dict[str, Any]:
    """A new group in `member` opened to tcp 22 from 0.0.0.0/0 (critical): the record."""
    return member.authorize(member.group(name), 22, "0.0.0.0/0")


# -- where a change is posted ------------------------------------------------------------------


def test_changes_of_two_routed_accounts_land_in_their_routes_channels_and_the_rest_in_the_default(
    deploy: Deploy, org: Org
) -> None:
    """Given routes for the payments and platform accounts, when a change in each of the
    three accounts is detected, then each routed change is posted into its route's
    channel with the route and its approvers on its record, and the sandbox account's
    into the default channel, decided by the default approvers."""
    world = deploy(
        {
            "routes": [
                by_account("payments", org.payments, PAYMENTS, ALICE.id),
                by_account("platform", org.platform, PLATFORM, PAYMENT_LEADS, BOB.id),
            ]
        }
    )
    payments = ssh_from_anywhere(org.payments, "pay")
    platform = ssh_from_anywhere(org.platform, "plat")
    sandbox = ssh_from_anywhere(org.sandbox, "play")

    report = world.run(payments, platform, sandbox)

    assert (report["posted"], report["messages"]) == (3, 3)
    posted = {
        name: world.record(trail)
        for name, trail in (("payments", payments), ("platform", platform), ("sandbox", sandbox))
    }
    assert {n: (r.slack_channel, r.route, r.route_approvers) for n, r in posted.items()} == {
        "payments": (PAYMENTS, "payments", (ALICE.id,)),
        "platform": (PLATFORM, "platform", (PAYMENT_LEADS, BOB.id)),
        "sandbox": (CHANNEL, None, None),
    }
    for channel, name in ((PAYMENTS, "payments"), (PLATFORM, "platform"), (CHANNEL, "sandbox")):
        [message] = world.top_level(channel)
        assert message.ts == posted[name].slack_ts
        assert "deny" in buttons(message)


def test_a_burst_whose_members_match_different_routes_is_split_one_message_per_route(
    deploy: Deploy, org: Org
) -> None:
    """Given a route for the payments account's critical changes before one for all its
    changes, when one actor opens tcp 22 to the internet and two narrow ports on one
    group (a burst), then the critical change is posted alone to on-call and the two
    others as one group message to payments, each decided by its own route."""
    world = deploy(
        {
            "routes": [
                {
                    "name": "payments-critical",
                    "match": {"account": [org.payments.account], "risk_at_or_above": "critical"},
                    "channel": ONCALL,
                    "approvers": [BOB.id],
                },
                by_account("payments", org.payments, PAYMENTS, ALICE.id),
            ]
        }
    )
    group = org.payments.group("api")
    critical = org.payments.authorize(group, 22, "0.0.0.0/0")
    narrow = [
        org.payments.authorize(group, 8080, "10.1.0.0/16"),
        org.payments.authorize(group, 8443, "10.2.0.0/16"),
    ]

    report = world.run(critical, *narrow)

    assert (report["posted"], report["messages"]) == (3, 2)
    alone = world.record(critical)
    assert (alone.slack_channel, alone.route, alone.batch) == (ONCALL, "payments-critical", None)
    [oncall] = world.top_level(ONCALL)
    assert oncall.ts == alone.slack_ts
    members = [world.record(trail) for trail in narrow]
    assert {(m.slack_channel, m.route, m.risk) for m in members} == {(PAYMENTS, "payments", "low")}
    assert members[0].batch is not None and members[0].batch == members[1].batch
    [together] = world.top_level(PAYMENTS)
    assert {m.slack_ts for m in members} == {together.ts}
    shown = text_of(together)
    assert "tcp 8080" in shown and "tcp 8443" in shown
    assert "tcp 22" not in shown  # the critical member is not in it
    assert world.top_level(CHANNEL) == []


def test_a_route_naming_a_parent_ou_takes_the_changes_of_an_account_in_a_nested_ou(
    deploy: Deploy, org: Org
) -> None:
    """Given a route for the Workloads OU, when changes in the payments account (in
    Workloads > Payments) and in the sandbox account (under the root) are detected, then
    the account's OU chain read from Organizations routes the payments change to the
    route's channel; the sandbox one goes to the default channel."""
    world = deploy(
        {
            "routes": [
                {
                    "name": "workloads",
                    "match": {"ou": [org.workloads]},
                    "channel": PAYMENTS,
                    "approvers": [ALICE.id],
                }
            ]
        }
    )
    nested = ssh_from_anywhere(org.payments, "pay")
    elsewhere = ssh_from_anywhere(org.sandbox, "play")

    world.run(nested, elsewhere)

    routed = world.record(nested)
    assert (routed.slack_channel, routed.route, routed.route_approvers) == (
        PAYMENTS,
        "workloads",
        (ALICE.id,),
    )
    default = world.record(elsewhere)
    assert (default.slack_channel, default.route) == (CHANNEL, None)
    assert [len(world.top_level(c)) for c in (PAYMENTS, CHANNEL)] == [1, 1]


def test_a_route_matching_the_groups_owner_tag_takes_the_changes_to_that_group(
    deploy: Deploy, org: Org
) -> None:
    """Given a route for groups whose Owner tag is platform (a tag the context reads),
    when changes to a group tagged so and to one owned by another team are detected in
    the same account, then the first is posted to the route's channel, with the tag in
    its context, and the other to the default channel."""
    world = deploy(
        {
            "owner_tag_keys": ["Owner", "Name"],
            "routes": [
                {
                    "name": "platform",
                    "match": {"tag": {"Owner": "platform"}},
                    "channel": PLATFORM,
                    "approvers": [BOB.id],
                }
            ],
        }
    )
    ours = org.sandbox.authorize(org.sandbox.group("mesh", {"Owner": "platform"}), 22, "0.0.0.0/0")
    theirs = org.sandbox.authorize(org.sandbox.group("app", {"Owner": "apps"}), 22, "0.0.0.0/0")

    world.run(ours, theirs)

    tagged = world.record(ours)
    assert (tagged.slack_channel, tagged.route) == (PLATFORM, "platform")
    assert tagged.context is not None and tagged.context.group is not None
    assert dict(tagged.context.group.owner_tags) == {"Owner": "platform"}
    other = world.record(theirs)
    assert (other.slack_channel, other.route) == (CHANNEL, None)
    assert other.context is not None and other.context.group is not None
    assert dict(other.context.group.owner_tags) == {"Owner": "apps"}  # read, and no match


def test_changes_past_the_context_budget_wait_for_their_tags_rather_than_go_astray(
    deploy: Deploy, org: Org
) -> None:
    """Given a route on the Owner tag and at most one message a run, when changes to three
    groups tagged for it are detected, then each run posts only what it read the tags of:
    no change ever lands in the default channel, and all reach the route's channel."""
    world = deploy(
        {
            "max_messages_per_run": 1,
            "owner_tag_keys": ["Owner"],
            "routes": [
                {
                    "name": "platform",
                    "match": {"tag": {"Owner": "platform"}},
                    "channel": PLATFORM,
                    "approvers": [BOB.id],
                }
            ],
        }
    )
    records = [
        org.sandbox.authorize(
            org.sandbox.group(f"mesh-{i}", {"Owner": "platform"}), 22, "0.0.0.0/0"
        )
        for i in range(3)
    ]

    for _ in range(4):
        world.run(*records)
        assert world.top_level(CHANNEL) == []

    assert [world.record(r).slack_channel for r in records] == [PLATFORM] * 3


def test_the_message_cap_counts_per_channel(deploy: Deploy, org: Org) -> None:
    """Given at most one message a run and two routes, when two changes of each routed
    account are detected, then each route's channel gets one change's message and a
    summary of the one left; the next run posts the one left in each."""
    world = deploy(
        {
            "max_messages_per_run": 1,
            "routes": [
                by_account("payments", org.payments, PAYMENTS, ALICE.id),
                by_account("platform", org.platform, PLATFORM, BOB.id),
            ],
        }
    )
    records = [
        ssh_from_anywhere(org.payments, "pay-1"),
        ssh_from_anywhere(org.payments, "pay-2"),
        ssh_from_anywhere(org.platform, "plat-1"),
        ssh_from_anywhere(org.platform, "plat-2"),
    ]

    first = world.run(*records)

    assert (first["posted"], first["summarized"], first["messages"]) == (2, 2, 4)
    for channel in (PAYMENTS, PLATFORM):
        change, summary = world.top_level(channel)
        assert "deny" in buttons(change)
        assert "*1 more changes*" in text_of(summary) and buttons(summary) == set()
    assert world.top_level(CHANNEL) == []
    assert sorted(r.slack_channel or "-" for r in map(world.record, records)) == [
        "-",
        "-",
        PAYMENTS,
        PLATFORM,
    ]

    second = world.run()

    assert (second["posted"], second["messages"]) == (2, 2)
    assert sorted(str(world.record(r).slack_channel) for r in records) == sorted(
        [PAYMENTS, PAYMENTS, PLATFORM, PLATFORM]
    )


# -- copies for information ----------------------------------------------------------------------


def test_a_copy_has_no_buttons_and_shows_the_outcome_of_a_deny_or_an_approve(
    deploy: Deploy, org: Org
) -> None:
    """Given a route for the payments account and a copy of every critical change to the
    audit channel, when two critical changes and a narrow one are detected, then each
    critical one has a copy in the audit channel, without buttons, saying where it is
    decided, and the narrow one none; when Alice denies the first on its message, its
    copy shows the revert; when she approves the second, its copy shows the approval."""
    world = deploy(
        {
            "routes": [by_account("payments", org.payments, PAYMENTS, ALICE.id)],
            "also_to": [
                {"name": "audit", "match": {"risk_at_or_above": "critical"}, "channel": AUDIT}
            ],
        }
    )
    denied_group = org.payments.group("pay-1")
    to_deny = org.payments.authorize(denied_group, 22, "0.0.0.0/0")
    to_approve = org.payments.authorize(org.payments.group("pay-2"), 3389, "0.0.0.0/0")
    narrow = org.payments.authorize(org.payments.group("pay-3"), 8080, "10.1.0.0/16")

    world.run(to_deny, to_approve, narrow)

    deny, approve = world.record(to_deny), world.record(to_approve)
    copies = world.top_level(AUDIT)
    assert sorted(c.ts for c in copies) == sorted([world.copy(deny).ts, world.copy(approve).ts])
    assert deny.copies == (PostedCopy(AUDIT, world.copy(deny).ts),)
    for copy in copies:
        assert not any(block["type"] == "actions" for block in copy.blocks or [])
        assert f"decided in <#{PAYMENTS}>" in text_of(copy)
    assert world.record(narrow).copies == ()
    rule_id = to_deny["responseElements"]["securityGroupRuleSet"]["items"][0]["securityGroupRuleId"]

    assert world.click(deny, ALICE, "deny") == 200

    reverted = world.record(to_deny)
    assert (reverted.state, reverted.decided_by) == (State.REVERTED, ALICE.id)
    shown = text_of(world.copy(reverted))
    assert f"Denied by <@{ALICE.id}>" in shown
    assert f"1 rule revoked in {org.payments.account} / {REGION}" in shown
    assert buttons(world.copy(reverted)) == set()
    described = org.payments.ec2.describe_security_group_rules(
        Filters=[{"Name": "group-id", "Values": [denied_group]}]
    )["SecurityGroupRules"]
    assert rule_id not in {r["SecurityGroupRuleId"] for r in described}

    assert world.click(approve, ALICE, "approve") == 200

    approved = world.record(to_approve)
    assert (approved.state, approved.decided_by) == (State.APPROVED, ALICE.id)
    assert f"Approved by <@{ALICE.id}>" in text_of(world.copy(approved))
    assert buttons(world.copy(approved)) == set()
    assert "Approved by" in text_of(world.message(approved))


# -- who decides ---------------------------------------------------------------------------------


def test_a_member_of_the_routes_user_group_decides_and_a_non_member_is_refused_privately(
    deploy: Deploy, org: Org, slack: SlackStandIn
) -> None:
    """Given a route decided by the payment leads' user group, of which Bob is a member,
    when Mallory clicks Approve, then she alone is told privately she may not, naming
    the group, and nothing changes; when Bob clicks Approve, the change is approved by
    him."""
    slack.usergroups[PAYMENT_LEADS] = [BOB.id]
    world = deploy({"routes": [by_account("payments", org.payments, PAYMENTS, PAYMENT_LEADS)]})
    trail = ssh_from_anywhere(org.payments, "pay")
    world.run(trail)
    record = world.record(trail)
    edits = len(slack.updates)

    assert world.click(record, MALLORY, "approve") == 200

    assert world.record(trail) == record
    assert len(slack.updates) == edits
    [refusal] = world.told(MALLORY)
    assert "You are not allowed to approve or deny this change" in refusal
    assert f"<!subteam^{PAYMENT_LEADS}>" in refusal
    assert [e.user for e in slack.ephemerals] == [MALLORY.id]

    assert world.click(record, BOB, "approve") == 200

    approved = world.record(trail)
    assert (approved.state, approved.decided_by) == (State.APPROVED, BOB.id)
    assert world.told(BOB) == []
    lookups = [p.get("usergroup") for m, p in slack.calls if m == "usergroups.users.list"]
    assert lookups == [PAYMENT_LEADS]  # Bob's click found the members Mallory's read


@pytest.mark.parametrize(
    ("failure", "reason"),
    [
        ("missing_scope", "the Slack app lacks the scope usergroups:read"),
        ("ratelimited", "Slack is limiting how often the app may ask (ratelimited)"),
    ],
)
def test_a_user_group_that_cannot_be_read_refuses_with_the_reason_and_writes_nothing(
    deploy: Deploy, org: Org, slack: SlackStandIn, failure: str, reason: str
) -> None:
    """Given a route decided by a user group Bob is in, when Slack will not list the
    group's members (the app lacks the scope; Slack rate-limits the call), then Bob's
    Deny is refused privately with the reason, nothing is written, the message is not
    edited and nothing is reverted."""
    slack.usergroups[PAYMENT_LEADS] = [BOB.id]
    world = deploy({"routes": [by_account("payments", org.payments, PAYMENTS, PAYMENT_LEADS)]})
    trail = ssh_from_anywhere(org.payments, "pay")
    world.run(trail)
    record = world.record(trail)
    edits = len(slack.updates)
    if failure == "missing_scope":
        slack.usergroups_scope = False
    else:
        slack.fail("usergroups.users.list", status=429, retry_after=30)

    assert world.click(record, BOB, "deny") == 200

    assert world.record(trail) == record
    assert len(slack.updates) == edits
    assert world.lambdas.invocations == []  # no revert started
    [refusal] = world.told(BOB)
    assert f"depends on the user group <!subteam^{PAYMENT_LEADS}>, which cannot be read" in refusal
    assert reason in refusal
    assert "Nothing was changed" in refusal


def test_the_default_approvers_decide_only_what_the_default_route_posted(
    deploy: Deploy, org: Org, slack: SlackStandIn
) -> None:
    """Given Alice as the default approver and a route for the payments account decided
    by Bob, when Alice approves the routed change, then she is refused privately, naming
    Bob, and nothing changes; the change the default route posted she approves; Bob
    approves the routed one."""
    world = deploy(
        {"routes": [by_account("payments", org.payments, PAYMENTS, BOB.id)]}, approvers=ALICE.id
    )
    routed_trail = ssh_from_anywhere(org.payments, "pay")
    default_trail = ssh_from_anywhere(org.sandbox, "play")
    world.run(routed_trail, default_trail)
    routed = world.record(routed_trail)

    assert world.click(routed, ALICE, "approve") == 200

    assert world.record(routed_trail) == routed
    [refusal] = world.told(ALICE)
    assert "You are not allowed to approve or deny this change" in refusal
    assert f"<@{BOB.id}>" in refusal and f"<@{ALICE.id}>" not in refusal

    assert world.click(world.record(default_trail), ALICE, "approve") == 200
    assert world.click(routed, BOB, "approve") == 200

    assert world.record(default_trail).decided_by == ALICE.id
    assert world.record(routed_trail).decided_by == BOB.id
    assert len(world.told(ALICE)) == 1


# -- where a click counts ------------------------------------------------------------------------


@pytest.mark.parametrize("wrong", ["channel", "message", "workspace"])
def test_a_click_from_another_channel_message_or_workspace_is_refused_and_changes_nothing(
    deploy: Deploy, org: Org, slack: SlackStandIn, wrong: str
) -> None:
    """Given a deployment serving one workspace and two changes posted to the payments
    channel, when Alice, their approver, clicks Deny on the first with its buttons but
    from the default channel, from the second's message, or from another workspace,
    then she alone is told privately the click does not count and why, and nothing is
    written, edited or reverted."""
    world = deploy(
        {"routes": [by_account("payments", org.payments, PAYMENTS, ALICE.id)]}, team=TEAM["id"]
    )
    first_trail = ssh_from_anywhere(org.payments, "pay-1")
    second_trail = ssh_from_anywhere(org.payments, "pay-2")
    world.run(first_trail, second_trail)
    first, second = world.record(first_trail), world.record(second_trail)
    edits = len(slack.updates)
    channel, ts, team = {
        "channel": (CHANNEL, None, None),
        "message": (None, second.slack_ts, None),
        "workspace": (None, None, OTHER_TEAM),
    }[wrong]
    said = {
        "channel": "this is not the channel the change was posted to",
        "message": "this is not the message the change was posted as",
        "workspace": "this Slack workspace is not the one sgrevert serves",
    }[wrong]

    assert world.click(first, ALICE, "deny", channel=channel, ts=ts, team=team) == 200

    assert (world.record(first_trail), world.record(second_trail)) == (first, second)
    assert len(slack.updates) == edits
    assert world.lambdas.invocations == []
    [refusal] = world.told(ALICE)
    assert f"That click does not count: {said}" in refusal
    assert [e.user for e in slack.ephemerals] == [ALICE.id]


def test_a_click_on_a_reply_in_the_messages_thread_counts(
    deploy: Deploy, org: Org, slack: SlackStandIn, scheduler: Any
) -> None:
    """Given a deployment serving one workspace and a change posted to the payments
    channel that Alice allowed for an hour there, when its reminder (a reply in the
    message's thread, with Keep permanently) fires and she clicks Keep permanently on
    that reply, then it counts: the change is approved for good."""
    world = deploy(
        {"routes": [by_account("payments", org.payments, PAYMENTS, ALICE.id)]},
        team=TEAM["id"],
        schedules=True,
    )
    trail = ssh_from_anywhere(org.payments, "pay")
    world.run(trail)
    record = world.record(trail)
    assert world.click(record, ALICE, "approve_for", "1 h") == 200
    allowed = world.record(trail)
    assert allowed.temporary
    assert fire(schedule(scheduler, reminder_name(record.event_id)))["reminded"] == 1
    reminder = world.slack.messages(PAYMENTS)[-1]
    assert reminder.thread_ts == record.slack_ts and reminder.ts != record.slack_ts
    assert "keep_permanently" in buttons(reminder)

    assert world.click(allowed, ALICE, "keep_permanently", on=reminder) == 200

    kept = world.record(trail)
    assert (kept.state, kept.decided_by, kept.approved_until) == (State.APPROVED, ALICE.id, None)
    assert world.told(ALICE) == []
