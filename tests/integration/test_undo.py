# ruff: noqa: F811  (fixtures shared with test_respond are imported by name)
"""Deny undoes a modification or a prefix-list edit exactly, through the real handlers.

A ModifySecurityGroupRules change is made on moto's EC2 and recorded as the detector
records it (CloudTrail's record through `parse_record`, with each rule's earlier value
as its prior), posted, and denied with a signed click; the responder's asynchronous
revert runs in the Lambda stand-in. Likewise a ModifyManagedPrefixList change. Every
test asserts the exact EC2 writes the revert made (`ec2_writes`, from moto's request
recorder), and so that nothing else was written.

The version conflict and the retries of a prefix-list edit are driven through the
adapter with an EC2 client as the reverter builds it: a botocore hook on that client
makes the list's version move (through EC2 itself) between the read and the write.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sandbox.lambda_api import LambdaStandIn
from sandbox.slack_api import SlackStandIn
from sgrevert import aws
from sgrevert.cloudtrail import parse_record
from sgrevert.model import Change, ChangeRecord, Direction, Prior, Rule, SourceKind, State
from sgrevert.prefix_entries import MAX_ATTEMPTS, remove_entries
from sgrevert.restore import restore
from sgrevert.revert import (
    PrefixListPlan,
    RevertFailed,
    RevokeTally,
    plan_entry_removal,
    plan_restore,
)
from tests.integration.groups import MEMBER_ACCOUNT, Group, account_session
from tests.integration.test_noise_control import detector, run, trail_record
from tests.integration.test_respond import (  # noqa: F401 (fixtures)
    ALICE,
    BOB,
    Desk,
    desk,
    env,
    group,
    lambdas,
    slack,
    text_of,
)
from tests.integration.test_revoke import Faults, ec2_error
from tests.support import REGION, load_event

WHERE = f"{MEMBER_ACCOUNT} / {REGION}"
AUTHORIZED_AT = datetime(2026, 11, 27, 9, 0, 0, tzinfo=UTC)
MODIFIED_AT = datetime(2026, 11, 27, 10, 27, 5, tzinfo=UTC)
MODIFIED_AGAIN_AT = datetime(2026, 11, 27, 10, 41, 30, tzinfo=UTC)
TERRAFORM = "terraform-apply/gitlab-runner-8812"  # the actor of the modify fixture, as named

Writes = Callable[[], list[dict[str, str]]]


# -- modified rules: the world -----------------------------------------------------------------


def authorize(group: Group, direction: Direction, port: int, cidr: str, description: str) -> Rule:
    """Add one rule to the group; the rule as CloudTrail's Authorize record gives it."""
    call = (
        group.ec2.authorize_security_group_ingress
        if direction is Direction.INGRESS
        else group.ec2.authorize_security_group_egress
    )
    [created] = call(
        GroupId=group.group_id,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": port,
                "ToPort": port,
                "IpRanges": [{"CidrIp": cidr, "Description": description}],
            }
        ],
    )["SecurityGroupRules"]
    return Rule(
        direction,
        "tcp",
        port,
        port,
        SourceKind.CIDR_IPV4,
        cidr,
        str(created["SecurityGroupRuleId"]),
        description=description,
    )


def spec(cidr: str, port: int | None = 22, description: str | None = None) -> dict[str, Any]:
    """A `SecurityGroupRuleRequest`: tcp `port` (None: every port) from `cidr`."""
    value: dict[str, Any] = {
        "IpProtocol": "tcp",
        "FromPort": 0 if port is None else port,
        "ToPort": 65535 if port is None else port,
        "CidrIpv4": cidr,
    }
    if description is not None:
        value["Description"] = description
    return value


def modify_record(
    group: Group, specs: dict[str, dict[str, Any]], at: datetime = MODIFIED_AT
) -> dict[str, Any]:
    """The CloudTrail record of a ModifySecurityGroupRules call setting `specs` (rule id ->
    new value): one `SecurityGroupRule` object for one rule, a list for several."""
    record: dict[str, Any] = copy.deepcopy(load_event("modify_rule_ssh_from_anywhere"))
    record["eventID"] = str(uuid.uuid4())
    record["eventTime"] = at.strftime("%Y-%m-%dT%H:%M:%SZ")
    record["awsRegion"] = group.region
    record["recipientAccountId"] = group.account
    entries = [
        {"SecurityGroupRuleId": rule_id, "tag": tag, "SecurityGroupRule": value}
        for tag, (rule_id, value) in enumerate(specs.items(), start=1)
    ]
    record["requestParameters"]["ModifySecurityGroupRulesRequest"] = {
        "GroupId": group.group_id,
        "SecurityGroupRule": entries[0] if len(entries) == 1 else entries,
    }
    return record


def modify(
    group: Group,
    specs: dict[str, dict[str, Any]],
    before: list[Rule] | None = None,
    at: datetime = MODIFIED_AT,
) -> Change:
    """Make the modification on EC2, and the change the detector records for it: its
    CloudTrail record parsed, with the earlier value of each rule in `before` as its prior
    (the Authorize that created it)."""
    group.ec2.modify_security_group_rules(
        GroupId=group.group_id,
        SecurityGroupRules=[
            {"SecurityGroupRuleId": rule_id, "SecurityGroupRule": value}
            for rule_id, value in specs.items()
        ],
    )
    change = parse_record(modify_record(group, specs, at))
    prior = tuple(Prior(rule, AUTHORIZED_AT, "ev-authorize") for rule in before or [])
    return Change.from_dict({**change.to_dict(), "prior": [p.to_dict() for p in prior]})


def current(group: Group, rule_id: str) -> dict[str, Any]:
    """What the rule holds now, as DescribeSecurityGroupRules says it."""
    [rule] = group.ec2.describe_security_group_rules(SecurityGroupRuleIds=[rule_id])[
        "SecurityGroupRules"
    ]
    return {
        key: rule.get(key)
        for key in ("IsEgress", "IpProtocol", "FromPort", "ToPort", "CidrIpv4", "Description")
    }


def held(cidr: str, port: int | None = 22, description: str | None = None) -> dict[str, Any]:
    """`current` of an ingress tcp rule."""
    return {
        "IsEgress": False,
        "IpProtocol": "tcp",
        "FromPort": 0 if port is None else port,
        "ToPort": 65535 if port is None else port,
        "CidrIpv4": cidr,
        "Description": description,
    }


def restore_write(group: Group, rule_id: str, cidr: str, description: str | None) -> dict[str, str]:
    """The ModifySecurityGroupRules request that puts tcp 22 from `cidr` back."""
    write = {
        "Action": "ModifySecurityGroupRules",
        "GroupId": group.group_id,
        "SecurityGroupRule.1.SecurityGroupRuleId": rule_id,
        "SecurityGroupRule.1.SecurityGroupRule.IpProtocol": "tcp",
        "SecurityGroupRule.1.SecurityGroupRule.FromPort": "22",
        "SecurityGroupRule.1.SecurityGroupRule.ToPort": "22",
        "SecurityGroupRule.1.SecurityGroupRule.CidrIpv4": cidr,
    }
    if description is not None:
        write["SecurityGroupRule.1.SecurityGroupRule.Description"] = description
    return write


def revoke_write(group: Group, rule_id: str, direction: str = "Ingress") -> dict[str, str]:
    return {
        "Action": f"RevokeSecurityGroup{direction}",
        "GroupId": group.group_id,
        "SecurityGroupRuleId.1": rule_id,
    }


def deny(
    desk: Desk, lambdas: LambdaStandIn, record: ChangeRecord, user: Any = ALICE
) -> ChangeRecord:
    desk.click(record, user, "deny")
    lambdas.wait_idle()
    assert [e for i in lambdas.invocations for e in i.errors] == []
    return desk.store.require(record.event_id)


# -- modified rules --------------------------------------------------------------------------


def test_given_a_rule_opened_to_anywhere_when_denied_then_its_earlier_value_is_restored(
    desk: Desk, group: Group, lambdas: LambdaStandIn, ec2_writes: Writes
) -> None:
    """Given tcp 22 from 10.0.0.0/8 ("office"), edited into tcp 22 from 0.0.0.0/0 and
    recorded with that earlier value; when Alice denies it; then one
    ModifySecurityGroupRules puts the earlier value back, description included, and
    nothing else is written."""
    before = authorize(group, Direction.INGRESS, 22, "10.0.0.0/8", "office")
    rule_id = str(before.rule_id)
    change = modify(group, {rule_id: spec("0.0.0.0/0", description="vendor support")}, [before])
    record = desk.post(change)
    assert record.state is State.PENDING
    setup = len(ec2_writes())

    done = deny(desk, lambdas, record)

    assert (done.state, done.outcome) == (
        State.REVERTED,
        f"1 rule restored to its earlier value in {WHERE}",
    )
    assert current(group, rule_id) == held("10.0.0.0/8", description="office")
    assert ec2_writes()[setup:] == [restore_write(group, rule_id, "10.0.0.0/8", "office")]
    assert "1 rule restored to its earlier value" in text_of(desk.message(record))


@pytest.mark.parametrize("direction", [Direction.INGRESS, Direction.EGRESS])
def test_given_no_earlier_value_on_record_when_denied_then_the_rule_is_revoked_by_id(
    desk: Desk, group: Group, lambdas: LambdaStandIn, ec2_writes: Writes, direction: Direction
) -> None:
    """Given a modified rule whose earlier value nobody recorded (CloudTrail does not say
    ingress or egress either); when denied; then the rule is revoked by its id, as
    ingress or egress as EC2 says it is, and the group's other rules stay."""
    keep = authorize(group, direction, 443, "10.2.0.0/16", "keep")
    edited = authorize(group, direction, 22, "10.0.0.0/8", "office")
    rule_id = str(edited.rule_id)
    record = desk.post(modify(group, {rule_id: spec("0.0.0.0/0")}))
    setup = len(ec2_writes())

    done = deny(desk, lambdas, record)

    assert (done.state, done.outcome) == (
        State.REVERTED,
        f"1 rule revoked (previous value unknown) in {WHERE}",
    )
    assert rule_id not in group.rule_ids()
    assert keep.rule_id in group.rule_ids()
    side = "Ingress" if direction is Direction.INGRESS else "Egress"
    assert ec2_writes()[setup:] == [revoke_write(group, rule_id, side)]


def test_given_a_rule_changed_again_since_when_denied_then_it_is_untouched_and_named(
    desk: Desk, group: Group, lambdas: LambdaStandIn, ec2_writes: Writes
) -> None:
    """Given 10.0.0.0/8 opened to 0.0.0.0/0 (denied here), then widened again to every
    port by a later recorded change; when the first is denied, then nothing is written,
    it fails naming the later change and what to do; and when the later one is denied
    first and the first again, each puts back what it replaced."""
    before = authorize(group, Direction.INGRESS, 22, "10.0.0.0/8", "office")
    rule_id = str(before.rule_id)
    first = desk.post(modify(group, {rule_id: spec("0.0.0.0/0")}, [before]))
    opened = first.change.rules[0]
    later = modify(group, {rule_id: spec("0.0.0.0/0", port=None)}, [opened], MODIFIED_AGAIN_AT)
    second = desk.post(later)
    setup = len(ec2_writes())

    failed = deny(desk, lambdas, first)

    assert (failed.state, failed.outcome) == (
        State.REVERT_FAILED,
        f"nothing restored in {WHERE}; {rule_id} was changed again since by "
        f"{second.event_id} ({TERRAFORM}, 10:41 UTC): left untouched; deny that change "
        "first, then Deny here to retry",
    )
    assert current(group, rule_id) == held("0.0.0.0/0", port=None)
    assert ec2_writes()[setup:] == []
    assert "was changed again since by" in text_of(desk.message(first))

    assert deny(desk, lambdas, second, BOB).state is State.REVERTED
    assert current(group, rule_id) == held("0.0.0.0/0")
    assert deny(desk, lambdas, first, BOB).state is State.REVERTED
    assert current(group, rule_id) == held("10.0.0.0/8", description="office")
    assert ec2_writes()[setup:] == [
        restore_write(group, rule_id, "0.0.0.0/0", None),
        restore_write(group, rule_id, "10.0.0.0/8", "office"),
    ]


def test_given_a_rule_changed_since_by_a_change_not_on_record_when_denied_then_it_says_so(
    desk: Desk, group: Group, lambdas: LambdaStandIn, ec2_writes: Writes
) -> None:
    """Given a denied modification whose rule someone edited again, with no record of it
    (before sgrevert watched, or a missed event); when denied; then nothing is written and
    the reviewer is told to check the rule by hand."""
    before = authorize(group, Direction.INGRESS, 22, "10.0.0.0/8", "office")
    rule_id = str(before.rule_id)
    record = desk.post(modify(group, {rule_id: spec("0.0.0.0/0")}, [before]))
    group.ec2.modify_security_group_rules(
        GroupId=group.group_id,
        SecurityGroupRules=[
            {"SecurityGroupRuleId": rule_id, "SecurityGroupRule": spec("192.0.2.0/24")}
        ],
    )
    setup = len(ec2_writes())

    failed = deny(desk, lambdas, record)

    assert (failed.state, failed.outcome) == (
        State.REVERT_FAILED,
        f"nothing restored in {WHERE}; {rule_id} was changed again since by a change not "
        "on record: left untouched; check it by hand",
    )
    assert current(group, rule_id) == held("192.0.2.0/24")
    assert ec2_writes()[setup:] == []


def test_given_several_rules_in_one_change_when_denied_then_each_is_undone_on_its_own(
    desk: Desk, group: Group, lambdas: LambdaStandIn, ec2_writes: Writes
) -> None:
    """Given one call that opened three rules: one with its earlier value on record, one
    without, one since removed by hand; when denied; then the first is restored, the
    second revoked, the third counted as gone, and the outcome counts each."""
    known = authorize(group, Direction.INGRESS, 22, "10.0.0.0/8", "office")
    unknown = authorize(group, Direction.INGRESS, 22, "10.1.0.0/16", "vpn")
    removed = authorize(group, Direction.INGRESS, 22, "10.2.0.0/16", "lab")
    ids = [str(r.rule_id) for r in (known, unknown, removed)]
    record = desk.post(modify(group, {i: spec("0.0.0.0/0") for i in ids}, [known, removed]))
    group.ec2.revoke_security_group_ingress(GroupId=group.group_id, SecurityGroupRuleIds=[ids[2]])
    setup = len(ec2_writes())

    done = deny(desk, lambdas, record)

    assert (done.state, done.outcome) == (
        State.REVERTED,
        f"1 rule restored to its earlier value and 1 revoked (previous value unknown) in "
        f"{WHERE}; 1 was already gone",
    )
    assert current(group, ids[0]) == held("10.0.0.0/8", description="office")
    assert group.rule_ids().isdisjoint(ids[1:])
    assert ec2_writes()[setup:] == [
        restore_write(group, ids[0], "10.0.0.0/8", "office"),
        revoke_write(group, ids[1]),
    ]
    [invocation] = [i for i in lambdas.invocations if i.payload.get("sgrevert") == "revert"]
    assert {k: invocation.results[0][k] for k in ("restored", "revoked", "already_gone")} == {
        "restored": 1,
        "revoked": 1,
        "already_gone": 1,
    }


def test_given_one_rule_widened_and_one_narrowed_when_denied_then_only_the_widened_goes_back(
    desk: Desk, group: Group, lambdas: LambdaStandIn, ec2_writes: Writes
) -> None:
    """Given one call that widened tcp 22 from 10.0.0.0/8 to 0.0.0.0/0 and narrowed tcp 22
    from 10.1.0.0/16 to 10.1.2.0/24, both earlier values on record; when denied; then
    the widened rule is restored and the narrowed one keeps its narrower value: putting
    it back would add access."""
    widened = authorize(group, Direction.INGRESS, 22, "10.0.0.0/8", "office")
    narrowed = authorize(group, Direction.INGRESS, 22, "10.1.0.0/16", "vpn")
    wide_id, narrow_id = str(widened.rule_id), str(narrowed.rule_id)
    change = modify(
        group,
        {wide_id: spec("0.0.0.0/0"), narrow_id: spec("10.1.2.0/24", description="vpn")},
        [widened, narrowed],
    )
    record = desk.post(change)
    assert record.state is State.PENDING
    setup = len(ec2_writes())

    done = deny(desk, lambdas, record)

    assert (done.state, done.outcome) == (
        State.REVERTED,
        f"1 rule restored to its earlier value in {WHERE}",
    )
    assert current(group, wide_id) == held("10.0.0.0/8", description="office")
    assert current(group, narrow_id) == held("10.1.2.0/24", description="vpn")
    assert ec2_writes()[setup:] == [restore_write(group, wide_id, "10.0.0.0/8", "office")]


def test_given_the_modified_rule_already_gone_when_denied_then_it_counts_as_done(
    desk: Desk, group: Group, lambdas: LambdaStandIn, ec2_writes: Writes
) -> None:
    """Given a modified rule revoked by hand before the Deny; when denied; then nothing is
    written and the change is reverted: the rule is gone."""
    before = authorize(group, Direction.INGRESS, 22, "10.0.0.0/8", "office")
    rule_id = str(before.rule_id)
    record = desk.post(modify(group, {rule_id: spec("0.0.0.0/0")}, [before]))
    group.ec2.revoke_security_group_ingress(GroupId=group.group_id, SecurityGroupRuleIds=[rule_id])
    setup = len(ec2_writes())

    done = deny(desk, lambdas, record)

    assert (done.state, done.outcome) == (
        State.REVERTED,
        f"nothing left to restore in {WHERE}: it was already gone",
    )
    assert ec2_writes()[setup:] == []


def test_given_ec2_refusing_a_step_when_restoring_then_it_stops_saying_what_was_done(
    group: Group, ec2_writes: Writes
) -> None:
    """Given a change of two rules, one restorable, one to revoke, and EC2 refusing the
    revoke (say the spoke role lacks it); when the modification is undone, then it fails
    after the restore, saying so; and once the cause is fixed, a retry revokes the other
    and finds the first already restored."""
    known = authorize(group, Direction.INGRESS, 22, "10.0.0.0/8", "office")
    unknown = authorize(group, Direction.INGRESS, 22, "10.1.0.0/16", "vpn")
    ids = [str(known.rule_id), str(unknown.rule_id)]
    plan = plan_restore(modify(group, {i: spec("0.0.0.0/0") for i in ids}, [known]))
    ec2 = member_client()
    faults = Faults("RevokeSecurityGroupIngress", ec2_error(403, "UnauthorizedOperation"))
    ec2.meta.events.register("before-send.ec2", faults)
    setup = len(ec2_writes())

    with pytest.raises(RevertFailed) as failed:
        restore(plan, ec2)

    assert failed.value.done == RevokeTally(restored=1)
    assert failed.value.reason == (
        f"EC2 refused the undo of {ids[1]} in {WHERE} after 1 rule restored to its earlier "
        "value (UnauthorizedOperation: injected UnauthorizedOperation): fix the cause, then "
        "click Deny again to retry"
    )
    assert ec2_writes()[setup:] == [restore_write(group, ids[0], "10.0.0.0/8", "office")]

    assert restore(plan, ec2) == RevokeTally(revoked=1, already_restored=1)
    assert current(group, ids[0]) == held("10.0.0.0/8", description="office")
    assert ids[1] not in group.rule_ids()
    assert ec2_writes()[setup + 1 :] == [revoke_write(group, ids[1])]


# -- policy auto-revert ----------------------------------------------------------------------


@pytest.mark.parametrize("on_record", [True, False], ids=["earlier-value-recorded", "not-recorded"])
def test_given_auto_revert_when_a_modification_opens_ssh_to_anywhere_then_it_is_undone_alike(
    desk: Desk,
    group: Group,
    slack: SlackStandIn,
    lambdas: LambdaStandIn,
    ec2_writes: Writes,
    on_record: bool,
) -> None:
    """Given `auto_revert_at_or_above: critical` and tcp 22 from 10.0.0.0/8 edited into
    tcp 22 from 0.0.0.0/0 (critical on its after-state); when the detector records the
    modification (after the Authorize that created the rule, or without it); then the
    policy's revert restores the earlier value it found, or revokes the rule, exactly as
    a Deny does."""
    before = authorize(group, Direction.INGRESS, 22, "10.0.0.0/8", "office")
    rule_id = str(before.rule_id)
    authorized = trail_record(group.group_id, rule_id, "10.0.0.0/8", 22)
    authorized["eventTime"] = (datetime.now(UTC) - timedelta(minutes=30)).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )
    authorized["responseElements"]["securityGroupRuleSet"]["items"][0]["description"] = "office"
    group.ec2.modify_security_group_rules(
        GroupId=group.group_id,
        SecurityGroupRules=[
            {"SecurityGroupRuleId": rule_id, "SecurityGroupRule": spec("0.0.0.0/0")}
        ],
    )
    modified = modify_record(group, {rule_id: spec("0.0.0.0/0")}, datetime.now(UTC))
    d = detector(desk.store, slack, '{"auto_revert_at_or_above": "critical"}')
    setup = len(ec2_writes())

    report = run(d, [authorized, modified] if on_record else [modified])
    lambdas.wait_idle()

    assert report.auto_reverted == 1
    done = desk.store.require(modified["eventID"])
    assert (done.state, done.risk, done.decided_by) == (
        State.REVERTED,
        "critical",
        "policy:auto_revert_at_or_above=critical",
    )
    if on_record:
        assert done.outcome == f"1 rule restored to its earlier value in {WHERE}"
        assert current(group, rule_id) == held("10.0.0.0/8", description="office")
        assert ec2_writes()[setup:] == [restore_write(group, rule_id, "10.0.0.0/8", "office")]
    else:
        assert done.outcome == f"1 rule revoked (previous value unknown) in {WHERE}"
        assert rule_id not in group.rule_ids()
        assert ec2_writes()[setup:] == [revoke_write(group, rule_id)]


# -- prefix lists: the world -----------------------------------------------------------------


class PrefixList:
    """A customer-managed prefix list in the member account, and its edits."""

    def __init__(self, ec2: Any, *cidrs: str, name: str = "corp-offices") -> None:
        self.ec2 = ec2
        created = ec2.create_managed_prefix_list(
            PrefixListName=name,
            AddressFamily="IPv4",
            MaxEntries=20,
            Entries=[{"Cidr": cidr, "Description": "office"} for cidr in cidrs],
        )["PrefixList"]
        self.list_id = str(created["PrefixListId"])
        self.name = name

    def version(self) -> int:
        [found] = self.ec2.describe_managed_prefix_lists(PrefixListIds=[self.list_id])[
            "PrefixLists"
        ]
        return int(found["Version"])

    def cidrs(self) -> set[str]:
        entries = self.ec2.get_managed_prefix_list_entries(PrefixListId=self.list_id)["Entries"]
        return {str(e["Cidr"]) for e in entries}

    def add(self, *cidrs: str) -> dict[str, Any]:
        """Add entries on EC2; the CloudTrail record of that call."""
        version = self.version()
        self.ec2.modify_managed_prefix_list(
            PrefixListId=self.list_id,
            CurrentVersion=version,
            AddEntries=[{"Cidr": cidr, "Description": "vendor"} for cidr in cidrs],
        )
        record: dict[str, Any] = copy.deepcopy(load_event("modify_prefix_list_add"))
        record["eventID"] = str(uuid.uuid4())
        record["awsRegion"] = REGION
        record["recipientAccountId"] = MEMBER_ACCOUNT
        entries = [{"Cidr": c, "Description": "vendor", "tag": i} for i, c in enumerate(cidrs, 1)]
        record["requestParameters"]["ModifyManagedPrefixListRequest"] = {
            "PrefixListId": self.list_id,
            "CurrentVersion": version,
            "AddEntry": entries[0] if len(entries) == 1 else entries,
        }
        answer = record["responseElements"]["ModifyManagedPrefixListResponse"]["prefixList"]
        answer.update(
            prefixListId=self.list_id,
            prefixListName=self.name,
            version=version,
            ownerId=MEMBER_ACCOUNT,
            prefixListArn=f"arn:aws:ec2:{REGION}:{MEMBER_ACCOUNT}:prefix-list/{self.list_id}",
        )
        return record

    def remove(self, *cidrs: str) -> None:
        self.ec2.modify_managed_prefix_list(
            PrefixListId=self.list_id,
            CurrentVersion=self.version(),
            RemoveEntries=[{"Cidr": cidr} for cidr in cidrs],
        )


@pytest.fixture
def corp(aws: str) -> PrefixList:
    return PrefixList(account_session(MEMBER_ACCOUNT).client("ec2"), "10.0.0.0/8", "192.0.2.0/24")


def removal_write(plist: PrefixList, version: int, *cidrs: str) -> dict[str, str]:
    return {
        "Action": "ModifyManagedPrefixList",
        "PrefixListId": plist.list_id,
        "CurrentVersion": str(version),
        **{f"RemoveEntry.{i}.Cidr": cidr for i, cidr in enumerate(cidrs, start=1)},
    }


# -- prefix lists ----------------------------------------------------------------------------


def test_given_entries_added_to_a_prefix_list_when_denied_then_exactly_those_are_removed(
    desk: Desk, corp: PrefixList, lambdas: LambdaStandIn, ec2_writes: Writes
) -> None:
    """Given corp-offices (10.0.0.0/8, 192.0.2.0/24) and a change adding 0.0.0.0/0 and
    198.51.100.0/24; when denied; then one ModifyManagedPrefixList at the list's current
    version removes those two, and the unrelated entries stay."""
    record = desk.post(parse_record(corp.add("0.0.0.0/0", "198.51.100.0/24")))
    assert record.state is State.PENDING
    setup = len(ec2_writes())

    done = deny(desk, lambdas, record)

    assert (done.state, done.outcome) == (
        State.REVERTED,
        f"2 entries removed from {corp.list_id} (corp-offices) in {WHERE}",
    )
    assert corp.cidrs() == {"10.0.0.0/8", "192.0.2.0/24"}
    assert ec2_writes()[setup:] == [removal_write(corp, 2, "0.0.0.0/0", "198.51.100.0/24")]


def test_given_some_added_entries_already_gone_when_denied_then_they_count_as_done(
    desk: Desk, corp: PrefixList, lambdas: LambdaStandIn, ec2_writes: Writes
) -> None:
    """Given a change adding two entries, one since removed by hand (and the list edited
    since, so its version moved on); when denied; then only the other is removed, at the
    list's version now."""
    record = desk.post(parse_record(corp.add("0.0.0.0/0", "198.51.100.0/24")))
    corp.remove("198.51.100.0/24")
    setup = len(ec2_writes())

    done = deny(desk, lambdas, record)

    assert (done.state, done.outcome) == (
        State.REVERTED,
        f"1 entry removed from {corp.list_id} (corp-offices) in {WHERE}; 1 was already gone",
    )
    assert corp.cidrs() == {"10.0.0.0/8", "192.0.2.0/24"}
    assert ec2_writes()[setup:] == [removal_write(corp, 3, "0.0.0.0/0")]


def test_given_every_added_entry_already_gone_when_denied_then_nothing_is_written(
    desk: Desk, corp: PrefixList, lambdas: LambdaStandIn, ec2_writes: Writes
) -> None:
    """Given a change whose added entries were all removed by hand; when denied; then it
    is reverted without a write."""
    record = desk.post(parse_record(corp.add("0.0.0.0/0", "198.51.100.0/24")))
    corp.remove("0.0.0.0/0", "198.51.100.0/24")
    setup = len(ec2_writes())

    done = deny(desk, lambdas, record)

    assert (done.state, done.outcome) == (
        State.REVERTED,
        f"nothing left to remove from {corp.list_id} (corp-offices) in {WHERE}: "
        "all 2 were already gone",
    )
    assert ec2_writes()[setup:] == []


def test_given_the_prefix_list_deleted_when_denied_then_its_entries_count_as_gone(
    desk: Desk, corp: PrefixList, lambdas: LambdaStandIn, ec2_writes: Writes
) -> None:
    """Given a change adding an entry to a list deleted since; when denied; then it is
    reverted without a write: nothing of the list is left to open anything."""
    record = desk.post(parse_record(corp.add("0.0.0.0/0")))
    corp.ec2.delete_managed_prefix_list(PrefixListId=corp.list_id)
    setup = len(ec2_writes())

    done = deny(desk, lambdas, record)

    assert (done.state, done.outcome) == (
        State.REVERTED,
        f"nothing left to remove from {corp.list_id} (corp-offices) in {WHERE}: "
        "it was already gone",
    )
    assert ec2_writes()[setup:] == []


# -- prefix lists: conflicts, through the adapter --------------------------------------------


@pytest.fixture
def member_ec2(corp: PrefixList) -> Any:
    """An EC2 client in the member account with sgrevert's retry policy, as the reverter
    builds one."""
    return member_client()


def member_client() -> Any:
    return aws.client("ec2", account_session(MEMBER_ACCOUNT), region_name=REGION)


class EditsFirst:
    """Before the adapter's first ModifyManagedPrefixList is sent, someone else edits the
    list through EC2 (adding an unrelated entry), so the version the adapter read is stale."""

    def __init__(self, plist: PrefixList, cidr: str) -> None:
        self.plist = plist
        self.cidr = cidr
        self.done = False

    def __call__(self, params: dict[str, Any], **_: Any) -> None:
        if not self.done:
            self.done = True
            self.plist.ec2.modify_managed_prefix_list(
                PrefixListId=self.plist.list_id,
                CurrentVersion=self.plist.version(),
                AddEntries=[{"Cidr": self.cidr}],
            )


def planned(record: dict[str, Any]) -> PrefixListPlan:
    """The plan a Deny of the recorded change would apply."""
    return plan_entry_removal(parse_record(record))


def test_given_the_list_changes_between_read_and_write_when_removing_then_it_rereads_and_retries(
    corp: PrefixList, member_ec2: Any, ec2_writes: Writes
) -> None:
    """Given a change adding 0.0.0.0/0, and someone adding 203.0.113.0/24 between the
    adapter's read and its write; when the entries are removed; then EC2 refuses the stale
    version, the adapter reads again and removes 0.0.0.0/0 at the new version, and the
    other person's entry stays."""
    plan = planned(corp.add("0.0.0.0/0"))
    member_ec2.meta.events.register(
        "before-call.ec2.ModifyManagedPrefixList", EditsFirst(corp, "203.0.113.0/24")
    )
    setup = len(ec2_writes())

    tally = remove_entries(plan, member_ec2, sleep=pytest.fail)

    assert tally == RevokeTally(revoked=1)
    assert corp.cidrs() == {"10.0.0.0/8", "192.0.2.0/24", "203.0.113.0/24"}
    assert ec2_writes()[setup:] == [
        {
            "Action": "ModifyManagedPrefixList",
            "PrefixListId": corp.list_id,
            "CurrentVersion": "2",
            "AddEntry.1.Cidr": "203.0.113.0/24",
        },
        removal_write(corp, 2, "0.0.0.0/0"),  # refused: PrefixListVersionMismatch
        removal_write(corp, 3, "0.0.0.0/0"),
    ]


def test_given_the_list_busy_modifying_when_removing_then_it_waits_and_retries(
    corp: PrefixList, member_ec2: Any, ec2_writes: Writes
) -> None:
    """Given EC2 answering IncorrectState once (the list still applying an earlier
    modification); when the entries are removed; then the adapter waits, reads again and
    removes them."""
    plan = planned(corp.add("0.0.0.0/0"))
    faults = Faults("ModifyManagedPrefixList", ec2_error(400, "IncorrectState"))
    member_ec2.meta.events.register("before-send.ec2", faults)
    waits: list[float] = []
    setup = len(ec2_writes())

    tally = remove_entries(plan, member_ec2, sleep=waits.append)

    assert tally == RevokeTally(revoked=1)
    assert (faults.calls, waits) == (2, [1.0])
    assert corp.cidrs() == {"10.0.0.0/8", "192.0.2.0/24"}
    assert ec2_writes()[setup:] == [removal_write(corp, 2, "0.0.0.0/0")]


def test_given_the_list_keeps_changing_when_removing_then_it_gives_up_saying_why(
    corp: PrefixList, member_ec2: Any, ec2_writes: Writes
) -> None:
    """Given EC2 answering PrefixListVersionMismatch on every attempt; when the entries are
    removed; then after MAX_ATTEMPTS attempts it fails saying why, nothing removed."""
    plan = planned(corp.add("0.0.0.0/0"))
    mismatch = [ec2_error(400, "PrefixListVersionMismatch") for _ in range(MAX_ATTEMPTS)]
    faults = Faults("ModifyManagedPrefixList", *mismatch)
    member_ec2.meta.events.register("before-send.ec2", faults)
    setup = len(ec2_writes())

    with pytest.raises(RevertFailed) as failed:
        remove_entries(plan, member_ec2, sleep=pytest.fail)

    assert faults.calls == MAX_ATTEMPTS == 4
    assert failed.value.reason == (
        f"{corp.list_id} (corp-offices) in {WHERE} kept changing while its entries were "
        "being removed (PrefixListVersionMismatch on all 4 attempts): nothing was removed; "
        "click Deny again to retry"
    )
    assert failed.value.done == RevokeTally()
    assert "0.0.0.0/0" in corp.cidrs()
    assert ec2_writes()[setup:] == []  # every attempt was answered before reaching EC2


def test_given_ec2_refuses_the_removal_when_removing_then_it_fails_without_retrying(
    corp: PrefixList, member_ec2: Any
) -> None:
    """Given EC2 refusing the write (the spoke role lacks the permission); when the
    entries are removed; then it fails at once with EC2's reason."""
    plan = planned(corp.add("0.0.0.0/0"))
    faults = Faults("ModifyManagedPrefixList", ec2_error(403, "UnauthorizedOperation"))
    member_ec2.meta.events.register("before-send.ec2", faults)

    with pytest.raises(RevertFailed) as failed:
        remove_entries(plan, member_ec2, sleep=pytest.fail)

    assert faults.calls == 1
    assert failed.value.reason.startswith(
        f"EC2 refused to remove 1 entry from {corp.list_id} (corp-offices) in {WHERE} "
        "(UnauthorizedOperation: injected UnauthorizedOperation): nothing was removed"
    )
