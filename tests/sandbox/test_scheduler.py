"""The firing stand-in for EventBridge Scheduler (sandbox/scheduler.py): schedules made
through boto3 on moto, fired into the Lambda stand-in as the clock is moved by hand."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from sandbox.clock import SandboxClock
from sandbox.lambda_api import LambdaStandIn
from sandbox.scheduler import ScheduleFirer
from tests.support import REGION, SECURITY_ACCOUNT

TARGET = f"arn:aws:lambda:{REGION}:{SECURITY_ACCOUNT}:function:revertsg-2"
ROLE = f"arn:aws:iam::{SECURITY_ACCOUNT}:role/sgrevert-scheduler"
GROUP = "sgrevert"
START = datetime(2030, 1, 1, 9, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


class Target:
    """The invoked function: what it received, and the clock's time when it ran."""

    def __init__(self, clock: SandboxClock) -> None:
        self.clock = clock
        self.received: list[tuple[Any, datetime]] = []

    def __call__(self, event: Any, context: Any) -> dict[str, bool]:
        self.received.append((event, self.clock()))
        return {"ok": True}


@pytest.fixture
def clock() -> SandboxClock:
    """Real time stands still at START here: only the test moves the clock."""
    return SandboxClock(real=lambda: START)


@pytest.fixture
def lambdas() -> Iterator[LambdaStandIn]:
    with LambdaStandIn(region=REGION, account=SECURITY_ACCOUNT) as stand_in:
        yield stand_in


@pytest.fixture
def target(lambdas: LambdaStandIn, clock: SandboxClock) -> Target:
    function = Target(clock)
    lambdas.register(TARGET, function)
    return function


@pytest.fixture
def scheduler(aws: str) -> Any:
    client = boto3.client("scheduler", region_name=REGION)
    client.create_schedule_group(Name=GROUP)
    return client


@pytest.fixture
def firer(aws: str, scheduler: Any, lambdas: LambdaStandIn) -> ScheduleFirer:
    return ScheduleFirer(
        boto3.Session(region_name=REGION), GROUP, aws_url=aws, lambda_url=lambdas.endpoint_url
    )


def create(scheduler: Any, name: str, at: str, **overrides: Any) -> None:
    """A one-time schedule as sgrevert makes them, unless `overrides` say otherwise."""
    definition: dict[str, Any] = {
        "Name": name,
        "GroupName": GROUP,
        "ScheduleExpression": f"at({at})",
        "ScheduleExpressionTimezone": "UTC",
        "FlexibleTimeWindow": {"Mode": "OFF"},
        "ActionAfterCompletion": "DELETE",
        "Target": {
            "Arn": TARGET,
            "RoleArn": ROLE,
            "Input": json.dumps({"job": name}),
            "RetryPolicy": {"MaximumEventAgeInSeconds": 3600, "MaximumRetryAttempts": 4},
        },
        **overrides,
    }
    scheduler.create_schedule(**definition)


def names(scheduler: Any) -> set[str]:
    pages = scheduler.get_paginator("list_schedules").paginate(GroupName=GROUP)
    return {s["Name"] for page in pages for s in page["Schedules"]}


def test_a_due_schedule_is_invoked_asynchronously_with_its_input_then_deleted(
    firer: ScheduleFirer,
    scheduler: Any,
    clock: SandboxClock,
    lambdas: LambdaStandIn,
    target: Target,
) -> None:
    """Given a schedule at 10:00 UTC and one at 11:00, when the clock is run to 10:30,
    then the first is invoked once, as an Event, with its input and at its time, and is
    deleted after (ActionAfterCompletion DELETE); the second neither fires nor goes."""
    create(scheduler, "expire-a", "2030-01-01T10:00:00")
    create(scheduler, "expire-b", "2030-01-01T11:00:00")

    fired = firer.run_until(START + timedelta(minutes=90), clock, lambdas.wait_idle)

    assert [(f.schedule.name, f.fired_at, f.tries, f.delivered) for f in fired] == [
        ("expire-a", datetime(2030, 1, 1, 10, 0, tzinfo=UTC), 1, True)
    ]
    assert target.received == [({"job": "expire-a"}, datetime(2030, 1, 1, 10, 0, tzinfo=UTC))]
    [invocation] = lambdas.invocations
    assert (invocation.function_name, invocation.invocation_type) == (TARGET, "Event")
    assert names(scheduler) == {"expire-b"}
    assert clock() == START + timedelta(minutes=90)
    assert [s.name for s in firer.pending()] == ["expire-b"]


def test_due_schedules_fire_in_time_order_each_at_its_own_time(
    firer: ScheduleFirer,
    scheduler: Any,
    clock: SandboxClock,
    lambdas: LambdaStandIn,
    target: Target,
) -> None:
    """Given schedules at 10:30, 09:54 and 10:00 (created in that order), when the clock
    is run two hours ahead, then they fire earliest first, each handler seeing the clock
    at its schedule's time, and the clock ends two hours ahead."""
    for name, at in (("c", "10:30"), ("a", "09:54"), ("b", "10:00")):
        create(scheduler, name, f"2030-01-01T{at}:00")

    firer.run_until(START + timedelta(hours=2), clock, lambdas.wait_idle)

    assert [(event["job"], when.strftime("%H:%M")) for event, when in target.received] == [
        ("a", "09:54"),
        ("b", "10:00"),
        ("c", "10:30"),
    ]
    assert names(scheduler) == set()
    assert clock() == START + timedelta(hours=2)


def test_the_time_is_read_in_the_schedules_timezone(
    firer: ScheduleFirer, scheduler: Any, target: Target
) -> None:
    """Given at(2030-01-01T10:00:00) in Europe/Paris (UTC+1 in January), then it is due
    at 09:00 UTC: not a second before."""
    create(scheduler, "paris", "2030-01-01T10:00:00", ScheduleExpressionTimezone="Europe/Paris")

    (pending,) = firer.pending()

    assert pending.at == datetime(2030, 1, 1, 9, 0, tzinfo=UTC)
    assert firer.due(datetime(2030, 1, 1, 8, 59, 59, tzinfo=UTC)) == []
    assert [s.name for s in firer.due(datetime(2030, 1, 1, 9, 0, tzinfo=UTC))] == ["paris"]


def test_a_schedule_kept_after_completion_fires_once_until_it_is_updated(
    firer: ScheduleFirer,
    scheduler: Any,
    clock: SandboxClock,
    lambdas: LambdaStandIn,
    target: Target,
) -> None:
    """Given a schedule with ActionAfterCompletion NONE, when it fires, then it stays but
    does not fire again on the next run; once updated to a later time, it fires then."""
    create(scheduler, "kept", "2030-01-01T09:30:00", ActionAfterCompletion="NONE")
    firer.run_until(START + HOUR, clock, lambdas.wait_idle)
    assert names(scheduler) == {"kept"}

    assert firer.run_until(START + 2 * HOUR, clock, lambdas.wait_idle) == []

    scheduler.update_schedule(
        Name="kept",
        GroupName=GROUP,
        ScheduleExpression="at(2030-01-01T11:30:00)",
        FlexibleTimeWindow={"Mode": "OFF"},
        ActionAfterCompletion="NONE",
        Target={"Arn": TARGET, "RoleArn": ROLE, "Input": '{"job": "kept again"}'},
    )
    firer.run_until(START + 3 * HOUR, clock, lambdas.wait_idle)

    assert [(event["job"], when.strftime("%H:%M")) for event, when in target.received] == [
        ("kept", "09:30"),
        ("kept again", "11:30"),
    ]


def test_disabled_and_recurring_schedules_are_not_fired(
    firer: ScheduleFirer,
    scheduler: Any,
    clock: SandboxClock,
    lambdas: LambdaStandIn,
    target: Target,
) -> None:
    """Given a DISABLED one-time schedule that is due and a rate(5 minutes) one, when
    the clock runs an hour, then neither fires and both stay."""
    create(scheduler, "off", "2030-01-01T09:10:00", State="DISABLED")
    create(scheduler, "every", "2030-01-01T09:10:00", ScheduleExpression="rate(5 minutes)")

    fired = firer.run_until(START + HOUR, clock, lambdas.wait_idle)

    assert fired == []
    assert target.received == []
    assert names(scheduler) == {"off", "every"}


def test_a_refused_invoke_is_tried_again_as_its_retry_policy_allows(
    firer: ScheduleFirer,
    scheduler: Any,
    clock: SandboxClock,
    lambdas: LambdaStandIn,
    target: Target,
) -> None:
    """Given Lambda throttling the first two Invokes and a retry policy of 4 retries, when
    the schedule is due, then the third try is accepted; given one with no retries left
    after a refusal, the firing is kept as failed and the schedule is completed all the
    same (deleted)."""
    create(scheduler, "retried", "2030-01-01T09:10:00")
    lambdas.fail(times=2)

    (retried,) = firer.run_until(START + timedelta(minutes=15), clock, lambdas.wait_idle)

    assert (retried.tries, retried.delivered) == (3, True)
    assert [event["job"] for event, _ in target.received] == ["retried"]

    no_retries = {"Arn": TARGET, "RoleArn": ROLE, "Input": "{}"}
    create(
        scheduler,
        "dropped",
        "2030-01-01T09:20:00",
        Target={**no_retries, "RetryPolicy": {"MaximumRetryAttempts": 0}},
    )
    lambdas.fail(times=1)

    (dropped,) = firer.run_until(START + timedelta(minutes=30), clock, lambdas.wait_idle)

    assert (dropped.tries, dropped.delivered) == (1, False)
    assert "TooManyRequestsException" in (dropped.error or "")
    assert names(scheduler) == set()
    assert len(target.received) == 1


def test_the_sandbox_clock_runs_with_real_time_and_only_moves_ahead() -> None:
    """Given real time at START, when the clock is advanced 55 minutes, then it reads
    55 minutes ahead and keeps running with real time; a move to a moment already past
    leaves it as it is, and moving it back is refused."""
    real = [START]
    clock = SandboxClock(real=lambda: real[0])

    clock.advance(timedelta(minutes=55))
    real[0] = START + timedelta(seconds=30)

    assert clock() == START + timedelta(minutes=55, seconds=30)
    assert clock.move_to(START) == START + timedelta(minutes=55, seconds=30)
    assert clock.move_to(START + HOUR) == START + HOUR
    assert clock.ahead == HOUR - timedelta(seconds=30)
    with pytest.raises(ValueError, match="only moves forward"):
        clock.advance(-HOUR)
