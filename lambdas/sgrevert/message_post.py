"""Posting one message of a detector run: into its route's channel, exactly once, with
its copies for information.

Posting is exactly once even when Slack's answer is lost (a timeout, a dropped connection,
a 5xx after the fact, or the run dying mid-post): each post carries an attempt id in its
message metadata, noted on the change before it is sent, and a change with attempts of
unknown outcome is first looked for in its channel, and re-posted only if it is not there.
A posting claim keeps two overlapping runs from posting the same change.

After the post: a fail-closed change's deadline (shown in the message from the start) and
its route are kept on its record, the responder is asked to schedule what an undecided
change is owed (`ArmJob`), and the copies (`also_to`) are posted without buttons and noted
on the record, so the responder edits them with the outcome too. A copy is best effort.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, Protocol

from aws_lambda_powertools import Logger

from sgrevert import blocks, metrics
from sgrevert.bursts import Unit, changes_in
from sgrevert.errors import SlackOutcomeUnknown, SlackRejected, SlackUnavailable
from sgrevert.model import ChangeRecord, State
from sgrevert.review_rules import ReviewRules
from sgrevert.route_plan import Posting
from sgrevert.run_report import RunReport
from sgrevert.security_hub import NO_FINDINGS, Findings
from sgrevert.selfinvoke import ArmJob, InvokeFailed, Job
from sgrevert.store import BATCH_PREFIX, ChangeStore
from sgrevert.undecided import deny_at

logger = Logger(service="sgrevert-detect", child=True)

POST_CLAIM_LEASE = timedelta(minutes=5)
POST_EVENT_TYPE = "sgrevert_change"  # message metadata of every change message
# How far before an attempt's own clock a lookup starts: the Lambda's and Slack's clocks.
CLOCK_SKEW_SECONDS = 120


class Poster(Protocol):
    """Slack as the detector uses it; `channel` None: the default review channel."""

    @property
    def channel(self) -> str: ...

    def post(
        self,
        text: str,
        blocks: list[dict[str, Any]],
        metadata: Mapping[str, Any] | None = None,
        *,
        channel: str | None = None,
    ) -> tuple[str, str]: ...

    def update(self, channel: str, ts: str, text: str, blocks: list[dict[str, Any]]) -> None: ...

    def find_posted(
        self, event_type: str, oldest: float, *, channel: str | None = None
    ) -> Iterable[tuple[str, str, Any]]: ...


class MessagePoster:
    def __init__(
        self,
        store: ChangeStore,
        poster: Poster,
        clock: Callable[[], datetime],
        *,
        durations: Sequence[timedelta],
        review: ReviewRules,
        start: Callable[[Job], None] | None,
        findings: Findings = NO_FINDINGS,
    ) -> None:
        """`start` hands a job to the responder (None: REVERT_FUNCTION_ARN is not set)."""
        self._store = store
        self._poster = poster
        self._clock = clock
        self._durations = durations
        self._review = review
        self._start = start
        self._findings = findings

    def post(self, posting: Posting, report: RunReport) -> bool:
        """Post one message into its route's channel, and its copies; False when Slack is
        unavailable and the run should stop."""
        unit, channel_to = posting.unit, posting.channel
        now = self._clock()
        attempt = _attempt_id(now)
        claimed: list[ChangeRecord] = []
        earlier: set[str] = set()
        for record in unit.records:
            unknown = self._store.claim_post(record.event_id, now, POST_CLAIM_LEASE, attempt)
            if unknown is not None:  # None: posted meanwhile, or another run is posting it
                claimed.append(record)
                earlier |= unknown
        if not claimed:
            return True
        try:
            if earlier:
                found = self._adopt_earlier_posts(earlier, channel_to, report)
                claimed = [r for r in claimed if r.event_id not in found]
                if not claimed:
                    return True
            # A fail-closed change shows its deadline from the moment it is posted.
            claimed = [
                replace(r, deny_at=deny_at(r, self._review, now) or r.deny_at) for r in claimed
            ]
            batch: str | None = None
            if len(claimed) > 1:
                batch = uuid.uuid4().hex[:24]
                self._store.save_batch(batch, [r.event_id for r in claimed], now)
                message = blocks.batch_message(batch, claimed, durations=self._durations)
            else:
                message = blocks.message(claimed[0], durations=self._durations)
            channel, ts = self._poster.post(
                message.text,
                message.blocks,
                post_metadata(attempt, batch, claimed),
                channel=channel_to,
            )
        except (SlackUnavailable, SlackRejected) as error:
            # A post Slack may have made keeps its attempt, to be looked for next time.
            known = None if isinstance(error, SlackOutcomeUnknown) else attempt
            for record in claimed:
                self._store.release_claim(record.event_id, known)
            report.post_failed += 1
            if isinstance(error, SlackUnavailable):
                return False
            # This message alone was refused; its changes stay unposted and are retried.
            report.left_unposted += len(claimed)
            logger.error(
                "Slack refused a message",
                extra={"event_ids": [r.event_id for r in claimed], "error": str(error)},
            )
            return True
        for record in claimed:
            self._store.mark_posted(
                record.event_id,
                channel,
                ts,
                self._clock(),
                batch,
                deny_at=record.deny_at,
                route=None if posting.by_default else posting.route.name,
                route_approvers=None if posting.by_default else posting.route.approvers,
            )
        report.posted += len(claimed)
        metrics.posted(claimed, self._clock())
        self._findings.posted(claimed)
        report.messages += 1
        about = f"{BATCH_PREFIX}{batch}" if batch else claimed[0].event_id
        self._arm(about, claimed)
        self._copy(posting.copies, message, channel, claimed)
        if batch is None and claimed[0].state is State.DENIED:
            self._refresh(claimed[0], channel, ts)
        return True

    def _arm(self, about: str, posted: list[ChangeRecord]) -> None:
        """Have the responder schedule the reminders and the fail-closed deny the policy
        gives these changes; the sweep sends them late if this cannot be handed over."""
        review = self._review
        owed = any(r.deny_at or review.reminds(r.risk) for r in posted if r.state is State.PENDING)
        if not owed or self._start is None:
            return
        try:
            self._start(ArmJob(about))
        except InvokeFailed as error:
            log = {"about": about, "error": str(error)}
            logger.error("could not hand the undecided schedules to the responder", extra=log)

    def _adopt_earlier_posts(
        self, attempts: set[str], channel_to: str, report: RunReport
    ) -> set[str]:
        """Look in the channel for messages of earlier attempts whose answer was lost, and
        point their changes at them. Returns the event ids now posted. Without the history
        scope the lookup is refused: better a second message than a lost one."""
        oldest = max(min(_attempt_time(a) for a in attempts) - CLOCK_SKEW_SECONDS, 0.0)
        adopted: set[str] = set()
        try:
            for channel, ts, payload in self._poster.find_posted(
                POST_EVENT_TYPE, oldest, channel=channel_to
            ):
                if not isinstance(payload, Mapping) or payload.get("attempt") not in attempts:
                    continue
                batch = payload.get("batch") or None
                members = (
                    self._store.batch_members(str(batch))
                    if batch
                    else [str(payload.get("event_id"))]
                )
                for event_id in members:
                    if self._store.mark_posted(
                        event_id, channel, ts, self._clock(), batch, found=True
                    ):
                        report.posted += 1
                    adopted.add(event_id)
        except SlackRejected as error:
            logger.error(
                "cannot look for earlier posts whose answer was lost (add the "
                "channels:history or groups:history scope); posting again",
                extra={"error": str(error)},
            )
        if adopted:
            logger.info("found earlier posts in the channel", extra={"event_ids": sorted(adopted)})
        return adopted

    def _refresh(self, posted: ChangeRecord, channel: str, ts: str) -> None:
        """A policy revert may have finished before its message existed (and so could not
        edit it): show the state it reached."""
        current = self._store.require(posted.event_id)
        if current.state is posted.state:
            return
        self.show(channel, ts, blocks.message(current, durations=self._durations))

    def summarize(self, rest: list[Unit], cap: int, report: RunReport, channel: str) -> None:
        """Past the cap: one message saying how many changes wait. They stay unposted (and
        decidable from the CLI), and later runs post them, oldest first."""
        left = changes_in(rest)
        report.summarized += left
        report.left_unposted += left
        by_risk: dict[str, int] = {}
        for unit in rest:
            for record in unit.records:
                key = record.risk or "unrated"
                by_risk[key] = by_risk.get(key, 0) + 1
        order = ("critical", "high", "medium", "low", "unrated")
        message = blocks.summary_message(left, cap, {k: by_risk[k] for k in order if k in by_risk})
        try:
            self._poster.post(message.text, message.blocks, channel=channel)
        except (SlackUnavailable, SlackRejected) as error:
            logger.warning("could not post the run summary", extra={"error": str(error)})
            return
        report.messages += 1
        logger.warning(
            "message cap reached; the rest is posted by later runs", extra={"left": left}
        )

    def _copy(
        self,
        channels: Sequence[str],
        message: blocks.Message,
        posted_to: str,
        records: Sequence[ChangeRecord],
    ) -> None:
        """Post the message, without its buttons, into each copy channel, and note each
        copy on the records so their outcome edits it."""
        if not channels:
            return
        copy = blocks.for_information(message, posted_to)
        for channel in channels:
            try:
                _, ts = self._poster.post(copy.text, copy.blocks, channel=channel)
            except (SlackUnavailable, SlackRejected) as error:
                log = {"channel": channel, "error": str(error)}
                logger.warning("copy for information not posted", extra=log)
                continue
            for record in records:
                self._store.add_copy(record.event_id, channel, ts)

    def show(self, channel: str, ts: str, message: blocks.Message) -> None:
        """Edit a posted message; best effort (logged)."""
        try:
            self._poster.update(channel, ts, message.text, message.blocks)
        except (SlackUnavailable, SlackRejected) as error:
            logger.warning("could not update a message", extra={"ts": ts, "error": str(error)})
            metrics.slack_error()


def _attempt_id(now: datetime) -> str:
    """Unique, and says when it was made: `<unix seconds>-<random>`."""
    return f"{int(now.timestamp())}-{uuid.uuid4().hex[:12]}"


def _attempt_time(attempt: str) -> float:
    try:
        return float(attempt.split("-", 1)[0])
    except ValueError:
        return 0.0  # not ours: look from the start of the channel's history


def post_metadata(attempt: str, batch: str | None, records: list[ChangeRecord]) -> dict[str, Any]:
    """What lets a later run recognise this message: the attempt, and what it carries."""
    payload = {"attempt": attempt, "batch": batch} if batch else {"attempt": attempt}
    if batch is None:
        payload["event_id"] = records[0].event_id
    return {"event_type": POST_EVENT_TYPE, "event_payload": payload}
