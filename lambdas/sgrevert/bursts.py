"""Turning a run's unposted changes into messages: one per change, or one per burst.

Pure. A burst is the open changes one actor made to one security group: they go out as
one group message with one decision. Changes decided already (by policy) and changes
alone in their burst get their own message. Order follows the oldest change of each
message, so earlier runs' leftovers still go first.
"""

from __future__ import annotations

from dataclasses import dataclass

from sgrevert.model import ChangeRecord, State

MAX_BATCH_SIZE = 25  # one click reverts these in one asynchronous invocation (60 s)
_GROUPABLE = frozenset({State.PENDING, State.INFO})


@dataclass(frozen=True)
class Unit:
    """What one message shows: a single change, or a burst."""

    records: tuple[ChangeRecord, ...]

    @property
    def is_batch(self) -> bool:
        return len(self.records) > 1

    @property
    def event_ids(self) -> list[str]:
        return [r.event_id for r in self.records]


def plan_messages(records: list[ChangeRecord], max_batch: int = MAX_BATCH_SIZE) -> list[Unit]:
    """Group `records` (in posting order) into messages, each burst at most `max_batch` long."""
    units: list[list[ChangeRecord]] = []
    open_burst: dict[tuple[str, ...], list[ChangeRecord]] = {}
    for record in records:
        if record.state not in _GROUPABLE or record.decided_by:
            units.append([record])
            continue
        change = record.change
        key = (
            change.actor.arn,
            change.account,
            change.region,
            change.group_id,
            record.state.value,
        )
        burst = open_burst.get(key)
        if burst is None or len(burst) >= max_batch:
            burst = []
            open_burst[key] = burst
            units.append(burst)
        burst.append(record)
    return [Unit(tuple(unit)) for unit in units]


def changes_in(units: list[Unit]) -> int:
    """How many changes `units` hold in all."""
    return sum(len(unit.records) for unit in units)
