"""Approvals for a while, ended on time: the schedule group, the scheduler role, the
responder's grants and settings, the detector's sweep grant, and the alarm on failed
schedules."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from infra.expiry import (
    LATE_EXPIRY,
    SCHEDULE_ACTIONS,
    SCHEDULE_FAILED,
    UNDECIDED_SCHEDULE_FAILED,
)
from sgrevert.settings import RespondSettings
from tests.infra.conftest import (
    actions,
    function,
    function_role,
    only,
    resources,
    role_statements,
    under,
)

SCHEDULER = "scheduler.amazonaws.com"


def _scheduler_role(template: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    return only(under(template, "Expiry/SchedulerRole"), "AWS::IAM::Role")


def _responder_arn_parts(resource: dict[str, Any]) -> list[Any]:
    parts: list[Any] = resource["Fn::Join"][1]
    return parts


@pytest.mark.parametrize(
    ("variant", "group"), [("app_template", "sgrevert"), ("direct_template", "sgrevert-direct")]
)
def test_the_schedule_group_is_named_by_its_setting(
    variant: str, group: str, request: pytest.FixtureRequest
) -> None:
    """Given cdk.json as shipped (or another expiry_schedule_group), then the stack creates
    one schedule group of that name, and the responder is told it."""
    template = request.getfixturevalue(variant)

    _, created = only(template, "AWS::Scheduler::ScheduleGroup")
    _, responder = function(template, "revertsg-2")

    assert created["Properties"]["Name"] == group
    assert responder["Properties"]["Environment"]["Variables"]["EXPIRY_SCHEDULE_GROUP"] == group


def test_the_scheduler_role_is_assumed_by_this_accounts_schedules_only(
    app_template: dict[str, Any],
) -> None:
    """Then only EventBridge Scheduler may assume the role, on behalf of this account."""
    _, role = _scheduler_role(app_template)

    [trust] = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Effect"] == "Allow"
    assert trust["Action"] == "sts:AssumeRole"
    assert trust["Principal"] == {"Service": SCHEDULER}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
    assert "ManagedPolicyArns" not in role["Properties"]


def test_the_scheduler_role_may_invoke_the_responder_and_nothing_else(
    app_template: dict[str, Any],
) -> None:
    role_id, _ = _scheduler_role(app_template)

    [statement] = role_statements(app_template, role_id)

    assert statement["Effect"] == "Allow"
    assert actions(statement) == ["lambda:InvokeFunction"]
    assert _responder_arn_parts(statement["Resource"])[-1] == ":function:revertsg-2"


@pytest.mark.parametrize(
    ("variant", "group"), [("app_template", "sgrevert"), ("direct_template", "sgrevert-direct")]
)
def test_the_responder_keeps_the_schedules_of_its_group_only(
    variant: str, group: str, request: pytest.FixtureRequest
) -> None:
    """Then revertsg-2 may create, update, delete and read schedules in its group, in this
    account and region, and nothing else of the scheduler's."""
    template = request.getfixturevalue(variant)
    statements = role_statements(template, function_role(template, "revertsg-2"))

    scheduling = [s for s in statements if any(a.startswith("scheduler:") for a in actions(s))]

    [grant] = scheduling
    assert sorted(actions(grant)) == sorted(SCHEDULE_ACTIONS)
    assert grant["Resource"] == {
        "Fn::Join": [
            "",
            [
                "arn:",
                {"Ref": "AWS::Partition"},
                ":scheduler:",
                {"Ref": "AWS::Region"},
                ":",
                {"Ref": "AWS::AccountId"},
                f":schedule/{group}/*",
            ],
        ]
    }


def test_the_responder_passes_the_scheduler_role_only_and_only_to_the_scheduler(
    app_template: dict[str, Any],
) -> None:
    role_id, _ = _scheduler_role(app_template)
    everyone = [
        (name, statement)
        for name in ("revertsg-1", "revertsg-2")
        for statement in role_statements(app_template, function_role(app_template, name))
        if "iam:PassRole" in actions(statement)
    ]

    [(name, grant)] = everyone
    assert name == "revertsg-2"
    assert actions(grant) == ["iam:PassRole"]
    assert grant["Resource"] == {"Fn::GetAtt": [role_id, "Arn"]}
    assert grant["Condition"] == {"StringEquals": {"iam:PassedToService": SCHEDULER}}


def test_the_detector_keeps_no_schedule(app_template: dict[str, Any]) -> None:
    """The sweep only invokes the responder: the schedules are the responder's alone."""
    statements = role_statements(app_template, function_role(app_template, "revertsg-1"))

    assert not [a for s in statements for a in actions(s) if a.startswith("scheduler:")]


def test_the_responder_reads_the_scheduler_role_and_the_detectors_policy(
    app_template: dict[str, Any], direct_template: dict[str, Any]
) -> None:
    """Given a policy with its own durations, the responder gets the same validated POLICY
    as the detector, and a scheduler role ARN it accepts at cold start."""
    role_id, _ = _scheduler_role(app_template)
    _, shipped = function(app_template, "revertsg-2")
    assert shipped["Properties"]["Environment"]["Variables"]["SCHEDULER_ROLE_ARN"] == {
        "Fn::GetAtt": [role_id, "Arn"]
    }
    assert "POLICY" not in shipped["Properties"]["Environment"]["Variables"]  # none shipped

    _, detector = function(direct_template, "revertsg-1")
    _, responder = function(direct_template, "revertsg-2")
    variables = responder["Properties"]["Environment"]["Variables"]
    assert variables["POLICY"] == detector["Properties"]["Environment"]["Variables"]["POLICY"]
    runtime = {
        **{k: v for k, v in variables.items() if isinstance(v, str)},
        "TABLE_NAME": "secgrouprequests",
        "SLACK_SECRET_ARN": "arn:aws:secretsmanager:eu-west-1:222222222222:secret:s-AbC123",
        "SCHEDULER_ROLE_ARN": "arn:aws:iam::222222222222:role/sgrevert-SchedulerRole-AbC123",
    }
    settings = RespondSettings.from_env(runtime)
    assert settings.policy.temporary_approvals == (timedelta(minutes=30), timedelta(hours=4))
    assert settings.expiry_schedule_group == "sgrevert-direct"
    assert settings.scheduler_role_arn is not None


def test_the_responders_logs_feed_one_alarm_on_failed_schedules(
    app_template: dict[str, Any],
) -> None:
    """Then a metric filter on the responder's log group counts its failed schedules (an
    approval's expiry, an undecided change's reminder or deny), and one alarm fires on the
    first (late expiries are the detector's LateExpiries metric)."""
    [metric_filter] = resources(app_template, "AWS::Logs::MetricFilter").values()
    responder_logs = function(app_template, "revertsg-2")[1]["Properties"]["LoggingConfig"]

    props = metric_filter["Properties"]
    assert props["LogGroupName"] == responder_logs["LogGroup"]
    assert props["FilterPattern"] == (
        f'{{ ($.message = "{SCHEDULE_FAILED}") || ($.message = "{UNDECIDED_SCHEDULE_FAILED}") }}'
    )
    [transformation] = props["MetricTransformations"]
    assert transformation["MetricValue"] == "1"
    _, alarm = only(under(app_template, "Expiry/ScheduleFailuresAlarm"), "AWS::CloudWatch::Alarm")
    watched = alarm["Properties"]
    assert (watched["Namespace"], watched["MetricName"]) == (
        transformation["MetricNamespace"],
        transformation["MetricName"],
    )
    assert (watched["Statistic"], watched["Threshold"]) == ("Sum", 1)
    assert watched["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert SCHEDULE_FAILED in watched["AlarmDescription"]
    assert UNDECIDED_SCHEDULE_FAILED in watched["AlarmDescription"]
    assert LATE_EXPIRY not in watched["AlarmDescription"]
