"""A change's history as replies in its message's thread, so the channel is the audit trail.

The record's `history` is the truth; `history_posted` counts how many of its steps are in
the thread. Each step after those is posted as its own reply (`chat.postMessage` with the
message's `thread_ts`), then counted with a conditional write from the count seen
(`store.mark_history_posted`). So a reply that failed (Slack down, or no time left on a
click's answer) stays uncounted and the next poster (the next step's, or a `ThreadJob`)
posts it, and a poster that finds the count moved stops: another one is posting. Only the
winner of a transition posts after it, so two posters rarely meet at all.

POSTED is the message itself: counted, never replied. A REMINDED step still current is the
reminder itself, with Extend… and Keep permanently. The members of a group message share
its thread: a step they share (one click decided them all, one firing expired them all)
is replied once, and each member's own outcome on its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger

from sgrevert import blocks
from sgrevert.model import ChangeRecord, Step, Transition, iso

if TYPE_CHECKING:
    from sgrevert.replies import SlackReplies
    from sgrevert.store import ChangeStore

logger = Logger(service="sgrevert-respond", child=True)

_OWN_STEPS = frozenset({Step.REVERTED, Step.FAILED})  # never shared: each member's outcome


def post_history(
    store: ChangeStore,
    slack: SlackReplies,
    about: str,
    records: Sequence[ChangeRecord],
    *,
    now: datetime | None = None,
    reserve: float = 0.0,
) -> bool:
    """Post the steps of `records` (one change, or the members of the group message
    `about`) not yet in their message's thread. True when none is left to post (or there
    is no message to reply under); False when one could not be posted: a later poster
    posts it. `now` counts a reminder's time left; `reserve` is what the caller still
    needs of a click's deadline afterwards."""
    if not records:
        return True
    channel, ts = records[0].slack_channel, records[0].slack_ts
    if not channel or not ts:
        return True  # not posted yet: once it is, the next poster replies every step
    poster = _Poster(store, slack, about, channel, ts, now, reserve)
    # A step another member already has in the thread (a group's shared click).
    poster.threaded = {_key(r, t) for r in records for t in r.history[: r.history_posted]}
    return all(poster.post(record) for record in records)


@dataclass
class _Poster:
    store: ChangeStore
    slack: SlackReplies
    about: str
    channel: str
    ts: str
    now: datetime | None
    reserve: float
    threaded: set[tuple[Any, ...]] = field(default_factory=set)

    def post(self, record: ChangeRecord) -> bool:
        """One record's steps in order, each counted once its reply is in the thread (a
        step with no reply of its own is counted with the next one that has)."""
        was = record.history_posted
        log = {"about": self.about, "event_id": record.event_id}
        for index in range(record.history_posted, len(record.history)):
            transition = record.history[index]
            shared = _key(record, transition) in self.threaded
            message = None if shared else self._reply(record, transition)
            self.threaded.add(_key(record, transition))
            if message is None:
                continue
            if not self.slack.reply(
                message, self.channel, self.ts, self.about, reserve=self.reserve
            ):
                logger.warning("history step not posted", extra={**log, "step": index})
                return False
            if not self._count(record, was, index + 1, log):
                return True  # another poster is at it: what is left is theirs
            was = index + 1
        if was < len(record.history):
            self._count(record, was, len(record.history), log)
        return True

    def _count(self, record: ChangeRecord, was: int, count: int, log: dict[str, Any]) -> bool:
        if self.store.mark_history_posted(record.event_id, was, count):
            return True
        logger.info("history already posted by another", extra={**log, "was": was})
        return False

    def _reply(self, record: ChangeRecord, transition: Transition) -> blocks.Message | None:
        if transition.step is Step.POSTED:
            return None
        reminding = (
            transition.step is Step.REMINDED
            and record.temporary
            and transition.until is not None
            and record.approved_until == transition.until
        )
        if not reminding:
            return blocks.history_reply(record, transition)
        reminder = blocks.reminder_reply(record, now=self.now, durations=self.slack.durations)
        if self.about != record.event_id:
            # Its buttons would act on this member alone: a group is extended or kept with
            # the group message's own buttons, which the reminder's words point to.
            shown = [b for b in reminder.blocks if b.get("type") != "actions"]
            reminder = blocks.Message(text=reminder.text, blocks=shown)
        return reminder


def _key(record: ChangeRecord, transition: Transition) -> tuple[Any, ...]:
    """What makes two members' steps one step of their group: the same thing at the same
    moment by the same one for the same reason. A revert's end is each member's own."""
    own = record.event_id if transition.step in _OWN_STEPS else None
    until = iso(transition.until) if transition.until else None
    return (own, transition.step, iso(transition.at), transition.by, transition.why, until)
