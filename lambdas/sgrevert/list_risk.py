"""A prefix-list edit rated again once the rules that reference the list are known.

Pure. A prefix-list edit's level depends on the rules that reference the list, so the
detector reads its context as it records it, before the policy judges it (ignore,
auto-revert, min_risk_to_post). From those rules the edit is rated as if each added CIDR
were a source of each of them. Without them (no context reader, or the read failed) it
is rated at worst, each added CIDR to all traffic, and rated again when the context is
read at post time. A read that failed or was cut keeps the worst case: a reviewer is
never shown a level lower than what the unread rules might open.
"""

from __future__ import annotations

from sgrevert.context import ChangeContext
from sgrevert.model import PREFIX_LIST_EVENT, Change, ChangeRecord, Rule
from sgrevert.risk import RiskRules, assess


def referencing_rules(context: ChangeContext | None) -> list[Rule] | None:
    """Every rule that references the list, or None when they are not (all) known."""
    if context is None or context.references is None or not context.references_complete:
        return None
    return [rule for reference in context.references for rule in reference.rules]


def rating_note(change: Change, referencing: list[Rule], reason: str) -> str:
    """Why the edit has its level: "rated on the 2 rules that reference pl-…: …"."""
    count = len(referencing)
    if not count:
        return reason
    noun = "rule that references" if count == 1 else "rules that reference"
    return f"rated on the {count} {noun} {change.group_id}: {reason}"


def rated_on_references(
    record: ChangeRecord, context: ChangeContext, rules: RiskRules
) -> tuple[str | None, str | None]:
    """(risk, why) from the referencing rules; (None, None) keeps the recorded risk: not a
    prefix-list edit, the references not (all) read, or the change decided already (a
    policy revert keeps the level it was reverted at)."""
    change = record.change
    if change.event_name != PREFIX_LIST_EVENT or record.decided_by is not None:
        return None, None
    referencing = referencing_rules(context)
    if referencing is None:
        return None, None
    assessment = assess(change, rules, references=referencing)
    return assessment.risk.label, rating_note(change, referencing, assessment.reason)
