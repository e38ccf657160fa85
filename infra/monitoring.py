"""Alarms: function errors and throttles, reverts that failed for good, API 5xx, and the
event queue falling behind or dead-lettering.

Each alarm notifies `alarm_topic_arn` when configured; otherwise it is visible in the
CloudWatch console only (subscribe a topic before relying on it).
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

PERIOD = cdk.Duration.minutes(5)
# The real-time path is behind once its oldest event waits longer than a Lake run would.
EVENT_AGE_LIMIT = cdk.Duration.minutes(10)


class Monitoring(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        functions: dict[str, lambda_.IFunction],
        failed_reverts: sqs.IQueue,
        api: apigw.RestApi,
        alarm_topic_arn: str | None,
        event_queue: sqs.IQueue | None = None,
        event_dead_letters: sqs.IQueue | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self._action = (
            cw_actions.SnsAction(sns.Topic.from_topic_arn(self, "AlarmTopic", alarm_topic_arn))
            if alarm_topic_arn
            else None
        )
        self.alarms: list[cloudwatch.Alarm] = []
        for label, function in functions.items():
            self._alarm(
                f"{label}Errors",
                function.metric_errors(period=PERIOD, statistic="Sum"),
                f"{label} failed an invocation: see its log group",
            )
            self._alarm(
                f"{label}Throttles",
                function.metric_throttles(period=PERIOD, statistic="Sum"),
                f"{label} was throttled: reserved or account concurrency is exhausted",
            )
        self._alarm(
            "FailedReverts",
            failed_reverts.metric_approximate_number_of_messages_visible(
                period=PERIOD, statistic="Maximum"
            ),
            "A revert failed every asynchronous attempt: the message in the queue names the "
            "change; check the responder's logs, then Deny again in Slack",
        )
        self._alarm(
            "ApiServerErrors",
            api.metric_server_error(period=PERIOD, statistic="Sum"),
            "The Slack endpoint answered 5xx: Slack shows the user an error",
        )
        if event_queue is not None:
            self._alarm(
                "EventQueueBehind",
                event_queue.metric_approximate_age_of_oldest_message(
                    period=PERIOD, statistic="Maximum"
                ),
                "Security-group changes wait in the event queue: the detector is failing, "
                "throttled or retrying a message; see its log group",
                threshold=EVENT_AGE_LIMIT.to_seconds(),
            )
        if event_dead_letters is not None:
            self._alarm(
                "EventDeadLetters",
                event_dead_letters.metric_approximate_number_of_messages_visible(
                    period=PERIOD, statistic="Maximum"
                ),
                "An event could not be queued or processed: the dead-letter queue holds it; "
                "read it, fix the cause, then redrive it to the event queue",
            )

    def _alarm(
        self, name: str, metric: cloudwatch.Metric, description: str, threshold: float = 1
    ) -> None:
        alarm = metric.create_alarm(
            self,
            name,
            alarm_description=description,
            threshold=threshold,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        if self._action is not None:
            alarm.add_alarm_action(self._action)
            alarm.add_ok_action(self._action)
        self.alarms.append(alarm)
