"""Working out a revert as plain data: which rules (or entries), where, and how the outcome
reads, for each kind of change a Deny undoes."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from sgrevert.model import (
    Actor,
    Change,
    ChangeRecord,
    Direction,
    PrefixListEdit,
    PrefixListEntry,
    Prior,
    Rule,
    SourceKind,
    State,
)
from sgrevert.revert import (
    PrefixListPlan,
    RestorePlan,
    RestoreStep,
    RevertPlan,
    RevokeTally,
    changed_again_outcome,
    ip_permission,
    management_account_failure,
    no_rules_failure,
    plan_restore,
    plan_revert,
    rule_request,
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
    assert isinstance(planned, RevertPlan)
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


# -- modified rules --------------------------------------------------------------------------

MODIFIED_AT = datetime(2026, 11, 27, 10, 27, 5, tzinfo=UTC)


def modification(*rules: Rule, prior: tuple[Prior, ...] = ()) -> Change:
    """A ModifySecurityGroupRules change as the detector records it: the rules' new values
    (direction a placeholder) and the earlier values it found."""
    return Change(
        event_id="ev-modify",
        event_name="ModifySecurityGroupRules",
        event_time=MODIFIED_AT,
        account="111122223333",
        region="eu-west-1",
        group_id="sg-0123456789abcdef0",
        actor=ACTOR,
        rules=rules,
        prior=prior,
    )


def earlier(rule: Rule) -> Prior:
    return Prior(rule, datetime(2026, 11, 27, 9, 0, tzinfo=UTC), "ev-authorize")


def test_given_a_modification_when_planned_then_each_rule_gets_a_step_with_its_earlier_value() -> (
    None
):
    before = replace(ingress("10.0.0.0/8", "sgr-1"), description="office")
    unknown = Rule(Direction.INGRESS, "-1", None, None, SourceKind.CIDR_IPV6, "::/0", "sgr-2")

    planned = plan_revert(
        modification(
            ingress("0.0.0.0/0", "sgr-1"),
            unknown,
            ingress("0.0.0.0/0", "sgr-1"),  # named twice: one step
            ingress("192.0.2.0/24", None),  # no id: nothing can address it
            prior=(earlier(before),),
        )
    )

    assert isinstance(planned, RestorePlan)
    assert planned.steps == (
        RestoreStep("sgr-1", ingress("0.0.0.0/0", "sgr-1"), before),
        RestoreStep("sgr-2", unknown, None),
    )
    assert (planned.account, planned.region, planned.partition, planned.group_id) == (
        "111122223333",
        "eu-west-1",
        "aws",
        "sg-0123456789abcdef0",
    )
    assert planned.item_count == 2


def test_given_an_earlier_value_when_turned_into_a_request_then_it_is_that_rule_exactly() -> None:
    assert rule_request(replace(ingress("10.0.0.0/8", "sgr-1"), description="office")) == {
        "IpProtocol": "tcp",
        "FromPort": 22,
        "ToPort": 22,
        "CidrIpv4": "10.0.0.0/8",
        "Description": "office",
    }
    # protocols without ports take -1/-1; no description: none is sent
    assert rule_request(
        Rule(Direction.EGRESS, "-1", None, None, SourceKind.PREFIX_LIST, "pl-0abc")
    ) == {"IpProtocol": "-1", "FromPort": -1, "ToPort": -1, "PrefixListId": "pl-0abc"}
    assert rule_request(
        Rule(Direction.INGRESS, "icmp", 8, -1, SourceKind.GROUP, "sg-0peer", source_account="4")
    ) == {"IpProtocol": "icmp", "FromPort": 8, "ToPort": -1, "ReferencedGroupId": "sg-0peer"}
    assert rule_request(
        Rule(Direction.INGRESS, "udp", None, None, SourceKind.CIDR_IPV6, "2001:db8::/32")
    ) == {"IpProtocol": "udp", "FromPort": 0, "ToPort": 65535, "CidrIpv6": "2001:db8::/32"}


def test_given_a_restore_tally_when_worded_then_each_kind_of_step_is_counted() -> None:
    planned = plan_revert(modification(ingress("0.0.0.0/0", "sgr-1")))
    where = "111122223333 / eu-west-1"

    assert success_outcome(planned, RevokeTally(restored=1, revoked=1, already_gone=1)) == (
        f"1 rule restored to its earlier value and 1 revoked (previous value unknown) in "
        f"{where}; 1 was already gone"
    )
    assert success_outcome(planned, RevokeTally(restored=2)) == (
        f"2 rules restored to their earlier values in {where}"
    )
    assert success_outcome(planned, RevokeTally(revoked=1)) == (
        f"1 rule revoked (previous value unknown) in {where}"
    )
    assert success_outcome(planned, RevokeTally(restored=1, already_restored=1)) == (
        f"1 rule restored to its earlier value in {where}; 1 already held its earlier value"
    )
    assert success_outcome(planned, RevokeTally(already_gone=1)) == (
        f"nothing left to restore in {where}: it was already gone"
    )
    assert success_outcome(planned, RevokeTally(already_gone=2, already_restored=1)) == (
        f"nothing left to restore in {where}: 2 were already gone and 1 already held its "
        "earlier value"
    )


def newer_record(state: State, event_id: str = "ev-later") -> ChangeRecord:
    later = replace(
        modification(ingress("0.0.0.0/0", "sgr-1")),
        event_id=event_id,
        event_time=datetime(2026, 11, 27, 10, 41, 30, tzinfo=UTC),
        actor=Actor(
            arn="arn:aws:sts::111122223333:assumed-role/terraform-apply/gitlab-runner-8812",
            type="AssumedRole",
        ),
    )
    return ChangeRecord(later, state, datetime(2026, 11, 27, 10, 42, tzinfo=UTC))


def test_given_a_rule_changed_again_since_when_worded_then_the_newer_change_is_named() -> None:
    planned = plan_restore(modification(ingress("0.0.0.0/0", "sgr-1")))

    text = changed_again_outcome(
        planned,
        RevokeTally(restored=1, left_alone=("sgr-2",)),
        {"sgr-2": newer_record(State.PENDING)},
        MODIFIED_AT,
    )

    assert text == (
        "1 rule restored to its earlier value in 111122223333 / eu-west-1; sgr-2 was changed "
        "again since by ev-later (terraform-apply/gitlab-runner-8812, 10:41 UTC): left "
        "untouched; deny that change first, then Deny here to retry"
    )


def test_given_a_newer_change_that_cannot_be_denied_or_is_not_on_record_then_check_by_hand() -> (
    None
):
    planned = plan_restore(modification(ingress("0.0.0.0/0", "sgr-1")))
    alone = RevokeTally(left_alone=("sgr-1",))

    assert changed_again_outcome(planned, alone, {"sgr-1": None}, MODIFIED_AT) == (
        "nothing restored in 111122223333 / eu-west-1; sgr-1 was changed again since by a "
        "change not on record: left untouched; check it by hand"
    )
    approved = changed_again_outcome(
        planned, alone, {"sgr-1": newer_record(State.APPROVED)}, MODIFIED_AT
    )
    assert approved.endswith("10:41 UTC): left untouched; check it by hand")
    unread = changed_again_outcome(planned, alone, None, MODIFIED_AT)
    assert "sgr-1 was changed again since (the history could not be read)" in unread
    # another day than the denied change: the date is given too
    next_day = changed_again_outcome(
        planned,
        alone,
        {"sgr-1": newer_record(State.PENDING)},
        datetime(2026, 11, 26, 23, 0, tzinfo=UTC),
    )
    assert "(terraform-apply/gitlab-runner-8812, 2026-11-27 10:41 UTC)" in next_day


def test_given_a_modification_when_refused_or_shown_then_the_words_name_each_rule() -> None:
    before = replace(ingress("10.0.0.0/8", "sgr-1"), description="office")
    planned = plan_restore(
        modification(
            ingress("0.0.0.0/0", "sgr-1"),
            ingress("0.0.0.0/0", "sgr-2"),
            prior=(earlier(before),),
        )
    )

    assert planned.lines() == [
        "would restore 1 rule(s) to their recorded earlier value and revoke 1 rule(s) whose "
        "previous value is unknown on sg-0123456789abcdef0 in 111122223333 / eu-west-1",
        "  restore sgr-1 to tcp 22 from 10.0.0.0/8 (now tcp 22 from 0.0.0.0/0)",
        "  revoke sgr-2 (tcp 22 from 0.0.0.0/0): previous value not on record",
    ]
    assert planned.question().startswith("Restore 1 rule(s) to their recorded earlier value")
    reason = management_account_failure(planned).reason
    assert reason.startswith(
        "111122223333 is the organization's management account, which has no spoke role: "
        "restore the rules by hand there (aws ec2 modify-security-group-rules --region "
        "eu-west-1 --group-id sg-0123456789abcdef0 --security-group-rules "
        '\'[{"SecurityGroupRuleId":"sgr-1","SecurityGroupRule":{"IpProtocol":"tcp",'
        '"FromPort":22,"ToPort":22,"CidrIpv4":"10.0.0.0/8","Description":"office"}}]\'; '
    )
    assert "--security-group-rule-ids sgr-2)" in reason


def test_given_a_modification_without_rule_ids_when_refused_then_the_reason_says_so() -> None:
    planned = plan_restore(modification(ingress("0.0.0.0/0", None)))

    assert planned.item_count == 0
    assert no_rules_failure(planned).reason == (
        "the modification recorded no rule ids, so there is nothing to restore automatically: "
        "check sg-0123456789abcdef0 in 111122223333 / eu-west-1 by hand"
    )


# -- prefix lists ----------------------------------------------------------------------------


def list_edit(*added: str, removed: tuple[str, ...] = ()) -> Change:
    return Change(
        event_id="ev-list",
        event_name="ModifyManagedPrefixList",
        event_time=MODIFIED_AT,
        account="111122223333",
        region="eu-west-1",
        group_id="pl-0123456789abcdef0",
        actor=ACTOR,
        prefix_list=PrefixListEdit(
            list_id="pl-0123456789abcdef0",
            name="corp-offices",
            version=3,
            added=tuple(PrefixListEntry(cidr) for cidr in added),
            removed=tuple(PrefixListEntry(cidr) for cidr in removed),
        ),
    )


def test_given_a_prefix_list_edit_when_planned_then_only_the_added_cidrs_are_removed() -> None:
    planned = plan_revert(
        list_edit("0.0.0.0/0", "198.51.100.0/24", "198.51.100.7/24", removed=("10.0.0.0/8",))
    )

    assert isinstance(planned, PrefixListPlan)
    # the removed entry is not put back; the same network spelled twice is one entry
    assert planned.cidrs == ("0.0.0.0/0", "198.51.100.0/24")
    assert (planned.account, planned.region, planned.list_id, planned.name) == (
        "111122223333",
        "eu-west-1",
        "pl-0123456789abcdef0",
        "corp-offices",
    )
    assert planned.item_count == 2
    assert planned.lines() == [
        "would remove 2 entries from pl-0123456789abcdef0 (corp-offices) in "
        "111122223333 / eu-west-1",
        "  entry 0.0.0.0/0",
        "  entry 198.51.100.0/24",
    ]


def test_given_a_prefix_list_tally_when_worded_then_it_names_the_list() -> None:
    planned = plan_revert(list_edit("0.0.0.0/0", "198.51.100.0/24", "203.0.113.0/24"))
    where = "111122223333 / eu-west-1"

    assert success_outcome(planned, RevokeTally(revoked=2, already_gone=1)) == (
        f"2 entries removed from pl-0123456789abcdef0 (corp-offices) in {where}; 1 was already gone"
    )
    assert success_outcome(planned, RevokeTally(revoked=1)) == (
        f"1 entry removed from pl-0123456789abcdef0 (corp-offices) in {where}"
    )
    assert success_outcome(planned, RevokeTally(already_gone=3)) == (
        f"nothing left to remove from pl-0123456789abcdef0 (corp-offices) in {where}: "
        "all 3 were already gone"
    )
    assert "--remove-entries Cidr=0.0.0.0/0 Cidr=198.51.100.0/24 Cidr=203.0.113.0/24" in (
        management_account_failure(planned).reason
    )
