"""Revoke adapter: applies a RevertPlan with an EC2 client in the change's account and region.

Rule ids first (ingress and egress are separate EC2 calls), recorded permissions only for
rules without ids. A rule or group that no longer exists counts as already gone. EC2
rejects a whole call when one of its rules is gone, so a rejected batch is retried one
rule at a time and the others are still revoked. Throttling is retried by the client's
retry config (`aws.RETRY_CONFIG`). `revoke_rule` revokes one rule by id, the same way,
for the restore adapter.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from sgrevert.revert import RevertPlan, RevokeTally, ec2_failure

if TYPE_CHECKING:
    from mypy_boto3_ec2.client import EC2Client

RULE_GONE = frozenset({"InvalidPermission.NotFound", "InvalidSecurityGroupRuleId.NotFound"})
GROUP_GONE = frozenset({"InvalidGroup.NotFound"})
_SOURCES = ("IpRanges", "Ipv6Ranges", "PrefixListIds", "UserIdGroupPairs")

Call = Callable[..., Any]


def revoke(plan: RevertPlan, ec2: EC2Client) -> RevokeTally:
    """Revoke what the plan names. RevertFailed (with what was done) on any other error."""
    batches: list[tuple[Call, str, Sequence[Any]]] = [
        (ec2.revoke_security_group_ingress, "SecurityGroupRuleIds", plan.ingress_rule_ids),
        (ec2.revoke_security_group_egress, "SecurityGroupRuleIds", plan.egress_rule_ids),
        (ec2.revoke_security_group_ingress, "IpPermissions", plan.ingress_permissions),
        (ec2.revoke_security_group_egress, "IpPermissions", plan.egress_permissions),
    ]
    tally = RevokeTally()
    for call, argument, items in batches:
        if not items:
            continue
        try:
            tally += _revoke_batch(call, plan.group_id, argument, list(items))
        except Refused as refused:
            raise ec2_failure(plan, refused.code, refused.message, tally + refused.done) from None
    return tally


def revoke_rule(ec2: EC2Client, group_id: str, rule_id: str, egress: bool) -> RevokeTally:
    """Revoke one rule by id (revoked, or already gone); Refused on any other error."""
    call = ec2.revoke_security_group_egress if egress else ec2.revoke_security_group_ingress
    return _revoke_batch(call, group_id, "SecurityGroupRuleIds", [rule_id])


class Refused(Exception):
    """EC2 refused a call for a reason other than "gone"; `done` is what it did before."""

    def __init__(self, code: str, message: str, done: RevokeTally) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.done = done


def _revoke_batch(call: Call, group_id: str, argument: str, items: list[Any]) -> RevokeTally:
    outcome = _attempt(call, group_id, argument, items)
    if outcome is not None:
        return outcome
    if len(items) == 1:
        return RevokeTally(already_gone=1)
    # One of them is gone and EC2 refused them all: go one by one to revoke the rest.
    tally = RevokeTally()
    for item in items:
        try:
            single = _attempt(call, group_id, argument, [item])
        except Refused as refused:
            raise Refused(refused.code, refused.message, tally) from None
        tally += single if single is not None else RevokeTally(already_gone=1)
    return tally


def _attempt(call: Call, group_id: str, argument: str, items: list[Any]) -> RevokeTally | None:
    """A tally when EC2 accepted the call (or the group is gone); None if a rule was gone."""
    try:
        response = call(GroupId=group_id, **{argument: items})
    except ClientError as error:
        code = str(error.response.get("Error", {}).get("Code", "ClientError"))
        if code in GROUP_GONE:
            return RevokeTally(already_gone=len(items))
        if code in RULE_GONE:
            return None
        message = str(error.response.get("Error", {}).get("Message", error))
        raise Refused(code, message, RevokeTally()) from error
    except BotoCoreError as error:
        raise Refused(type(error).__name__, str(error), RevokeTally()) from error
    # Revoking by permissions may succeed yet list the ones it did not find.
    unknown = min(sum(map(_rules_in, response.get("UnknownIpPermissions") or [])), len(items))
    return RevokeTally(revoked=len(items) - unknown, already_gone=unknown)


def _rules_in(permission: Mapping[str, Any]) -> int:
    """How many rules an `IpPermission` stands for: one per source. EC2 may list unknown
    rules "in a different format from the request", several sources in one permission."""
    return max(1, sum(len(permission.get(key) or []) for key in _SOURCES))
