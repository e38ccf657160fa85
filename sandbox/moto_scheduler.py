"""What moto's EventBridge Scheduler lacks for sgrevert, added as the Scheduler API Reference
documents it.

moto (5.2) keeps schedules and schedule groups; sgrevert's expiry schedules meet three gaps.
`install()` fills them in this process, so both an in-process moto and a
`ThreadedMotoServer` answer them; it is idempotent.

- `CreateSchedule` in a schedule group that does not exist answers
  `ResourceNotFoundException` ("Schedule group <name> does not exist."); moto failed with
  a server error (a KeyError). `UpdateSchedule` and `GetSchedule` answer the same (they
  are checked through boto3 in tests/sandbox/test_moto_scheduler.py).
- `UpdateSchedule` sets `ActionAfterCompletion` as given, like every other field (an
  update replaces the whole definition); moto dropped it and kept the old value.
- `CreateSchedule` of a name the group already holds answers `ConflictException` with
  HTTP 409, as the API does (moto answered 400).
"""

from __future__ import annotations

import json
from typing import Any

from moto.scheduler.exceptions import ScheduleExists
from moto.scheduler.models import EventBridgeSchedulerBackend, Schedule
from moto.scheduler.responses import EventBridgeSchedulerResponse

_INSTALLED = "_sgrevert_stand_in"
_ORIGINAL_CREATE = EventBridgeSchedulerBackend.create_schedule
_CONFLICT_STATUS = 409


def create_schedule(self: EventBridgeSchedulerBackend, **kwargs: Any) -> Schedule:
    # Raises ScheduleGroupNotFound (ResourceNotFoundException) for a missing group.
    self.get_schedule_group(kwargs.get("group_name"))
    return _ORIGINAL_CREATE(self, **kwargs)


def update_schedule(self: EventBridgeSchedulerResponse) -> str:
    name = self.uri.split("?")[0].split("/")[-1]
    schedule = self.scheduler_backend.update_schedule(
        description=self._get_param("Description"),
        end_date=self._get_param("EndDate"),
        flexible_time_window=self._get_param("FlexibleTimeWindow"),
        group_name=self._get_param("GroupName"),
        kms_key_arn=self._get_param("KmsKeyArn"),
        name=name,
        schedule_expression=self._get_param("ScheduleExpression"),
        schedule_expression_timezone=self._get_param("ScheduleExpressionTimezone"),
        start_date=self._get_param("StartDate"),
        state=self._get_param("State"),
        target=self._get_param("Target"),
    )
    # Omitted, it returns to its default (NONE), as any field an update leaves out.
    schedule.action_after_completion = self._get_param("ActionAfterCompletion")
    return json.dumps({"ScheduleArn": schedule.arn})


def install() -> None:
    """Add the missing parts to moto's EventBridge Scheduler in this process (once)."""
    if getattr(EventBridgeSchedulerBackend, _INSTALLED, False):
        return
    EventBridgeSchedulerBackend.create_schedule = create_schedule  # type: ignore[method-assign,assignment]
    EventBridgeSchedulerResponse.update_schedule = update_schedule  # type: ignore[method-assign]
    ScheduleExists.code = _CONFLICT_STATUS
    setattr(EventBridgeSchedulerBackend, _INSTALLED, True)
