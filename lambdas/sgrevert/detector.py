"""What a detector run does, apart from where records come from.

Record every change once, then post what is recorded but not yet posted. Recording
comes first so a Slack outage or a crash loses nothing: the next run posts what is
left. Each message goes to the channel of the policy route its changes match (the
default review channel when none does), at most `max_messages_per_run` per channel;
posting one, exactly once and with its copies, is `message_post`'s.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, Protocol

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

from sgrevert import blocks, metrics
from sgrevert.bursts import Unit, changes_in, plan_messages
from sgrevert.cloudtrail import SkipRecord, parse_record
from sgrevert.context import ChangeContext
from sgrevert.errors import AlreadyDecided
from sgrevert.eventbridge import cloudtrail_record
from sgrevert.expiry_sweep import sweep, sweep_undecided
from sgrevert.list_risk import rated_on_references, referencing_rules
from sgrevert.message_post import (  # noqa: F401 (the posting names callers know from here)
    POST_CLAIM_LEASE,
    POST_EVENT_TYPE,
    MessagePoster,
    Poster,
    post_metadata,
)
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
from sgrevert.route_plan import OuChain, Posting, default_route, route_units
from sgrevert.run_report import RunReport
from sgrevert.security_hub import NO_FINDINGS, Findings
from sgrevert.selfinvoke import InvokeFailed, Job, RevertJob
from sgrevert.store import ChangeStore
from sgrevert.window import Window, detection_window

logger = Logger(service="sgrevert-detect", child=True)

LAKE_WATERMARK = "lake"
MAX_REPORTED_SKIPS = 20  # keeps the run report (the handler's return value) small
# Seconds kept back from the Lambda timeout: posting stops here and the rest waits a run.
POST_RESERVE_SECONDS = 10.0
CONTEXT_RUN_SECONDS = 20.0  # what reading context may take of a run, in all
# Seconds the Lake query may not use, so the run still has time to record and post.
QUERY_RESERVE_SECONDS = 60.0
MIN_QUERY_SECONDS = 10.0
# A Deny whose revert has not finished after this long never will: the responder's async
# revert events expire after an hour (infra/responder.py ASYNC_MAX_AGE), retries included.
STUCK_REVERT_AFTER = timedelta(minutes=75)


# Hands a job to the responder (an asynchronous Invoke): the revert of a change the policy
# denied, an overdue expiry, a missed reminder; raises InvokeFailed when it cannot.
StartJob = Callable[[Job], None]


class RowSource(Protocol):
    def rows(self, statement: str, timeout_seconds: float) -> Iterable[dict[str, str]]: ...


class EventBatch(Protocol):
    """A batch of EventBridge events: `each` hands every event to `take`, and an event whose
    `take` raises fails alone (the batch goes on and reports it)."""

    def each(self, take: Callable[[Any], None]) -> None: ...


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
        ou_chain: OuChain | None = None,
        findings: Findings = NO_FINDINGS,
    ) -> None:
        """`ou_chain`: an account's OU chain, for routes that match on `ou` (None: not
        readable, so such routes never match)."""
        self._store = store
        self._poster = poster
        self._clock = clock
        self._time_left = time_left
        self._policy = policy or Policy()
        self._start_revert = start_revert
        self._context = context
        self._ou_chain: OuChain = ou_chain or (lambda account: None)
        # The "Allow for…" choices every decidable message offers.
        self._durations = self._policy.temporary_approvals
        self._messages = MessagePoster(
            store,
            poster,
            clock,
            durations=self._durations,
            review=self._policy.review,
            start=start_revert,
            findings=findings,
        )

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
                metrics.detected(verdict.risk.label)
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
        one message each (per route), each into its route's channel, at most
        `max_messages_per_run` messages per channel, then one summary in each channel
        that had more."""
        pending = list(dict.fromkeys([*self._store.unposted_ids(), *new_ids]))
        found = self._store.get_many(pending)
        records = [found[event_id] for event_id in pending if event_id in found]
        units = plan_messages(records)
        cap = self._policy.max_messages_per_run
        routing = self._policy.routing
        # Routes match on the group's tags, which the context holds: read it for as many
        # messages as the channels can take this run.
        read = cap * (1 + len(routing.channels))
        if routing.tag_keys and len(units) > read:
            # Routed without their tags they could go to the wrong channel: the next run
            # reads them (a change whose tags could not be read falls to a later route).
            report.left_unposted += changes_in(units[read:])
            units = units[:read]
        units = [*self._with_context(units[:read]), *units[read:]]
        postings = route_units(units, routing, default_route(self._poster.channel), self._ou_chain)
        sent: dict[str, int] = {}
        over: dict[str, list[Posting]] = {}
        for index, posting in enumerate(postings):
            channel = posting.channel
            if sent.get(channel, 0) >= cap:
                over.setdefault(channel, []).append(posting)
                continue
            if self._time_left() < POST_RESERVE_SECONDS:
                report.left_unposted += changes_in([p.unit for p in postings[index:]])
                logger.warning("out of time; the rest is posted next run", extra=report.as_dict())
                return
            messages = report.messages
            if not self._messages.post(posting, report):
                report.left_unposted += changes_in([p.unit for p in postings[index:]])
                logger.warning(
                    "Slack unavailable; the rest is posted next run",
                    extra={"left": report.left_unposted},
                )
                return
            sent[channel] = sent.get(channel, 0) + report.messages - messages
        for channel, rest in over.items():
            self._messages.summarize([p.unit for p in rest], cap, report, channel)

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
                self._messages.show(
                    failed.slack_channel,
                    failed.slack_ts,
                    blocks.message(failed, durations=self._durations),
                )
        for batch in sorted(batches):
            members = self._store.batch_records(batch)
            first = members[0]
            if first.slack_channel and first.slack_ts:
                message = blocks.batch_message(batch, members, durations=self._durations)
                self._messages.show(first.slack_channel, first.slack_ts, message)

    def sweep_temporary(self, report: RunReport) -> None:
        """The undecided backlog's metrics, then the backstop of the expiry schedules and of
        the undecided changes' steps (see `expiry_sweep`): one read of the PENDING changes
        serves the backlog and the sweep."""
        now = self._clock()
        try:
            pending: list[ChangeRecord] | None = list(self._store.by_state(State.PENDING))
        except (ClientError, BotoCoreError) as error:
            logger.warning("undecided changes not read", extra={"error": str(error)})
            pending = None
        if pending is not None:
            metrics.undecided(pending, now)
        if self._time_left() < POST_RESERVE_SECONDS:
            return
        counts = sweep(self._store.temporary_approvals(), now, self._start_revert)
        report.late_expiries += counts.late_expiries
        report.reminders_sent += counts.reminders_sent
        if pending is not None:
            report.undecided_overdue += sweep_undecided(
                pending, self._policy.review, now, self._start_revert
            )


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
