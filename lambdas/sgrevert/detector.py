"""What a detector run does, apart from where records come from.

Record every change once, then post what is recorded but not yet posted. Recording
comes first so a Slack outage or a crash loses nothing: the next run posts what is
left. A posting claim keeps two overlapping runs from posting the same change.

Posting is exactly once even when Slack's answer is lost (a timeout, a dropped connection,
a 5xx after the fact, or the run dying mid-post): each post carries an attempt id in its
message metadata, noted on the change before it is sent, and a change with attempts of
unknown outcome is first looked for in the channel, and re-posted only if it is not there.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Protocol

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

from sgrevert import blocks
from sgrevert.bursts import Unit, plan_messages
from sgrevert.cloudtrail import SkipRecord, parse_record
from sgrevert.context import ChangeContext
from sgrevert.errors import AlreadyDecided, SlackOutcomeUnknown, SlackRejected, SlackUnavailable
from sgrevert.eventbridge import cloudtrail_record
from sgrevert.expiry_sweep import sweep, sweep_undecided
from sgrevert.list_risk import rated_on_references, referencing_rules
from sgrevert.model import (
    PREFIX_LIST_EVENT,
    Change,
    ChangeRecord,
    State,
    iso,
)
from sgrevert.policy import Policy, Verdict
from sgrevert.query import security_group_changes
from sgrevert.record_reads import ContextSource, keep_list_context, list_contexts, with_prior
from sgrevert.risk import Risk
from sgrevert.selfinvoke import ArmJob, InvokeFailed, Job, RevertJob
from sgrevert.store import BATCH_PREFIX, ChangeStore
from sgrevert.undecided import deny_at
from sgrevert.window import Window, detection_window

logger = Logger(service="sgrevert-detect", child=True)

LAKE_WATERMARK = "lake"
MAX_REPORTED_SKIPS = 20  # keeps the run report (the handler's return value) small
POST_CLAIM_LEASE = timedelta(minutes=5)
# Seconds kept back from the Lambda timeout: posting stops here and the rest waits a run.
POST_RESERVE_SECONDS = 10.0
CONTEXT_RUN_SECONDS = 20.0  # what reading context may take of a run, in all
# Seconds the Lake query may not use, so the run still has time to record and post.
QUERY_RESERVE_SECONDS = 60.0
MIN_QUERY_SECONDS = 10.0
POST_EVENT_TYPE = "sgrevert_change"  # message metadata of every change message
# How far before an attempt's own clock a lookup starts: the Lambda's and Slack's clocks.
CLOCK_SKEW_SECONDS = 120
# A Deny whose revert has not finished after this long never will: the responder's async
# revert events expire after an hour (infra/responder.py ASYNC_MAX_AGE), retries included.
STUCK_REVERT_AFTER = timedelta(minutes=75)


class Poster(Protocol):
    def post(
        self, text: str, blocks: list[dict[str, Any]], metadata: Mapping[str, Any] | None = None
    ) -> tuple[str, str]: ...

    def update(self, channel: str, ts: str, text: str, blocks: list[dict[str, Any]]) -> None: ...

    def find_posted(self, event_type: str, oldest: float) -> Iterable[tuple[str, str, Any]]: ...


# Hands a job to the responder (an asynchronous Invoke): the revert of a change the policy
# denied, an overdue expiry, a missed reminder; raises InvokeFailed when it cannot.
StartJob = Callable[[Job], None]


class RowSource(Protocol):
    def rows(self, statement: str, timeout_seconds: float) -> Iterable[dict[str, str]]: ...


class EventBatch(Protocol):
    """A batch of EventBridge events: `each` hands every event to `take`, and an event whose
    `take` raises fails alone (the batch goes on and reports it)."""

    def each(self, take: Callable[[Any], None]) -> None: ...


@dataclass
class RunReport:
    """What one run did; returned by the handler and logged."""

    window_start: str | None = None
    window_end: str | None = None
    rows: int = 0
    recorded: int = 0
    already_recorded: int = 0
    skipped: int = 0
    posted: int = 0
    post_failed: int = 0
    left_unposted: int = 0
    messages: int = 0  # Slack messages posted, a group message counting once
    ignored: int = 0  # recorded IGNORED by a policy ignore rule
    held: int = 0  # recorded below min_risk_to_post: not posted, still decidable
    auto_reverted: int = 0  # denied by policy and handed to the responder's revert
    summarized: int = 0  # over the run's message cap: named in the summary, posted later
    stuck_reverts: int = 0  # Denies whose revert never finished, now REVERT_FAILED
    late_expiries: int = 0  # approvals for a while past their deadline, handed to the responder
    reminders_sent: int = 0  # missed reminders handed to the responder
    undecided_overdue: int = 0  # undecided reminders and fail-closed denies handed over late
    skipped_reasons: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class Detector:
    def __init__(
        self,
        store: ChangeStore,
        poster: Poster,
        clock: Callable[[], datetime],
        time_left: Callable[[], float],
        *,
        policy: Policy | None = None,
        start_revert: StartJob | None = None,
        context: ContextSource | None = None,
    ) -> None:
        self._store = store
        self._poster = poster
        self._clock = clock
        self._time_left = time_left
        self._policy = policy or Policy()
        self._start_revert = start_revert
        self._context = context
        # The "Allow for…" choices every decidable message offers.
        self._durations = self._policy.temporary_approvals

    def record(self, records: Iterable[Mapping[str, Any]], report: RunReport) -> list[str]:
        """Parse and record each CloudTrail record; returns the event ids recorded now.

        Windows overlap, so about half of a run's records were recorded by the run before:
        one batched read finds those, and only the rest take a conditional write each."""
        changes: list[Change] = []
        for record in records:
            try:
                changes.append(parse_record(record))
            except SkipRecord as skip:
                report.skipped += 1
                event_id = record.get("eventID") if isinstance(record, Mapping) else None
                if len(report.skipped_reasons) < MAX_REPORTED_SKIPS:  # every skip is logged
                    report.skipped_reasons.append(f"{event_id}: {skip.reason}")
                logger.info("record skipped", extra={"event_id": event_id, "reason": skip.reason})
        # Oldest first: a modification's before may be an earlier edit in this batch,
        # whose own before (and so its direction) is then found first.
        changes.sort(key=lambda c: (c.event_time, c.event_id))
        known = self._store.recorded(c.event_id for c in changes)
        early = self._list_contexts([c for c in changes if c.event_id not in known])
        new_ids: list[str] = []
        for index, parsed in enumerate(changes):
            if parsed.event_id in known:
                report.already_recorded += 1
                continue
            # Kept in the list with its prior, for a later edit of the same rule to see.
            change = changes[index] = with_prior(parsed, self._store, changes)
            context = early.get(change.event_id)
            referencing = referencing_rules(context)
            verdict = self._policy.judge(change, referencing)
            if self._store.record_new(
                change,
                self._clock(),
                risk=verdict.risk.label,
                ignored=verdict.ignored_by is not None,
                post=verdict.post,
                note=verdict.note,
            ):
                report.recorded += 1
                new_ids.append(change.event_id)
                if context is not None:
                    keep_list_context(self._store, change, context, verdict, referencing)
                self._apply_policy(change, verdict, report)
            else:
                report.already_recorded += 1
        return new_ids

    def _list_contexts(self, changes: list[Change]) -> dict[str, ChangeContext]:
        """The context of new prefix-list edits, read before they are judged."""
        if self._context is None:
            return {}
        budget = min(CONTEXT_RUN_SECONDS, self._time_left() - POST_RESERVE_SECONDS)
        return list_contexts(self._context, changes, self._clock(), budget)

    def _apply_policy(self, change: Change, verdict: Verdict, report: RunReport) -> None:
        log = {"event_id": change.event_id, "risk": verdict.risk.label}
        if verdict.ignored_by is not None:
            report.ignored += 1
            rule = verdict.ignored_by
            logger.info(
                "change ignored by policy", extra={**log, "rule": rule.name, "reason": rule.reason}
            )
        elif not verdict.post:
            report.held += 1
            logger.info("change below min_risk_to_post: recorded, not posted", extra=log)
        elif verdict.auto_revert_rule is not None:
            self._auto_revert(change.event_id, f"policy:{verdict.auto_revert_rule}", report)

    def _auto_revert(self, event_id: str, decided_by: str, report: RunReport) -> None:
        """Deny through the store's conditional decide, then start the responder's revert:
        the same path as a Deny click, so the revert, its record and its message edit are
        the responder's alone."""
        now = self._clock()
        try:
            self._store.decide(event_id, State.DENIED, decided_by, now)
        except AlreadyDecided:
            return  # someone decided first; their decision stands
        report.auto_reverted += 1
        logger.warning("change denied by policy", extra={"event_id": event_id, "by": decided_by})
        try:
            if self._start_revert is None:
                raise InvokeFailed("no revert function configured (REVERT_FUNCTION_ARN)")
            self._start_revert(RevertJob(event_id, decided_by))
        except InvokeFailed as error:
            logger.error("could not start the policy revert", extra={"event_id": event_id})
            reason = f"the revert could not be started ({error}); click Deny to retry"
            self._store.finish_revert(event_id, False, reason, now)

    def post_pending(self, new_ids: Iterable[str], report: RunReport) -> None:
        """Post every recorded-but-unposted change, earlier runs' leftovers first: bursts as
        one message each, at most `max_messages_per_run` messages, then one summary."""
        pending = list(dict.fromkeys([*self._store.unposted_ids(), *new_ids]))
        found = self._store.get_many(pending)
        records = [found[event_id] for event_id in pending if event_id in found]
        units = plan_messages(records)
        cap = self._policy.max_messages_per_run
        units = [*self._with_context(units[:cap]), *units[cap:]]
        for index, unit in enumerate(units):
            rest = units[index:]
            if report.messages >= cap:
                self._summarize(rest, cap, report)
                return
            if self._time_left() < POST_RESERVE_SECONDS:
                report.left_unposted += _changes(rest)
                logger.warning("out of time; the rest is posted next run", extra=report.as_dict())
                return
            if not self._post_unit(unit, report):
                report.left_unposted += _changes(rest)
                logger.warning(
                    "Slack unavailable; the rest is posted next run",
                    extra={"left": report.left_unposted},
                )
                return

    def _with_context(self, units: list[Unit]) -> list[Unit]:
        """Read the context of the changes about to be posted (those still without any),
        keep it on their records, and show it in their messages. Best effort: a change
        whose context cannot be read or kept is posted all the same."""
        missing = [r.change for unit in units for r in unit.records if r.context is None]
        if self._context is None or not missing:
            return units
        budget = min(CONTEXT_RUN_SECONDS, self._time_left() - POST_RESERVE_SECONDS)
        if budget <= 0:
            return units
        contexts = self._context.read(missing, self._clock(), budget)
        read: dict[str, ChangeRecord] = {}
        for unit in units:
            for record in unit.records:
                context = contexts.get(record.event_id)
                if context is None:
                    continue
                risk, note = self._lowered_for(record, context)
                try:
                    self._store.set_context(record.event_id, context, risk=risk, note=note)
                except (ClientError, BotoCoreError) as error:
                    log = {"event_id": record.event_id, "error": str(error)}
                    logger.warning("context not kept", extra=log)
                lowered = replace(record, risk=risk, note=note) if risk is not None else record
                read[record.event_id] = replace(lowered, context=context)
        return [Unit(tuple(read.get(r.event_id, r) for r in unit.records)) for unit in units]

    def _lowered_for(
        self, record: ChangeRecord, context: ChangeContext
    ) -> tuple[str | None, str | None]:
        """(risk, why) from the context: a prefix-list edit rated on the rules that
        reference the list (never above its worst-case rating), a group attached to nothing
        one level lower when the policy asks it; (None, None) keeps the rule-based risk."""
        if record.change.event_name == PREFIX_LIST_EVENT:
            return rated_on_references(record, context, self._policy.risk_rules)
        attachments = context.attachments
        if not self._policy.lower_risk_when_unattached or attachments is None:
            return None, None
        if attachments.total or record.risk is None:
            return None, None
        rated = Risk.parse(record.risk)
        if rated is Risk.LOW:
            return None, None
        lowered = rated.lowered().label
        return lowered, f"{rated.label} lowered to {lowered}: the group is attached to nothing"

    def _post_unit(self, unit: Unit, report: RunReport) -> bool:
        """Post one message; False when Slack is unavailable and the run should stop."""
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
                found = self._adopt_earlier_posts(earlier, report)
                claimed = [r for r in claimed if r.event_id not in found]
                if not claimed:
                    return True
            # A fail-closed change shows its deadline from the moment it is posted.
            deadlines = {r.event_id: deny_at(r, self._policy.review, now) for r in claimed}
            claimed = [replace(r, deny_at=deadlines[r.event_id] or r.deny_at) for r in claimed]
            batch: str | None = None
            if len(claimed) > 1:
                batch = uuid.uuid4().hex[:24]
                self._store.save_batch(batch, [r.event_id for r in claimed], now)
                message = blocks.batch_message(batch, claimed, durations=self._durations)
            else:
                message = blocks.message(claimed[0], durations=self._durations)
            channel, ts = self._poster.post(
                message.text, message.blocks, post_metadata(attempt, batch, claimed)
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
                record.event_id, channel, ts, self._clock(), batch, deny_at=record.deny_at
            )
        report.posted += len(claimed)
        report.messages += 1
        self._arm(f"{BATCH_PREFIX}{batch}" if batch else claimed[0].event_id, claimed)
        if batch is None and claimed[0].state is State.DENIED:
            self._refresh(claimed[0], channel, ts)
        return True

    def _arm(self, about: str, posted: list[ChangeRecord]) -> None:
        """Have the responder schedule the reminders and the fail-closed deny the policy
        gives these changes; the sweep sends them late if this cannot be handed over."""
        review = self._policy.review
        owed = any(r.deny_at or review.reminds(r.risk) for r in posted if r.state is State.PENDING)
        if not owed or self._start_revert is None:
            return
        try:
            self._start_revert(ArmJob(about))
        except InvokeFailed as error:
            log = {"about": about, "error": str(error)}
            logger.error("could not hand the undecided schedules to the responder", extra=log)

    def _adopt_earlier_posts(self, attempts: set[str], report: RunReport) -> set[str]:
        """Look in the channel for messages of earlier attempts whose answer was lost, and
        point their changes at them. Returns the event ids now posted. Without the history
        scope the lookup is refused: better a second message than a lost one."""
        oldest = max(min(_attempt_time(a) for a in attempts) - CLOCK_SKEW_SECONDS, 0.0)
        adopted: set[str] = set()
        try:
            for channel, ts, payload in self._poster.find_posted(POST_EVENT_TYPE, oldest):
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
        self._show(channel, ts, blocks.message(current, durations=self._durations))

    def _summarize(self, rest: list[Unit], cap: int, report: RunReport) -> None:
        """Past the cap: one message saying how many changes wait. They stay unposted (and
        decidable from the CLI), and later runs post them, oldest first."""
        left = _changes(rest)
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
            self._poster.post(message.text, message.blocks)
        except (SlackUnavailable, SlackRejected) as error:
            logger.warning("could not post the run summary", extra={"error": str(error)})
            return
        report.messages += 1
        logger.warning(
            "message cap reached; the rest is posted by later runs", extra={"left": left}
        )

    def poll_lake(self, lake: RowSource, store_id: str, lookback: timedelta) -> RunReport:
        """One scheduled run over CloudTrail Lake. The watermark moves only if the whole
        window was queried and recorded; any failure before that leaves it for the next run."""
        now = self._clock()
        window = detection_window(now, self._store.get_watermark(LAKE_WATERMARK), lookback)
        _log_window(window)
        report = RunReport(window_start=iso(window.start), window_end=iso(window.end))
        statement = security_group_changes(store_id, window.start, window.end)
        timeout = max(self._time_left() - QUERY_RESERVE_SECONDS, MIN_QUERY_SECONDS)
        records: list[Mapping[str, Any]] = []
        for row in lake.rows(statement, timeout):
            report.rows += 1
            records.append(_event_json(row))
        new_ids = self.record(records, report)
        self._store.set_watermark(LAKE_WATERMARK, window.end)
        self.post_pending(new_ids, report)
        self.fail_stuck_reverts(report)
        self.sweep_temporary(report)
        logger.info("lake run done", extra=report.as_dict())
        return report

    def take_events(self, batch: EventBatch) -> RunReport:
        """The real-time path: record the CloudTrail record each EventBridge event carries,
        then post what is pending. Recording is keyed by eventID as on the Lake path, so a
        change both paths see is recorded, and posted, once."""
        report = RunReport()
        new_ids: list[str] = []

        def take(event: Any) -> None:
            new_ids.extend(self.record([cloudtrail_record(event)], report))

        batch.each(take)
        self.post_pending(new_ids, report)
        logger.info("event batch done", extra=report.as_dict())
        return report

    def retry_unposted(self) -> RunReport:
        """A scheduled run without Lake: post what earlier runs recorded but could not post."""
        report = RunReport()
        self.post_pending([], report)
        self.fail_stuck_reverts(report)
        self.sweep_temporary(report)
        logger.info("retry run done", extra=report.as_dict())
        return report

    def fail_stuck_reverts(self, report: RunReport) -> None:
        """A Deny whose revert never finished (every attempt failed, or the event expired)
        would show "reverting…" for ever: record it REVERT_FAILED, saying so, and show it,
        so the message offers Deny again and the change is not silently left in place."""
        if self._time_left() < POST_RESERVE_SECONDS:
            return
        now = self._clock()
        cutoff = now - STUCK_REVERT_AFTER
        minutes = int(STUCK_REVERT_AFTER.total_seconds() // 60)
        reason = (
            f"the revert did not finish within {minutes} minutes of the Deny (see revertsg-2's "
            "logs and its failed-revert queue); the rules may still be in place. Click Deny "
            "again to retry"
        )
        batches: set[str] = set()
        for record in list(self._store.by_state(State.DENIED)):
            if record.decided_at is None or record.decided_at >= cutoff:
                continue  # its revert may still be running or retrying
            try:
                failed = self._store.finish_revert(record.event_id, False, reason, now)
            except AlreadyDecided:
                continue  # it finished meanwhile
            report.stuck_reverts += 1
            logger.error(
                "a denied change was never reverted; marked REVERT_FAILED",
                extra={"event_id": record.event_id, "denied_by": record.decided_by},
            )
            if failed.batch:
                batches.add(failed.batch)
            elif failed.slack_channel and failed.slack_ts:
                self._show(
                    failed.slack_channel,
                    failed.slack_ts,
                    blocks.message(failed, durations=self._durations),
                )
        for batch in sorted(batches):
            members = self._store.batch_records(batch)
            first = members[0]
            if first.slack_channel and first.slack_ts:
                message = blocks.batch_message(batch, members, durations=self._durations)
                self._show(first.slack_channel, first.slack_ts, message)

    def sweep_temporary(self, report: RunReport) -> None:
        """The backstop of the expiry schedules (see `expiry_sweep`)."""
        if self._time_left() < POST_RESERVE_SECONDS:
            return
        counts = sweep(self._store.temporary_approvals(), self._clock(), self._start_revert)
        report.late_expiries += counts.late_expiries
        report.reminders_sent += counts.reminders_sent
        report.undecided_overdue += sweep_undecided(
            self._store, self._policy.review, self._clock(), self._start_revert
        )

    def _show(self, channel: str, ts: str, message: blocks.Message) -> None:
        try:
            self._poster.update(channel, ts, message.text, message.blocks)
        except (SlackUnavailable, SlackRejected) as error:
            logger.warning("could not update a message", extra={"ts": ts, "error": str(error)})


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


def _changes(units: list[Unit]) -> int:
    return sum(len(unit.records) for unit in units)


def _event_json(row: Mapping[str, str]) -> Mapping[str, Any]:
    """The CloudTrail record in a Lake row; an unreadable one becomes an empty record, which
    the parser skips with a reason, so one bad row never sinks the run."""
    try:
        value = json.loads(row.get("event_json", ""))
    except (TypeError, ValueError):
        return {"eventID": row.get("event_id")}
    return value if isinstance(value, Mapping) else {"eventID": row.get("event_id")}


def _log_window(window: Window) -> None:
    if window.capped and window.capped_from is not None:
        logger.warning(
            "catch-up capped: changes before the window are not queried; "
            "use `sgrevert scan --since` for the gap",
            extra={"wanted_from": iso(window.capped_from), "from": iso(window.start)},
        )
    logger.info("window", extra={"from": iso(window.start), "to": iso(window.end)})
