"""What a Deny undoes, worked out as plain data before anything touches EC2.

`plan_revert` turns a recorded change into the exact revoke: which rule ids, ingress
and egress apart, in which account, region and partition, plus the recorded permissions
for rules CloudTrail gave no id for. The revoke adapter applies the plan; the texts
below say what happened in words a reviewer can act on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sgrevert.errors import SgrevertError
from sgrevert.model import Change, Direction, Rule, SourceKind

_MAX_DETAIL = 300  # AWS error messages can be long; Slack sections cap text at 3000


@dataclass(frozen=True)
class RevertPlan:
    account: str
    region: str
    partition: str
    group_id: str
    ingress_rule_ids: tuple[str, ...] = ()
    egress_rule_ids: tuple[str, ...] = ()
    # EC2 `IpPermissions`, one per rule, only for rules recorded without an id
    ingress_permissions: tuple[dict[str, Any], ...] = ()
    egress_permissions: tuple[dict[str, Any], ...] = ()

    @property
    def rule_count(self) -> int:
        return (
            len(self.ingress_rule_ids)
            + len(self.egress_rule_ids)
            + len(self.ingress_permissions)
            + len(self.egress_permissions)
        )

    @property
    def where(self) -> str:
        return f"{self.account} / {self.region}"


@dataclass(frozen=True)
class RevokeTally:
    """How many of the plan's rules were revoked now and how many were already gone."""

    revoked: int = 0
    already_gone: int = 0

    def __add__(self, other: RevokeTally) -> RevokeTally:
        return RevokeTally(self.revoked + other.revoked, self.already_gone + other.already_gone)


class RevertFailed(SgrevertError):
    """The revert could not be done; `reason` says why and what to do about it."""

    def __init__(self, reason: str, done: RevokeTally | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.done = done or RevokeTally()


def plan_revert(change: Change) -> RevertPlan:
    """The exact revoke for a change: rule ids where recorded, permissions otherwise."""
    ids: dict[Direction, list[str]] = {Direction.INGRESS: [], Direction.EGRESS: []}
    permissions: dict[Direction, list[dict[str, Any]]] = {
        Direction.INGRESS: [],
        Direction.EGRESS: [],
    }
    for rule in change.rules:
        if rule.rule_id:
            if rule.rule_id not in ids[rule.direction]:
                ids[rule.direction].append(rule.rule_id)
        else:
            permission = ip_permission(rule)
            if permission not in permissions[rule.direction]:
                permissions[rule.direction].append(permission)
    return RevertPlan(
        account=change.account,
        region=change.region,
        partition=change.partition,
        group_id=change.group_id,
        ingress_rule_ids=tuple(ids[Direction.INGRESS]),
        egress_rule_ids=tuple(ids[Direction.EGRESS]),
        ingress_permissions=tuple(permissions[Direction.INGRESS]),
        egress_permissions=tuple(permissions[Direction.EGRESS]),
    )


def ip_permission(rule: Rule) -> dict[str, Any]:
    """The EC2 `IpPermission` matching exactly this one rule (one protocol, ports, source)."""
    permission: dict[str, Any] = {"IpProtocol": rule.protocol}
    if rule.protocol != "-1" and rule.from_port is not None:
        permission["FromPort"] = rule.from_port
        permission["ToPort"] = rule.to_port if rule.to_port is not None else rule.from_port
    if rule.source_kind is SourceKind.CIDR_IPV4:
        permission["IpRanges"] = [{"CidrIp": rule.source}]
    elif rule.source_kind is SourceKind.CIDR_IPV6:
        permission["Ipv6Ranges"] = [{"CidrIpv6": rule.source}]
    elif rule.source_kind is SourceKind.PREFIX_LIST:
        permission["PrefixListIds"] = [{"PrefixListId": rule.source}]
    else:
        pair = {"GroupId": rule.source}
        if rule.source_account:
            pair["UserId"] = rule.source_account
        permission["UserIdGroupPairs"] = [pair]
    return permission


def _rules(count: int) -> str:
    return f"{count} rule" if count == 1 else f"{count} rules"


def success_outcome(plan: RevertPlan, tally: RevokeTally) -> str:
    """E.g. "2 rules revoked in 111122223333 / eu-west-1; 1 was already gone"."""
    if tally.revoked == 0:
        gone = "it was" if tally.already_gone == 1 else f"all {tally.already_gone} were"
        return f"nothing left to revoke in {plan.where}: {gone} already gone"
    text = f"{_rules(tally.revoked)} revoked in {plan.where}"
    if tally.already_gone:
        verb = "was" if tally.already_gone == 1 else "were"
        text += f"; {tally.already_gone} {verb} already gone"
    return text


def no_rules_failure(plan: RevertPlan) -> RevertFailed:
    return RevertFailed(
        f"the change recorded no rules, so there is nothing to revoke automatically: "
        f"check {plan.group_id} in {plan.where} by hand"
    )


def management_account_failure(plan: RevertPlan) -> RevertFailed:
    return RevertFailed(
        f"{plan.account} is the organization's management account, which has no spoke role: "
        f"revoke the rules by hand there ({manual_hint(plan)})"
    )


class AssumeRoleFailed(RevertFailed):
    """A hop of the role chain was refused; `role_arn` and `code` say which and how."""

    def __init__(self, role_arn: str, code: str, message: str) -> None:
        super().__init__(
            f"could not assume {role_arn} ({code}: {_clip(message)}): check that the role "
            "exists and trusts the hub role (or this function's role), then click Deny again "
            "to retry"
        )
        self.role_arn = role_arn
        self.code = code


def assume_role_failure(role_arn: str, code: str, message: str) -> AssumeRoleFailed:
    return AssumeRoleFailed(role_arn, code, message)


def ec2_failure(plan: RevertPlan, code: str, message: str, done: RevokeTally) -> RevertFailed:
    progress = f" after {_rules(done.revoked)} revoked" if done.revoked else ""
    return RevertFailed(
        f"EC2 refused the revoke in {plan.where}{progress} ({code}: {_clip(message)}): "
        "fix the cause, then click Deny again to retry",
        done,
    )


def manual_hint(plan: RevertPlan) -> str:
    """The CLI commands that undo the plan, for when it has to be done by hand."""
    commands = []
    for direction, ids in (("ingress", plan.ingress_rule_ids), ("egress", plan.egress_rule_ids)):
        if ids:
            commands.append(
                f"aws ec2 revoke-security-group-{direction} --region {plan.region} "
                f"--group-id {plan.group_id} --security-group-rule-ids {' '.join(ids)}"
            )
    if plan.ingress_permissions or plan.egress_permissions:
        commands.append(f"and the recorded rules without ids on {plan.group_id}")
    return "; ".join(commands) or f"see {plan.group_id}"


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _MAX_DETAIL else text[: _MAX_DETAIL - 1] + "…"
