"""The context of a change in words: short lines for the Slack message and the CLI.

Pure. Every function takes the `Change` and its `ChangeContext` and returns a line, or
None when there is nothing to say (or nothing was read). `Words` decides the markup:
`MRKDWN` escapes every string that came from AWS or CloudTrail and puts ids in code
spans; `PLAIN` is the same words for a terminal.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from sgrevert.actor_identity import email_of, via
from sgrevert.context import Attachment, AttachmentKind, ChangeContext, ListReference, Via
from sgrevert.decidable import narrows
from sgrevert.model import (
    MODIFY_RULES_EVENT,
    PREFIX_LIST_EVENT,
    REVERTIBLE_EVENTS,
    Change,
    Direction,
    PrefixListEntry,
    Rule,
    SourceKind,
)
from sgrevert.rule_cover import covering_rule, first_open_to_internet, others

SLACK_USER = re.compile(r"^[UW][A-Z0-9]{2,}$")
REACHABLE = "reachable from the internet"
UNATTACHED = "attached to nothing"
MAX_NAME = 64  # a name or id in a list: enough to recognise it
MAX_REASON = 300
NOT_ON_RECORD = "previous value not on record"
NARROWS = "narrows: lets in no more than before"
NO_REFERENCES = "no security group references this list"
MAX_REFERENCE_RULES = 8  # a referencing group's rules named on its line
WORST_CASE = "rated as if the added entries reached all traffic"

_KIND_WORDS: dict[AttachmentKind, tuple[str, str]] = {
    AttachmentKind.INSTANCE: ("EC2 instance", "EC2 instances"),
    AttachmentKind.LOAD_BALANCER: ("load balancer", "load balancers"),
    AttachmentKind.RDS: ("RDS network interface", "RDS network interfaces"),
    AttachmentKind.LAMBDA: ("Lambda function", "Lambda functions"),
    AttachmentKind.EKS: ("EKS cluster", "EKS clusters"),
    AttachmentKind.VPC_ENDPOINT: ("VPC endpoint", "VPC endpoints"),
    AttachmentKind.NAT_GATEWAY: ("NAT gateway", "NAT gateways"),
    AttachmentKind.OTHER: ("other network interface", "other network interfaces"),
}
_VIA_WORDS = {
    Via.CONSOLE: "via the console",
    Via.CLI: "via the CLI or an SDK",
    Via.CLOUDFORMATION: "via CloudFormation",
    Via.TERRAFORM: "via Terraform",
    Via.CDK: "via the CDK",
    Via.AWS_SERVICE: "via an AWS service",
}
# Calls made by hand: on a group that code manages, they are drift rather than the code.
_BY_HAND = frozenset({Via.CONSOLE, Via.CLI})
# The parts the spoke role reads: when all fail alike, the account could not be read.
_SPOKE_PARTS = frozenset({"group", "rules", "attachments"})
# Reasons that name what is missing themselves ("context unavailable for 1111…: …",
# "no account name: …"), shown as they are.
_SELF_EXPLAINED = ("context unavailable", "no ")
_PART_WORDS = {
    "account": "account name",
    "group": "group details",
    "rules": "the group's rules",
    "attachments": "attachments",
    "actor": "the actor's Slack user",
    "list": "the list's details",
    "references": "the rules that reference the list",
    "reference names": "the names of the groups that reference the list",
}


# -- markup ----------------------------------------------------------------------------------


def escape(text: str) -> str:
    """Escape the three characters Slack treats as control sequences in mrkdwn."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True)
class Words:
    mrkdwn: bool

    def text(self, value: str, limit: int) -> str:
        """A string from AWS, shortened first so escaping never cuts an entity."""
        return escape(clip(value, limit)) if self.mrkdwn else clip(value, limit)

    def code(self, value: str, limit: int) -> str:
        if not self.mrkdwn:
            return clip(value, limit)
        # A backtick inside would end the code span early.
        inner = self.text(value.replace("`", "'"), limit)
        return f"`{inner}`"

    def bold(self, fixed: str) -> str:
        """Our own words (never a string from AWS) in bold."""
        return f"*{fixed}*" if self.mrkdwn else fixed


MRKDWN = Words(mrkdwn=True)
PLAIN = Words(mrkdwn=False)


# -- account, exposure -------------------------------------------------------------------------


def account_label(change: Change, context: ChangeContext | None, words: Words = MRKDWN) -> str:
    """ "prod-payments (111122223333)", or the id alone when the name is unknown."""
    account = words.code(change.account, 32)
    if context is None or not context.account_name:
        return account
    return f"{words.text(context.account_name, 64)} ({account})"


def exposure_tag(context: ChangeContext | None) -> str | None:
    """What to say beside the risk: the group reaches the internet, or nothing at all."""
    attachments = context.attachments if context else None
    if attachments is None:
        return None
    if attachments.reachable_from_internet:
        return REACHABLE
    if attachments.total == 0:
        return UNATTACHED
    return None


def risk_tag(risk: str | None, context: ChangeContext | None) -> str | None:
    """ "critical · reachable from the internet", "critical", or None."""
    parts = [part for part in (risk, exposure_tag(context)) if part]
    return " · ".join(parts) or None


def exposure_word(context: ChangeContext | None) -> str:
    """A table cell: "internet (N)", unattached, private, or - (nothing read)."""
    attachments = context.attachments if context else None
    if attachments is None:
        return "-"
    if attachments.reachable_from_internet:
        return f"internet ({attachments.public_count})"
    return "unattached" if attachments.total == 0 else "private"


# -- the context section -----------------------------------------------------------------------


def context_lines(change: Change, context: ChangeContext, words: Words = MRKDWN) -> list[str]:
    """The lines of the message's context section, in reading order."""
    lines = [
        group_line(change, context, words),
        iac_warning(change, context, words),
        attachments_line(change, context, words),
        exposure_line(context, words),
        actor_line(change, context, words),
    ]
    return [line for line in lines if line]


def group_line(change: Change, context: ChangeContext, words: Words = MRKDWN) -> str | None:
    """ "Group web-prod-sg: Web tier · VPC vpc-0abc · Owner team-payments"."""
    group = context.group
    if group is None:
        return None
    if change.event_name == PREFIX_LIST_EVENT:
        return _list_line(change, context, words)
    name = group.name or change.group_name
    named = words.text(name, 100) if name else words.code(change.group_id, 64)
    parts = [f"{words.bold('Group')} {named}"]
    if group.description:
        parts[0] += f": {words.text(group.description, 200)}"
    vpc = group.vpc_id or change.vpc_id
    if vpc:
        parts.append(f"VPC {words.code(vpc, 64)}")
    parts += [f"{words.text(k, 64)} {words.text(v, 100)}" for k, v in group.owner_tags.items()]
    return " · ".join(parts)


def _list_line(change: Change, context: ChangeContext, words: Words) -> str | None:
    """ "List corp-ranges · Team network": the list's owner tags (the summary names it)."""
    group = context.group
    if group is None or not group.owner_tags:
        return None
    name = group.name or (change.prefix_list.name if change.prefix_list else None)
    named = words.text(name, 100) if name else words.code(change.group_id, 64)
    tags = [f"{words.text(k, 64)} {words.text(v, 100)}" for k, v in group.owner_tags.items()]
    return " · ".join([f"{words.bold('List')} {named}", *tags])


def iac_warning(change: Change, context: ChangeContext, words: Words = MRKDWN) -> str | None:
    """That code owns the group, so a revert alone does not last."""
    manager = context.group.managed_by if context.group else None
    if not manager:
        return None
    head = f"managed by {words.text(manager, 160)}"
    if words.mrkdwn:
        head = f":warning: {head}"
    if _via(change, context) in _BY_HAND:
        return f"{head}: this change was made outside it, so the next deploy may undo it"
    return f"{head}: a revert will come back with the next deploy; fix it in code"


def attachments_line(change: Change, context: ChangeContext, words: Words = MRKDWN) -> str | None:
    """ "attached to 2 EC2 instances (web-1, web-2), 1 load balancer (web-prod)"."""
    attachments = context.attachments
    if attachments is None:
        return None
    if attachments.total == 0:
        subject = "the rule has" if len(change.rules) == 1 else "the rules have"
        return f"{UNATTACHED}: {subject} no effect until the group is used"
    kinds = []
    for kind, count in attachments.counts.items():
        singular, plural = _KIND_WORDS[kind]
        examples = [a for a in attachments.examples if a.kind is kind]
        names = ", ".join(_short(words, a) for a in examples)
        if count > len(examples) and examples:
            names += f" and {count - len(examples)} more"
        kinds.append(
            f"{count} {singular if count == 1 else plural}" + (f" ({names})" if names else "")
        )
    return f"attached to {', '.join(kinds)}"


def exposure_line(context: ChangeContext, words: Words = MRKDWN) -> str | None:
    """ "reachable from the internet: i-0abc (web-1) 54.x.x.x and 2 more"."""
    attachments = context.attachments
    if attachments is None or not attachments.reachable_from_internet:
        return None
    shown = ", ".join(_public(words, a) for a in attachments.public)
    more = attachments.public_count - len(attachments.public)
    tail = f" and {more} more" if more > 0 and shown else ""
    head = f":globe_with_meridians: *{REACHABLE}*" if words.mrkdwn else REACHABLE
    return f"{head}: {shown}{tail}" if shown else head


def actor_line(change: Change, context: ChangeContext, words: Words = MRKDWN) -> str:
    """ "by <@U123> via the console", "by alice@example.com via Terraform"."""
    how = _VIA_WORDS.get(_via(change, context))
    if how == _VIA_WORDS[Via.AWS_SERVICE] and change.actor.invoked_by:
        how = f"via {words.code(change.actor.invoked_by, 100)}"
    return f"by {actor_name(change, context, words)}" + (f" {how}" if how else "")


def actor_name(change: Change, context: ChangeContext | None, words: Words = MRKDWN) -> str:
    """The actor as a reviewer knows them: a Slack mention, an email, or the ARN's name."""
    actor = context.actor if context else None
    slack_user = actor.slack_user if actor else None
    if words.mrkdwn and slack_user and SLACK_USER.match(slack_user):
        return f"<@{slack_user}>"
    email = (actor.email if actor else None) or email_of(change.actor)
    if email:
        return words.text(email, 120)
    return words.code(_arn_name(change.actor.arn), 120)


# -- rules -----------------------------------------------------------------------------------


def rule_notes(
    change: Change, context: ChangeContext | None, words: Words = MRKDWN
) -> tuple[str | None, ...]:
    """A note for each of the change's rules (aligned with `change.rules`): an added rule
    an existing one already allows, or the group's first rule open to the internet."""
    notes: list[str | None] = [None] * len(change.rules)
    if change.event_name == MODIFY_RULES_EVENT:
        return tuple(NARROWS if narrows(change, i) else None for i in range(len(change.rules)))
    if context is None or context.rules is None or change.event_name not in REVERTIBLE_EVENTS:
        return tuple(notes)  # only additions: a removal has nothing a new rule could repeat
    existing = others(change, context.rules)
    opened = False
    for index, rule in enumerate(change.rules):
        cover = covering_rule(rule, existing)
        if cover is not None:
            by = words.code(cover.rule_id, 64) if cover.rule_id else "an existing rule"
            notes[index] = f"already allowed by {by} ({rule_words(cover, words)}): changes little"
        elif not opened and first_open_to_internet(rule, existing):
            notes[index] = "the group's first rule open to the internet"
            opened = True  # the others it adds with it are not "first"
    return tuple(notes)


def rule_words(rule: Rule, words: Words = MRKDWN) -> str:
    """ "`tcp 0-65535` from `0.0.0.0/0`"."""
    toward = "from" if rule.direction is Direction.INGRESS else "to"
    kind = {SourceKind.PREFIX_LIST: "prefix list ", SourceKind.GROUP: "group "}.get(
        rule.source_kind, ""
    )
    return f"{traffic_words(rule, words)} {toward} {kind}{words.code(rule.source, 80)}"


def traffic_words(rule: Rule, words: Words = MRKDWN) -> str:
    """ "`tcp 22`", "`all traffic`", "`protocol 50`"."""
    if rule.protocol == "-1":
        traffic = "all traffic"
    elif rule.protocol in ("tcp", "udp", "6", "17") and rule.ports == "all":
        traffic = f"{rule.protocol} 0-65535"
    elif rule.protocol in ("tcp", "udp", "icmp", "icmpv6"):
        traffic = f"{rule.protocol} {rule.ports}"
    else:
        traffic = f"protocol {rule.protocol}"
    return words.code(traffic, 40)


# -- modified rules --------------------------------------------------------------------------


def modified_rule_words(change: Change, rule: Rule, words: Words = MRKDWN) -> str:
    """ "`tcp 22` from `10.0.0.0/8` → `tcp 22` from `0.0.0.0/0`": a modified rule's
    recorded earlier value and its new one; the new one alone, "(previous value not on
    record)", when no earlier value is known."""
    before = change.prior_of(rule)
    if before is None:
        return f"{rule_words(rule, words)} ({NOT_ON_RECORD})"
    # CloudTrail does not say a modified rule's direction; its earlier value may, and a
    # modification cannot change it.
    after = replace(rule, direction=before.rule.direction)
    return f"{rule_words(before.rule, words)} → {rule_words(after, words)}"


def unknown_priors(change: Change) -> tuple[Rule, ...]:
    """The modified rules without an earlier value on record: Deny removes them."""
    if change.event_name != MODIFY_RULES_EVENT:
        return ()
    return tuple(rule for rule in change.rules if change.prior_of(rule) is None)


def unknown_prior_warning(unknown: Sequence[Rule], total: int) -> str | None:
    """What Deny does to modified rules with no earlier value on record, said before the
    click: "previous value unknown: Deny removes this rule" (naming the rules when the
    change modified others too). Plain words, for a confirmation dialog."""
    count = len(unknown)
    if count == 0:
        return None
    ids = ", ".join(r.rule_id or "?" for r in unknown[:3]) + (", …" if count > 3 else "")
    if count == 1:
        which = "" if total == 1 else f" for {ids}"
        return f"previous value unknown{which}: Deny removes this rule"
    if count == total:
        return f"previous values unknown: Deny removes these {count} rules"
    return f"previous values unknown for {count} rules ({ids}): Deny removes these rules"


# -- prefix lists ----------------------------------------------------------------------------


def entry_words(entry: PrefixListEntry, words: Words = MRKDWN) -> str:
    """ "`203.0.113.0/24` (new office)"."""
    cidr = words.code(entry.cidr, 64)
    if entry.cidr in ("0.0.0.0/0", "::/0"):
        cidr += " (anywhere)"
    return f"{cidr} ({words.text(entry.description, 120)})" if entry.description else cidr


def reference_lines(
    change: Change, context: ChangeContext | None, words: Words = MRKDWN
) -> list[str]:
    """What an edited prefix list's added entries open: the security groups of its account
    and region whose rules reference it, each with those rules' ports; or why they are not
    known (rated at worst then); or that no group references it. Nothing for any other
    change, or one whose context was not read."""
    if change.event_name != PREFIX_LIST_EVENT or context is None:
        return []
    head = words.bold("Referenced by")
    reasons = [g.reason for g in context.gaps if g.part == "references"]
    # Only added entries are rated (at worst while their reach is unknown).
    worst = f", so {WORST_CASE}" if change.prefix_list and change.prefix_list.added else ""
    if context.references is None:
        why = "; ".join(reasons) or "not read"
        return [f"{head}: unknown ({words.text(why, MAX_REASON)}){worst}"]
    if not context.references:
        return [f"{head}: {NO_REFERENCES}"]
    count = len(context.references)
    lines = [f"{head} {count} security {'group' if count == 1 else 'groups'}:"]
    lines += [f"• {_reference(reference, words)}" for reference in context.references]
    if reasons:  # a read that was cut: what was not read may open more
        lines.append(f"{words.text('; '.join(reasons), MAX_REASON)}{worst}")
    return lines


def _reference(reference: ListReference, words: Words) -> str:
    """ "`sg-0abc` (web): `tcp 443`, `tcp 80` outbound"."""
    name = f" ({words.text(reference.group_name, MAX_NAME)})" if reference.group_name else ""
    shown = reference.rules[:MAX_REFERENCE_RULES]
    ports = ", ".join(
        traffic_words(rule, words) + (" outbound" if rule.direction is Direction.EGRESS else "")
        for rule in shown
    )
    more = len(reference.rules) - len(shown)
    tail = f" and {more} more" if more > 0 else ""
    return f"{words.code(reference.group_id, MAX_NAME)}{name}: {ports}{tail}"


# -- gaps ------------------------------------------------------------------------------------


def gap_lines(change: Change, context: ChangeContext, words: Words = MRKDWN) -> list[str]:
    """What could not be read, one line per reason: "context unavailable for
    111122223333: AccessDenied assuming spoke-001"."""
    by_reason: dict[str, list[str]] = {}
    for gap in context.gaps:
        if gap.part == "references" and change.event_name == PREFIX_LIST_EVENT:
            continue  # said where the references are (`reference_lines`)
        by_reason.setdefault(gap.reason, []).append(gap.part)
    lines = []
    for reason, parts in by_reason.items():
        if reason.lower().startswith(_SELF_EXPLAINED):
            lines.append(words.text(reason, MAX_REASON))  # it already says what is missing
            continue
        if set(parts) >= _SPOKE_PARTS:
            what = f"context unavailable for {words.code(change.account, 32)}"
        else:
            what = _join([_PART_WORDS.get(p, words.text(p, 40)) for p in parts]) + " unavailable"
        lines.append(f"{what}: {words.text(reason, MAX_REASON)}")
    return lines


# -- helpers ---------------------------------------------------------------------------------


def _via(change: Change, context: ChangeContext) -> Via:
    # Older contexts, or one whose actor could not be read, still say how from the record.
    found = context.actor.via if context.actor else Via.UNKNOWN
    return found if found is not Via.UNKNOWN else via(change.actor)


def _short(words: Words, item: Attachment) -> str:
    """An attachment in a list: its name, else its id."""
    if item.name:
        return words.text(item.name, MAX_NAME)
    return words.code(item.resource_id or item.interface_id, MAX_NAME)


def _public(words: Words, item: Attachment) -> str:
    """ "i-0abc (web-1) 54.1.2.3", "load balancer web-prod 3.4.5.6"."""
    ip = words.code(item.public_ip or "", 64)
    if item.kind is AttachmentKind.INSTANCE and item.resource_id:
        name = f" ({words.text(item.name, MAX_NAME)})" if item.name else ""
        return f"{words.code(item.resource_id, MAX_NAME)}{name} {ip}"
    if item.kind is AttachmentKind.OTHER:
        return f"{words.code(item.interface_id, MAX_NAME)} {ip}"
    return f"{_KIND_WORDS[item.kind][0]} {_short(words, item)} {ip}"


def _arn_name(arn: str) -> str:
    """ "deploy/i-0abc" for a role session, "alice" for a user, "root"."""
    resource = arn.split(":", 5)[-1]
    kind, _, rest = resource.partition("/")
    if kind == "assumed-role":
        return rest or resource
    return rest.rpartition("/")[2] or resource


def _join(parts: Sequence[str]) -> str:
    if len(parts) <= 1:
        return "".join(parts)
    return f"{', '.join(parts[:-1])} and {parts[-1]}"
