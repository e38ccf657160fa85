"""The EventBridge Scheduler parts moto lacks (sandbox/moto_scheduler.py), driven only through
boto3 over HTTP."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.support import REGION, SECURITY_ACCOUNT

TARGET = f"arn:aws:lambda:{REGION}:{SECURITY_ACCOUNT}:function:revertsg-2"
ROLE = f"arn:aws:iam::{SECURITY_ACCOUNT}:role/sgrevert-scheduler"


@pytest.fixture
def scheduler(aws: str) -> Any:
    return boto3.client("scheduler", region_name=REGION)


def _definition(**overrides: Any) -> dict[str, Any]:
    return {
        "Name": "expire-1",
        "GroupName": "sgrevert",
        "ScheduleExpression": "at(2030-01-01T10:00:00)",
        "ScheduleExpressionTimezone": "UTC",
        "FlexibleTimeWindow": {"Mode": "OFF"},
        "ActionAfterCompletion": "DELETE",
        "Target": {"Arn": TARGET, "RoleArn": ROLE, "Input": "{}"},
        **overrides,
    }


def _error(call: Any, **kwargs: Any) -> dict[str, Any]:
    with pytest.raises(ClientError) as raised:
        call(**kwargs)
    response: dict[str, Any] = raised.value.response
    return {
        "code": response["Error"]["Code"],
        "message": response["Error"]["Message"],
        "status": response["ResponseMetadata"]["HTTPStatusCode"],
    }


def test_creating_in_a_missing_group_is_not_found(scheduler: Any) -> None:
    """Given no schedule group "sgrevert", when a schedule is created in it, then the API's
    ResourceNotFoundException names the group (not a server error)."""
    found = _error(scheduler.create_schedule, **_definition())

    assert found == {
        "code": "ResourceNotFoundException",
        "message": "Schedule group sgrevert does not exist.",
        "status": 404,
    }


def test_updating_and_reading_in_a_missing_group_are_not_found(scheduler: Any) -> None:
    """Given no schedule group "sgrevert", when a schedule there is updated or read, then
    each answers ResourceNotFoundException naming the group."""
    updated = _error(scheduler.update_schedule, **_definition())
    read = _error(scheduler.get_schedule, Name="expire-1", GroupName="sgrevert")

    for found in (updated, read):
        assert (found["code"], found["message"]) == (
            "ResourceNotFoundException",
            "Schedule group sgrevert does not exist.",
        )


def test_creating_a_name_twice_is_a_conflict(scheduler: Any) -> None:
    """Given a schedule, when one of the same name is created in its group, then
    ConflictException with HTTP 409."""
    scheduler.create_schedule_group(Name="sgrevert")
    scheduler.create_schedule(**_definition())

    found = _error(scheduler.create_schedule, **_definition())

    assert (found["code"], found["status"]) == ("ConflictException", 409)


def test_an_update_sets_action_after_completion_as_given(scheduler: Any) -> None:
    """Given a schedule created without ActionAfterCompletion, when it is updated with
    DELETE, then it reads back DELETE; updated again without it, it is back to the
    default (an update replaces the whole definition)."""
    scheduler.create_schedule_group(Name="sgrevert")
    created = _definition()
    del created["ActionAfterCompletion"]
    scheduler.create_schedule(**created)

    scheduler.update_schedule(**_definition(ScheduleExpression="at(2030-01-01T11:00:00)"))
    after_update = scheduler.get_schedule(Name="expire-1", GroupName="sgrevert")
    scheduler.update_schedule(**created)
    after_second = scheduler.get_schedule(Name="expire-1", GroupName="sgrevert")

    assert after_update["ActionAfterCompletion"] == "DELETE"
    assert after_update["ScheduleExpression"] == "at(2030-01-01T11:00:00)"
    assert after_second.get("ActionAfterCompletion") in (None, "NONE")


def test_a_missing_schedule_in_an_existing_group_is_not_found(scheduler: Any) -> None:
    """Given the group but no such schedule, when it is read, updated or deleted, then
    ResourceNotFoundException names the schedule."""
    scheduler.create_schedule_group(Name="sgrevert")

    for call, kwargs in (
        (scheduler.get_schedule, {"Name": "expire-1", "GroupName": "sgrevert"}),
        (scheduler.update_schedule, _definition()),
        (scheduler.delete_schedule, {"Name": "expire-1", "GroupName": "sgrevert"}),
    ):
        found = _error(call, **kwargs)
        assert (found["code"], found["message"]) == (
            "ResourceNotFoundException",
            "Schedule expire-1 does not exist.",
        )
