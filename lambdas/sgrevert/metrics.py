"""Operational metrics, as CloudWatch embedded metric format (EMF) lines in the functions' logs.

Namespace `sgrevert`. Dimensions are few and bounded, and a metric always carries the same
ones, whichever function emits it (no `service` dimension), so an alarm names exactly one
series:

| metric | unit | dimensions | emitted by |
|---|---|---|---|
| `ChangesDetected` | count | `path`, `risk` | the detector, per change recorded |
| `ChangesPosted`, `ChangesIgnored`, `ChangesHeld` | count | - | the detector, per run |
| `DetectionLagSeconds` | seconds | `path` | the detector: CloudTrail event time to the Slack post |
| `ContextFailures` | count | - | the detector: posted changes whose context is incomplete |
| `LateExpiries` | count | - | the detector's sweep: expiries found overdue |
| `UndecidedBacklog` | count | `risk` | the detector's scheduled run: PENDING changes |
| `OldestUndecidedSeconds` | seconds | `risk` | the same run: the oldest PENDING change's age |
| `Decisions` | count | `kind` | the responder; the detector's runs for the policy's denies |
| `DecisionLatencySeconds` | seconds | - | the responder: the post to a person's decision |
| `RevertsSucceeded`, `RevertsFailed` | count | - | the responder (the detector: stuck reverts) |
| `SlackErrors` | count | - | both: Slack calls that failed |
| `SecurityHubFailures` | count | - | both: findings not imported or not updated |

`path` is `lake` or `eventbridge` (the run that recorded or posted the change), `risk` one
of `critical`, `high`, `medium`, `low` (or `unrated`, records from before risk levels), and
`kind` a click's action (`approve`, `approve_for`, `extend_for`, `keep_permanently`,
`revert_now`, `deny`) or `policy`, `expiry`, `deny_undecided`, `cli`.

Values are gathered in memory and written when the handler returns (`log_metrics`): one EMF
line per dimension set, however many changes a run handled. Outside a handler (the CLI)
nothing is written.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol, TypeVar

from aws_lambda_powertools.metrics import EphemeralMetrics, Metrics, MetricUnit

from sgrevert.interaction import Action
from sgrevert.model import ChangeRecord, State

NAMESPACE = "sgrevert"

CHANGES_DETECTED = "ChangesDetected"
CHANGES_POSTED = "ChangesPosted"
CHANGES_IGNORED = "ChangesIgnored"
CHANGES_HELD = "ChangesHeld"
DETECTION_LAG = "DetectionLagSeconds"
CONTEXT_FAILURES = "ContextFailures"
LATE_EXPIRIES = "LateExpiries"
UNDECIDED_BACKLOG = "UndecidedBacklog"
OLDEST_UNDECIDED = "OldestUndecidedSeconds"
DECISIONS = "Decisions"
DECISION_LATENCY = "DecisionLatencySeconds"
REVERTS_SUCCEEDED = "RevertsSucceeded"
REVERTS_FAILED = "RevertsFailed"
SLACK_ERRORS = "SlackErrors"
SECURITY_HUB_FAILURES = "SecurityHubFailures"

PATH = "path"
RISK = "risk"
KIND = "kind"

RISKS = ("critical", "high", "medium", "low")
UNRATED = "unrated"
OTHER = "other"  # a decision kind outside the known ones (never expected)


class Path(StrEnum):
    """The detection path of a detector run."""

    LAKE = "lake"
    EVENTBRIDGE = "eventbridge"


class Kind(StrEnum):
    """Decisions that are not a click's action."""

    POLICY = "policy"  # auto_revert_at_or_above denied it
    EXPIRY = "expiry"  # an approval for a while ended
    DENY_UNDECIDED = "deny_undecided"  # deny_if_undecided_after: nobody approved in time
    CLI = "cli"  # `sgrevert revert`


KINDS = frozenset({a.value for a in Action} | {k.value for k in Kind})
# The decisions of a change still waiting for one: the latency from the post is a person's.
FIRST_DECISIONS = frozenset({Action.APPROVE.value, Action.APPROVE_FOR.value, Action.DENY.value})


class RunCounts(Protocol):
    """What a detector run counted (`sgrevert.detector.RunReport`)."""

    posted: int
    ignored: int
    held: int
    post_failed: int
    late_expiries: int
    stuck_reverts: int
    auto_reverted: int


# No `service` dimension (Powertools adds one from POWERTOOLS_SERVICE_NAME otherwise): the
# functions count into the same series, and tests see the dimensions Lambda does.
_plain = Metrics(namespace=NAMESPACE, service="")
_by_dimensions: dict[tuple[tuple[str, str], ...], EphemeralMetrics] = {}
_lock = threading.Lock()
_path: ContextVar[Path | None] = ContextVar("sgrevert_detection_path", default=None)

Handler = TypeVar("Handler", bound=Callable[..., Any])


def _add(name: str, unit: MetricUnit, value: float, **dimensions: str) -> None:
    with _lock:
        if not dimensions:
            _plain.add_metric(name=name, unit=unit, value=value)
            return
        key = tuple(sorted(dimensions.items()))
        metrics = _by_dimensions.get(key)
        if metrics is None:
            metrics = _by_dimensions[key] = EphemeralMetrics(namespace=NAMESPACE, service="")
            for dimension, dimension_value in dimensions.items():
                metrics.add_dimension(name=dimension, value=dimension_value)
        metrics.add_metric(name=name, unit=unit, value=value)


def flush() -> None:
    """Write what was gathered, one EMF line per dimension set, and start afresh."""
    with _lock:
        if _plain.metric_set:
            _plain.flush_metrics()
        for metrics in _by_dimensions.values():
            metrics.flush_metrics()
        _by_dimensions.clear()


def log_metrics(handler: Handler) -> Handler:
    """Write the invocation's metrics when the handler returns or raises."""

    @functools.wraps(handler)
    def measured(*args: Any, **kwargs: Any) -> Any:
        try:
            return handler(*args, **kwargs)
        finally:
            flush()

    return measured  # type: ignore[return-value]


@contextmanager
def detecting(path: Path) -> Iterator[None]:
    """The detection path of what the detector records and posts meanwhile."""
    token = _path.set(path)
    try:
        yield
    finally:
        _path.reset(token)


def risk_label(risk: str | None) -> str:
    return risk if risk in RISKS else UNRATED


# -- the detector ----------------------------------------------------------------------------


def detected(risk: str | None) -> None:
    """A change recorded for the first time, at `risk` (a Risk label)."""
    path = _path.get()
    if path is not None:
        _add(CHANGES_DETECTED, MetricUnit.Count, 1, path=path.value, risk=risk_label(risk))


def posted(records: Iterable[ChangeRecord], now: datetime) -> None:
    """Changes posted at `now`: how long after the call each was, and how many went out
    without their whole context (a role not assumable, a describe call refused)."""
    path = _path.get()
    incomplete = 0
    for record in records:
        if path is not None:
            lag = max(0.0, (now - record.change.event_time).total_seconds())
            _add(DETECTION_LAG, MetricUnit.Seconds, lag, path=path.value)
        if record.context is None or record.context.gaps:
            incomplete += 1
    if incomplete:
        _add(CONTEXT_FAILURES, MetricUnit.Count, incomplete)


def run_done(report: RunCounts) -> None:
    """A detector run's counts. Every run writes them, zeros included: a run that writes
    nothing did not run."""
    _add(CHANGES_POSTED, MetricUnit.Count, report.posted)
    _add(CHANGES_IGNORED, MetricUnit.Count, report.ignored)
    _add(CHANGES_HELD, MetricUnit.Count, report.held)
    _add(SLACK_ERRORS, MetricUnit.Count, report.post_failed)
    _add(LATE_EXPIRIES, MetricUnit.Count, report.late_expiries)
    if report.auto_reverted:  # auto_revert_at_or_above denied them
        _add(DECISIONS, MetricUnit.Count, report.auto_reverted, kind=Kind.POLICY.value)
    if report.stuck_reverts:  # Denies whose revert never finished: now REVERT_FAILED
        _add(REVERTS_FAILED, MetricUnit.Count, report.stuck_reverts)


def undecided(records: Iterable[ChangeRecord], now: datetime) -> None:
    """The PENDING changes, by risk: how many, and how long the oldest has been in place
    (from its CloudTrail event time). Each level is written, 0 when there is none."""
    counts = dict.fromkeys(RISKS, 0)
    oldest = dict.fromkeys(RISKS, 0.0)
    for record in records:
        if record.state is not State.PENDING:
            continue
        risk = risk_label(record.risk)
        age = max(0.0, (now - record.change.event_time).total_seconds())
        counts[risk] = counts.get(risk, 0) + 1
        oldest[risk] = max(oldest.get(risk, 0.0), age)
    for risk, count in counts.items():
        _add(UNDECIDED_BACKLOG, MetricUnit.Count, count, risk=risk)
        _add(OLDEST_UNDECIDED, MetricUnit.Seconds, oldest[risk], risk=risk)


# -- decisions and reverts -------------------------------------------------------------------


def decided(kind: str, records: Iterable[ChangeRecord]) -> None:
    """Changes decided by `kind` (a click's action value, or a `Kind`), as written. For a
    person's first decision, how long after its post it came."""
    label = kind if kind in KINDS else OTHER
    for record in records:
        if record.state is State.PENDING:
            continue  # one approval of several: not decided yet
        _add(DECISIONS, MetricUnit.Count, 1, kind=label)
        posted_at, decided_at = record.posted_at, record.decided_at
        if label in FIRST_DECISIONS and posted_at is not None and decided_at is not None:
            latency = max(0.0, (decided_at - posted_at).total_seconds())
            _add(DECISION_LATENCY, MetricUnit.Seconds, latency)


def revert_finished(record: ChangeRecord) -> None:
    """A revert's outcome, as recorded (REVERTED or REVERT_FAILED)."""
    if record.state is State.REVERTED:
        _add(REVERTS_SUCCEEDED, MetricUnit.Count, 1)
    elif record.state is State.REVERT_FAILED:
        _add(REVERTS_FAILED, MetricUnit.Count, 1)


# -- failures --------------------------------------------------------------------------------


def slack_error() -> None:
    """A Slack call that failed (logged where it failed)."""
    _add(SLACK_ERRORS, MetricUnit.Count, 1)


def security_hub_failures(count: int) -> None:
    """Findings Security Hub did not import or update (logged by `security_hub`)."""
    if count > 0:
        _add(SECURITY_HUB_FAILURES, MetricUnit.Count, count)
