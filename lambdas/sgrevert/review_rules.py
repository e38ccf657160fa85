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

`read_review` reads them, with the rest of the policy: level names as `Risk.parse` reads
them (any case, each level once), minutes as whole numbers up to a week (`remind`'s from
1, `deny_if_undecided_after`'s from 5), `times` from 1 to 10 (`every_minutes` required
when more than 1), at most 20 `escalate_to` ids, and `approvals_required` from 1 to 5. A
level no change of which could be reviewed is refused: below `min_risk_to_post` in
`deny_if_undecided_after` (not posted, so reverted before anyone could approve), and at
or above `auto_revert_at_or_above` in any of them (reverted at once).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sgrevert.risk import Risk
from sgrevert.slack_ids import is_group, read_ids

REMIND_KEYS = frozenset({"at_or_above", "after_minutes", "every_minutes", "times", "escalate_to"})
MAX_MINUTES = 7 * 24 * 60  # a week: longer, nobody is waiting on the change any more
MIN_DENY_MINUTES = 5  # sooner, a change could be reverted before anyone read its message
MAX_REMINDERS = 10
MAX_ESCALATE_TO = 20  # mentions in one reply
MAX_APPROVALS = 5
_LEVELS = ", ".join(r.label for r in Risk)
_WEEK = f"{MAX_MINUTES} (7 days)"


@dataclass(frozen=True)
class Remind:
    at_or_above: Risk
    after: timedelta  # from the post to the first reminder
    every: timedelta  # between reminders; zero when there is one
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


def read_review(
    document: Mapping[str, Any],
    errors: list[str],
    *,
    min_risk_to_post: Risk,
    auto_revert_at_or_above: Risk | None,
) -> ReviewRules:
    """The review keys of the policy `document`, defaults for those absent. Appends one
    message to `errors` per problem, each naming its key path."""
    reader = _ReviewReader(errors, min_risk_to_post, auto_revert_at_or_above)
    return ReviewRules(
        remind=reader.remind(document.get("remind")),
        deny_if_undecided_after=reader.deadlines(document.get("deny_if_undecided_after", {})),
        self_approval=reader.flag(document.get("self_approval", False), "self_approval"),
        approvals_required=reader.approvals(document.get("approvals_required", {})),
    )


class _ReviewReader:
    def __init__(self, errors: list[str], min_risk: Risk, auto: Risk | None) -> None:
        self.errors = errors
        self.min_risk = min_risk
        self.auto = auto

    def remind(self, value: Any) -> Remind | None:
        if value is None:
            return None  # no reminders, as when the key is absent
        if not isinstance(value, Mapping):
            self.errors.append(
                'remind must be an object such as {"at_or_above": "high", "after_minutes": 30}, '
                f"not {value!r}"
            )
            return None
        before = len(self.errors)
        for key in sorted(set(value) - REMIND_KEYS):
            self.errors.append(
                f"remind.{key} is not a remind key ({', '.join(sorted(REMIND_KEYS))})"
            )
        at_or_above = after = None
        if "at_or_above" not in value:
            self.errors.append(
                f"remind.at_or_above is required: the lowest level reminded ({_LEVELS})"
            )
        elif (at_or_above := self._level(value["at_or_above"], "remind.at_or_above")) is not None:
            self._reviewable(at_or_above, "remind.at_or_above", "reminded about")
        if "after_minutes" not in value:
            self.errors.append(
                "remind.after_minutes is required: the minutes from the post to the first "
                f"reminder, a whole number from 1 to {_WEEK}"
            )
        else:
            after = self._minutes(value["after_minutes"], "remind.after_minutes", 1)
        times = self._whole(value.get("times", 1), "remind.times", 1, MAX_REMINDERS, "")
        every = timedelta(0)  # one reminder: none to space out
        if "every_minutes" in value:
            every = self._minutes(value["every_minutes"], "remind.every_minutes", 1) or every
        elif times is not None and times > 1:
            self.errors.append(
                f"remind.every_minutes is required when remind.times is more than 1: the "
                f"minutes between reminders, a whole number from 1 to {_WEEK}"
            )
        escalate_to = self._mentions(value.get("escalate_to", []), "remind.escalate_to")
        if len(self.errors) > before or at_or_above is None or after is None or times is None:
            return None
        return Remind(at_or_above, after, every, times, escalate_to)

    def deadlines(self, value: Any) -> dict[Risk, timedelta]:
        deadlines: dict[Risk, timedelta] = {}
        for level, item, path in self._by_level(
            value, "deny_if_undecided_after", '{"critical": 30} (minutes)'
        ):
            if level < self.min_risk:
                self.errors.append(
                    f"{path}: {level.label} changes are below min_risk_to_post "
                    f"({self.min_risk.label}): they are not posted, so nobody could approve "
                    "them before they were reverted"
                )
            self._reviewable(level, path, "denied for want of a decision")
            minutes = self._minutes(item, path, MIN_DENY_MINUTES)
            if minutes is not None:
                deadlines[level] = minutes
        return deadlines

    def approvals(self, value: Any) -> dict[Risk, int]:
        needed: dict[Risk, int] = {}
        for level, item, path in self._by_level(
            value, "approvals_required", '{"critical": 2} (approvers)'
        ):
            self._reviewable(level, path, "approved")
            count = self._whole(item, path, 1, MAX_APPROVALS, "of distinct approvers ")
            if count is not None:
                needed[level] = count
        return needed

    def flag(self, value: Any, key: str) -> bool:
        if not isinstance(value, bool):
            self.errors.append(f"{key} must be true or false, not {value!r}")
            return False
        return value

    def _by_level(self, value: Any, key: str, example: str) -> list[tuple[Risk, Any, str]]:
        """The entries of an object of risk level -> value, each with its level and path."""
        if not isinstance(value, Mapping):
            self.errors.append(
                f"{key} must be an object of risk level ({_LEVELS}) to a number, such as "
                f"{example}, not {value!r}"
            )
            return []
        entries: list[tuple[Risk, Any, str]] = []
        names: dict[Risk, str] = {}
        for name, item in value.items():
            path = f"{key}.{name}"
            level = self._level(name, path)
            if level is None:
                continue
            if level in names:
                self.errors.append(
                    f"{path}: {level.label} is given twice ({names[level]!r} and {name!r})"
                )
                continue
            names[level] = name
            entries.append((level, item, path))
        return entries

    def _level(self, value: Any, path: str) -> Risk | None:
        if not isinstance(value, str):
            self.errors.append(f"{path} must be a risk level ({_LEVELS}), not {value!r}")
            return None
        try:
            return Risk.parse(value)
        except ValueError as error:
            self.errors.append(f"{path}: {error}")
            return None

    def _reviewable(self, level: Risk, path: str, what: str) -> None:
        """Changes at or above auto-revert are denied by policy as they are recorded."""
        if self.auto is not None and level >= self.auto:
            self.errors.append(
                f"{path}: {level.label} changes are at or above auto_revert_at_or_above "
                f"({self.auto.label}): they are reverted at once, never {what}"
            )

    def _mentions(self, value: Any, path: str) -> tuple[str, ...]:
        what = "Slack user ids (U…, W…) and user group ids (S…)"
        if not isinstance(value, list):
            self.errors.append(f"{path} must be a list of {what}, not {value!r}")
            return ()
        if len(value) > MAX_ESCALATE_TO:
            self.errors.append(f"{path} lists {len(value)} ids: at most {MAX_ESCALATE_TO}")
        return read_ids(value, path, self.errors)

    def _minutes(self, value: Any, path: str, low: int) -> timedelta | None:
        minutes = self._whole(value, path, low, MAX_MINUTES, "of minutes ")
        return timedelta(minutes=minutes) if minutes is not None else None

    def _whole(self, value: Any, path: str, low: int, high: int, unit: str) -> int | None:
        """`value` when it is a whole number from `low` to `high`; None, said, otherwise."""
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            limit = _WEEK if high == MAX_MINUTES else str(high)
            self.errors.append(
                f"{path} must be a whole number {unit}from {low} to {limit}, not {value!r}"
            )
            return None
        return value


def too_few_approvers(
    rules: ReviewRules, approvers: Sequence[str], lowest: Risk | None = None
) -> str | None:
    """Why `approvers` (users U…/W… and user groups S…) could never give the approvals a
    level at or above `lowest` requires, or None. Only users can be counted: with a user
    group among them, or none listed (anyone decides), it cannot be told."""
    if not approvers or any(is_group(a) for a in approvers):
        return None
    needed = [
        (count, level)
        for level, count in rules.approvals_required.items()
        if lowest is None or level >= lowest
    ]
    if not needed:
        return None
    count, level = max(needed)
    if len(set(approvers)) >= count:
        return None
    return (
        f"lists {len(set(approvers))} user(s) and no user group, but approvals_required asks "
        f"{count} distinct approvers for {level.label} changes: they could never be approved"
    )
