"""Who must decide, and by when: the policy's reminders, fail-closed deadlines,
self-approval and two-person rules.

Pure. These are four keys of the policy document (see `sgrevert.policy`):

    "remind": {"at_or_above": "high", "after_minutes": 30, "every_minutes": 60,
               "times": 3, "escalate_to": ["S0SECONCALL"]},
    "deny_if_undecided_after": {"critical": 30},
    "self_approval": false,
    "approvals_required": {"critical": 2}

- `remind`: an undecided change at or above the level gets a reply in its thread
  `after_minutes` after it was posted, mentioning `escalate_to` (user groups `S…`, users
  `U…`), then every `every_minutes`, `times` in all.
- `deny_if_undecided_after`: changes of these levels fail closed. Still PENDING that many
  minutes after they were posted, they are denied (as `policy:deny_if_undecided_after`)
  and reverted.
- `self_approval` (default false): whether the actor, mapped to a Slack user, may approve
  (Approve, Allow for…, Extend…, Keep permanently) their own change. Their Deny is allowed.
- `approvals_required`: changes of these levels are APPROVED only once that many distinct
  approvers approved; one Deny wins at once.

Levels in `deny_if_undecided_after` and `approvals_required` are exact: `{"critical": 2}`
says nothing about high changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sgrevert.risk import Risk


@dataclass(frozen=True)
class Remind:
    at_or_above: Risk
    after: timedelta  # from the post to the first reminder
    every: timedelta  # between reminders
    times: int  # reminders in all
    escalate_to: tuple[str, ...] = ()  # Slack users U… and user groups S…, mentioned

    def due(self, posted_at: datetime, number: int) -> datetime:
        """When reminder `number` (1 to `times`) is due."""
        return posted_at + self.after + (number - 1) * self.every


@dataclass(frozen=True)
class ReviewRules:
    remind: Remind | None = None
    deny_if_undecided_after: Mapping[Risk, timedelta] = field(default_factory=dict)
    self_approval: bool = False
    approvals_required: Mapping[Risk, int] = field(default_factory=dict)

    def deny_after(self, risk: str | None) -> timedelta | None:
        """How long a change of `risk` may stay undecided after it is posted; None: for
        ever (allowed by default). Unrated (older) records never fail closed."""
        level = _level(risk)
        return self.deny_if_undecided_after.get(level) if level is not None else None

    def approvals_for(self, risk: str | None) -> int:
        """How many distinct approvers a change of `risk` needs (1 unless the policy says)."""
        level = _level(risk)
        return self.approvals_required.get(level, 1) if level is not None else 1

    def reminds(self, risk: str | None) -> Remind | None:
        """The reminders an undecided change of `risk` gets; None: none."""
        level = _level(risk)
        if self.remind is None or level is None or level < self.remind.at_or_above:
            return None
        return self.remind


def _level(risk: str | None) -> Risk | None:
    if risk is None:
        return None
    try:
        return Risk.parse(risk)
    except ValueError:
        return None
