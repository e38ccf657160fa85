"""The expiry and reminder schedules of approvals for a while (sgrevert.expiry_schedule) on
moto's EventBridge Scheduler, through boto3 over HTTP: what is created, how an extension
moves it, what a past reminder does, deletion, and every failure as ScheduleFailed."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.config import Config

from sgrevert.expiry_schedule import (
    NAME_LIMIT,
    RETRY_POLICY,
    ExpirySchedules,
    ScheduleFailed,
    expiry_name,
    reminder_name,
)
from sgrevert.selfinvoke import ExpireJob, RemindJob, job_from_event
from tests.support import REGION, SECURITY_ACCOUNT

GROUP = "sgrevert"
TARGET = f"arn:aws:lambda:{REGION}:{SECURITY_ACCOUNT}:function:revertsg-2"
ROLE = f"arn:aws:iam::{SECURITY_ACCOUNT}:role/sgrevert-scheduler"
CHANGE = "6f1c9a2e-3b4d-4e5f-8a9b-0c1d2e3f4a5b"  # a CloudTrail event id
NOW = datetime(2031, 3, 14, 9, 0, tzinfo=UTC)
DEADLINE = NOW + timedelta(hours=1)
REMIND = DEADLINE - timedelta(minutes=6)


@pytest.fixture
def scheduler(aws: str) -> Any:
    client = boto3.client("scheduler", region_name=REGION)
    client.create_schedule_group(Name=GROUP)
    return client


def schedules(client: Any, now: datetime = NOW) -> ExpirySchedules:
    return ExpirySchedules(client, GROUP, ROLE, clock=lambda: now)


def held(client: Any, name: str) -> dict[str, Any]:
    found: dict[str, Any] = client.get_schedule(Name=name, GroupName=GROUP)
    return found


def names(client: Any) -> set[str]:
    return {s["Name"] for s in client.list_schedules(GroupName=GROUP)["Schedules"]}


def test_an_approval_gets_a_one_time_expiry_that_invokes_the_responder(scheduler: Any) -> None:
    """Given an approval of a change until 10:00 UTC, when its schedules are set, then one
    schedule fires once at that second (UTC, no flexible window), deletes itself after,
    invokes revertsg-2 through the scheduler role with the expiry of that change at that
    deadline, and says so in its description."""
    schedules(scheduler).set(CHANGE, DEADLINE, None, TARGET)

    found = held(scheduler, expiry_name(CHANGE))

    assert found["ScheduleExpression"] == "at(2031-03-14T10:00:00)"
    assert found["ScheduleExpressionTimezone"] == "UTC"
    assert found["FlexibleTimeWindow"] == {"Mode": "OFF"}
    assert found["ActionAfterCompletion"] == "DELETE"
    target = found["Target"]
    assert (target["Arn"], target["RoleArn"]) == (TARGET, ROLE)
    assert target["RetryPolicy"] == RETRY_POLICY
    assert RETRY_POLICY["MaximumEventAgeInSeconds"] <= 3600
    event = json.loads(target["Input"])
    assert event == {"sgrevert": "expire", "event_id": CHANGE, "deadline": "2031-03-14T10:00:00Z"}
    assert job_from_event(event) == ExpireJob(CHANGE, DEADLINE)
    assert CHANGE in found["Description"] and "2031-03-14T10:00:00Z" in found["Description"]
    assert names(scheduler) == {expiry_name(CHANGE)}  # no reminder was asked for


def test_a_reminder_ahead_gets_its_own_schedule(scheduler: Any) -> None:
    """Given a reminder time still ahead, then a second schedule fires then with the
    reminder of that change for that deadline, defined like the expiry."""
    schedules(scheduler).set(CHANGE, DEADLINE, REMIND, TARGET)

    found = held(scheduler, reminder_name(CHANGE))

    assert found["ScheduleExpression"] == "at(2031-03-14T09:54:00)"
    assert (found["ScheduleExpressionTimezone"], found["FlexibleTimeWindow"]) == (
        "UTC",
        {"Mode": "OFF"},
    )
    assert found["ActionAfterCompletion"] == "DELETE"
    assert (found["Target"]["Arn"], found["Target"]["RoleArn"]) == (TARGET, ROLE)
    assert job_from_event(json.loads(found["Target"]["Input"])) == RemindJob(CHANGE, DEADLINE)
    info = schedules(scheduler).get(CHANGE)
    assert info is not None
    assert (info.at, info.reminder_at, info.target_arn, info.role_arn) == (
        DEADLINE,
        REMIND,
        TARGET,
        ROLE,
    )


def test_extending_moves_both_schedules_and_keeps_their_whole_definition(scheduler: Any) -> None:
    """Given the schedules of an approval until 10:00, when it is extended to 18:00, then
    the same two schedules now fire at the new times with the new deadline in their input,
    and still delete themselves after (UpdateSchedule replaces every field)."""
    schedules(scheduler).set(CHANGE, DEADLINE, REMIND, TARGET)
    later = NOW + timedelta(hours=9)

    schedules(scheduler).set(CHANGE, later, later - timedelta(minutes=15), TARGET)

    assert names(scheduler) == {expiry_name(CHANGE), reminder_name(CHANGE)}
    expiry = held(scheduler, expiry_name(CHANGE))
    reminder = held(scheduler, reminder_name(CHANGE))
    assert expiry["ScheduleExpression"] == "at(2031-03-14T18:00:00)"
    assert reminder["ScheduleExpression"] == "at(2031-03-14T17:45:00)"
    for found in (expiry, reminder):
        assert found["ActionAfterCompletion"] == "DELETE"
        assert found["FlexibleTimeWindow"] == {"Mode": "OFF"}
        assert found["Target"]["RetryPolicy"] == RETRY_POLICY
    assert job_from_event(json.loads(expiry["Target"]["Input"])) == ExpireJob(CHANGE, later)
    assert job_from_event(json.loads(reminder["Target"]["Input"])) == RemindJob(CHANGE, later)


def test_a_reminder_time_already_past_is_not_scheduled_and_an_old_one_goes(
    scheduler: Any,
) -> None:
    """Given a reminder schedule for 09:54, when the approval is set again at 09:58 with a
    reminder that is already past, then there is no reminder schedule, only the expiry."""
    schedules(scheduler).set(CHANGE, DEADLINE, REMIND, TARGET)

    schedules(scheduler, now=NOW + timedelta(minutes=58)).set(CHANGE, DEADLINE, REMIND, TARGET)

    assert names(scheduler) == {expiry_name(CHANGE)}
    info = schedules(scheduler).get(CHANGE)
    assert info is not None and info.reminder_at is None


def test_delete_removes_both_and_twice_is_fine(scheduler: Any) -> None:
    """Given both schedules, when they are deleted (kept permanently, reverted now), then
    neither remains; deleting again, or what never existed, is not an error."""
    schedules(scheduler).set(CHANGE, DEADLINE, REMIND, TARGET)

    schedules(scheduler).delete(CHANGE)
    schedules(scheduler).delete(CHANGE)

    assert names(scheduler) == set()
    assert schedules(scheduler).get(CHANGE) is None


def test_a_group_message_has_its_own_schedules(scheduler: Any) -> None:
    """Given a group message `g:<batch>` and one of its members, then each has its own
    schedules, the group's named for the batch, and each carries its own id."""
    group = "g:0123456789abcdef01234567"

    schedules(scheduler).set(group, DEADLINE, None, TARGET)
    schedules(scheduler).set(CHANGE, DEADLINE, None, TARGET)

    assert expiry_name(group) == "expire-g.0123456789abcdef01234567"
    assert names(scheduler) == {expiry_name(group), expiry_name(CHANGE)}
    event = json.loads(held(scheduler, expiry_name(group))["Target"]["Input"])
    assert job_from_event(event) == ExpireJob(group, DEADLINE)


@pytest.mark.parametrize(
    "about",
    [
        CHANGE,
        "g:0123456789abcdef01234567",
        "g:" + "b" * 80,
        "sandbox:event/42 with spaces",
        "x" * 200,
        "a.b",
    ],
)
def test_every_id_has_names_the_scheduler_accepts(about: str) -> None:
    """Names are at most 64 characters of [0-9a-zA-Z-_.], and the expiry and the reminder
    of one id differ."""
    for name in (expiry_name(about), reminder_name(about)):
        assert len(name) <= NAME_LIMIT
        assert re.fullmatch(r"[0-9a-zA-Z._-]+", name), name
    assert expiry_name(about) != reminder_name(about)


def test_ids_that_would_look_alike_get_different_names() -> None:
    """A group, an id with a dot and an id of the same letters never share a name."""
    ids = ["g:abc", "g.abc", "g-abc", "abc", "h.abc", "a.b", "a:b", "a-b"]

    assert len({expiry_name(i) for i in ids}) == len(ids)


def test_a_missing_schedule_group_fails_naming_it(aws: str) -> None:
    """Given no schedule group (the stack not deployed, or another group configured), then
    setting, reading and deleting each fail with ScheduleFailed naming the group."""
    client = boto3.client("scheduler", region_name=REGION)
    missing = ExpirySchedules(client, "sgrevert-missing", ROLE, clock=lambda: NOW)

    for call in (
        lambda: missing.set(CHANGE, DEADLINE, REMIND, TARGET),
        lambda: missing.get(CHANGE),
        lambda: missing.delete(CHANGE),
    ):
        with pytest.raises(ScheduleFailed, match="Schedule group sgrevert-missing does not exist"):
            call()


def test_an_unreachable_scheduler_fails_saying_so() -> None:
    """Given a Scheduler endpoint nobody answers, then ScheduleFailed says the call and why."""
    client = boto3.client(
        "scheduler",
        region_name=REGION,
        endpoint_url="http://127.0.0.1:9",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(connect_timeout=0.5, retries={"total_max_attempts": 1}),
    )

    with pytest.raises(ScheduleFailed, match=r"CreateSchedule expire-.* \(EndpointConnectionError"):
        ExpirySchedules(client, GROUP, ROLE, clock=lambda: NOW).set(CHANGE, DEADLINE, None, TARGET)
