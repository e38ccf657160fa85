"""A change's decisions and the steps of its history in words: who decided, an approval
for a while ("Allowed by <@U…> until … (1 h)"), the approvals a change that needs several
has so far ("Approved 1 of 2 (<@U…>)"), a fail-closed deadline ("Reverts … unless
approved"), the thread reply for each step, the reminder before an approval ends and the
reminder of an undecided change.

Pure. A time is a Slack date (`<!date^…|…>`, shown in each reader's timezone) with the
UTC time as its fallback; `PLAIN` words say the same for a terminal, with user ids
instead of mentions. The Slack elements around these words are in `blocks`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sgrevert.context_text import MRKDWN, SLACK_USER, Words
from sgrevert.durations import duration_words, remind_at
from sgrevert.model import EXPIRY_PREFIX, Approval, ChangeRecord, State, Step, Transition
from sgrevert.slack_ids import SLACK_USER_GROUP

MAX_WHO = 120
MAX_WHY = 1500
_DEADLINE_STEPS = (Step.ALLOWED_UNTIL, Step.EXTENDED)
# What the store writes in `why`: an APPROVAL's "1 of 2" (", for 1 h" after Allow for…),
# and the last of several approvals' "(2 of 2)" at the end of its decision.
_APPROVAL_WHY = re.compile(r"(\d+) of (\d+)(?:, for (.+))?")
_LAST_APPROVAL_WHY = re.compile(r"\((\d+ of \d+)\)$")
_NUMBERS = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


def decider(decided_by: str | None, words: Words = MRKDWN) -> str:
    """Who decided: a mention for Slack users, plain words for the CLI, a policy and an
    expiry ("the expiry of the approval by <@U…>")."""
    if not decided_by:
        return "someone"
    if decided_by.startswith("cli:"):
        return f"operator {words.text(decided_by.removeprefix('cli:'), MAX_WHO)} from the CLI"
    if decided_by.startswith("policy:"):
        return f"policy {words.text(decided_by.removeprefix('policy:'), MAX_WHO)}"
    if decided_by.startswith(EXPIRY_PREFIX):
        return f"the expiry of the approval by {decider(expired_approver(decided_by), words)}"
    if SLACK_USER.match(decided_by):
        return f"<@{decided_by}>" if words.mrkdwn else decided_by
    return words.text(decided_by, MAX_WHO)


def mention(target: str, words: Words = MRKDWN) -> str:
    """Someone a reminder is for: a Slack user (`<@U…>`) or user group (`<!subteam^S…>`); in
    plain words their id ("user group S…")."""
    if SLACK_USER.match(target):
        return f"<@{target}>" if words.mrkdwn else target
    if SLACK_USER_GROUP.fullmatch(target):
        return f"<!subteam^{target}>" if words.mrkdwn else f"user group {target}"
    return words.text(target, MAX_WHO)


def and_joined(parts: Sequence[str]) -> str:
    """ "a", "a and b", "a, b and c"."""
    if len(parts) <= 1:
        return "".join(parts)
    return f"{', '.join(parts[:-1])} and {parts[-1]}"


def expired_approver(decided_by: str | None) -> str | None:
    """The approver whose approval expired, from "expiry:<approver>"; None otherwise."""
    if not decided_by or not decided_by.startswith(EXPIRY_PREFIX):
        return None
    return decided_by.removeprefix(EXPIRY_PREFIX) or None


def moment(at: datetime, words: Words = MRKDWN) -> str:
    """ "2026-12-01 14:32 UTC", as a Slack date in mrkdwn ("today at 15:32" for a reader
    in Paris)."""
    stamp = at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    if not words.mrkdwn:
        return stamp
    return f"<!date^{int(at.timestamp())}^{{date_short_pretty}} at {{time}}|{stamp}>"


def span(start: datetime | None, end: datetime | None) -> str | None:
    """ "1 h" from `start` to `end`, to the minute; None when unknown or not positive."""
    if start is None or end is None:
        return None
    minutes = round((end - start).total_seconds() / 60)
    return duration_words(timedelta(minutes=minutes)) if minutes > 0 else None


# -- several approvers, and a fail-closed deadline ----------------------------------------------


def approvers_of(record: ChangeRecord, approver: str | None) -> tuple[str, ...]:
    """Who approved it, when `approver` decided: every approver when theirs was the last of
    several required approvals, else `approver` alone (a CLI approval of a change that had
    some, say)."""
    approvals = record.approvals
    needed = record.approvals_needed or 0
    if len(approvals) > 1 and len(approvals) >= needed and approvals[-1].user == approver:
        return record.approvers
    return (approver,) if approver else ()


def approved_by(record: ChangeRecord, approver: str | None, words: Words = MRKDWN) -> str:
    """ "<@U…>", or "<@U…> and <@U…>" when `approver` gave the last of several approvals."""
    names = [decider(user, words) for user in approvers_of(record, approver)]
    return and_joined(names) if names else decider(approver, words)


def approvals_words(
    record: ChangeRecord, words: Words = MRKDWN, *, changes: str = ""
) -> str | None:
    """ "Approved 1 of 2 (<@U…>): one more approver needed": a PENDING change that needs
    several approvers, with the ones counted so far (`changes`, after them: of which of a
    group's changes, " for 2 of 3 changes"); None when none is."""
    if record.state is not State.PENDING or not record.approvals:
        return None
    count = len(record.approvals)
    needed = max(record.approvals_needed or count, count)
    names = and_joined([_approver(approval, words) for approval in record.approvals])
    text = f"Approved {count} of {needed} ({names}){changes}"
    return text + (f": {_more(needed - count)} needed" if needed > count else "")


def deadline_words(
    deny_at: datetime, words: Words = MRKDWN, *, subject: str = "", plural: bool = False
) -> str:
    """ "Reverts … unless approved": a fail-closed change's deadline; "These changes revert
    …" with a `subject` (`plural` for changes)."""
    at = moment(deny_at, words) if words.mrkdwn else f"at {moment(deny_at, words)}"
    verb = "revert" if plural else "reverts"
    return f"{f'{subject} {verb}' if subject else verb.capitalize()} {at} unless approved"


def decision_reason(record: ChangeRecord) -> str | None:
    """What its decision step says beyond "denied": "not approved within 30 min" for a
    fail-closed deny. None when it says no more."""
    decided = next(
        (
            t
            for t in reversed(record.history)
            if t.step is Step.DECIDED and t.by == record.decided_by
        ),
        None,
    )
    if decided is None:
        return None
    return (decided.why or "").partition(": ")[2] or None


def _approver(approval: Approval, words: Words) -> str:
    chose = f" for {duration_words(approval.duration)}" if approval.duration else ""
    return f"{decider(approval.user, words)}{chose}"


def _more(missing: int) -> str:
    """ "one more approver", "two more approvers"."""
    count = _NUMBERS[missing] if missing < len(_NUMBERS) else str(missing)
    return f"{count} more approver{'' if missing == 1 else 's'}"


# -- an approval for a while ------------------------------------------------------------------


def allowed_words(record: ChangeRecord, words: Words = MRKDWN) -> str:
    """ "Allowed by <@U…> until … (1 h)", and who extended it last: a temporary approval's
    state as the message shows it."""
    until = record.approved_until
    if until is None:
        return f"Approved by {decider(record.decided_by, words)}"
    # An extension makes its author the decider: the approver is the one who allowed it.
    allowed = _last(record, (Step.ALLOWED_UNTIL,))
    approver = allowed.by if allowed and allowed.by else record.decided_by
    how_long = span(allowed.at if allowed else record.decided_at, until)
    text = f"Allowed by {approved_by(record, approver, words)} until {moment(until, words)}"
    text += f" ({how_long})" if how_long else ""
    extended = _last(record, _DEADLINE_STEPS)
    if extended is not None and extended.step is Step.EXTENDED:
        text += f", extended by {decider(extended.by, words)}"
    return text


def reminder_words(
    record: ChangeRecord, now: datetime | None = None, *, group: bool = False
) -> str:
    """ "<@approver> and <@actor>, the approval of this change ends … (in 6 min)." and
    what happens then (`group`: of the changes of a group message, which `record` is one
    of). Time left is counted from `now` when given, else from when the reminder is due
    (`durations.remind_at`)."""
    these, it = ("these changes", "them") if group else ("this change", "it")
    until = record.approved_until
    if until is None:
        are = "These changes are" if group else "This change is"
        return f"{are} no longer approved for a while; nothing will revert {it}."
    mentions = [f"<@{user}>" for user in _reminded(record)]
    setting = _last(record, _DEADLINE_STEPS)
    start = setting.at if setting else record.decided_at
    left = until - now if now is not None else until - remind_at(start or until, until)
    ends = f"the approval of {these} ends {moment(until)} ({_in(left)})."
    then = (
        f" Extend {it} or keep {it} permanently; otherwise {'they are' if group else 'it is'} "
        "reverted then, as a Deny would."
    )
    if not mentions:
        return ends[:1].upper() + ends[1:] + then
    return f"{and_joined(mentions)}, {ends}{then}"


def _reminded(record: ChangeRecord) -> list[str]:
    """Who a reminder mentions: the approver (every approver of an approval by several),
    and the actor when their Slack user is known."""
    users: list[str] = [
        user for user in approvers_of(record, record.decided_by) if SLACK_USER.match(user)
    ]
    actor = record.context.actor if record.context else None
    known = actor.slack_user if actor else None
    if known and SLACK_USER.match(known) and known not in users:
        users.append(known)
    return users


def _in(left: timedelta) -> str:
    minutes = int(left.total_seconds() // 60)
    if left.total_seconds() <= 0:
        return "now"
    if minutes < 1:
        return "in less than a minute"
    return f"in {duration_words(timedelta(minutes=minutes))}"


# -- the steps --------------------------------------------------------------------------------


def step_words(record: ChangeRecord, transition: Transition, words: Words = MRKDWN) -> str | None:
    """One step of the history in words; None for POSTED (the message itself is the post)."""
    who = decider(transition.by, words)
    step = transition.step
    if step is Step.POSTED:
        return None
    if step is Step.DECIDED:
        text = f"{_decision(transition.why)} by {who}"
        counted = _last_approval(record, transition, words)
        text += f" ({counted})" if counted else ""
        reason = (transition.why or "").partition(": ")[2]
        return text + (f": {words.text(reason, MAX_WHY)}" if reason else "")
    if step is Step.APPROVAL:
        return _approval_words(transition, who, words)
    if step is Step.NUDGED:
        names = and_joined([mention(target, words) for target in transition.to])
        why = f" ({words.text(transition.why, MAX_WHY)})" if transition.why else ""
        return f"Reminded {names}: still undecided{why}" if names else f"Still undecided{why}"
    if step is Step.ALLOWED_UNTIL:
        until = transition.until or record.approved_until
        if until is None:
            return f"Allowed for a while by {who}"
        counted = _last_approval(record, transition, words)
        said = "; ".join(part for part in (span(transition.at, until), counted) if part)
        return f"Allowed by {who} until {moment(until, words)}" + (f" ({said})" if said else "")
    if step is Step.EXTENDED:
        until = transition.until or record.approved_until
        if until is None:
            return f"Extended by {who}"
        before = _deadline_before(record, transition)
        more = span(before, until)
        return f"Extended by {who} until {moment(until, words)}" + (f" (+{more})" if more else "")
    if step is Step.MADE_PERMANENT:
        return f"Kept permanently by {who}"
    if step is Step.REMINDED:
        until = transition.until or record.approved_until
        reminded = _reminded(record)
        names = and_joined([decider(user, words) for user in reminded]) or "the approver"
        ends = f": the approval ends {moment(until, words)}" if until else ""
        return f"Reminded {names}{ends}"
    if step is Step.EXPIRED:
        approver = expired_approver(transition.by) or expired_approver(record.decided_by)
        if approver is None:
            return f"Approval by {decider(record.decided_by, words)} expired: reverting…"
        return f"Approval by {approved_by(record, approver, words)} expired: reverting…"
    if step is Step.REVERTED:
        return f"Reverted: {words.text(transition.why or record.outcome or 'done.', MAX_WHY)}"
    if step is Step.FAILED:
        why = transition.why or record.outcome or "no details recorded."
        return f"Revert failed: {words.text(why, MAX_WHY)}"
    return f"{step.value.replace('_', ' ').capitalize()} by {who}"


def nudge_words(record: ChangeRecord, transition: Transition, *, group: bool = False) -> str:
    """The reminder of an undecided change (a NUDGED step): "<@U…> and <!subteam^S…>, this
    change has been undecided for 45 min (reminder 1 of 3). It reverts … unless approved.
    Approve or Deny it on the message above." (`group`: the changes of a group message,
    which `record` is one of). A change decided before the reminder reached the thread is
    said to be so, mentioning nobody."""
    these, it = ("these changes", "them") if group else ("this change", "it")
    how_long = span(record.posted_at, transition.at)
    reminder = f" ({MRKDWN.text(transition.why, MAX_WHY)})" if transition.why else ""
    if record.state is not State.PENDING:
        was = f"{'were' if group else 'was'} undecided" + (f" for {how_long}" if how_long else "")
        since = "they have" if group else "it has"
        return f"{_capital(these)} {was}{reminder}; {since} been decided since."
    if how_long:
        undecided = f"{these} {'have' if group else 'has'} been undecided for {how_long}"
    else:
        undecided = f"{these} {'are' if group else 'is'} still undecided"
    names = and_joined([mention(target) for target in transition.to])
    text = f"{names}, {undecided}{reminder}." if names else f"{_capital(undecided)}{reminder}."
    if record.approvals:
        needed = max(record.approvals_needed or 0, len(record.approvals))
        text += f" Approved {len(record.approvals)} of {needed} so far."
    if record.deny_at is not None:
        subject = "They" if group else "It"
        text += f" {deadline_words(record.deny_at, subject=subject, plural=group)}."
    return text + f" Approve or Deny {it} on the message above."


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _approval_words(transition: Transition, who: str, words: Words) -> str:
    """ "Approved by <@U…> (1 of 2): one more approver needed"; "Approved by <@U…> for 1 h
    (1 of 2): …" after Allow for…."""
    matched = _APPROVAL_WHY.fullmatch((transition.why or "").strip())
    if matched is None:
        why = f" ({words.text(transition.why, MAX_WHY)})" if transition.why else ""
        return f"Approved by {who}{why}"
    count, needed, chose = int(matched[1]), int(matched[2]), matched[3]
    text = f"Approved by {who}" + (f" for {words.text(chose, 40)}" if chose else "")
    text += f" ({count} of {needed})"
    return text + (f": {_more(needed - count)} needed" if needed > count else "")


def _last_approval(record: ChangeRecord, transition: Transition, words: Words) -> str | None:
    """ "2 of 2, with <@U…>": the last of several approvals, and the approvers before it."""
    matched = _LAST_APPROVAL_WHY.search((transition.why or "").strip())
    if matched is None:
        return None
    others = [
        decider(a.user, words)
        for a in record.approvals
        if a.user != transition.by and a.at <= transition.at
    ]
    return f"{matched[1]}, with {and_joined(others)}" if others else matched[1]


def _decision(why: str | None) -> str:
    """ "Approved", "Denied": a DECIDED step says which in `why`."""
    said = (why or "").strip().lower()
    if said.startswith("approv"):
        return "Approved"
    if said.startswith("den"):
        return "Denied"
    return "Decided"


def _last(record: ChangeRecord, steps: tuple[Step, ...]) -> Transition | None:
    return next((t for t in reversed(record.history) if t.step in steps), None)


def _deadline_before(record: ChangeRecord, transition: Transition) -> datetime | None:
    """The deadline an extension moved: the one the step before it in the history set."""
    history = record.history
    end = history.index(transition) if transition in history else len(history)
    earlier = (t for t in reversed(history[:end]) if t.step in _DEADLINE_STEPS)
    return next((t.until for t in earlier if t.until is not None), None)
