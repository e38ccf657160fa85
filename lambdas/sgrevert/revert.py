"""What a Deny undoes, worked out as plain data before anything touches EC2.

`plan_revert` turns a recorded change into the exact undo for its kind, in the change's
account, region and partition:
- Authorize*: a `RevertPlan`, the rules to revoke: rule ids, ingress and egress apart,
  plus the recorded permissions for rules CloudTrail gave no id for;
- ModifySecurityGroupRules: a `RestorePlan`, one step per modified rule: the value the
  change set and the recorded earlier value to put back (None: not on record, so the
  rule is revoked);
- ModifyManagedPrefixList: a `PrefixListPlan`, the entries the change added (only those)
  to remove from the list.

The adapters apply a plan (revoke, restore, prefix_entries); the texts below say what
happened in words a reviewer can act on.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from sgrevert.context_text import PLAIN, actor_name
from sgrevert.decidable import narrows
from sgrevert.errors import SgrevertError
from sgrevert.model import (
    MODIFY_RULES_EVENT,
    PREFIX_LIST_EVENT,
    Change,
    ChangeRecord,
    Direction,
    Rule,
    SourceKind,
    State,
)

_MAX_DETAIL = 300  # AWS error messages can be long; Slack sections cap text at 3000
_PORTED = frozenset({"tcp", "udp"})
_ICMP = frozenset({"icmp", "icmpv6"})
# A newer change in these states can still be denied, which puts back what it replaced.
_DENIABLE = frozenset({State.PENDING, State.REVERT_FAILED})


@dataclass(frozen=True)
class RevertPlan:
    kind: ClassVar[str] = "revoke"

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
    def item_count(self) -> int:
        return self.rule_count

    @property
    def where(self) -> str:
        return f"{self.account} / {self.region}"

    def manual_hint(self) -> str:
        commands = []
        for direction, ids in (
            ("ingress", self.ingress_rule_ids),
            ("egress", self.egress_rule_ids),
        ):
            if ids:
                commands.append(
                    f"aws ec2 revoke-security-group-{direction} --region {self.region} "
                    f"--group-id {self.group_id} --security-group-rule-ids {' '.join(ids)}"
                )
        if self.ingress_permissions or self.egress_permissions:
            commands.append(f"and the recorded rules without ids on {self.group_id}")
        return "; ".join(commands) or f"see {self.group_id}"

    def lines(self) -> list[str]:
        lines = [f"would revoke {self.rule_count} rule(s) on {self.group_id} in {self.where}"]
        for direction, ids in (
            ("ingress", self.ingress_rule_ids),
            ("egress", self.egress_rule_ids),
        ):
            lines += [f"  {direction} rule {rule_id}" for rule_id in ids]
        for direction, permissions in (
            ("ingress", self.ingress_permissions),
            ("egress", self.egress_permissions),
        ):
            lines += [
                f"  {direction} permission {json.dumps(p, sort_keys=True)}" for p in permissions
            ]
        return lines

    def question(self) -> str:
        return f"Revoke {self.rule_count} rule(s) in {self.where}?"


@dataclass(frozen=True)
class RestoreStep:
    """One modified rule: put `before` back if the rule still holds `after`; with no
    `before` on record, revoke the rule."""

    rule_id: str
    after: Rule  # the value the change set (its direction a placeholder: CloudTrail omits it)
    before: Rule | None  # the recorded earlier value, or None: not on record


@dataclass(frozen=True)
class RestorePlan:
    kind: ClassVar[str] = "restore"

    account: str
    region: str
    partition: str
    group_id: str
    steps: tuple[RestoreStep, ...] = ()

    @property
    def item_count(self) -> int:
        return len(self.steps)

    @property
    def where(self) -> str:
        return f"{self.account} / {self.region}"

    def manual_hint(self) -> str:
        commands = []
        restores = [
            {"SecurityGroupRuleId": s.rule_id, "SecurityGroupRule": rule_request(s.before)}
            for s in self.steps
            if s.before is not None
        ]
        if restores:
            commands.append(
                f"aws ec2 modify-security-group-rules --region {self.region} "
                f"--group-id {self.group_id} --security-group-rules "
                f"'{json.dumps(restores, separators=(',', ':'))}'"
            )
        unknown = [s.rule_id for s in self.steps if s.before is None]
        if unknown:
            commands.append(
                f"aws ec2 revoke-security-group-ingress (or -egress, as the rule is) "
                f"--region {self.region} --group-id {self.group_id} "
                f"--security-group-rule-ids {' '.join(unknown)}"
            )
        return "; ".join(commands) or f"see {self.group_id}"

    def lines(self) -> list[str]:
        lines = [f"would {self._steps_words()} on {self.group_id} in {self.where}"]
        for step in self.steps:
            if step.before is None:
                lines.append(
                    f"  revoke {step.rule_id} ({access_text(step.after)}): "
                    "previous value not on record"
                )
            else:
                lines.append(
                    f"  restore {step.rule_id} to {access_text(step.before)} "
                    f"(now {access_text(step.after, step.before.direction)})"
                )
        return lines

    def question(self) -> str:
        words = self._steps_words()
        return f"{words[:1].upper()}{words[1:]} on {self.group_id} in {self.where}?"

    def _steps_words(self) -> str:
        """ "restore 1 rule(s) to their recorded earlier value and revoke 1 rule(s) whose
        previous value is unknown"."""
        restores = sum(1 for s in self.steps if s.before is not None)
        revokes = len(self.steps) - restores
        parts = []
        if restores or not revokes:
            parts.append(f"restore {restores} rule(s) to their recorded earlier value")
        if revokes:
            parts.append(f"revoke {revokes} rule(s) whose previous value is unknown")
        return " and ".join(parts)


@dataclass(frozen=True)
class PrefixListPlan:
    kind: ClassVar[str] = "prefix_list"

    account: str
    region: str
    partition: str
    list_id: str
    name: str | None = None
    cidrs: tuple[str, ...] = ()  # the entries the change added, and only those

    @property
    def item_count(self) -> int:
        return len(self.cidrs)

    @property
    def where(self) -> str:
        return f"{self.account} / {self.region}"

    @property
    def label(self) -> str:
        """ "pl-0abc (corp-offices)", or the id alone."""
        return f"{self.list_id} ({self.name})" if self.name else self.list_id

    def manual_hint(self) -> str:
        if not self.cidrs:
            return f"see {self.list_id}"
        entries = " ".join(f"Cidr={cidr}" for cidr in self.cidrs)
        return (
            f"aws ec2 modify-managed-prefix-list --region {self.region} "
            f"--prefix-list-id {self.list_id} --current-version <its version> "
            f"--remove-entries {entries}"
        )

    def lines(self) -> list[str]:
        lines = [f"would remove {_entries(len(self.cidrs))} from {self.label} in {self.where}"]
        lines += [f"  entry {cidr}" for cidr in self.cidrs]
        return lines

    def question(self) -> str:
        return f"Remove {_entries(len(self.cidrs))} from {self.label} in {self.where}?"


# Every plan has `kind`, `account`, `region`, `partition`, `where`, `item_count` (rules or
# entries to undo; 0: nothing to do automatically), `manual_hint()` (the AWS CLI commands
# that undo it by hand), `lines()` (the plan in words) and `question()` (what an operator
# confirms), so the reverter, the responder and the CLI treat them alike.
Plan = RevertPlan | RestorePlan | PrefixListPlan


@dataclass(frozen=True)
class RevokeTally:
    """What applying a plan did: rules revoked (a prefix list's entries removed), rules
    restored to their earlier value, and what needed nothing: already gone, already back
    at its earlier value (a retried Deny), or left alone because it changed again since."""

    revoked: int = 0
    already_gone: int = 0
    restored: int = 0
    already_restored: int = 0
    left_alone: tuple[str, ...] = ()  # rule ids that hold neither value: not touched

    def __add__(self, other: RevokeTally) -> RevokeTally:
        return RevokeTally(
            self.revoked + other.revoked,
            self.already_gone + other.already_gone,
            self.restored + other.restored,
            self.already_restored + other.already_restored,
            self.left_alone + other.left_alone,
        )


class RevertFailed(SgrevertError):
    """The revert could not be done; `reason` says why and what to do about it."""

    def __init__(self, reason: str, done: RevokeTally | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.done = done or RevokeTally()


# -- planning --------------------------------------------------------------------------------


def plan_revert(change: Change) -> Plan:
    """The exact undo for a change, by its kind."""
    if change.event_name == MODIFY_RULES_EVENT:
        return plan_restore(change)
    if change.event_name == PREFIX_LIST_EVENT:
        return plan_entry_removal(change)
    return plan_revoke(change)


def plan_revoke(change: Change) -> RevertPlan:
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


def plan_restore(change: Change) -> RestorePlan:
    """One step per modified rule with an id (a rule without one cannot be addressed),
    except rules the change narrowed: restoring those would add access back."""
    steps: dict[str, RestoreStep] = {}
    for index, rule in enumerate(change.rules):
        if rule.rule_id and rule.rule_id not in steps and not narrows(change, index):
            prior = change.prior_of(rule)
            steps[rule.rule_id] = RestoreStep(rule.rule_id, rule, prior.rule if prior else None)
    return RestorePlan(
        account=change.account,
        region=change.region,
        partition=change.partition,
        group_id=change.group_id,
        steps=tuple(steps.values()),
    )


def plan_entry_removal(change: Change) -> PrefixListPlan:
    """The CIDRs the change added to its list, each once (compared as networks)."""
    edit = change.prefix_list
    cidrs: dict[str, str] = {}
    for entry in edit.added if edit else ():
        cidrs.setdefault(canonical_cidr(entry.cidr), entry.cidr)
    return PrefixListPlan(
        account=change.account,
        region=change.region,
        partition=change.partition,
        list_id=edit.list_id if edit else change.group_id,
        name=edit.name if edit else None,
        cidrs=tuple(cidrs.values()),
    )


def canonical_cidr(cidr: str) -> str:
    """A CIDR as a network (`10.0.0.1/8` and `10.0.0.0/8` are one entry), else as given."""
    try:
        return str(ipaddress.ip_network(cidr.strip(), strict=False))
    except ValueError:
        return cidr.strip()


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


def rule_request(rule: Rule) -> dict[str, Any]:
    """The EC2 `SecurityGroupRuleRequest` that sets a rule to exactly `rule`: protocol,
    ports (-1/-1 where the protocol has none), its one source and its description (left
    out when it has none, which ModifySecurityGroupRules takes as none)."""
    protocol = rule.protocol
    if protocol in _PORTED:
        low = rule.from_port if rule.from_port is not None else 0
        high = (
            rule.to_port if rule.to_port is not None else (65535 if rule.from_port is None else low)
        )
    elif protocol in _ICMP:
        low = rule.from_port if rule.from_port is not None else -1
        high = rule.to_port if rule.to_port is not None else -1
    else:
        low = high = -1
    request: dict[str, Any] = {"IpProtocol": protocol, "FromPort": low, "ToPort": high}
    source_key = {
        SourceKind.CIDR_IPV4: "CidrIpv4",
        SourceKind.CIDR_IPV6: "CidrIpv6",
        SourceKind.PREFIX_LIST: "PrefixListId",
        SourceKind.GROUP: "ReferencedGroupId",
    }[rule.source_kind]
    request[source_key] = rule.source
    if rule.description:
        request["Description"] = rule.description
    return request


def access_text(rule: Rule, direction: Direction | None = None) -> str:
    """ "tcp 22 from 10.0.0.0/8", "all traffic to prefix list pl-0abc" (egress)."""
    if rule.protocol == "-1":
        traffic = "all traffic"
    elif rule.protocol in _PORTED or rule.protocol in _ICMP:
        traffic = f"{rule.protocol} {rule.ports}"
    else:
        traffic = f"protocol {rule.protocol}"
    way = "to" if (direction or rule.direction) is Direction.EGRESS else "from"
    source = {
        SourceKind.PREFIX_LIST: f"prefix list {rule.source}",
        SourceKind.GROUP: f"group {rule.source}",
    }.get(rule.source_kind, rule.source)
    return f"{traffic} {way} {source}"


# -- outcomes --------------------------------------------------------------------------------


def _rules(count: int) -> str:
    return f"{count} rule" if count == 1 else f"{count} rules"


def _entries(count: int) -> str:
    return f"{count} entry" if count == 1 else f"{count} entries"


def success_outcome(plan: Plan, tally: RevokeTally) -> str:
    """What the plan did, e.g. "2 rules revoked in 111122223333 / eu-west-1; 1 was
    already gone"."""
    if isinstance(plan, RestorePlan):
        return _restore_outcome(plan, tally)
    if isinstance(plan, PrefixListPlan):
        return _prefix_list_outcome(plan, tally)
    if tally.revoked == 0:
        gone = "it was" if tally.already_gone == 1 else f"all {tally.already_gone} were"
        return f"nothing left to revoke in {plan.where}: {gone} already gone"
    text = f"{_rules(tally.revoked)} revoked in {plan.where}"
    if tally.already_gone:
        verb = "was" if tally.already_gone == 1 else "were"
        text += f"; {tally.already_gone} {verb} already gone"
    return text


def _restore_done(tally: RevokeTally) -> str | None:
    """ "1 rule restored to its earlier value and 1 revoked (previous value unknown)"."""
    parts = []
    if tally.restored:
        value = "its earlier value" if tally.restored == 1 else "their earlier values"
        parts.append(f"{_rules(tally.restored)} restored to {value}")
    if tally.revoked:
        count = str(tally.revoked) if parts else _rules(tally.revoked)
        parts.append(f"{count} revoked (previous value unknown)")
    return " and ".join(parts) or None


def _restore_needless(tally: RevokeTally, alone: bool) -> list[str]:
    """The steps that needed nothing: "1 was already gone", "all 2 were already gone"."""
    parts = []
    if tally.already_gone:
        count = tally.already_gone
        if alone and not tally.already_restored:
            parts.append("it was already gone" if count == 1 else f"all {count} were already gone")
        else:
            parts.append(f"{count} {'was' if count == 1 else 'were'} already gone")
    if tally.already_restored:
        count = tally.already_restored
        parts.append(f"{count} already held {'its' if count == 1 else 'their'} earlier value")
    return parts


def _restore_outcome(plan: RestorePlan, tally: RevokeTally) -> str:
    done = _restore_done(tally)
    if done is None:
        needless = " and ".join(_restore_needless(tally, alone=True)) or "no rule to act on"
        return f"nothing left to restore in {plan.where}: {needless}"
    return "; ".join([f"{done} in {plan.where}", *_restore_needless(tally, alone=False)])


def _prefix_list_outcome(plan: PrefixListPlan, tally: RevokeTally) -> str:
    """E.g. "2 entries removed from pl-0abc (corp-offices) in 111122223333 / eu-west-1"."""
    if tally.revoked == 0:
        gone = "it was" if tally.already_gone == 1 else f"all {tally.already_gone} were"
        return f"nothing left to remove from {plan.label} in {plan.where}: {gone} already gone"
    text = f"{_entries(tally.revoked)} removed from {plan.label} in {plan.where}"
    if tally.already_gone:
        verb = "was" if tally.already_gone == 1 else "were"
        text += f"; {tally.already_gone} {verb} already gone"
    return text


def changed_again_outcome(
    plan: RestorePlan,
    tally: RevokeTally,
    newer: Mapping[str, ChangeRecord | None] | None,
    event_time: datetime,
) -> str:
    """Why the revert is not done: rules that changed again since the denied change (at
    `event_time`) were left untouched (`tally.left_alone`). `newer` names, per rule id,
    the recorded change that did it (None: not on record); `newer` None: the history
    could not be read. What the other steps did comes first, then what to do: deny the
    newer change first when it can still be denied, else check the rule by hand."""
    done = _restore_done(tally)
    lead = f"{done} in {plan.where}" if done else f"nothing restored in {plan.where}"
    reasons = []
    deniable = by_hand = 0
    for rule_id in tally.left_alone:
        record = newer.get(rule_id) if newer is not None else None
        if newer is None:
            reasons.append(f"{rule_id} was changed again since (the history could not be read)")
        elif record is None:
            reasons.append(f"{rule_id} was changed again since by a change not on record")
        else:
            words = _newer_words(record, event_time)
            reasons.append(f"{rule_id} was changed again since by {words}")
        if record is not None and record.state in _DENIABLE:
            deniable += 1
        else:
            by_hand += 1
    if by_hand == 0:
        first = "deny that change first" if deniable == 1 else "deny those changes first"
        advice = f"{first}, then Deny here to retry"
    elif deniable == 0:
        advice = f"check {'it' if by_hand == 1 else 'them'} by hand"
    else:
        advice = "deny the pending changes first and check the others by hand, then Deny here"
    parts = [lead, *_restore_needless(tally, alone=False), "; ".join(reasons)]
    return f"{'; '.join(parts)}: left untouched; {advice}"


def _newer_words(record: ChangeRecord, since: datetime) -> str:
    """ "<event id> (alice@example.com, 10:41 UTC)", the date too when another day."""
    at = record.change.event_time
    when = f"{at:%H:%M} UTC" if at.date() == since.date() else f"{at:%Y-%m-%d %H:%M} UTC"
    return f"{record.event_id} ({actor_name(record.change, record.context, PLAIN)}, {when})"


# -- refusals --------------------------------------------------------------------------------


def no_rules_failure(plan: Plan) -> RevertFailed:
    if isinstance(plan, RestorePlan):
        return RevertFailed(
            "the modification recorded no rule ids, so there is nothing to restore "
            f"automatically: check {plan.group_id} in {plan.where} by hand"
        )
    if isinstance(plan, PrefixListPlan):
        return RevertFailed(
            f"the change added no entries to {plan.label}, so there is nothing to remove "
            f"automatically: check it in {plan.where} by hand"
        )
    return RevertFailed(
        f"the change recorded no rules, so there is nothing to revoke automatically: "
        f"check {plan.group_id} in {plan.where} by hand"
    )


def management_account_failure(plan: Plan) -> RevertFailed:
    undo = {
        RestorePlan.kind: "restore the rules",
        PrefixListPlan.kind: "remove the entries",
    }.get(plan.kind, "revoke the rules")
    return RevertFailed(
        f"{plan.account} is the organization's management account, which has no spoke role: "
        f"{undo} by hand there ({plan.manual_hint()})"
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


def restore_failure(
    plan: RestorePlan, what: str, code: str, message: str, done: RevokeTally
) -> RevertFailed:
    """EC2 refused `what` (one step, or the read before them); the steps done before it
    hold, and a retried Deny finds them done."""
    finished = _restore_done(done)
    progress = f" after {finished}" if finished else ""
    return RevertFailed(
        f"EC2 refused {what} in {plan.where}{progress} ({code}: {_clip(message)}): "
        "fix the cause, then click Deny again to retry",
        done,
    )


def prefix_list_failure(plan: PrefixListPlan, code: str, message: str) -> RevertFailed:
    return RevertFailed(
        f"EC2 refused to remove {_entries(len(plan.cidrs))} from {plan.label} in "
        f"{plan.where} ({code}: {_clip(message)}): nothing was removed; fix the cause, "
        "then click Deny again to retry"
    )


def prefix_list_busy_failure(plan: PrefixListPlan, attempts: int, code: str) -> RevertFailed:
    return RevertFailed(
        f"{plan.label} in {plan.where} kept changing while its entries were being removed "
        f"({code} on all {attempts} attempts): nothing was removed; click Deny again to retry"
    )


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _MAX_DETAIL else text[: _MAX_DETAIL - 1] + "…"
