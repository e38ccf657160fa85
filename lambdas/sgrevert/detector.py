"""What a detector run does, apart from where records come from.

Record every change once, then post what is recorded but not yet posted. Recording
comes first so a Slack outage or a crash loses nothing: the next run posts what is
left. A posting claim keeps two overlapping runs from posting the same change.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from aws_lambda_powertools import Logger

from sgrevert import blocks
from sgrevert.cloudtrail import SkipRecord, parse_record
from sgrevert.errors import SlackRejected, SlackUnavailable
from sgrevert.model import iso
from sgrevert.query import security_group_changes
from sgrevert.store import ChangeStore
from sgrevert.window import Window, detection_window

logger = Logger(child=True)

LAKE_WATERMARK = "lake"
POST_CLAIM_LEASE = timedelta(minutes=5)
# Seconds kept back from the Lambda timeout: posting stops here and the rest waits a run.
POST_RESERVE_SECONDS = 10.0
# Seconds the Lake query may not use, so the run still has time to record and post.
QUERY_RESERVE_SECONDS = 60.0
MIN_QUERY_SECONDS = 10.0


class Poster(Protocol):
    def post(self, text: str, blocks: list[dict[str, Any]]) -> tuple[str, str]: ...


class RowSource(Protocol):
    def rows(self, statement: str, timeout_seconds: float) -> Iterable[dict[str, str]]: ...


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
    ) -> None:
        self._store = store
        self._poster = poster
        self._clock = clock
        self._time_left = time_left

    def record(self, records: Iterable[Mapping[str, Any]], report: RunReport) -> list[str]:
        """Parse and record each CloudTrail record; returns the event ids recorded now."""
        new_ids: list[str] = []
        for record in records:
            try:
                change = parse_record(record)
            except SkipRecord as skip:
                report.skipped += 1
                event_id = record.get("eventID") if isinstance(record, Mapping) else None
                report.skipped_reasons.append(f"{event_id}: {skip.reason}")
                logger.info("record skipped", extra={"event_id": event_id, "reason": skip.reason})
                continue
            if self._store.record_new(change, self._clock()):
                report.recorded += 1
                new_ids.append(change.event_id)
            else:
                report.already_recorded += 1
        return new_ids

    def post_pending(self, new_ids: Iterable[str], report: RunReport) -> None:
        """Post every recorded-but-unposted change: earlier runs' leftovers first."""
        pending = list(dict.fromkeys([*self._store.unposted_ids(), *new_ids]))
        for index, event_id in enumerate(pending):
            if self._time_left() < POST_RESERVE_SECONDS:
                report.left_unposted = len(pending) - index
                logger.warning("out of time; the rest is posted next run", extra=report.as_dict())
                return
            if not self._store.claim_post(event_id, self._clock(), POST_CLAIM_LEASE):
                continue  # posted meanwhile, or another run is posting it
            record = self._store.require(event_id)
            message = blocks.message(record)
            try:
                channel, ts = self._poster.post(message.text, message.blocks)
            except SlackUnavailable as error:
                self._store.release_claim(event_id)
                report.post_failed += 1
                report.left_unposted = len(pending) - index
                logger.warning(
                    "Slack unavailable; the rest is posted next run",
                    extra={"error": str(error), "left": report.left_unposted},
                )
                return
            except SlackRejected as error:
                # This message alone was refused; it stays unposted and is retried next run.
                self._store.release_claim(event_id)
                report.post_failed += 1
                report.left_unposted += 1
                logger.error(
                    "Slack refused a message", extra={"event_id": event_id, "error": str(error)}
                )
                continue
            self._store.mark_posted(event_id, channel, ts, self._clock())
            report.posted += 1

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
        logger.info("lake run done", extra=report.as_dict())
        return report


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
