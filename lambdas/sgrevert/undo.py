"""Undoing one denied change: plan, apply where it happened, and word the outcome.

Shared by the responder's single and group reverts (and so the CLI's, which runs the
responder's). A revert that left rules alone because they changed again since the
denied change did not undo it: the outcome is a failure naming the newer change, found
in the group's recorded history, so the reviewer knows which one to deny first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

from sgrevert.prior import newer_change
from sgrevert.revert import (
    RestorePlan,
    RevertFailed,
    RevokeTally,
    changed_again_outcome,
    plan_revert,
    success_outcome,
)

if TYPE_CHECKING:
    from sgrevert.model import ChangeRecord
    from sgrevert.reverter import SpokeReverter
    from sgrevert.store import ChangeStore

logger = Logger(service="sgrevert-respond", child=True)


@dataclass(frozen=True)
class Undone:
    succeeded: bool
    outcome: str  # what was done, or why not and what to do
    tally: RevokeTally


def undo(
    record: ChangeRecord, reverter: SpokeReverter, store: ChangeStore, denied_by: str
) -> Undone:
    """Apply the record's plan as `denied_by` (the record's decider when it has one)."""
    plan = plan_revert(record.change)
    try:
        tally = reverter.apply(plan, record.decided_by or denied_by)
    except RevertFailed as failure:
        return Undone(False, failure.reason, failure.done)
    if tally.left_alone and isinstance(plan, RestorePlan):
        change = record.change
        try:
            history = store.group_history(
                change.account,
                change.region,
                change.group_id,
                after=change.event_time,
                oldest_first=True,  # the nearest later changes: the newer change is among them
            )
        except (ClientError, BotoCoreError) as error:
            logger.warning(
                "group history not read: the newer change is not named",
                extra={"event_id": change.event_id, "error": str(error)},
            )
            newer = None
        else:
            newer = {
                rule_id: newer_change(change, rule_id, history) for rule_id in tally.left_alone
            }
        return Undone(False, changed_again_outcome(plan, tally, newer, change.event_time), tally)
    return Undone(True, success_outcome(plan, tally), tally)
