"""sgrevert's metrics as Powertools writes them: CloudWatch EMF lines on stdout, namespace
`sgrevert`, each metric with its own few dimensions, written when the handler returns."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sgrevert import metrics
from sgrevert.cloudtrail import parse_record
from sgrevert.context import ChangeContext, Gap
from sgrevert.model import ChangeRecord, State, Step, Transition
from tests.support import load_event

EVENT_TIME = datetime(2026, 11, 27, 9, 58, 47, tzinfo=UTC)  # the fixture's eventTime
POSTED_AT = EVENT_TIME + timedelta(seconds=90)


@dataclass
class Report:
    """A detector run's counts, as RunReport holds them."""

    posted: int = 0
    ignored: int = 0
    held: int = 0
    post_failed: int = 0
    late_expiries: int = 0
    stuck_reverts: int = 0
    auto_reverted: int = 0


class Emitted:
    """The EMF documents written to stdout."""

    def __init__(self, capsys: pytest.CaptureFixture[str]) -> None:
        self._capsys = capsys

    def documents(self) -> list[dict[str, Any]]:
        lines = self._capsys.readouterr().out.splitlines()
        return [d for d in map(json.loads, lines) if "_aws" in d]

    def values(self, documents: list[dict[str, Any]], name: str, **dims: str) -> list[float]:
        """Every value of `name` written with exactly the dimensions `dims`."""
        found: list[float] = []
        for document in documents:
            [directive] = document["_aws"]["CloudWatchMetrics"]
            names = {m["Name"] for m in directive["Metrics"]}
            [keys] = directive["Dimensions"]
            if name in names and {k: document[k] for k in keys} == dims:
                value = document[name]
                found.extend(value if isinstance(value, list) else [value])
        return found


@pytest.fixture
def emitted(capsys: pytest.CaptureFixture[str]) -> Iterator[Emitted]:
    metrics.flush()  # nothing left over from elsewhere
    capsys.readouterr()
    yield Emitted(capsys)
    metrics.flush()


def record(risk: str | None = "high", **changes: Any) -> ChangeRecord:
    base = ChangeRecord(
        change=parse_record(load_event("authorize_ingress_ipv4")),
        state=State.PENDING,
        recorded_at=EVENT_TIME,
        risk=risk,
        slack_channel="C0SECURITY",
        slack_ts="1764237600.000100",
        history=(Transition(Step.POSTED, POSTED_AT),),
    )
    return replace(base, **changes)


def test_metrics_are_written_when_the_handler_returns_one_line_per_dimension_set(
    emitted: Emitted,
) -> None:
    @metrics.log_metrics
    def handler(event: dict[str, Any], context: object) -> str:
        with metrics.detecting(metrics.Path.LAKE):
            for _ in range(3):
                metrics.detected("critical")
            metrics.detected("low")
        metrics.run_done(Report(posted=4))
        assert emitted.documents() == []  # nothing yet: gathered in memory
        return "done"

    assert handler({}, None) == "done"

    documents = emitted.documents()
    assert len(documents) == 3  # {path, risk} twice, and the dimensionless ones
    for document in documents:
        [directive] = document["_aws"]["CloudWatchMetrics"]
        assert directive["Namespace"] == "sgrevert"
        assert "service" not in document  # the same series from either function
    assert emitted.values(documents, "ChangesDetected", path="lake", risk="critical") == [1, 1, 1]
    assert emitted.values(documents, "ChangesDetected", path="lake", risk="low") == [1]
    assert emitted.values(documents, "ChangesPosted") == [4]


def test_a_handler_that_raises_still_writes_its_metrics(emitted: Emitted) -> None:
    @metrics.log_metrics
    def handler() -> None:
        metrics.slack_error()
        raise RuntimeError("Slack is down")

    with pytest.raises(RuntimeError):
        handler()

    assert emitted.values(emitted.documents(), "SlackErrors") == [1]


def test_nothing_is_written_outside_a_handler(emitted: Emitted) -> None:
    metrics.slack_error()

    assert emitted.documents() == []


def test_a_run_counts_posted_ignored_held_and_its_failures(emitted: Emitted) -> None:
    metrics.run_done(
        Report(
            posted=5,
            ignored=2,
            held=1,
            post_failed=1,
            late_expiries=3,
            stuck_reverts=1,
            auto_reverted=2,
        )
    )
    metrics.flush()

    documents = emitted.documents()
    for name, value in (
        ("ChangesPosted", 5),
        ("ChangesIgnored", 2),
        ("ChangesHeld", 1),
        ("SlackErrors", 1),
        ("LateExpiries", 3),
        ("RevertsFailed", 1),  # a Deny whose revert never finished
    ):
        assert emitted.values(documents, name) == [value], name
    assert emitted.values(documents, "Decisions", kind="policy") == [2]


def test_a_quiet_run_still_writes_zeros(emitted: Emitted) -> None:
    metrics.run_done(Report())
    metrics.flush()

    documents = emitted.documents()
    assert emitted.values(documents, "ChangesPosted") == [0]
    assert emitted.values(documents, "RevertsFailed") == []  # no stuck revert: none written


def test_detection_lag_is_event_time_to_post_by_path(emitted: Emitted) -> None:
    early = record()
    late = record(change=replace(early.change, event_time=EVENT_TIME - timedelta(minutes=10)))

    with metrics.detecting(metrics.Path.EVENTBRIDGE):
        metrics.posted([early, late], POSTED_AT)
    metrics.flush()

    lag = emitted.values(emitted.documents(), "DetectionLagSeconds", path="eventbridge")
    assert lag == [90, 690]


def test_posted_counts_the_changes_whose_context_is_incomplete(emitted: Emitted) -> None:
    complete = record(context=ChangeContext(read_at=POSTED_AT))
    gap = record(context=ChangeContext(read_at=POSTED_AT, gaps=(Gap("group", "AccessDenied"),)))
    unread = record(context=None)

    with metrics.detecting(metrics.Path.LAKE):
        metrics.posted([complete, gap, unread], POSTED_AT)
    metrics.flush()

    assert emitted.values(emitted.documents(), "ContextFailures") == [2]


def test_without_a_run_path_nothing_path_bound_is_written(emitted: Emitted) -> None:
    metrics.detected("high")
    metrics.posted([record(context=ChangeContext(read_at=POSTED_AT))], POSTED_AT)
    metrics.flush()

    assert emitted.documents() == []


def test_risks_outside_the_levels_are_unrated(emitted: Emitted) -> None:
    with metrics.detecting(metrics.Path.LAKE):
        metrics.detected(None)
    metrics.flush()

    documents = emitted.documents()
    assert emitted.values(documents, "ChangesDetected", path="lake", risk="unrated") == [1]


def test_the_undecided_backlog_by_risk_with_the_oldest_age(emitted: Emitted) -> None:
    now = EVENT_TIME + timedelta(hours=2)
    older = replace(record().change, event_time=EVENT_TIME - timedelta(hours=1))
    records = [
        record("critical"),
        record("critical", change=older),
        record("high"),
        record("critical", state=State.APPROVED),  # decided: not in the backlog
    ]

    metrics.undecided(records, now)
    metrics.flush()

    documents = emitted.documents()
    assert emitted.values(documents, "UndecidedBacklog", risk="critical") == [2]
    assert emitted.values(documents, "OldestUndecidedSeconds", risk="critical") == [3 * 3600]
    assert emitted.values(documents, "UndecidedBacklog", risk="high") == [1]
    # every level is written, so an alarm sees 0 rather than nothing
    assert emitted.values(documents, "UndecidedBacklog", risk="low") == [0]
    assert emitted.values(documents, "OldestUndecidedSeconds", risk="medium") == [0]


def test_a_decision_by_kind_and_a_persons_latency_from_the_post(emitted: Emitted) -> None:
    decided_at = POSTED_AT + timedelta(minutes=4)
    approved = record(state=State.APPROVED, decided_by="U0ALICE", decided_at=decided_at)

    metrics.decided("approve", [approved, approved])
    metrics.decided("keep_permanently", [approved])
    metrics.flush()

    documents = emitted.documents()
    assert emitted.values(documents, "Decisions", kind="approve") == [1, 1]
    assert emitted.values(documents, "Decisions", kind="keep_permanently") == [1]
    # only the first decisions measure latency: keeping for good is not one
    assert emitted.values(documents, "DecisionLatencySeconds") == [240, 240]


def test_one_approval_of_several_is_not_a_decision(emitted: Emitted) -> None:
    metrics.decided("approve", [record(state=State.PENDING)])
    metrics.flush()

    assert emitted.documents() == []


def test_an_unknown_kind_is_counted_as_other(emitted: Emitted) -> None:
    metrics.decided("approve-for-ever", [record(state=State.APPROVED)])
    metrics.flush()

    assert emitted.values(emitted.documents(), "Decisions", kind="other") == [1]


@pytest.mark.parametrize(
    ("state", "name"),
    [(State.REVERTED, "RevertsSucceeded"), (State.REVERT_FAILED, "RevertsFailed")],
)
def test_a_finished_revert_by_outcome(emitted: Emitted, state: State, name: str) -> None:
    metrics.revert_finished(record(state=state))
    metrics.flush()

    documents = emitted.documents()
    assert emitted.values(documents, name) == [1]
    assert len(documents) == 1


def test_security_hub_failures_are_counted(emitted: Emitted) -> None:
    metrics.security_hub_failures(3)
    metrics.security_hub_failures(0)
    metrics.flush()

    assert emitted.values(emitted.documents(), "SecurityHubFailures") == [3]


def test_the_module_documents_every_metric() -> None:
    """Its table is what operators read next to the dashboard (infra/operations.py)."""
    names = {
        metrics.CHANGES_DETECTED,
        metrics.CHANGES_POSTED,
        metrics.CHANGES_IGNORED,
        metrics.CHANGES_HELD,
        metrics.DETECTION_LAG,
        metrics.CONTEXT_FAILURES,
        metrics.LATE_EXPIRIES,
        metrics.UNDECIDED_BACKLOG,
        metrics.OLDEST_UNDECIDED,
        metrics.DECISIONS,
        metrics.DECISION_LATENCY,
        metrics.REVERTS_SUCCEEDED,
        metrics.REVERTS_FAILED,
        metrics.SLACK_ERRORS,
        metrics.SECURITY_HUB_FAILURES,
    }
    assert all(name in (metrics.__doc__ or "") for name in names)
