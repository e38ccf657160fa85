"""The Slack message for a change record: plain data for chat.postMessage / chat.update.

Pure: takes a `ChangeRecord`, returns text and Block Kit blocks. The message always
stays within Block Kit limits (50 blocks, 10 fields a section, 3000 characters a
section, 150 a header) however many rules a call added, and every string that came
from the CloudTrail record is escaped before it reaches mrkdwn. A record with context
(`record.context`) also shows the account's name, the group's exposure beside the risk,
the group, what it is attached to, the actor as a person, a note on each added rule and
what could not be read; the words come from `context_text`, shared with the CLI.

A modification shows each rule as before → after (its recorded earlier value, or "previous
value not on record"); a prefix-list edit the entries it added and removed and the
security groups whose rules reference the list. What Deny will do is said before the click,
in the confirmation dialog: revoke, restore, or remove.

Approvals for a while: a decidable change (or group) offers Allow for… (a static_select of
the policy's durations) beside Approve; once allowed, the message says until when and offers
Revert now, Extend… and Keep permanently, each value naming the deadline it was shown with,
so a click on a deadline since moved changes nothing. The thread replies for each history
step and the reminder before the deadline are here too; their words are in `history_text`.

Undecided changes: a fail-closed one says when it reverts unless approved, one that needs
several approvers how many it has (its buttons stay, for the others), and the reminder of an
undecided change (`nudge_reply`) mentions who it is for and points to the message.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sgrevert import context_text, history_text
from sgrevert.cloudtrail import direction_known, is_id_only
from sgrevert.context import ChangeContext
from sgrevert.context_text import (
    MRKDWN,
    PLAIN,
    account_label,
    entry_words,
    exposure_tag,
    modified_rule_words,
    reference_lines,
    rule_notes,
    unknown_prior_warning,
    unknown_priors,
)
from sgrevert.context_text import clip as _clip
from sgrevert.decidable import narrows
from sgrevert.durations import (
    DEFAULT_TEMPORARY_APPROVALS,
    MAX_DURATION,
    MIN_DURATION,
    duration_words,
)
from sgrevert.history_text import (
    allowed_words,
    approvals_words,
    approved_by,
    approvers_of,
    deadline_words,
    decision_reason,
    expired_approver,
    moment,
    nudge_words,
)
from sgrevert.model import (
    DENY_UNDECIDED,
    EXPIRY_PREFIX,
    MODIFY_RULES_EVENT,
    PREFIX_LIST_EVENT,
    REVERTIBLE_EVENTS,
    Change,
    ChangeRecord,
    Direction,
    PrefixListEntry,
    Rule,
    SourceKind,
    State,
    Step,
    Transition,
)

ACTION_APPROVE = "approve"
ACTION_DENY = "deny"
ACTION_APPROVE_FOR = "approve_for"  # a static_select: "<id>|<seconds>"
ACTION_EXTEND = "extend_for"  # a static_select: "<id>|<seconds>|<deadline>"
ACTION_KEEP = "keep_permanently"  # a button: "<id>|<deadline>"
ACTION_REVERT_NOW = "revert_now"  # a button: "<id>|<deadline>"
ACTIONS_BLOCK_ID = "decision"
VALUE_SEPARATOR = "|"  # never in an event id or a batch value

MAX_BLOCKS = 50
MAX_FIELDS = 10
MAX_SECTION_TEXT = 3000
MAX_FIELD_TEXT = 2000
MAX_HEADER_TEXT = 150
MAX_CONTEXT_TEXT = 3000
MAX_FALLBACK_TEXT = 300
MAX_BUTTON_VALUE = 2000
MAX_OPTIONS = 100  # a static_select's options
MAX_OPTION_TEXT = 75
MAX_OPTION_VALUE = 150
MAX_RULE_SECTIONS = 6  # beyond ~150 rules a channel message stops being readable anyway

INFO_REASON = "Removals are shown for information; there is nothing to revert."
# Posted for information because they only narrow access, and sgrevert never adds any back.
_NARROWING_REASONS = {
    MODIFY_RULES_EVENT: "The modification only narrows what the rules allow; sgrevert never "
    "adds access back, so there is nothing to revert.",
    PREFIX_LIST_EVENT: "Entries were only removed, which narrows what the list allows; "
    "sgrevert never adds access back, so there is nothing to revert.",
}
MAX_SHOWN_ENTRIES = 3  # CIDRs named in a group message's line or a dialog
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
EXPIRED_ICON = ":stopwatch:"
DEADLINE_ICON = ":hourglass:"  # a fail-closed change's deadline
APPROVALS_ICON = ":ballot_box_with_check:"  # some of several required approvals
NUDGE_ICON = ":bell:"
_STEP_ICONS = {
    Step.APPROVAL: APPROVALS_ICON,
    Step.ALLOWED_UNTIL: ":white_check_mark:",
    Step.EXTENDED: ":white_check_mark:",
    Step.MADE_PERMANENT: ":white_check_mark:",
    Step.REMINDED: ":alarm_clock:",
    Step.EXPIRED: EXPIRED_ICON,
    Step.REVERTED: ":leftwards_arrow_with_hook:",
    Step.FAILED: ":warning:",
}
ALLOW_FOR_WORDS = (
    "*Allow for…* approves it for a while: at the end it is reverted as a Deny would, unless "
    "extended or kept."
)
MAX_BATCH_LINES = 40  # member lines shown in a group message; the rest are counted
escape = context_text.escape  # here for the callers that escape their own replies
_ANYWHERE = frozenset({"0.0.0.0/0", "::/0"})


@dataclass(frozen=True)
class Message:
    text: str  # plain-text fallback: what notifications and screen readers show
    blocks: list[dict[str, Any]]


def message(
    record: ChangeRecord, *, durations: Sequence[timedelta] = DEFAULT_TEMPORARY_APPROVALS
) -> Message:
    """The channel message for a change in its current state. `durations` are the policy's
    `temporary_approvals`, offered by Allow for… and Extend… (none: neither is offered)."""
    change = record.change
    blocks: list[dict[str, Any]] = [
        _header(record),
        _section(_summary(change, record.context)),
        _fields(_event_fields(change)),
        _fields(_who_fields(change)),
        *_context_blocks(change, record.context),
        {"type": "divider"},
    ]
    tail = _status_blocks(record, durations)
    room = min(MAX_BLOCKS - len(blocks) - len(tail) - 1, MAX_RULE_SECTIONS)  # one for "…more"
    if change.event_name == PREFIX_LIST_EVENT:
        blocks += _list_blocks(change, record.context, room)
    else:
        blocks += _rule_blocks(change, room, rule_notes(change, record.context))
    blocks += tail
    return Message(text=_fallback(record), blocks=blocks)


def for_information(message: Message, decided_in: str) -> Message:
    """A copy of `message` for another channel (`also_to`): the same content without its
    buttons and selects, saying where it is decided."""
    kept = [b for b in message.blocks if b.get("type") != "actions"]
    where = _context(f":information_source: For information: decided in <#{decided_in}>.")
    return Message(text=message.text, blocks=[*kept[: MAX_BLOCKS - 1], where])


def notice(text: str) -> Message:
    """A short reply (ephemeral or threaded). `text` is mrkdwn the caller composed."""
    clipped = _clip(text, MAX_SECTION_TEXT)
    return Message(text=_clip(text, MAX_FALLBACK_TEXT), blocks=[_section(clipped)])


def decider(decided_by: str | None) -> str:
    """Who decided, as mrkdwn: a mention for Slack users, plain words for CLI, policy and
    expiry (see `history_text.decider`)."""
    return history_text.decider(decided_by)


def history_reply(record: ChangeRecord, transition: Transition) -> Message | None:
    """The thread reply for one step of the change's history; None for POSTED (the message
    itself is the post). A NUDGED step is the reminder itself (`nudge_reply`), for the group
    message when `record` is one of its members."""
    if transition.step is Step.NUDGED:
        return nudge_reply(record, transition, group=record.batch is not None)
    words = history_text.step_words(record, transition)
    if words is None:
        return None
    icon = _STEP_ICONS.get(transition.step, "")
    return notice(f"{icon} {words}".lstrip())


def nudge_reply(record: ChangeRecord, transition: Transition, *, group: bool) -> Message:
    """The thread reply for an undecided change's reminder (a NUDGED step): it mentions the
    users and user groups in `transition.to`, says how long the change (`group`: the changes
    of the group message `record` is one of) has been undecided and when it reverts unless
    approved, and points to the message's buttons; it has none of its own."""
    return notice(f"{NUDGE_ICON} {nudge_words(record, transition, group=group)}")


def reminder_reply(
    record: ChangeRecord,
    *,
    about: str | None = None,
    now: datetime | None = None,
    durations: Sequence[timedelta] = DEFAULT_TEMPORARY_APPROVALS,
) -> Message:
    """The thread reply before an approval for a while ends: it mentions the approver (and
    the actor when their Slack user is known) and offers Extend… and Keep permanently, as the
    message does, for `about` (default: the change; `g:<batch>` for the group message
    `record` is a member of). `now` (when given) counts the time left."""
    about = about or record.event_id
    group = about != record.event_id
    reply = notice(f":alarm_clock: {history_text.reminder_words(record, now, group=group)}")
    until = record.approved_until
    if not record.temporary or until is None:
        return reply
    elements = _temporary_elements(about, [record.change], until, durations)
    elements = [e for e in elements if e["action_id"] != ACTION_REVERT_NOW]
    block = {"type": "actions", "block_id": f"reminder-{deadline_stamp(until)}"}
    return Message(text=reply.text, blocks=[*reply.blocks, {**block, "elements": elements}])


# -- summary ---------------------------------------------------------------------------------


def _what(change: Change) -> str:
    """ "3 inbound rules added", "1 rule modified", "2 entries added, 1 removed"."""
    if change.event_name == PREFIX_LIST_EVENT:
        return _entries_what(change)
    direction, verb = _EVENT_WORDS.get(change.event_name, ("", "changed"))
    count = len(change.rules)
    noun = "rule" if count == 1 else "rules"
    return " ".join(part for part in (str(count), direction, noun, verb) if part)


def _entries_what(change: Change) -> str:
    edit = change.prefix_list
    added, removed = (len(edit.added), len(edit.removed)) if edit else (0, 0)
    if added and removed:
        return f"{_entries(added)} added, {removed} removed"
    return f"{_entries(added)} added" if added else f"{_entries(removed)} removed"


def _entries(count: int) -> str:
    return f"{count} {'entry' if count == 1 else 'entries'}"


def _group(change: Change, code: bool = True) -> str:
    """The group, or for a prefix-list edit "prefix list `pl-…` (name)"."""
    group = _code(change.group_id, 64) if code else _clip(change.group_id, 64)
    name = change.group_name
    if change.event_name == PREFIX_LIST_EVENT:
        group = f"prefix list {group}"
        name = change.prefix_list.name if change.prefix_list else None
    if name:
        return f"{group} ({_user_text(name, 100)})"
    return group


def _on(change: Change) -> str:
    """ "on sg-…", "in prefix list pl-… (corp-ranges)": plain text, for a header."""
    if change.event_name != PREFIX_LIST_EVENT:
        return f"on {change.group_id}"
    name = change.prefix_list.name if change.prefix_list else None
    return f"in prefix list {change.group_id}" + (f" ({name})" if name else "")


def _header(record: ChangeRecord) -> dict[str, Any]:
    # plain_text is never parsed for mentions or links, so it needs no escaping.
    change = record.change
    prefix = _risk_prefix(record.risk, exposure_tag(record.context))
    text = f"{prefix}{_what(change).capitalize()} {_on(change)}"
    return {
        "type": "header",
        "text": {"type": "plain_text", "text": _clip(text, MAX_HEADER_TEXT), "emoji": True},
    }


def _summary(change: Change, context: ChangeContext | None = None) -> str:
    account = account_label(change, context)
    where = f"{_group(change)} in account {account}, {_code(change.region, 32)}"
    if change.vpc_id:
        where += f", VPC {_code(change.vpc_id, 64)}"
    on = "in" if change.event_name == PREFIX_LIST_EVENT else "on"
    return f"*{_clip(_what(change).capitalize(), 80)}* {on} {where}"


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
    else:  # a modification, by rule id: what it was, and what it is now
        line = f"• {_code(rule.rule_id or 'rule', 64)}: {modified_rule_words(change, rule)}"
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
    lines = []
    for index, rule in enumerate(change.rules):
        line = rule_line(change, rule)
        note = notes[index] if index < len(notes) else None
        lines.append(f"{line}\n      ↳ {note}" if note else line)
    blocks, hidden = _packed(lines, max_sections)
    if hidden > 0:
        noun = "rule" if hidden == 1 else "rules"
        blocks.append(
            _context(
                f"…and {hidden} more {noun}. The full list is in the change record "
                f"({_code(change.event_id, 80)})."
            )
        )
    return blocks


def _list_blocks(
    change: Change, context: ChangeContext | None, max_sections: int
) -> list[dict[str, Any]]:
    """A prefix-list edit: the entries added (the change), the entries removed (for
    information), then what the added ones open, the groups whose rules reference the
    list; each part in its own sections, the references given room first."""
    edit = change.prefix_list
    entries: list[str] = []
    if edit and edit.added:
        entries.append(f"*Added* ({_entries(len(edit.added))}):")
        entries += [f"• {entry_words(e)}" for e in edit.added]
    if edit and edit.removed:
        entries.append(f"*Removed*, for information ({_entries(len(edit.removed))}):")
        entries += [f"• {entry_words(e)}" for e in edit.removed]
    references = reference_lines(change, context)
    reference_room = min(2, max(max_sections - 1, 0)) if references else 0
    blocks, hidden = _packed(entries, max_sections - reference_room)
    shown, cut = _packed(references, reference_room)
    blocks += shown
    if hidden + cut > 0:
        blocks.append(
            _context(
                f"…and {hidden + cut} more lines. The full list is in the change record "
                f"({_code(change.event_id, 80)})."
            )
        )
    return blocks


def _packed(lines: Sequence[str], max_sections: int) -> tuple[list[dict[str, Any]], int]:
    """Lines in as few sections as fit (3000 characters each), at most `max_sections`;
    and how many lines did not fit."""
    if max_sections <= 0:
        return [], len(lines)
    sections: list[str] = []
    current = ""
    shown = 0
    for line in lines:
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
    return [_section(text) for text in sections], len(lines) - shown


# -- state -----------------------------------------------------------------------------------


def _status_blocks(record: ChangeRecord, durations: Sequence[timedelta]) -> list[dict[str, Any]]:
    change = record.change
    who = decider(record.decided_by)
    outcome = _user_text(record.outcome or "", 1500)
    state = record.state
    icon = _STATE_ICONS.get(state, "")
    if state is State.PENDING:
        allow = _allow_for(record.event_id, durations)
        until = " until then" if record.deny_at else ""
        return [
            *_undecided_blocks(record.deny_at, record, ""),
            _context(
                f"{icon} Allowed{until} unless denied. *Deny* {_deny_words(change)} "
                f"in {_code(change.account, 32)} / {_code(change.region, 32)}."
                + (f" {ALLOW_FOR_WORDS}" if allow else "")
            ),
            _actions(change, approve=True, allow_for=allow),
        ]
    if state is State.INFO:
        return [_context(f"{icon} {_NARROWING_REASONS.get(change.event_name, INFO_REASON)}")]
    if state is State.IGNORED:
        return [_context(f"{icon} {_user_text(record.note or 'Ignored by policy.', 1500)}")]
    if record.temporary:
        return _temporary_blocks(record.event_id, record, [change], durations)
    if state is State.APPROVED:
        return [
            _section(f"{icon} Approved by {approved_by(record, record.decided_by)}{_at(record)}.")
        ]
    by_policy = (record.decided_by or "").startswith("policy:")
    if by_policy and state in (State.DENIED, State.REVERTED):
        rule = _code((record.decided_by or "").removeprefix("policy:"), 120)
        why = _user_text(_policy_reason(record), 500)
        done = "reverting…" if state is State.DENIED else outcome or "reverted."
        return [
            _section(
                f"{icon} *Reverted by policy* {rule}{_at(record)}"
                + (f" ({why})" if why else "")
                + f"; {done}"
            )
        ]
    denied = f"Denied by {who}{_at(record)}"
    if by_policy and _policy_reason(record):
        denied += f" ({_user_text(_policy_reason(record), 500)})"
    if record.decided_by and record.decided_by.startswith(EXPIRY_PREFIX):
        icon = EXPIRED_ICON if state is not State.REVERT_FAILED else icon
        denied = f"{_expired(record)}{_at(record)}"
    if state is State.DENIED:
        return [_section(f"{icon} {denied}; reverting…")]
    if state is State.REVERTED:
        return [_section(f"{icon} {denied}; {outcome or 'reverted.'}")]
    # REVERT_FAILED: say what broke and offer Deny again, which retries the revert.
    return [
        _section(f"{icon} {denied}, but the revert failed: {outcome or 'no details recorded.'}"),
        _context(f"{_still_there(change)} {_retry_advice(change)}"),
        _actions(change, approve=False),
    ]


def _policy_reason(record: ChangeRecord) -> str:
    """Why a policy denied it: from the note the detector wrote ("…: 0.0.0.0/0 to tcp 22"),
    or, for a fail-closed deny, which writes none, from its decision step."""
    return (record.note or "").partition(": ")[2] or decision_reason(record) or ""


def _undecided_blocks(
    deny_at: datetime | None, record: ChangeRecord | None, count: str, subject: str = ""
) -> list[dict[str, Any]]:
    """What an undecided change (or group) waits for: its fail-closed deadline, and the
    approvals `record` has of several required (`count`: for how many of a group's changes)."""
    lines = []
    if deny_at is not None:
        lines.append(
            f"{DEADLINE_ICON} {deadline_words(deny_at, subject=subject, plural=bool(subject))}."
        )
    approvals = approvals_words(record, changes=count) if record is not None else None
    if approvals:
        lines.append(f"{APPROVALS_ICON} {approvals}.")
    return [_section("\n".join(lines))] if lines else []


def _fallback_undecided(deny_at: datetime | None, record: ChangeRecord | None) -> str:
    """ " (1 of 2 approvals; reverts at 2026-12-01 14:32 UTC unless approved)", or nothing."""
    parts = []
    if record is not None and record.approvals:
        needed = max(record.approvals_needed or 0, len(record.approvals))
        parts.append(f"{len(record.approvals)} of {needed} approvals")
    if deny_at is not None:
        reverts = deadline_words(deny_at, PLAIN)
        parts.append(reverts[:1].lower() + reverts[1:])
    return f" ({'; '.join(parts)})" if parts else ""


def _expired(record: ChangeRecord) -> str:
    """ "Approval by <@U…> expired" (by all of them, for an approval by several), for a
    change its approval's deadline reverted."""
    approver = expired_approver(record.decided_by)
    return f"Approval by {history_text.approved_by(record, approver)} expired"


def _at(record: ChangeRecord) -> str:
    return f" {moment(record.decided_at)}" if record.decided_at else ""


# -- approvals for a while ---------------------------------------------------------------------


def _allow_for(about: str, durations: Sequence[timedelta]) -> dict[str, Any] | None:
    """The Allow for… select of a decidable message; None when no duration is offered or
    the values would not fit."""
    return _duration_select(
        ACTION_APPROVE_FOR,
        "Allow for…",
        [(duration_words(d), approve_for_value(about, d)) for d in _offered(durations)],
    )


def _offered(durations: Sequence[timedelta]) -> list[timedelta]:
    """The durations a select offers: each once, in the policy's order, within the bounds a
    click is held to, and no more than a select holds."""
    offered: list[timedelta] = []
    for duration in durations:
        if MIN_DURATION <= duration <= MAX_DURATION and duration not in offered:
            offered.append(duration)
    return offered[:MAX_OPTIONS]


def _duration_select(
    action_id: str, placeholder: str, options: Sequence[tuple[str, str]]
) -> dict[str, Any] | None:
    # An over-long value would make Slack refuse the whole message: no select instead (an
    # id that long is refused by the click parser anyway).
    if not options or any(len(value) > MAX_OPTION_VALUE for _, value in options):
        return None
    return {
        "type": "static_select",
        "action_id": action_id,
        "placeholder": {"type": "plain_text", "text": placeholder, "emoji": True},
        "options": [
            {
                "text": {"type": "plain_text", "text": _clip(text, MAX_OPTION_TEXT), "emoji": True},
                "value": value,
            }
            for text, value in options
        ],
    }


def approve_for_value(about: str, duration: timedelta) -> str:
    """An Allow for… option's value: the change (or `g:<batch>`) and the seconds."""
    return f"{about}{VALUE_SEPARATOR}{int(duration.total_seconds())}"


def extend_value(about: str, duration: timedelta, deadline: datetime) -> str:
    """An Extend… option's value: the change, the seconds to add, and the deadline shown."""
    return VALUE_SEPARATOR.join(
        (about, str(int(duration.total_seconds())), deadline_stamp(deadline))
    )


def deadline_value(about: str, deadline: datetime) -> str:
    """Revert now's and Keep permanently's value: the change and the deadline shown."""
    return f"{about}{VALUE_SEPARATOR}{deadline_stamp(deadline)}"


def deadline_stamp(deadline: datetime) -> str:
    """A deadline in a click's value: Unix seconds (UTC). An ISO time would not fit an
    Extend… option (150 characters) beside a 128-character id and the seconds."""
    return str(int(deadline.timestamp()))


def _temporary_blocks(
    about: str,
    record: ChangeRecord,
    changes: Sequence[Change],
    durations: Sequence[timedelta],
    *,
    count: str = "",
) -> list[dict[str, Any]]:
    """An approval for a while (`record`'s, which `changes` share): who allowed it until
    when, what happens then, and Revert now, Extend… and Keep permanently for `about` (a
    change or `g:<batch>`)."""
    deadline = record.approved_until
    if deadline is None:
        return []
    first = changes[0]
    where = f"in {_code(first.account, 32)} / {_code(first.region, 32)}"
    then = (
        f"it is reverted as a Deny would: it {_deny_words(first)} {where}"
        if len(changes) == 1
        else f"they are reverted as a Deny would, {where}"
    )
    return [
        _section(f"{_STATE_ICONS[State.APPROVED]} {allowed_words(record)}{count}."),
        _context(
            f"{EXPIRED_ICON} At the deadline {then}. *Extend…* moves the deadline; "
            "*Keep permanently* approves for good."
        ),
        {
            "type": "actions",
            # A new block for each deadline, so Slack shows Extend… unselected after an edit.
            "block_id": f"temporary-{deadline_stamp(deadline)}",
            "elements": _temporary_elements(about, changes, deadline, durations),
        },
    ]


def _temporary_elements(
    about: str, changes: Sequence[Change], deadline: datetime, durations: Sequence[timedelta]
) -> list[dict[str, Any]]:
    value = deadline_value(about, deadline)[:MAX_BUTTON_VALUE]
    elements: list[dict[str, Any]] = [
        {
            "type": "button",
            "action_id": ACTION_REVERT_NOW,
            "text": {"type": "plain_text", "text": "Revert now", "emoji": True},
            "style": "danger",
            "value": value,
            "confirm": _confirm(
                "Revert now, before the deadline?",
                deny_confirmation(changes),
                "Revoke" if all(c.event_name in REVERTIBLE_EVENTS for c in changes) else "Revert",
            ),
        }
    ]
    extend = _duration_select(
        ACTION_EXTEND,
        "Extend…",
        [(f"+{duration_words(d)}", extend_value(about, d, deadline)) for d in _offered(durations)],
    )
    if extend is not None:
        elements.append(extend)
    elements.append(
        {
            "type": "button",
            "action_id": ACTION_KEEP,
            "text": {"type": "plain_text", "text": "Keep permanently", "emoji": True},
            "style": "primary",
            "value": value,
        }
    )
    return elements


def _deny_words(change: Change) -> str:
    """What Deny does to this change, in mrkdwn: "revokes exactly these rules"."""
    if change.event_name == PREFIX_LIST_EVENT:
        return "removes exactly the added entries from the list (removed ones stay removed)"
    if change.event_name != MODIFY_RULES_EVENT:
        return "revokes exactly these rules"
    unknown = len(unknown_priors(change))
    if unknown == len(change.rules):
        return "removes these rules (their previous values are not on record)"
    words = ["restores each rule to its previous value"]
    if unknown:
        words.append("removes the rules whose previous value is not on record")
    if any(narrows(change, index) for index in range(len(change.rules))):
        words.append("keeps a rule this change narrowed as it is")
    # The caller's sentence goes on after these words: a list ends with a comma.
    return ", ".join(words) + ("," if len(words) > 1 else "")


def _retry_advice(change: Change) -> str:
    check = (
        f"that the spoke role can be assumed in {_code(change.account, 32)} and may "
        f"{_write_words(change)} in {_code(change.region, 32)}, then press *Deny* again to "
        "retry."
    )
    if change.event_name == MODIFY_RULES_EVENT:
        # A rule changed again since is left alone: that change is decided first.
        return (
            f"If a rule was changed again since, decide that change first; otherwise check {check}"
        )
    return f"Check {check}"


def _still_there(change: Change) -> str:
    if change.event_name == PREFIX_LIST_EVENT:
        return "The added entries may still be in the list."
    return "The rules may still be in place."


def _write_words(change: Change) -> str:
    """The spoke role's write the revert needs."""
    if change.event_name == PREFIX_LIST_EVENT:
        return "modify prefix lists"
    if change.event_name == MODIFY_RULES_EVENT:
        return "modify and revoke security-group rules"
    return "revoke security-group rules"


def _actions(
    change: Change, approve: bool, allow_for: dict[str, Any] | None = None
) -> dict[str, Any]:
    return _decision_block(
        change.event_id[:MAX_BUTTON_VALUE],
        approve_label="Approve" if approve else None,
        allow_for=allow_for,
        deny_label="Deny and revert" if approve else "Retry revert",
        confirm_title="Revert this change?",
        confirm_text=deny_confirmation([change]),
        confirm_label="Revoke" if change.event_name in REVERTIBLE_EVENTS else "Revert",
    )


def deny_confirmation(changes: Sequence[Change]) -> str:
    """The Deny dialog's text for changes to one group or list: what Deny will do, said
    before the click, above all that a modified rule without an earlier value on record
    is removed. Plain text."""
    first = changes[0]
    where = f"{first.group_id} in account {first.account} ({first.region})"
    if first.event_name == PREFIX_LIST_EVENT:
        where = f"prefix list {where}"
    revoke = sum(len(c.rules) for c in changes if c.event_name in REVERTIBLE_EVENTS)
    modified = [c for c in changes if c.event_name == MODIFY_RULES_EVENT]
    # Each widened rule of a denied change goes back: to its earlier value, or removed; a
    # rule the change narrowed stays as it is.
    restore = sum(
        1
        for c in modified
        for index, rule in enumerate(c.rules)
        if c.prior_of(rule) is not None and not narrows(c, index)
    )
    unknown = [rule for c in modified for rule in unknown_priors(c)]
    added = [e for c in changes if c.prefix_list for e in c.prefix_list.added]
    does = []
    if revoke:
        does.append(f"revokes {_rules(revoke)}")
    if restore:
        does.append(
            f"restores {_rules(restore)} to {'its' if restore == 1 else 'their'} "
            f"previous value{'' if restore == 1 else 's'}"
        )
    if added:
        they = "it" if len(changes) == 1 else "they"
        does.append(f"removes {_entries(len(added))} {they} added ({_cidrs(added)})")
    sentences = []
    # The warning first: the dialog is clipped at 300 characters, and it matters most.
    warning = unknown_prior_warning(unknown, sum(len(c.rules) for c in modified))
    if warning:
        sentences.append(_sentence(warning) + ("." if does else f" from {where}."))
    if does:
        on = "on" if restore else "from"
        sentences.append(f"This {' and '.join(does)} {on} {where}.")
    if added:
        sentences.append("Other entries stay.")
    return " ".join(sentences) or f"This reverts the change on {where}."


def _rules(count: int) -> str:
    return f"{count} {'rule' if count == 1 else 'rules'}"


def _cidrs(entries: Sequence[PrefixListEntry]) -> str:
    shown = ", ".join(e.cidr for e in entries[:MAX_SHOWN_ENTRIES])
    return shown + (
        f" and {len(entries) - MAX_SHOWN_ENTRIES} more" if len(entries) > MAX_SHOWN_ENTRIES else ""
    )


def _decision_block(
    value: str,
    *,
    approve_label: str | None,
    deny_label: str,
    confirm_title: str,
    confirm_text: str,
    confirm_label: str = "Revoke",
    allow_for: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The actions block: Approve and Allow for… (when offered) and Deny, which asks for
    confirmation."""
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
    if allow_for is not None:
        elements.append(allow_for)
    elements.append(
        {
            "type": "button",
            "action_id": ACTION_DENY,
            "text": {"type": "plain_text", "text": deny_label, "emoji": True},
            "style": "danger",
            "value": value,
            "confirm": _confirm(confirm_title, confirm_text, confirm_label),
        }
    )
    return {"type": "actions", "block_id": ACTIONS_BLOCK_ID, "elements": elements}


def _confirm(title: str, text: str, label: str) -> dict[str, Any]:
    """A danger confirmation dialog: what the click will do, said before it."""
    return {
        "title": {"type": "plain_text", "text": _clip(title, 100)},
        "text": {"type": "plain_text", "text": _clip(text, 300)},
        "confirm": {"type": "plain_text", "text": label},
        "deny": {"type": "plain_text", "text": "Cancel"},
        "style": "danger",
    }


def _fallback(record: ChangeRecord) -> str:
    change = record.change
    who = decider(record.decided_by)
    denied = f"denied by {who}"
    if record.decided_by and record.decided_by.startswith(EXPIRY_PREFIX):
        denied = f"approval by {decider(expired_approver(record.decided_by))} expired"
    if record.decided_by == DENY_UNDECIDED and decision_reason(record):
        denied += f" ({decision_reason(record)})"
    approvers = approved_by(record, record.decided_by)
    approved = f"approved by {approvers}"
    if record.temporary and record.approved_until is not None:
        approved = f"allowed by {approvers} until {moment(record.approved_until, PLAIN)}"
    pending = record if record.state is State.PENDING else None
    state = {
        State.PENDING: f"awaiting review{_fallback_undecided(record.deny_at, pending)}",
        State.INFO: "for information",
        State.APPROVED: approved,
        State.DENIED: f"{denied}, reverting",
        State.REVERTED: f"{denied}, reverted",
        State.REVERT_FAILED: f"{denied}, revert FAILED",
        State.IGNORED: "ignored by policy",
    }.get(record.state, record.state.value)
    where = (
        f"{_user_text(change.group_id, 64)} in {_fallback_account(change, record.context)} "
        f"{_user_text(change.region, 32)}"
    )
    on = "in prefix list" if change.event_name == PREFIX_LIST_EVENT else "on"
    risk = _fallback_risk(record.risk, exposure_tag(record.context))
    return _clip(f"{risk}{_what(change).capitalize()} {on} {where}: {state}", MAX_FALLBACK_TEXT)


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


def batch_message(
    batch_id: str,
    records: list[ChangeRecord],
    *,
    durations: Sequence[timedelta] = DEFAULT_TEMPORARY_APPROVALS,
) -> Message:
    """One message for changes one actor made to one group in a run: one decision for all.

    Each member keeps its own state, shown on its line; the buttons decide every member
    still open (Deny also retries members whose revert failed), Allow for… approves them
    for a while, and members allowed for a while share Revert now, Extend… and Keep
    permanently. `durations` as for `message`."""
    first = records[0].change
    context = _batch_context(records)
    risk = _highest_risk(records)
    count = len(records)
    header = f"{_risk_prefix(risk, exposure_tag(context))}{count} changes {_on(first)}"
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": _clip(header, MAX_HEADER_TEXT), "emoji": True},
        },
        _section(
            f"*{count} changes* by {_code(first.actor.arn, 600)} "
            f"{'in' if first.event_name == PREFIX_LIST_EVENT else 'on'} {_group(first)} "
            f"in account {account_label(first, context)}, {_code(first.region, 32)}"
        ),
        _fields(_who_fields(first)),
        # The members share account, region and group (or list): their context is said once.
        *_context_blocks(_all_rules(records), context),
        *_batch_references(first, context),
        {"type": "divider"},
    ]
    tail = _batch_status(batch_id, records, durations)
    blocks += _member_blocks(records)[: MAX_BLOCKS - len(blocks) - len(tail)]
    return Message(text=_batch_fallback(records, risk, context), blocks=blocks + tail)


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


def _batch_references(change: Change, context: ChangeContext | None) -> list[dict[str, Any]]:
    """A prefix list's referencing groups, once for all its edits, in at most two sections."""
    blocks, hidden = _packed(reference_lines(change, context), 2)
    if hidden:
        blocks.append(_context(f"…and {hidden} more groups that reference the list."))
    return blocks


def _member_line(record: ChangeRecord) -> str:
    change = record.change
    icon = _STATE_ICONS.get(record.state, "")
    if change.event_name == PREFIX_LIST_EVENT:
        risk = f" · {record.risk}" if record.risk else ""
        return f"{icon} {_when(change)}{risk}: {_entries_line(change)}"
    notes = rule_notes(change, record.context)
    rules = "; ".join(
        rule_line(change, r).removeprefix("• ") + (f" ({notes[i]})" if notes[i] else "")
        for i, r in enumerate(change.rules[:3])
    )
    more = f" (+{len(change.rules) - 3} more)" if len(change.rules) > 3 else ""
    risk = f" · {record.risk}" if record.risk else ""
    return f"{icon} {_when(change)}{risk}: {rules or _what(change)}{more}"


def _entries_line(change: Change) -> str:
    """ "added `0.0.0.0/0` (anywhere), `203.0.113.0/24`; removed `10.0.0.0/8` (+2 more)"."""
    edit = change.prefix_list
    if edit is None:
        return _what(change)
    parts = []
    for verb, entries in (("added", edit.added), ("removed", edit.removed)):
        if entries:
            shown = ", ".join(entry_words(e) for e in entries[:MAX_SHOWN_ENTRIES])
            more = len(entries) - MAX_SHOWN_ENTRIES
            parts.append(f"{verb} {shown}" + (f" (+{more} more)" if more > 0 else ""))
    return "; ".join(parts) or _what(change)


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


def _batch_status(
    batch_id: str, records: list[ChangeRecord], durations: Sequence[timedelta]
) -> list[dict[str, Any]]:
    first = records[0].change
    tally: dict[str, int] = {}
    for record in records:
        word = "allowed for a while" if record.temporary else _state_word(record.state)
        tally[word] = tally.get(word, 0) + 1
    deciders = sorted({decider(user) for r in records for user in _deciders(r)})
    words = ", ".join(f"{n} {word}" for word, n in tally.items())
    status = f"{words}" + (f" (decided by {', '.join(deciders)})" if deciders else "")
    blocks = [
        *_batch_expired(records),
        *_batch_denied_undecided(records),
        *_batch_temporary(batch_id, records, durations),
        _context(f"Members: {status}."),
    ]
    open_ = sum(1 for r in records if r.state is State.PENDING)
    failed = sum(1 for r in records if r.state is State.REVERT_FAILED)
    if not open_ and not failed:
        return blocks
    undecided = [r.change for r in records if r.state in (State.PENDING, State.REVERT_FAILED)]
    allow = _allow_for(batch_value(batch_id), durations) if open_ else None
    deadline, shared = _batch_deadline(records)
    for block in _batch_undecided(records, deadline, shared):
        blocks.insert(len(blocks) - 1, block)
    until = " until then" if deadline is not None and shared else ""
    blocks.insert(
        len(blocks) - 1,
        _context(
            f":large_yellow_circle: Allowed{until} unless denied. *Deny* reverts every undecided "
            f"change here in {_code(first.account, 32)} / {_code(first.region, 32)}; "
            "changes already decided keep their decision."
            + (f" {ALLOW_FOR_WORDS}" if allow else "")
        ),
    )
    only_revokes = all(c.event_name in REVERTIBLE_EVENTS for c in undecided)
    blocks.append(
        _decision_block(
            batch_value(batch_id),
            approve_label="Approve all" if open_ else None,
            deny_label="Deny all and revert",
            confirm_title="Revert these changes?",
            confirm_text=deny_confirmation(undecided),
            confirm_label="Revoke" if only_revokes else "Revert",
            allow_for=allow,
        )
    )
    return blocks


def _deciders(record: ChangeRecord) -> tuple[str, ...]:
    """Who decided a member: every approver of one approved by several."""
    if record.state is State.APPROVED:
        return approvers_of(record, record.decided_by)
    return (record.decided_by,) if record.decided_by else ()


def _batch_deadline(records: list[ChangeRecord]) -> tuple[datetime | None, bool]:
    """The earliest fail-closed deadline of the open members, and whether every member
    reverts then (else only some of them do)."""
    deadlines = [r.deny_at for r in records if r.state is State.PENDING and r.deny_at]
    if not deadlines:
        return None, False
    first = min(deadlines)
    return first, deadlines.count(first) == len(records)


def _batch_undecided(
    records: list[ChangeRecord], deadline: datetime | None, shared: bool
) -> list[dict[str, Any]]:
    """The open members' earliest deadline, and the approvals of the member furthest from
    approved (the one a group click still waits for)."""
    counted, furthest = _batch_approvals(records)
    count = f" for {counted} of {len(records)} changes" if counted < len(records) else ""
    subject = "These changes" if shared else "Some of these changes"
    return _undecided_blocks(deadline, furthest, count, subject)


def _batch_approvals(records: list[ChangeRecord]) -> tuple[int, ChangeRecord | None]:
    """How many open members have approvals of several required, and the one furthest from
    approved (what a group's click still waits for)."""
    counted = [r for r in records if r.state is State.PENDING and r.approvals]
    furthest = max(
        counted, key=lambda r: (r.approvals_needed or 0) - len(r.approvals), default=None
    )
    return len(counted), furthest


def _state_word(state: State) -> str:
    return state.value.lower().replace("_", " ")


def _batch_temporary(
    batch_id: str, records: list[ChangeRecord], durations: Sequence[timedelta]
) -> list[dict[str, Any]]:
    """Members allowed for a while, as one approval: they share their deadline (the earliest
    when an edit left them apart, so nothing is reverted later than shown)."""
    temporary = [r for r in records if r.temporary and r.approved_until is not None]
    if not temporary:
        return []
    deadline = min(r.approved_until for r in temporary if r.approved_until is not None)
    sharing = [r for r in temporary if r.approved_until == deadline]
    count = f" ({len(sharing)} of {len(records)} changes)" if len(sharing) < len(records) else ""
    changes = [r.change for r in sharing]
    return _temporary_blocks(batch_value(batch_id), sharing[0], changes, durations, count=count)


def _batch_expired(records: list[ChangeRecord]) -> list[dict[str, Any]]:
    """ "Approval by <@U…> expired": members whose approval for a while ran out."""
    expired = [r for r in records if (r.decided_by or "").startswith(EXPIRY_PREFIX)]
    if not expired:
        return []
    first = expired[0]
    progress = _revert_progress(expired)
    return [_section(f"{EXPIRED_ICON} {_expired(first)}{_at(first)}; {progress}")]


def _revert_progress(records: list[ChangeRecord]) -> str:
    """Where the revert of denied members stands, the least advanced first."""
    states = {r.state for r in records}
    if State.DENIED in states:
        return "reverting…"
    if State.REVERT_FAILED in states:
        return "the revert failed; *Deny* retries it"
    return "reverted"


def _batch_denied_undecided(records: list[ChangeRecord]) -> list[dict[str, Any]]:
    """Members the policy denied because nobody approved them in time."""
    denied = [r for r in records if r.decided_by == DENY_UNDECIDED]
    if not denied:
        return []
    progress = _revert_progress(denied)
    first = denied[0]
    rule = _code(DENY_UNDECIDED.removeprefix("policy:"), 120)
    why = _user_text(decision_reason(first) or "", 500)
    return [
        _section(
            f"{_STATE_ICONS[first.state]} *Reverted by policy* {rule}{_at(first)}"
            + (f" ({why})" if why else "")
            + f"; {progress}"
        )
    ]


def _batch_fallback(
    records: list[ChangeRecord], risk: str | None, context: ChangeContext | None
) -> str:
    first = records[0].change
    prefix = _fallback_risk(risk, exposure_tag(context))
    open_ = sum(1 for r in records if r.state is State.PENDING)
    where = f"{_user_text(first.group_id, 64)} in {_fallback_account(first, context)}"
    on = "in prefix list" if first.event_name == PREFIX_LIST_EVENT else "on"
    deadlines = [r.approved_until for r in records if r.temporary and r.approved_until]
    deadline, _ = _batch_deadline(records)
    undecided = _fallback_undecided(deadline, _batch_approvals(records)[1])
    state = f"{open_} awaiting review{undecided}" if open_ else "decided"
    if deadlines and not open_:
        state = f"allowed until {moment(min(deadlines), PLAIN)}"
    return _clip(f"{prefix}{len(records)} changes {on} {where}: {state}", MAX_FALLBACK_TEXT)
