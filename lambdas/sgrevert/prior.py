"""Where a modified rule's "before" comes from: the group's recorded history. Pure.

A ModifySecurityGroupRules record holds only each rule's new value. Its earlier value is
the newest observation of that rule id from strictly before the modification: the
Authorize that created it or an earlier modification (its after value), at that record's
event time; or a snapshot of the group's rules kept as a record's context (what
DescribeSecurityGroupRules answered at post time), at its read time.

Revokes are not consulted: a rule id is never reused, so a rule revoked before the
modification could not have been modified (that call fails, and failed calls are not
recorded).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING

from sgrevert.model import (
    MODIFY_RULES_EVENT,
    REMOVAL_EVENTS,
    REVERTIBLE_EVENTS,
    Change,
    ChangeRecord,
    Prior,
)

if TYPE_CHECKING:
    from sgrevert.context import ChangeContext


def find_prior(
    change: Change, history: Iterable[ChangeRecord], *, recent: Iterable[Change] = ()
) -> tuple[Prior, ...]:
    """The earlier value of each rule a ModifySecurityGroupRules `change` modified, for the
    rules with an id that `history` (the group's records, any order) holds one of.

    `recent`: more of the group's changes, which the store's index may not show yet (a
    detector run's own batch); one `history` holds is taken from there instead (with its
    stored prior and context)."""
    if change.event_name != MODIFY_RULES_EVENT:
        return ()
    sources = [(r.change, r.context) for r in history if r.event_id != change.event_id]
    held = {seen.event_id for seen, _ in sources} | {change.event_id}
    sources += [(seen, None) for seen in recent if seen.event_id not in held]
    found: dict[str, Prior] = {}
    for rule in change.rules:
        if rule.rule_id is None or rule.rule_id in found:
            continue
        seen = [
            prior
            for source, context in sources
            for prior in _observations(source, context, rule.rule_id)
            if prior.seen_at < change.event_time
        ]
        if seen:
            found[rule.rule_id] = max(seen, key=_recency)
    return tuple(found.values())


def newer_change(
    change: Change, rule_id: str, history: Iterable[ChangeRecord]
) -> ChangeRecord | None:
    """The oldest recorded change after `change` that modified or revoked rule `rule_id`
    (a Revoke by id names the rule with an id-only rule), if any."""
    later = [
        record
        for record in history
        if record.change.event_time > change.event_time
        and record.event_id != change.event_id
        and _touches(record.change, rule_id)
    ]
    return min(later, key=lambda r: (r.change.event_time, r.event_id), default=None)


def _observations(change: Change, context: ChangeContext | None, rule_id: str) -> Iterator[Prior]:
    """Every value of rule `rule_id` a record (its change, its context) saw, and when."""
    if change.event_name in REVERTIBLE_EVENTS or change.event_name == MODIFY_RULES_EVENT:
        for rule in change.rules:
            if rule.rule_id != rule_id:
                continue
            # A modification's record does not say ingress or egress; its own prior may.
            earlier = change.prior_of(rule) if change.event_name == MODIFY_RULES_EVENT else None
            value = replace(rule, direction=earlier.rule.direction) if earlier else rule
            yield Prior(value, change.event_time, change.event_id)
    if context is not None and context.rules is not None:
        for rule in context.rules:
            if rule.rule_id == rule_id:
                yield Prior(rule, context.read_at, change.event_id, from_snapshot=True)


def _recency(prior: Prior) -> tuple[datetime, bool, str]:
    # The newest wins; in the same second a snapshot (AWS's own answer) over a record.
    return (prior.seen_at, prior.from_snapshot, prior.source)


def _touches(change: Change, rule_id: str) -> bool:
    if change.event_name != MODIFY_RULES_EVENT and change.event_name not in REMOVAL_EVENTS:
        return False
    return any(rule.rule_id == rule_id for rule in change.rules)
