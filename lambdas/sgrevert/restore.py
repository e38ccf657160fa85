"""Restore adapter: undoes a ModifySecurityGroupRules change, rule by rule (a RestorePlan).

It reads the group's rules first (DescribeSecurityGroupRules, filter `group-id`), then
takes each step on its own:
- the rule is gone: already gone (done);
- it still allows what the change set (protocol, ports and source; its description
  aside): ModifySecurityGroupRules puts the recorded earlier value back, or, with none on
  record, the rule is revoked by id, ingress or egress as EC2 says it is;
- it already allows what it did before (a retried Deny that restored it): done;
- anything else: it changed again since, and is left alone, untouched.

A rule that vanishes between the read and the write counts as gone. Any other refusal
stops at that step with RevertFailed saying what the earlier steps did: they hold, and a
retried Deny finds them done. Throttling is retried by the client (`aws.RETRY_CONFIG`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

from botocore.exceptions import BotoCoreError, ClientError

from sgrevert.cloudtrail import SkipRecord, described_rule
from sgrevert.model import Direction, Rule
from sgrevert.revert import RestorePlan, RestoreStep, RevokeTally, restore_failure, rule_request
from sgrevert.revoke import GROUP_GONE, RULE_GONE, Refused, revoke_rule
from sgrevert.rule_cover import allows_no_more

if TYPE_CHECKING:
    from mypy_boto3_ec2.client import EC2Client
    from mypy_boto3_ec2.type_defs import SecurityGroupRuleRequestTypeDef


def restore(plan: RestorePlan, ec2: EC2Client) -> RevokeTally:
    """Undo each modified rule the plan names. RevertFailed (with what was done) when EC2
    refuses a step for any reason but the rule or group being gone."""
    tally = RevokeTally()
    try:
        current = _current_rules(ec2, plan.group_id)
    except Refused as refused:
        what = f"the read of {plan.group_id}'s rules"
        raise restore_failure(plan, what, refused.code, refused.message, tally) from None
    for step in plan.steps:
        try:
            tally += _undo(ec2, plan.group_id, step, current)
        except Refused as refused:
            what = f"the undo of {step.rule_id}"
            raise restore_failure(plan, what, refused.code, refused.message, tally) from None
    return tally


def same_access(one: Rule, other: Rule) -> bool:
    """The two let in exactly the same traffic (protocol, ports, source), whatever their
    descriptions, ids or (placeholder) directions say."""
    return allows_no_more(one, other) and allows_no_more(other, one)


def _undo(
    ec2: EC2Client, group_id: str, step: RestoreStep, current: Mapping[str, Rule | None]
) -> RevokeTally:
    if step.rule_id not in current:
        return RevokeTally(already_gone=1)
    now = current[step.rule_id]
    if now is None:  # there, in a shape this code cannot read: nobody can tell it is as set
        return RevokeTally(left_alone=(step.rule_id,))
    if not same_access(now, step.after):
        if step.before is not None and same_access(now, step.before):
            return RevokeTally(already_restored=1)
        return RevokeTally(left_alone=(step.rule_id,))
    if step.before is None:
        return revoke_rule(ec2, group_id, step.rule_id, egress=now.direction is Direction.EGRESS)
    return _modify(ec2, group_id, step.rule_id, step.before)


def _modify(ec2: EC2Client, group_id: str, rule_id: str, before: Rule) -> RevokeTally:
    request = rule_request(before)
    try:
        ec2.modify_security_group_rules(
            GroupId=group_id,
            SecurityGroupRules=[
                {
                    "SecurityGroupRuleId": rule_id,
                    "SecurityGroupRule": cast("SecurityGroupRuleRequestTypeDef", request),
                }
            ],
        )
    except ClientError as error:
        code = _code(error)
        if code in RULE_GONE or code in GROUP_GONE:
            return RevokeTally(already_gone=1)
        raise Refused(code, _message(error), RevokeTally()) from error
    except BotoCoreError as error:
        raise Refused(type(error).__name__, str(error), RevokeTally()) from error
    return RevokeTally(restored=1)


def _current_rules(ec2: EC2Client, group_id: str) -> Mapping[str, Rule | None]:
    """The group's rules by id, with their real direction (None: a rule whose source this
    code cannot read); empty when the group is gone."""
    found: dict[str, Rule | None] = {}
    try:
        pages = ec2.get_paginator("describe_security_group_rules").paginate(
            Filters=[{"Name": "group-id", "Values": [group_id]}]
        )
        for page in pages:
            for item in page.get("SecurityGroupRules", []):
                rule_id = item.get("SecurityGroupRuleId")
                if rule_id:
                    found[str(rule_id)] = _rule(item)
    except ClientError as error:
        if _code(error) in GROUP_GONE:
            return {}
        raise Refused(_code(error), _message(error), RevokeTally()) from error
    except BotoCoreError as error:
        raise Refused(type(error).__name__, str(error), RevokeTally()) from error
    return found


def _rule(item: Mapping[str, Any]) -> Rule | None:
    try:
        return described_rule(item)
    except SkipRecord:
        return None


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", "ClientError"))


def _message(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Message", error))
