"""CloudTrail Lake adapter: run one query to a terminal state and read every page."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools import Logger

from sgrevert.errors import LakeQueryError

logger = Logger(service="sgrevert-detect", child=True)

TERMINAL_STATES = frozenset({"FINISHED", "FAILED", "CANCELLED", "TIMED_OUT"})


@dataclass(frozen=True)
class QueryProgress:
    """Where a query is, for callers that show it (the CLI's status line).

    `state` is Lake's state while polling, then READING while pages are fetched;
    `rows` counts the rows read so far.
    """

    query_id: str
    state: str
    rows: int = 0


class LakeQuery:
    """Runs a statement with `start_query`, polls with backoff, pages with `NextToken`.

    `client` is a boto3 `cloudtrail` client; `clock`/`sleep` are injectable so the
    backoff can be exercised without waiting; `progress`, when given, hears every poll
    and every page.
    """

    def __init__(
        self,
        client: Any,
        *,
        first_poll: float = 0.25,
        max_poll: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        progress: Callable[[QueryProgress], None] | None = None,
    ) -> None:
        self._client = client
        self._progress = progress
        self._first_poll = first_poll
        self._max_poll = max_poll
        self._clock = clock
        self._sleep = sleep

    def rows(self, statement: str, timeout_seconds: float) -> Iterator[dict[str, str]]:
        """Every result row as {alias: value}. Raises LakeQueryError if the query does not
        finish within `timeout_seconds` (after cancelling it) or ends in a failed state."""
        query_id = self._client.start_query(QueryStatement=statement)["QueryId"]
        logger.info("lake query started", extra={"query_id": query_id})
        self._tell(query_id, "STARTED")
        self._wait(query_id, self._clock() + timeout_seconds)
        token: str | None = None
        read = 0
        while True:
            kwargs: dict[str, Any] = {"QueryId": query_id}
            if token:
                kwargs["NextToken"] = token
            page = self._client.get_query_results(**kwargs)
            read += len(page.get("QueryResultRows", []))
            self._tell(query_id, "READING", read)
            for row in page.get("QueryResultRows", []):
                # Each row is a list of one-key cells: [{"event_id": "..."}, {"event_json": "..."}]
                yield {key: value for cell in row for key, value in cell.items()}
            token = page.get("NextToken")
            if not token:
                return

    def _wait(self, query_id: str, deadline: float) -> None:
        delay = self._first_poll
        while True:
            described = self._client.describe_query(QueryId=query_id)
            status = described["QueryStatus"]
            self._tell(query_id, status)
            if status == "FINISHED":
                stats = described.get("QueryStatistics", {})
                logger.info("lake query finished", extra={"query_id": query_id, "stats": stats})
                return
            if status in TERMINAL_STATES:
                reason = described.get("ErrorMessage") or "no reason given"
                raise LakeQueryError(f"CloudTrail Lake query {query_id} ended {status}: {reason}")
            if self._clock() + delay > deadline:
                self._cancel(query_id)
                raise LakeQueryError(
                    f"CloudTrail Lake query {query_id} still {status} at the deadline; cancelled"
                )
            self._sleep(delay)
            delay = min(delay * 2, self._max_poll)

    def _tell(self, query_id: str, state: str, rows: int = 0) -> None:
        if self._progress is not None:
            self._progress(QueryProgress(query_id, state, rows))

    def _cancel(self, query_id: str) -> None:
        try:
            self._client.cancel_query(QueryId=query_id)
        except Exception:  # the run fails either way; a failed cancel must not hide why
            logger.exception("could not cancel lake query", extra={"query_id": query_id})
