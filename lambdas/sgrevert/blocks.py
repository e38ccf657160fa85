"""The Slack message for a change record: plain data for chat.postMessage / chat.update.

Pure: takes a `ChangeRecord`, returns text and Block Kit blocks. The message always
stays within Block Kit limits (50 blocks, 10 fields a section, 3000 characters a
section, 150 a header) however many rules a call added, and every string that came
from the CloudTrail record is escaped before it reaches mrkdwn. A record with context
(`record.context`) also shows the account's name, the group's exposure beside the risk,
the group, what it is attached to, the actor as a person, a note on each added rule and
what could not be read; the words come from `context_text`, shared with the CLI.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from sgrevert import context_text
from sgrevert.cloudtrail import direction_known, is_id_only
from sgrevert.context import ChangeContext
from sgrevert.context_text import MRKDWN, SLACK_USER, account_label, exposure_tag, rule_notes
from sgrevert.context_text import clip as _clip
from sgrevert.model import Change, ChangeRecord, Direction, Rule, SourceKind, State

ACTION_APPROVE = "approve"
ACTION_DENY = "deny"
ACTIONS_BLOCK_ID = "decision"

MAX_BLOCKS = 50
MAX_FIELDS = 10
MAX_SECTION_TEXT = 3000
MAX_FIELD_TEXT = 2000
MAX_HEADER_TEXT = 150
MAX_CONTEXT_TEXT = 3000
MAX_FALLBACK_TEXT = 300
MAX_BUTTON_VALUE = 2000
MAX_RULE_SECTIONS = 6  # beyond ~150 rules a channel message stops being readable anyway

INFO_REASON = "Removals and modifications are shown for information; there is nothing to revert."

_EVENT_WORDS = {
    "AuthorizeSecurityGroupIngress": ("inbound", "added"),
    "AuthorizeSecurityGroupEgress": ("outbound", "added"),
    "RevokeSecurityGroupIngress": ("inbound", "removed"),
    "RevokeSecurityGroupEgress": ("outbound", "removed"),
    "ModifySecurityGroupRules": ("", "modified"),
}
_STATE_ICONS = {
    State.PENDING: ":large_yellow_circle:",
    State.INFO: ":information_source:",
    State.APPROVED: ":white_check_mark:",
    State.DENIED: ":hourglass_flowing_sand:",
    State.REVERTED: ":leftwards_arrow_with_hook:",
    State.REVERT_FAILED: ":warning:",
    State.IGNORED: ":mute:",
}
_RISK_ICONS = {
    "critical": ":rotating_light:",
    "high": ":red_circle:",
    "medium": ":large_orange_diamond:",
    "low": ":white_circle:",
}
MAX_BATCH_LINES = 40  # member lines shown in a group message; the rest are counted
_SLACK_USER = SLACK_USER
escape = context_text.escape  # here for the callers that escape their own replies
_ANYWHERE = frozenset({"0.0.0.0/0", "::/0"})


@dataclass(frozen=True)
class Message:
    text: str  # plain-text fallback: what notifications and screen readers show
    blocks: list[dict[str, Any]]


def message(record: ChangeRecord) -> Message:
    """The channel message for a change in its current state."""
    change = record.change
    blocks: list[dict[str, Any]] = [
        _header(record),
        _section(_summary(change, record.context)),
        _fields(_event_fields(change)),
        _fields(_who_fields(change)),
        *_context_blocks(change, record.context),
        {"type": "divider"},
    ]
    tail = _status_blocks(record)
    room = MAX_BLOCKS - len(blocks) - len(tail) - 1  # one for "…and N more rules"
    notes = rule_notes(change, record.context)
    blocks += _rule_blocks(change, min(room, MAX_RULE_SECTIONS), notes)
    blocks += tail
    return Message(text=_fallback(record), blocks=blocks)


def notice(text: str) -> Message:
    """A short reply (ephemeral or threaded). `text` is mrkdwn the caller composed."""
    clipped = _clip(text, MAX_SECTION_TEXT)
    return Message(text=_clip(text, MAX_FALLBACK_TEXT), blocks=[_section(clipped)])


def decider(decided_by: str | None) -> str:
    """Who decided, as mrkdwn: a mention for Slack users, plain words for CLI and policy."""
    if not decided_by:
        return "someone"
    if decided_by.startswith("cli:"):
        return f"operator {_user_text(decided_by.removeprefix('cli:'), 120)} from the CLI"
    if decided_by.startswith("policy:"):
        return f"policy {_user_text(decided_by.removeprefix('policy:'), 120)}"
    if _SLACK_USER.match(decided_by):
        return f"<@{decided_by}>"
    return _user_text(decided_by, 120)


# -- summary ---------------------------------------------------------------------------------


def _what(change: Change) -> str:
    """ "3 inbound rules added", "1 rule modified"."""
    direction, verb = _EVENT_WORDS.get(change.event_name, ("", "changed"))
    count = len(change.rules)
    noun = "rule" if count == 1 else "rules"
    return " ".join(part for part in (str(count), direction, noun, verb) if part)


def _group(change: Change, code: bool = True) -> str:
    group = _code(change.group_id, 64) if code else _clip(change.group_id, 64)
    if change.group_name:
        return f"{group} ({_user_text(change.group_name, 100)})"
    return group


def _header(record: ChangeRecord) -> dict[str, Any]:
    # plain_text is never parsed for mentions or links, so it needs no escaping.
    change = record.change
    prefix = _risk_prefix(record.risk, exposure_tag(record.context))
    text = f"{prefix}{_what(change).capitalize()} on {change.group_id}"
    return {
        "type": "header",
        "text": {"type": "plain_text", "text": _clip(text, MAX_HEADER_TEXT), "emoji": True},
    }


def _summary(change: Change, context: ChangeContext | None = None) -> str:
    account = account_label(change, context)
    where = f"{_group(change)} in account {account}, {_code(change.region, 32)}"
    if change.vpc_id:
        where += f", VPC {_code(change.vpc_id, 64)}"
    return f"*{_clip(_what(change).capitalize(), 80)}* on {where}"


def _when(change: Change) -> str:
    stamp = change.event_time.strftime("%Y-%m-%d %H:%M:%S UTC")
    epoch = int(change.event_time.timestamp())
    # Slack renders <!date> in each reader's timezone; the text after | is the fallback.
    return f"<!date^{epoch}^{{date_short_pretty}} at {{time_secs}}|{stamp}>"


def _event_fields(change: Change) -> list[str]:
    return [
        f"*When*\n{_when(change)}",
        f"*API call*\n{_code(change.event_name, 64)}",
        f"*CloudTrail event id*\n{_code(change.event_id, 80)}",
    ]


def _who_fields(change: Change) -> list[str]:
    actor = change.actor
    fields = [f"*Who*\n{_code(actor.arn, 600)}", f"*Identity type*\n{_user_text(actor.type, 64)}"]
    if actor.session_issuer:
        fields.append(f"*Session issuer*\n{_code(actor.session_issuer, 600)}")
    if actor.invoked_by:
        fields.append(f"*Invoked by*\n{_code(actor.invoked_by, 200)}")
    if actor.source_ip:
        fields.append(f"*Source IP*\n{_code(actor.source_ip, 200)}")
    if actor.user_agent:
        fields.append(f"*User agent*\n{_code(actor.user_agent, 600)}")
    return fields


# -- rules -----------------------------------------------------------------------------------


def rule_line(change: Change, rule: Rule) -> str:
    """One rule as a mrkdwn bullet: direction, protocol and ports, source, description, id."""
    rule_id = f" · {_code(rule.rule_id, 64)}" if rule.rule_id else ""
    if is_id_only(rule):
        return f"• rule {_code(rule.rule_id or 'unknown', 64)} (CloudTrail recorded only its id)"
    what = _traffic(rule)
    source = _source(change, rule)
    if direction_known(change.event_name):
        inbound = rule.direction is Direction.INGRESS
        line = f"• *{'in' if inbound else 'out'}* {what} {'from' if inbound else 'to'} {source}"
    else:
        line = f"• {_code(rule.rule_id or 'rule', 64)} now allows {what} with {source}"
        rule_id = ""
    if rule.description:
        line += f" — _{_user_text(rule.description, 200)}_"
    return line + rule_id


def _traffic(rule: Rule) -> str:
    if rule.protocol == "-1":
        return "`all traffic`"
    if rule.protocol in ("tcp", "udp"):
        return _code(f"{rule.protocol} {rule.ports}", 40)
    if rule.protocol in ("icmp", "icmpv6"):
        return _code(f"{rule.protocol} {rule.ports}", 40)
    return _code(f"protocol {rule.protocol}", 40)


def _source(change: Change, rule: Rule) -> str:
    if rule.source_kind is SourceKind.PREFIX_LIST:
        return f"prefix list {_code(rule.source, 80)}"
    if rule.source_kind is SourceKind.GROUP:
        text = f"group {_code(rule.source, 80)}"
        if rule.source_account and rule.source_account != change.account:
            text += f" in account {_code(rule.source_account, 32)}"
        return text
    text = _code(rule.source, 80)
    return f"{text} (anywhere)" if rule.source in _ANYWHERE else text


def _rule_blocks(
    change: Change, max_sections: int, notes: Sequence[str | None] = ()
) -> list[dict[str, Any]]:
    sections: list[str] = []
    current = ""
    shown = 0
    for index, rule in enumerate(change.rules):
        line = rule_line(change, rule)
        note = notes[index] if index < len(notes) else None
        if note:
            line += f"\n      ↳ {note}"
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) <= MAX_SECTION_TEXT:
            current = candidate
        else:
            if len(sections) + 1 >= max_sections:
                break
            sections.append(current)
            current = _clip(line, MAX_SECTION_TEXT)
        shown += 1
    if current:
        sections.append(current)
    blocks = [_section(text) for text in sections[: max(max_sections, 0)]]
    hidden = len(change.rules) - shown
    if hidden > 0:
        noun = "rule" if hidden == 1 else "rules"
        blocks.append(
            _context(
                f"…and {hidden} more {noun}. The full list is in the change record "
                f"({_code(change.event_id, 80)})."
            )
        )
    return blocks


# -- state -----------------------------------------------------------------------------------


def _status_blocks(record: ChangeRecord) -> list[dict[str, Any]]:
    change = record.change
    who = decider(record.decided_by)
    outcome = _user_text(record.outcome or "", 1500)
    state = record.state
    icon = _STATE_ICONS.get(state, "")
    if state is State.PENDING:
        return [
            _context(
                f"{icon} Allowed unless denied. *Deny* revokes exactly these rules "
                f"in {_code(change.account, 32)} / {_code(change.region, 32)}."
            ),
            _actions(change, approve=True),
        ]
    if state is State.INFO:
        return [_context(f"{icon} {INFO_REASON}")]
    if state is State.IGNORED:
        return [_context(f"{icon} {_user_text(record.note or 'Ignored by policy.', 1500)}")]
    if state is State.APPROVED:
        return [_section(f"{icon} Approved by {who}{_at(record)}.")]
    by_policy = (record.decided_by or "").startswith("policy:")
    if by_policy and state in (State.DENIED, State.REVERTED):
        rule = _code((record.decided_by or "").removeprefix("policy:"), 120)
        why = _user_text((record.note or "").partition(": ")[2], 500)
        done = "reverting…" if state is State.DENIED else outcome or "reverted."
        return [
            _section(
                f"{icon} *Reverted by policy* {rule}{_at(record)}"
                + (f" ({why})" if why else "")
                + f"; {done}"
            )
        ]
    if state is State.DENIED:
        return [_section(f"{icon} Denied by {who}{_at(record)}; reverting…")]
    if state is State.REVERTED:
        return [_section(f"{icon} Denied by {who}{_at(record)}; {outcome or 'reverted.'}")]
    # REVERT_FAILED: say what broke and offer Deny again, which retries the revert.
    return [
        _section(
            f"{icon} Denied by {who}{_at(record)}, but the revert failed: "
            f"{outcome or 'no details recorded.'}"
        ),
        _context(
            "The rules may still be in place. Check that the spoke role can be assumed "
            f"in {_code(change.account, 32)} and may revoke security-group rules in "
            f"{_code(change.region, 32)}, then press *Deny* again to retry."
        ),
        _actions(change, approve=False),
    ]


def _at(record: ChangeRecord) -> str:
    if record.decided_at is None:
        return ""
    epoch = int(record.decided_at.timestamp())
    stamp = record.decided_at.strftime("%Y-%m-%d %H:%M UTC")
    return f" <!date^{epoch}^{{date_short_pretty}} at {{time}}|{stamp}>"


def _actions(change: Change, approve: bool) -> dict[str, Any]:
    count = len(change.rules)
    noun = "rule" if count == 1 else "rules"
    return _decision_block(
        change.event_id[:MAX_BUTTON_VALUE],
        approve_label="Approve" if approve else None,
        deny_label="Deny and revert" if approve else "Retry revert",
        confirm_title="Revert this change?",
        confirm_text=f"This revokes {count} {noun} from {change.group_id} in account "
        f"{change.account} ({change.region}).",
    )


def _decision_block(
    value: str,
    *,
    approve_label: str | None,
    deny_label: str,
    confirm_title: str,
    confirm_text: str,
) -> dict[str, Any]:
    """The actions block: Approve (when offered) and Deny, which asks for confirmation."""
    elements: list[dict[str, Any]] = []
    if approve_label is not None:
        elements.append(
            {
                "type": "button",
                "action_id": ACTION_APPROVE,
                "text": {"type": "plain_text", "text": approve_label, "emoji": True},
                "style": "primary",
                "value": value,
            }
        )
    elements.append(
        {
            "type": "button",
            "action_id": ACTION_DENY,
            "text": {"type": "plain_text", "text": deny_label, "emoji": True},
            "style": "danger",
            "value": value,
            "confirm": {
                "title": {"type": "plain_text", "text": confirm_title},
                "text": {"type": "plain_text", "text": _clip(confirm_text, 300)},
                "confirm": {"type": "plain_text", "text": "Revoke"},
                "deny": {"type": "plain_text", "text": "Cancel"},
                "style": "danger",
            },
        }
    )
    return {"type": "actions", "block_id": ACTIONS_BLOCK_ID, "elements": elements}


def _fallback(record: ChangeRecord) -> str:
    change = record.change
    who = decider(record.decided_by)
    state = {
        State.PENDING: "awaiting review",
        State.INFO: "for information",
        State.APPROVED: f"approved by {who}",
        State.DENIED: f"denied by {who}, reverting",
        State.REVERTED: f"denied by {who}, reverted",
        State.REVERT_FAILED: f"denied by {who}, revert FAILED",
        State.IGNORED: "ignored by policy",
    }.get(record.state, record.state.value)
    where = (
        f"{_user_text(change.group_id, 64)} in {_fallback_account(change, record.context)} "
        f"{_user_text(change.region, 32)}"
    )
    risk = _fallback_risk(record.risk, exposure_tag(record.context))
    return _clip(f"{risk}{_what(change).capitalize()} on {where}: {state}", MAX_FALLBACK_TEXT)


def _risk_prefix(risk: str | None, exposure: str | None = None) -> str:
    """ "🚨 CRITICAL · reachable from the internet · " for the header; nothing for records
    made before risk levels and context."""
    prefix = f"{_RISK_ICONS.get(risk, '')} {risk.upper()} · ".lstrip() if risk else ""
    return f"{prefix}{exposure} · " if exposure else prefix


def _fallback_risk(risk: str | None, exposure: str | None) -> str:
    """ "[CRITICAL · reachable from the internet] ", "[CRITICAL] " or nothing."""
    tag = " · ".join(part for part in (risk.upper() if risk else None, exposure) if part)
    return f"[{tag}] " if tag else ""


def _fallback_account(change: Change, context: ChangeContext | None) -> str:
    account = _user_text(change.account, 32)
    if context is None or not context.account_name:
        return account
    return f"{_user_text(context.account_name, 64)} ({account})"


# -- context ---------------------------------------------------------------------------------


def _context_blocks(change: Change, context: ChangeContext | None) -> list[dict[str, Any]]:
    """The context section (group, IaC warning, attachments, exposure, actor) and a context
    block naming what could not be read; nothing for records without context."""
    if context is None:
        return []
    blocks: list[dict[str, Any]] = []
    lines = [_sentence(line) for line in context_text.context_lines(change, context)]
    if lines:
        blocks.append(_section("\n".join(lines)))
    gaps = context_text.gap_lines(change, context)
    if gaps:
        blocks.append(_context(":grey_question: " + "\n".join(_sentence(g) for g in gaps)))
    return blocks


def _sentence(line: str) -> str:
    return line[:1].upper() + line[1:]


# -- Block Kit helpers -----------------------------------------------------------------------


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": _clip(text, MAX_SECTION_TEXT)}}


def _fields(fields: list[str]) -> dict[str, Any]:
    return {
        "type": "section",
        "fields": [
            {"type": "mrkdwn", "text": _clip(field, MAX_FIELD_TEXT)}
            for field in fields[:MAX_FIELDS]
        ],
    }


def _context(text: str) -> dict[str, Any]:
    return {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": _clip(text, MAX_CONTEXT_TEXT)}],
    }


def _user_text(text: str, limit: int) -> str:
    """A string from the record, shortened first so escaping never cuts an entity."""
    return MRKDWN.text(text, limit)


def _code(text: str, limit: int) -> str:
    return MRKDWN.code(text, limit)


# -- group messages (one actor, one group, one run) and the run's summary ----------------------


def batch_value(batch_id: str) -> str:
    """The button value of a group message: the batch, not one change."""
    return f"g:{batch_id}"


def batch_message(batch_id: str, records: list[ChangeRecord]) -> Message:
    """One message for changes one actor made to one group in a run: one decision for all.

    Each member keeps its own state, shown on its line; the buttons decide every member
    still open (Deny also retries members whose revert failed)."""
    first = records[0].change
    context = _batch_context(records)
    risk = _highest_risk(records)
    count = len(records)
    header = f"{_risk_prefix(risk, exposure_tag(context))}{count} changes on {first.group_id}"
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": _clip(header, MAX_HEADER_TEXT), "emoji": True},
        },
        _section(
            f"*{count} changes* by {_code(first.actor.arn, 600)} on {_group(first)} in account "
            f"{account_label(first, context)}, {_code(first.region, 32)}"
        ),
        _fields(_who_fields(first)),
        # The members share account, region and group: their context is said once.
        *_context_blocks(_all_rules(records), context),
        {"type": "divider"},
    ]
    blocks += _member_blocks(records)
    blocks += _batch_status(batch_id, records)
    return Message(text=_batch_fallback(records, risk, context), blocks=blocks[:MAX_BLOCKS])


def summary_message(left: int, cap: int, by_risk: dict[str, int]) -> Message:
    """The run's last message when it reached its cap: how many wait, and where to see them."""
    counts = ", ".join(f"{n} {risk}" for risk, n in by_risk.items() if n)
    text = (
        f":inbox_tray: *{left} more changes* were recorded but not posted: a run posts at most "
        f"{cap} messages. Later runs post them, oldest first; meanwhile they are allowed and can "
        "be decided from the CLI. See them with `sgrevert changes --state PENDING`."
    )
    if counts:
        text += f"\nBy risk: {counts}."
    return Message(
        text=_clip(f"{left} more security-group changes are waiting to be posted", 300),
        blocks=[_section(text)],
    )


def _highest_risk(records: list[ChangeRecord]) -> str | None:
    order = list(_RISK_ICONS)  # critical first
    risks = [r.risk for r in records if r.risk in _RISK_ICONS]
    return min(risks, key=order.index) if risks else None


def _batch_context(records: list[ChangeRecord]) -> ChangeContext | None:
    """The most recently read context of the members, if any has one."""
    contexts = [r.context for r in records if r.context is not None]
    return max(contexts, key=lambda c: c.read_at) if contexts else None


def _all_rules(records: list[ChangeRecord]) -> Change:
    """The first member carrying every member's rules, for words about "the rules"."""
    return replace(records[0].change, rules=tuple(r for m in records for r in m.change.rules))


def _member_line(record: ChangeRecord) -> str:
    change = record.change
    icon = _STATE_ICONS.get(record.state, "")
    notes = rule_notes(change, record.context)
    rules = "; ".join(
        rule_line(change, r).removeprefix("• ") + (f" ({notes[i]})" if notes[i] else "")
        for i, r in enumerate(change.rules[:3])
    )
    more = f" (+{len(change.rules) - 3} more)" if len(change.rules) > 3 else ""
    risk = f" · {record.risk}" if record.risk else ""
    return f"{icon} {_when(change)}{risk}: {rules or _what(change)}{more}"


def _member_blocks(records: list[ChangeRecord]) -> list[dict[str, Any]]:
    sections: list[str] = []
    current = ""
    shown = 0
    for record in records[:MAX_BATCH_LINES]:
        line = _clip(_member_line(record), 1000)
        if len(current) + len(line) + 1 > MAX_SECTION_TEXT:
            sections.append(current)
            current = ""
        current = f"{current}\n{line}" if current else line
        shown += 1
    if current:
        sections.append(current)
    blocks = [_section(text) for text in sections]
    if len(records) > shown:
        blocks.append(_context(f"…and {len(records) - shown} more changes in this group."))
    return blocks


def _batch_status(batch_id: str, records: list[ChangeRecord]) -> list[dict[str, Any]]:
    first = records[0].change
    tally: dict[State, int] = {}
    for record in records:
        tally[record.state] = tally.get(record.state, 0) + 1
    deciders = sorted({decider(r.decided_by) for r in records if r.decided_by})
    words = ", ".join(f"{n} {state.value.lower().replace('_', ' ')}" for state, n in tally.items())
    status = f"{words}" + (f" (decided by {', '.join(deciders)})" if deciders else "")
    blocks = [_context(f"Members: {status}.")]
    open_ = tally.get(State.PENDING, 0)
    failed = tally.get(State.REVERT_FAILED, 0)
    if not open_ and not failed:
        return blocks
    rules = sum(
        len(r.change.rules) for r in records if r.state in (State.PENDING, State.REVERT_FAILED)
    )
    blocks.insert(
        0,
        _context(
            ":large_yellow_circle: Allowed unless denied. *Deny* revokes the rules of every "
            f"undecided change here in {_code(first.account, 32)} / {_code(first.region, 32)}; "
            "changes already decided keep their decision."
        ),
    )
    blocks.append(
        _decision_block(
            batch_value(batch_id),
            approve_label="Approve all" if open_ else None,
            deny_label="Deny all and revert",
            confirm_title="Revert these changes?",
            confirm_text=f"This revokes {rules} rules from {first.group_id} in account "
            f"{first.account} ({first.region}).",
        )
    )
    return blocks


def _batch_fallback(
    records: list[ChangeRecord], risk: str | None, context: ChangeContext | None
) -> str:
    first = records[0].change
    prefix = _fallback_risk(risk, exposure_tag(context))
    open_ = sum(1 for r in records if r.state is State.PENDING)
    where = f"{_user_text(first.group_id, 64)} in {_fallback_account(first, context)}"
    state = f"{open_} awaiting review" if open_ else "decided"
    return _clip(f"{prefix}{len(records)} changes on {where}: {state}", MAX_FALLBACK_TEXT)
