"""Approving a change under the policy's review rules: who may, and how many must.

- The actor of a change, when mapped to a Slack user, may not approve it (Approve, Allow
  for…, Extend…, Keep permanently) unless `self_approval` is true; their Deny and Revert
  now are never refused.
- A change whose level needs several approvers (`approvals_required`) counts each distinct
  approver's approval and is APPROVED with the last one needed: for good, or, when any of
  them chose Allow for…, for the shortest duration chosen, from then. How many it needs is
  kept on the record with the first approval, so a policy changed meanwhile does not move
  the bar for a change half approved.

Each write is one of the store's conditional writes; a refusal raises before anything is
written.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sgrevert.errors import SelfApproval
from sgrevert.model import ChangeRecord, State
from sgrevert.review_rules import ReviewRules
from sgrevert.store import ApprovalRaced

if TYPE_CHECKING:
    from sgrevert.store import ChangeStore


def check_not_actor(record: ChangeRecord, user: str, rules: ReviewRules) -> None:
    """SelfApproval when `user` is the change's actor and the policy forbids approving one's
    own change. An actor not mapped to a Slack user cannot be told apart, so is not refused."""
    if rules.self_approval:
        return
    actor = record.context.actor if record.context else None
    if actor is not None and actor.slack_user is not None and actor.slack_user == user:
        raise SelfApproval(record, user)


def approve(
    store: ChangeStore,
    event_id: str,
    user: str,
    now: datetime,
    *,
    duration: timedelta | None,
    rules: ReviewRules,
    read: ChangeRecord | None = None,
) -> ChangeRecord:
    """`user` approves the change, for good (`duration` None) or for `duration`: APPROVED,
    or one more approval counted toward the several it needs. `read`: the change as the
    caller just read it (else it is read here); the writes are conditional, so a stale
    read only ever loses a race.

    Raises UnknownChange, NotDecidable, AlreadyDecided, SelfApproval, AlreadyApproved."""
    record = read if read is not None and read.event_id == event_id else store.require(event_id)
    check_not_actor(record, user, rules)
    needed = record.approvals_needed or rules.approvals_for(record.risk)
    if needed <= 1 and not record.approvals:
        if duration is None:
            return store.decide(event_id, State.APPROVED, user, now)
        return store.approve_for(event_id, user, now + duration, now)
    # Each lost race means another approval was counted; after `needed` of them the change
    # is decided and the store says so: the loop ends with a record or a refusal.
    for _ in range(needed + 1):
        try:
            return store.add_approval(
                event_id, user, now, duration=duration, needed=needed, was=record.approvals
            )
        except ApprovalRaced:
            record = store.require(event_id)
    raise ApprovalRaced(f"{event_id}: approvals kept changing while counting {user}'s")
