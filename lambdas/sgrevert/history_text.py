"""A change's decisions and the steps of its history in words: who decided, an approval
for a while ("Allowed by <@U…> until … (1 h)"), the thread reply for each step, and the
reminder before an approval ends.

Pure. A time is a Slack date (`<!date^…|…>`, shown in each reader's timezone) with the
UTC time as its fallback; `PLAIN` words say the same for a terminal, with user ids
instead of mentions. The Slack elements around these words are in `blocks`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sgrevert.context_text import MRKDWN, SLACK_USER, Words
from sgrevert.durations import duration_words, remind_at
from sgrevert.model import EXPIRY_PREFIX, ChangeRecord, Step, Transition

MAX_WHO = 120
MAX_WHY = 1500
_DEADLINE_STEPS = (Step.ALLOWED_UNTIL, Step.EXTENDED)


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
    text = f"Allowed by {decider(approver, words)} until {moment(until, words)}"
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
    return f"{' and '.join(mentions)}, {ends}{then}"


def _reminded(record: ChangeRecord) -> list[str]:
    """Who a reminder mentions: the approver, and the actor when their Slack user is known."""
    users: list[str] = []
    approver = record.decided_by
    if approver and SLACK_USER.match(approver):
        users.append(approver)
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
        return f"{_decision(transition.why)} by {who}"
    if step is Step.ALLOWED_UNTIL:
        until = transition.until or record.approved_until
        if until is None:
            return f"Allowed for a while by {who}"
        how_long = span(transition.at, until)
        return f"Allowed by {who} until {moment(until, words)}" + (
            f" ({how_long})" if how_long else ""
        )
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
        names = " and ".join(decider(user, words) for user in reminded) or "the approver"
        ends = f": the approval ends {moment(until, words)}" if until else ""
        return f"Reminded {names}{ends}"
    if step is Step.EXPIRED:
        approver = expired_approver(transition.by) or expired_approver(record.decided_by)
        return f"Approval by {decider(approver or record.decided_by, words)} expired: reverting…"
    if step is Step.REVERTED:
        return f"Reverted: {words.text(transition.why or record.outcome or 'done.', MAX_WHY)}"
    if step is Step.FAILED:
        why = transition.why or record.outcome or "no details recorded."
        return f"Revert failed: {words.text(why, MAX_WHY)}"
    return f"{step.value.replace('_', ' ').capitalize()} by {who}"


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
