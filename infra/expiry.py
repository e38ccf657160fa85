"""Approvals for a while, ended on time: the EventBridge Scheduler schedule group, the role
the scheduler invokes the responder with, the responder's grants to keep the schedules,
and an alarm on schedules that could not be kept.

The responder creates one one-time schedule per temporary approval (and one for its
reminder) in the group, each invoking the responder through the scheduler role; the
detector's scheduled run expires whatever a schedule missed. The responder logs a schedule
it could not create, update or delete with a fixed message, which a metric filter on its
log group counts. Expiries the detector found overdue are its `LateExpiries` metric, with
their own alarm (infra/operations.py).
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_scheduler as scheduler
from constructs import Construct

from infra import nag
from infra.function import SgrevertFunction
from infra.monitoring import PERIOD, alarm, topic_action

SCHEDULER_SERVICE = "scheduler.amazonaws.com"
SCHEDULE_ACTIONS = [
    "scheduler:CreateSchedule",
    "scheduler:UpdateSchedule",
    "scheduler:DeleteSchedule",
    "scheduler:GetSchedule",
]
# The message the responder logs (Powertools JSON, `message`) when a schedule cannot be
# created, updated or deleted.
SCHEDULE_FAILED = "expiry schedule failed"
# And when an undecided change's reminder or fail-closed deny cannot be scheduled.
UNDECIDED_SCHEDULE_FAILED = "undecided schedule not set"
# The detector's sweep logs this when it expires an approval late (and counts it as the
# LateExpiries metric, which the late-expiry alarm watches).
LATE_EXPIRY = "late expiry"
METRIC_NAME = "ExpiryScheduleFailures"


class Expiry(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        group_name: str,
        responder: SgrevertFunction,
        log_group: logs.ILogGroup,
        alarm_topic_arn: str | None,
        metric_namespace: str,
    ) -> None:
        """`log_group`: the responder's, which the alarm reads."""
        super().__init__(scope, construct_id)
        stack = cdk.Stack.of(self)
        self.group = scheduler.CfnScheduleGroup(self, "Group", name=group_name)
        # Only schedules of this account may use it (confused deputy), and it may do one
        # thing: invoke the responder.
        self.role = iam.Role(
            self,
            "SchedulerRole",
            assumed_by=iam.ServicePrincipal(
                SCHEDULER_SERVICE,
                conditions={"StringEquals": {"aws:SourceAccount": stack.account}},
            ),
            description=f"EventBridge Scheduler: invokes {responder.name} when an approval for "
            "a while ends, or its reminder is due",
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="InvokeResponder",
                actions=["lambda:InvokeFunction"],
                resources=[responder.arn],
            )
        )
        self._grant(responder, group_name)
        self.alarm = self._alarm(log_group, alarm_topic_arn, metric_namespace)

    def _grant(self, responder: SgrevertFunction, group_name: str) -> None:
        """The responder keeps the schedules of this group, and hands them this role only."""
        stack = cdk.Stack.of(self)
        schedules = stack.format_arn(
            service="scheduler", resource="schedule", resource_name=f"{group_name}/*"
        )
        function = responder.function
        function.add_to_role_policy(
            iam.PolicyStatement(
                sid="KeepExpirySchedules", actions=SCHEDULE_ACTIONS, resources=[schedules]
            )
        )
        function.add_to_role_policy(
            iam.PolicyStatement(
                sid="PassSchedulerRole",
                actions=["iam:PassRole"],
                resources=[self.role.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": SCHEDULER_SERVICE}},
            )
        )
        nag.acknowledge(
            responder.role,
            "AwsSolutions-IAM5",
            f"Resource::{_as_nag_shows(stack, schedules)}",
            "schedule names are made per approval (expire-<change>, remind-<change>), so the "
            f"grant covers the schedules of the one group {group_name} only, in this account "
            "and region; no other group and no schedule group action",
        )
        function.add_environment("EXPIRY_SCHEDULE_GROUP", group_name)
        function.add_environment("SCHEDULER_ROLE_ARN", self.role.role_arn)

    def _alarm(
        self, log_group: logs.ILogGroup, alarm_topic_arn: str | None, namespace: str
    ) -> cloudwatch.Alarm:
        logs.MetricFilter(
            self,
            "ScheduleFailures",
            log_group=log_group,
            filter_pattern=logs.FilterPattern.any(
                logs.FilterPattern.string_value("$.message", "=", SCHEDULE_FAILED),
                logs.FilterPattern.string_value("$.message", "=", UNDECIDED_SCHEDULE_FAILED),
            ),
            metric_namespace=namespace,
            metric_name=METRIC_NAME,
            metric_value="1",
        )
        metric = cloudwatch.Metric(
            namespace=namespace, metric_name=METRIC_NAME, period=PERIOD, statistic="Sum"
        )
        return alarm(
            self,
            "ScheduleFailuresAlarm",
            metric,
            (
                "An expiry schedule could not be created, updated or deleted, or an undecided "
                f"change's reminder or fail-closed deny scheduled: search the responder's logs "
                f"for '{SCHEDULE_FAILED}' or '{UNDECIDED_SCHEDULE_FAILED}' and read its reason "
                "(check the schedule group, the scheduler role and the responder's grants). "
                "The approval or the change stands; the detector's sweep does the step late"
            ),
            topic_action(self, alarm_topic_arn),
        )


def _as_nag_shows(stack: cdk.Stack, arn: str) -> str:
    """An ARN as cdk-nag names it in a finding: pseudo parameters as `<AWS::Region>`."""
    resolved: Any = stack.resolve(arn)
    if isinstance(resolved, str):
        return resolved
    parts = resolved["Fn::Join"][1]
    return "".join(part if isinstance(part, str) else f"<{part['Ref']}>" for part in parts)
