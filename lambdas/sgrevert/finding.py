"""A posted change as an AWS Security Finding Format (ASFF) finding, and what its decision
makes of the finding's workflow. Pure: no AWS.

The finding is the security account's own (the default product of a custom integration,
`arn:<partition>:securityhub:<region>:<account>:product/<account>/default`, whose
`AwsAccountId` must be the importing account); the member account and region the change
happened in are on its resource, an `AwsEc2SecurityGroup` (a prefix-list edit's is `Other`).

Idempotent by construction: the id is derived from the CloudTrail event id, and every
timestamp from the event time, so importing a change again sends the same finding with an
`UpdatedAt` that is not later, which Security Hub ignores.

Workflow and notes are the customer's fields (`BatchUpdateFindings`); an import never sets
them. A decision maps to one: Approve (for good, or for a while) `SUPPRESSED`, a revert
that finished `RESOLVED` (a Deny, a policy's, an expiry's), a revert that failed back to
`NEW` (the rules may still be there); each with a note naming the decider.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sgrevert.model import (
    EXPIRY_PREFIX,
    PREFIX_LIST_EVENT,
    ChangeRecord,
    Direction,
    Rule,
    SourceKind,
    State,
    iso,
)
from sgrevert.risk import Risk

SCHEMA_VERSION = "2018-10-08"
PRODUCT_NAME = "sgrevert"
GENERATOR_ID = "sgrevert/security-group-change"
FINDING_TYPE = "Software and Configuration Checks/AWS Security Best Practices/Network Reachability"
ID_PREFIX = "sgrevert/change/"
FIELD_PREFIX = "sgrevert/"
NOTE_BY = "sgrevert"
SECURITY_GROUP = "AwsEc2SecurityGroup"
OTHER = "Other"
# ASFF limits
MAX_TITLE = 256
MAX_DESCRIPTION = 1024
MAX_FIELD_VALUE = 2048
MAX_NOTE = 512

SEVERITY = {
    Risk.CRITICAL: "CRITICAL",
    Risk.HIGH: "HIGH",
    Risk.MEDIUM: "MEDIUM",
    Risk.LOW: "LOW",
}
UNRATED_SEVERITY = "INFORMATIONAL"

NEW = "NEW"
SUPPRESSED = "SUPPRESSED"
RESOLVED = "RESOLVED"


@dataclass(frozen=True)
class Hub:
    """The Security Hub findings go to: the security account's, in its region."""

    account: str
    region: str
    partition: str = "aws"

    @property
    def product_arn(self) -> str:
        """The default product of a custom integration in this account."""
        return (
            f"arn:{self.partition}:securityhub:{self.region}:{self.account}:"
            f"product/{self.account}/default"
        )


@dataclass(frozen=True)
class WorkflowUpdate:
    """What `BatchUpdateFindings` sets on a finding after a decision."""

    status: str  # NEW, SUPPRESSED, RESOLVED
    note: str  # names the decider; at most MAX_NOTE characters


def finding_id(event_id: str) -> str:
    return ID_PREFIX + event_id


def risk_of(record: ChangeRecord) -> Risk | None:
    try:
        return Risk.parse(record.risk) if record.risk else None
    except ValueError:
        return None


def rated_at_or_above(record: ChangeRecord, threshold: Risk) -> bool:
    risk = risk_of(record)
    return risk is not None and risk >= threshold


def eligible(record: ChangeRecord, at_or_above: Risk) -> bool:
    """Whether the change has a finding: rated at or above the threshold, and posted (or
    denied by the policy, which posts it in the same run: its revert may finish first)."""
    if not rated_at_or_above(record, at_or_above):
        return False
    return record.posted or (record.decided_by or "").startswith("policy:")


def severity(record: ChangeRecord) -> dict[str, str]:
    risk = risk_of(record)
    label = SEVERITY[risk] if risk is not None else UNRATED_SEVERITY
    return {"Label": label, "Original": record.risk or "unrated"}


def finding(record: ChangeRecord, hub: Hub) -> dict[str, Any]:
    """The ASFF finding of a change, as `BatchImportFindings` takes it."""
    change = record.change
    when = iso(change.event_time)
    rules = rules_text(record)
    return {
        "SchemaVersion": SCHEMA_VERSION,
        "Id": finding_id(change.event_id),
        "ProductArn": hub.product_arn,
        "ProductName": PRODUCT_NAME,
        "GeneratorId": GENERATOR_ID,
        "AwsAccountId": hub.account,
        "Types": [FINDING_TYPE],
        "FirstObservedAt": when,
        "LastObservedAt": when,
        "CreatedAt": when,
        "UpdatedAt": when,
        "Severity": severity(record),
        "FindingProviderFields": {"Severity": severity(record), "Types": [FINDING_TYPE]},
        "Title": _clip(_title(record), MAX_TITLE),
        "Description": _clip(_description(record, rules), MAX_DESCRIPTION),
        "ProductFields": _product_fields(record, rules),
        "Resources": [_resource(record)],
        "RecordState": "ACTIVE",
    }


def workflow(record: ChangeRecord) -> WorkflowUpdate | None:
    """The workflow a decision calls for; None while there is none to record (undecided,
    or a revert under way)."""
    who = decider_words(record.decided_by)
    at = f" at {iso(record.decided_at)}" if record.decided_at else ""
    if record.state is State.APPROVED:
        if record.approvers and len(record.approvers) > 1:
            who = " and ".join(decider_words(user) for user in record.approvers)
        if record.approved_until is not None:
            text = (
                f"Approved for a while by {who}{at}, until {iso(record.approved_until)}: "
                "reverted then unless extended or kept."
            )
        else:
            text = f"Approved by {who}{at}: the change stays."
        return WorkflowUpdate(SUPPRESSED, _clip(text, MAX_NOTE))
    outcome = f": {record.outcome}" if record.outcome else ""
    if record.state is State.REVERTED:
        if (record.decided_by or "").startswith(EXPIRY_PREFIX):
            text = f"Reverted: the approval for a while by {who} expired{at}{outcome}."
        else:
            text = f"Reverted: denied by {who}{at}{outcome}."
        return WorkflowUpdate(RESOLVED, _clip(text, MAX_NOTE))
    if record.state is State.REVERT_FAILED:
        text = (
            f"Revert failed after the deny by {who}{at}{outcome}. The rules may still be in "
            "place: Deny again in Slack to retry."
        )
        return WorkflowUpdate(NEW, _clip(text, MAX_NOTE))
    return None


def decider_words(decided_by: str | None) -> str:
    """Who decided, in plain words (a Slack user by id)."""
    if not decided_by:
        return "an unknown decider"
    if decided_by.startswith("cli:"):
        return f"{decided_by.removeprefix('cli:')} (sgrevert CLI)"
    if decided_by.startswith("policy:"):
        return f"the policy ({decided_by.removeprefix('policy:')})"
    if decided_by.startswith(EXPIRY_PREFIX):
        return f"Slack user {decided_by.removeprefix(EXPIRY_PREFIX)}"
    return f"Slack user {decided_by}"


def rules_text(record: ChangeRecord) -> str:
    """The change's rules (or prefix-list entries), one per `; `."""
    change = record.change
    if change.prefix_list is not None:
        added = [f"added {e.cidr}" for e in change.prefix_list.added]
        removed = [f"removed {e.cidr}" for e in change.prefix_list.removed]
        return "; ".join(added + removed) or "no entries"
    return "; ".join(_rule_text(rule) for rule in change.rules) or "no rules"


def _rule_text(rule: Rule) -> str:
    if rule.protocol == "-1":
        traffic = "all traffic"
    elif rule.protocol in ("tcp", "udp", "icmp", "icmpv6"):
        traffic = f"{rule.protocol} {rule.ports}"
    else:
        traffic = f"protocol {rule.protocol}"
    inbound = rule.direction is Direction.INGRESS
    source = rule.source
    if rule.source_kind is SourceKind.GROUP and rule.source_account:
        source = f"{rule.source_account}/{rule.source}"
    text = f"{'ingress' if inbound else 'egress'} {traffic} {'from' if inbound else 'to'} {source}"
    return f"{text} ({rule.rule_id})" if rule.rule_id else text


def _title(record: ChangeRecord) -> str:
    change = record.change
    name = f" ({change.group_name})" if change.group_name else ""
    return f"{change.event_name} on {change.group_id}{name} in {change.account} {change.region}"


def _description(record: ChangeRecord, rules: str) -> str:
    change = record.change
    risk = record.risk or "unrated"
    return (
        f"{change.actor.arn} changed {change.group_id} in account {change.account}, "
        f"{change.region}, at {iso(change.event_time)} ({risk} risk): {rules}. "
        "Reviewed in Slack with sgrevert: Deny reverts it."
    )


def _product_fields(record: ChangeRecord, rules: str) -> dict[str, str]:
    change = record.change
    fields = {
        "EventId": change.event_id,
        "EventName": change.event_name,
        "Actor": change.actor.arn,
        "ActorType": change.actor.type,
        "Account": change.account,
        "Region": change.region,
        "Risk": record.risk or "unrated",
        "Rules": rules,
    }
    return {FIELD_PREFIX + key: _clip(value, MAX_FIELD_VALUE) for key, value in fields.items()}


def _resource(record: ChangeRecord) -> dict[str, Any]:
    change = record.change
    place = f"arn:{change.partition}:ec2:{change.region}:{change.account}"
    if change.event_name == PREFIX_LIST_EVENT:
        return {
            "Type": OTHER,
            "Id": f"{place}:prefix-list/{change.group_id}",
            "Partition": change.partition,
            "Region": change.region,
            "Details": {"Other": {"PrefixListId": change.group_id, "OwnerId": change.account}},
        }
    details = {"GroupId": change.group_id, "OwnerId": change.account}
    if change.group_name:
        details["GroupName"] = change.group_name
    if change.vpc_id:
        details["VpcId"] = change.vpc_id
    return {
        "Type": SECURITY_GROUP,
        "Id": f"{place}:security-group/{change.group_id}",
        "Partition": change.partition,
        "Region": change.region,
        "Details": {"AwsEc2SecurityGroup": details},
    }


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
