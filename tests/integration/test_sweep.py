# ruff: noqa: F811  (fixtures shared with test_respond are imported by name)
"""The detector's sweep of approvals for a while: the backstop of the expiry schedules.

The detector runs its scheduled run (`retry_unposted`) with an injected clock, the real
store (moto) and the Lambda stand-in running the responder's real handler, which it
invokes as in production. Deadlines are set in the past of the real clock, so the
responder, on its own clock, finds them due; the detector's clock is moved past them.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from slack_sdk import WebClient

from infra.expiry import LATE_EXPIRY
from sandbox.lambda_api import LambdaStandIn
from sandbox.slack_api import SlackStandIn
from sgrevert import blocks, expiry_sweep
from sgrevert.detector import Detector, RunReport
from sgrevert.expiry_sweep import EXPIRY_GRACE
from sgrevert.model import ChangeRecord, Direction, State
from sgrevert.selfinvoke import ExpireJob, Job, RemindJob, SelfInvoker
from sgrevert.settings import SlackSettings
from sgrevert.slack import ChannelPoster, SlackCredentials, web_client
from sgrevert.store import BATCH_PREFIX, ChangeStore
from tests.integration.groups import Group
from tests.integration.test_respond import (  # noqa: F401 (fixtures)
    ALICE,
    CHANNEL,
    FUNCTION_ARN,
    Desk,
    desk,
    env,
    group,
    lambdas,
    slack,
)
from tests.support import BOT_TOKEN, REGION, SECURITY_ACCOUNT

SCHEDULE_GROUP = "sgrevert"
SCHEDULER_ROLE = f"arn:aws:iam::{SECURITY_ACCOUNT}:role/sgrevert-scheduler"


@pytest.fixture(autouse=True)
def schedule_group(env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """The responder as deployed: its schedule group and scheduler role."""
    boto3.client("scheduler", region_name=REGION).create_schedule_group(Name=SCHEDULE_GROUP)
    monkeypatch.setenv("EXPIRY_SCHEDULE_GROUP", SCHEDULE_GROUP)
    monkeypatch.setenv("SCHEDULER_ROLE_ARN", SCHEDULER_ROLE)


@dataclass
class Logged:
    """What the sweep logged at WARNING and above: (level, message, extra fields)."""

    records: list[logging.LogRecord] = field(default_factory=list)

    def messages(self, level: int | None = None) -> list[str]:
        return [r.getMessage() for r in self.records if level is None or r.levelno == level]

    def fields(self, message: str) -> list[dict[str, Any]]:
        return [vars(r) for r in self.records if r.getMessage() == message]


@pytest.fixture
def logged() -> Iterator[Logged]:
    seen = Logged()

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.records.append(record)

    handler = Keep(level=logging.WARNING)
    target = logging.getLogger(expiry_sweep.logger.name)
    target.addHandler(handler)
    yield seen
    target.removeHandler(handler)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def sweeper(
    store: ChangeStore, slack: SlackStandIn, clock: Clock, *, invoke: bool = True
) -> Detector:
    """The detector as `detect.handler` wires it, with REVERT_FUNCTION_ARN (or without)."""
    client = web_client(SlackSettings("unused", slack.api_url), SlackCredentials(BOT_TOKEN, "-"))
    invoker = SelfInvoker(boto3.client("lambda"))

    def start(job: Job) -> None:
        invoker.start(FUNCTION_ARN, job)

    return Detector(
        store,
        ChannelPoster(client, CHANNEL),
        clock,
        lambda: 300.0,
        start_revert=start if invoke else None,
    )


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def allowed(desk: Desk, group: Group, port: int, *, at: datetime, until: datetime) -> str:
    """A change posted, then allowed by Alice from `at` until `until`."""
    [rule] = group.authorize(Direction.INGRESS, port, "0.0.0.0/0")
    record = desk.post(group.change([rule]))
    desk.store.approve_for(record.event_id, ALICE.id, until, at)
    return record.event_id


def jobs_sent(lambdas: LambdaStandIn) -> list[dict[str, Any]]:
    return [i.payload for i in lambdas.invocations if i.function_name.endswith("revertsg-2")]


def test_an_overdue_approval_is_expired_through_the_responder(
    desk: Desk, group: Group, slack: SlackStandIn, lambdas: LambdaStandIn, logged: Logged
) -> None:
    """Given Alice allowed a change for an hour that ended 10 minutes ago and its schedule
    never fired, when the detector's scheduled run comes, then it hands the expiry to the
    responder, which reverts the change as Alice's expiry; the run logs a late expiry."""
    deadline = now() - timedelta(minutes=10)
    event_id = allowed(desk, group, 22, at=deadline - timedelta(hours=1), until=deadline)

    report = sweeper(desk.store, slack, Clock(deadline + timedelta(minutes=10))).retry_unposted()
    lambdas.wait_idle()

    assert (report.late_expiries, report.reminders_sent) == (1, 0)
    assert jobs_sent(lambdas) == [ExpireJob(event_id, deadline).to_event()]
    done = desk.store.require(event_id)
    assert (done.state, done.decided_by) == (State.REVERTED, f"expiry:{ALICE.id}")
    assert not group.rule_ids() & {str(r.rule_id) for r in done.change.rules}
    [late] = logged.fields(LATE_EXPIRY)
    assert late["levelno"] == logging.WARNING
    assert (late["event_id"], late["late_seconds"]) == (event_id, 600)
    assert late["deadline"] == deadline.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_an_approval_within_the_grace_is_left_to_its_schedule(
    desk: Desk, group: Group, slack: SlackStandIn, lambdas: LambdaStandIn, logged: Logged
) -> None:
    """Given an approval whose deadline passed less than the grace ago (its schedule may be
    firing), when the run comes, then nothing is sent; when the clock passes the grace, the
    next run expires it."""
    deadline = now() - timedelta(minutes=30)
    event_id = allowed(desk, group, 443, at=deadline - timedelta(hours=8), until=deadline)
    clock = Clock(deadline + EXPIRY_GRACE)
    sweep = sweeper(desk.store, slack, clock)

    early = sweep.retry_unposted()
    lambdas.wait_idle()
    assert (early.late_expiries, jobs_sent(lambdas)) == (0, [])
    assert desk.store.require(event_id).temporary
    assert logged.messages() == []

    clock.now += timedelta(seconds=1)
    late = sweep.retry_unposted()
    lambdas.wait_idle()

    assert late.late_expiries == 1
    assert jobs_sent(lambdas) == [ExpireJob(event_id, deadline).to_event()]
    assert desk.store.require(event_id).state is State.REVERTED


def test_an_approval_still_running_is_left_alone(
    desk: Desk, group: Group, slack: SlackStandIn, lambdas: LambdaStandIn
) -> None:
    """Given an approval for a day that ends in 8 hours, then the run sends nothing and it
    stays approved until then."""
    start = now()
    event_id = allowed(
        desk, group, 80, at=start - timedelta(hours=16), until=start + timedelta(hours=8)
    )

    report = sweeper(desk.store, slack, Clock(start)).retry_unposted()
    lambdas.wait_idle()

    assert (report.late_expiries, report.reminders_sent, jobs_sent(lambdas)) == (0, 0, [])
    kept = desk.store.require(event_id)
    assert (kept.state, kept.approved_until) == (State.APPROVED, start + timedelta(hours=8))


def test_a_missed_reminder_is_sent_once(
    desk: Desk, group: Group, slack: SlackStandIn, lambdas: LambdaStandIn
) -> None:
    """Given an hour's approval that ends in 3 minutes, whose reminder (6 minutes before)
    never came, when two scheduled runs come, then the first hands the reminder to the
    responder, which reminds Alice once; the second finds her reminded and sends nothing."""
    start = now()
    deadline = start + timedelta(minutes=3)
    event_id = allowed(desk, group, 8080, at=deadline - timedelta(hours=1), until=deadline)
    sweep = sweeper(desk.store, slack, Clock(start))

    first = sweep.retry_unposted()
    lambdas.wait_idle()
    second = sweep.retry_unposted()
    lambdas.wait_idle()

    assert (first.reminders_sent, second.reminders_sent) == (1, 0)
    assert (first.late_expiries, second.late_expiries) == (0, 0)
    assert jobs_sent(lambdas) == [RemindJob(event_id, deadline).to_event()]
    reminded = desk.store.require(event_id)
    assert (reminded.state, reminded.reminded_for) == (State.APPROVED, deadline)


def test_a_reminder_not_yet_due_is_not_sent(
    desk: Desk, group: Group, slack: SlackStandIn, lambdas: LambdaStandIn
) -> None:
    """Given an hour's approval with 10 minutes left (its reminder is 6 minutes before),
    then the run sends nothing."""
    start = now()
    deadline = start + timedelta(minutes=10)
    allowed(desk, group, 8443, at=deadline - timedelta(hours=1), until=deadline)

    report = sweeper(desk.store, slack, Clock(start)).retry_unposted()
    lambdas.wait_idle()

    assert (report.reminders_sent, jobs_sent(lambdas)) == (0, [])


def _post_group(desk: Desk, group: Group, ports: list[int]) -> tuple[str, list[ChangeRecord]]:
    """Changes posted together as one group message, as the detector posts a burst."""
    records = []
    for port in ports:
        [rule] = group.authorize(Direction.INGRESS, port, "0.0.0.0/0")
        change = group.change([rule])
        assert desk.store.record_new(change, now())
        records.append(desk.store.require(change.event_id))
    batch = uuid.uuid4().hex[:24]
    desk.store.save_batch(batch, [r.event_id for r in records], now())
    message = blocks.batch_message(batch, records)
    posted = WebClient(token=BOT_TOKEN, base_url=desk.slack.api_url).chat_postMessage(
        channel=CHANNEL, text=message.text, blocks=message.blocks
    )
    for record in records:
        desk.store.mark_posted(record.event_id, CHANNEL, str(posted["ts"]), now(), batch)
    return batch, [desk.store.require(r.event_id) for r in records]


def test_a_group_allowed_for_a_while_is_expired_once_as_the_group(
    desk: Desk, group: Group, slack: SlackStandIn, lambdas: LambdaStandIn
) -> None:
    """Given a group message of two changes that Alice allowed for an hour, overdue, then
    the run sends one expiry, for the group, and both members end reverted as her expiry."""
    batch, members = _post_group(desk, group, [3306, 5432])
    deadline = now() - timedelta(minutes=20)
    for member in members:
        desk.store.approve_for(member.event_id, ALICE.id, deadline, deadline - timedelta(hours=1))

    report = sweeper(desk.store, slack, Clock(deadline + timedelta(minutes=20))).retry_unposted()
    lambdas.wait_idle()

    assert report.late_expiries == 1
    assert jobs_sent(lambdas) == [ExpireJob(f"{BATCH_PREFIX}{batch}", deadline).to_event()]
    for member in members:
        done = desk.store.require(member.event_id)
        assert (done.state, done.decided_by) == (State.REVERTED, f"expiry:{ALICE.id}")
    added = {str(rule.rule_id) for member in members for rule in member.change.rules}
    assert len(added) == 2 and not group.rule_ids() & added


def test_an_approval_its_schedule_expired_is_not_sent_again(
    desk: Desk, group: Group, slack: SlackStandIn, lambdas: LambdaStandIn
) -> None:
    """Given the schedule fired on time and the responder expired the change, when the run
    comes later, then there is nothing left to sweep: one revert."""
    deadline = now() - timedelta(minutes=15)
    event_id = allowed(desk, group, 6379, at=deadline - timedelta(hours=1), until=deadline)
    fired = ExpireJob(event_id, deadline).to_event()
    SelfInvoker(boto3.client("lambda")).start(FUNCTION_ARN, ExpireJob(event_id, deadline))
    lambdas.wait_idle()

    report = sweeper(desk.store, slack, Clock(deadline + timedelta(minutes=15))).retry_unposted()
    lambdas.wait_idle()

    assert report.late_expiries == 0
    assert jobs_sent(lambdas) == [fired]  # the schedule's alone
    assert desk.store.require(event_id).state is State.REVERTED


def test_an_invoke_that_fails_is_retried_by_the_next_run(
    desk: Desk, group: Group, slack: SlackStandIn, lambdas: LambdaStandIn, logged: Logged
) -> None:
    """Given Lambda refuses the Invoke once, then the run logs the late expiry and the failure,
    the approval stands, and the next run hands it over."""
    deadline = now() - timedelta(minutes=30)
    event_id = allowed(desk, group, 9200, at=deadline - timedelta(hours=1), until=deadline)
    sweep = sweeper(desk.store, slack, Clock(deadline + timedelta(minutes=30)))
    lambdas.fail(403, "AccessDeniedException", "not authorized to perform lambda:InvokeFunction")

    failed = sweep.retry_unposted()
    assert failed.late_expiries == 0
    assert desk.store.require(event_id).temporary
    assert LATE_EXPIRY in logged.messages(logging.WARNING)
    assert any("next run retries" in m for m in logged.messages(logging.ERROR))

    retried = sweep.retry_unposted()
    lambdas.wait_idle()

    assert retried.late_expiries == 1
    assert desk.store.require(event_id).state is State.REVERTED


def test_without_the_responders_arn_an_overdue_approval_is_an_error_once_per_run(
    desk: Desk, group: Group, slack: SlackStandIn, lambdas: LambdaStandIn, logged: Logged
) -> None:
    """Given two overdue approvals and no REVERT_FUNCTION_ARN, then the run logs each late
    expiry and one error naming the missing setting, and sends nothing."""
    deadline = now() - timedelta(minutes=30)
    ids = [
        allowed(desk, group, port, at=deadline - timedelta(hours=1), until=deadline)
        for port in (21, 23)
    ]

    report = sweeper(
        desk.store, slack, Clock(deadline + timedelta(minutes=30)), invoke=False
    ).retry_unposted()

    assert (report.late_expiries, jobs_sent(lambdas)) == (0, [])
    assert logged.messages(logging.WARNING) == [LATE_EXPIRY, LATE_EXPIRY]
    [error] = logged.messages(logging.ERROR)
    assert "REVERT_FUNCTION_ARN is not set" in error
    assert all(desk.store.require(i).temporary for i in ids)


def test_the_lake_run_sweeps_too(
    desk: Desk, slack: SlackStandIn, group: Group, lambdas: LambdaStandIn
) -> None:
    """Given an overdue approval, when the Lake run comes (an empty window), then it expires
    it as the run without Lake does."""
    deadline = now() - timedelta(minutes=10)
    event_id = allowed(desk, group, 25, at=deadline - timedelta(hours=1), until=deadline)

    class NoRows:
        def rows(self, statement: str, timeout_seconds: float) -> list[dict[str, str]]:
            return []

    report: RunReport = sweeper(
        desk.store, slack, Clock(deadline + timedelta(minutes=10))
    ).poll_lake(NoRows(), "store", timedelta(minutes=20))
    lambdas.wait_idle()

    assert report.late_expiries == 1
    assert desk.store.require(event_id).state is State.REVERTED
