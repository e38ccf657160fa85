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
        self._action = topic_action(self, alarm_topic_arn)
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
        self.alarms.append(
            alarm(self, name, metric, description, self._action, threshold=threshold)
        )


def topic_action(scope: Construct, alarm_topic_arn: str | None) -> cw_actions.SnsAction | None:
    """The action that notifies `alarm_topic_arn` (a construct `AlarmTopic` in `scope`), or
    None when no topic is set."""
    if not alarm_topic_arn:
        return None
    return cw_actions.SnsAction(sns.Topic.from_topic_arn(scope, "AlarmTopic", alarm_topic_arn))


def alarm(
    scope: Construct,
    name: str,
    metric: cloudwatch.Metric,
    description: str,
    action: cw_actions.SnsAction | None,
    *,
    threshold: float = 1,
    periods: int = 1,
    datapoints_to_alarm: int | None = None,
    comparison: cloudwatch.ComparisonOperator = (
        cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD
    ),
) -> cloudwatch.Alarm:
    """An alarm on `metric` that is quiet without data and tells `action` (when set) when it
    fires and when it is OK again: every alarm of the stack is made so."""
    made = metric.create_alarm(
        scope,
        name,
        alarm_description=description,
        threshold=threshold,
        evaluation_periods=periods,
        datapoints_to_alarm=datapoints_to_alarm,
        comparison_operator=comparison,
        treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
    )
    if action is not None:
        made.add_alarm_action(action)
        made.add_ok_action(action)
    return made
