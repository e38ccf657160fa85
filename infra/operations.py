"""Operating sgrevert: a CloudWatch dashboard of its metrics (`sgrevert.metrics`, embedded in
the functions' logs, namespace `sgrevert`) next to every alarm of the stack, and the alarms
on those metrics.

- detection lag: p90 from the CloudTrail event to the Slack post above the path's
  threshold for 3 periods in a row, one alarm per path the stack runs (the Lake path's
  period is the schedule's, at least 5 minutes: its runs post once a schedule);
- revert failures: any revert that ended REVERT_FAILED (the revoke itself failed);
- undecided critical: a critical change still PENDING longer than the threshold after its
  CloudTrail event (the scheduled runs measure it, so the period is the schedule's);
- late expiries: any approval for a while the detector's sweep found overdue.

Each alarm notifies `alarm_topic_arn` when it is set, its return to OK too.
"""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from constructs import Construct

from infra.monitoring import PERIOD, alarm, topic_action
from infra.settings import Settings
from sgrevert import metrics

LAG_EVALUATION_PERIODS = 3
MIN_PERIOD_MINUTES = 5
WIDTH = 24  # the dashboard grid
KINDS = sorted(metrics.KINDS)


def metric(
    name: str, statistic: str, period: cdk.Duration = PERIOD, label: str | None = None, **dims: str
) -> cloudwatch.Metric:
    return cloudwatch.Metric(
        namespace=metrics.NAMESPACE,
        metric_name=name,
        dimensions_map={k: str(v) for k, v in dims.items()} or None,
        statistic=statistic,
        period=period,
        label=label,
    )


class Operations(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: Settings,
        existing_alarms: Sequence[cloudwatch.IAlarm],
    ) -> None:
        """`existing_alarms`: the stack's other alarms (functions, queues, API, schedules),
        shown on the dashboard with these."""
        super().__init__(scope, construct_id)
        self._action = topic_action(self, settings.alarm_topic_arn)
        self._schedule = cdk.Duration.minutes(max(MIN_PERIOD_MINUTES, settings.schedule_minutes))
        self.alarms: list[cloudwatch.Alarm] = []
        self._lag_alarms(settings)
        self._alarm(
            "RevertFailures",
            metric(metrics.REVERTS_FAILED, "Sum"),
            "A revert failed: the change is REVERT_FAILED and its rules may still be in place. "
            "Its Slack message says why; fix the cause (the spoke role, the hub's trust, EC2 "
            "throttling), then Deny again in Slack or run `sgrevert revert`",
            threshold=1,
        )
        self._alarm(
            "UndecidedCritical",
            metric(metrics.OLDEST_UNDECIDED, "Maximum", self._schedule, risk=metrics.RISKS[0]),
            f"A critical change has been undecided for more than "
            f"{settings.undecided_critical_alarm_minutes} minutes after it was made: find it "
            "with `sgrevert changes` (PENDING, critical) and decide it in Slack",
            threshold=settings.undecided_critical_alarm_minutes * 60,
        )
        self._alarm(
            "LateExpiries",
            metric(metrics.LATE_EXPIRIES, "Sum"),
            "An approval for a while was still approved more than 5 minutes past its deadline "
            "and the detector's sweep expired it: look for 'expiry schedule failed' in the "
            "responder's logs, check its schedule and that the scheduler role may invoke the "
            "responder",
            threshold=1,
        )
        self.dashboard = self._dashboard(settings, [*existing_alarms, *self.alarms])

    # -- alarms --------------------------------------------------------------------------------

    def _lag_alarms(self, settings: Settings) -> None:
        paths = []
        if settings.detection.polls_lake:
            paths.append((metrics.Path.LAKE, "Lake", settings.lake_lag_alarm_minutes))
        if settings.detection.takes_events:
            paths.append(
                (metrics.Path.EVENTBRIDGE, "EventBridge", settings.eventbridge_lag_alarm_minutes)
            )
        for path, label, minutes in paths:
            period = self._schedule if path is metrics.Path.LAKE else PERIOD
            self._alarm(
                f"{label}DetectionLag",
                metric(metrics.DETECTION_LAG, "p90", period, path=path.value),
                f"Changes detected through {label} reach Slack late: p90 over {minutes} "
                f"minutes for {LAG_EVALUATION_PERIODS} periods. "
                + (
                    "Check the detector's Lake query times and Lake's delivery delay"
                    if path is metrics.Path.LAKE
                    else "Check the event queue's age and the detector's errors and throttles"
                )
                + "; SlackErrors shows a Slack outage or rate limiting",
                threshold=minutes * 60,
                periods=LAG_EVALUATION_PERIODS,
                comparison=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            )

    def _alarm(
        self,
        name: str,
        watched: cloudwatch.Metric,
        description: str,
        *,
        threshold: float,
        periods: int = 1,
        comparison: cloudwatch.ComparisonOperator = (
            cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD
        ),
    ) -> None:
        self.alarms.append(
            alarm(
                self,
                name,
                watched,
                description,
                self._action,
                threshold=threshold,
                periods=periods,
                datapoints_to_alarm=periods,
                comparison=comparison,
            )
        )

    # -- the dashboard -------------------------------------------------------------------------

    def _dashboard(
        self, settings: Settings, alarms: Sequence[cloudwatch.IAlarm]
    ) -> cloudwatch.Dashboard:
        paths = [
            p
            for p, runs in (
                (metrics.Path.LAKE, settings.detection.polls_lake),
                (metrics.Path.EVENTBRIDGE, settings.detection.takes_events),
            )
            if runs
        ]
        risks = [*metrics.RISKS, metrics.UNRATED]
        dashboard = cloudwatch.Dashboard(
            self, "Dashboard", dashboard_name=f"{settings.stack_name}-operations"
        )
        dashboard.add_widgets(
            cloudwatch.AlarmStatusWidget(title="Alarms", alarms=list(alarms), width=WIDTH)
        )
        dashboard.add_widgets(
            _graph(
                "Changes detected, by path and risk",
                [
                    metric(metrics.CHANGES_DETECTED, "Sum", label=f"{p.value} {r}", path=p, risk=r)
                    for p in paths
                    for r in risks
                ],
                stacked=True,
            ),
            _graph(
                "Detection lag (s): event to post",
                [
                    metric(metrics.DETECTION_LAG, stat, label=f"{p.value} {stat}", path=p)
                    for p in paths
                    for stat in ("p50", "p90", "Maximum")
                ],
            ),
            _graph(
                "Posted, ignored, held",
                [
                    metric(metrics.CHANGES_POSTED, "Sum", label="posted"),
                    metric(metrics.CHANGES_IGNORED, "Sum", label="ignored"),
                    metric(metrics.CHANGES_HELD, "Sum", label="held"),
                ],
            ),
        )
        dashboard.add_widgets(
            _graph(
                "Decisions, by kind",
                [metric(metrics.DECISIONS, "Sum", label=k, kind=k) for k in KINDS],
                stacked=True,
            ),
            _graph(
                "Decision latency (s): post to decision",
                [
                    metric(metrics.DECISION_LATENCY, stat, label=stat)
                    for stat in ("p50", "p90", "Maximum")
                ],
            ),
            _graph(
                "Reverts",
                [
                    metric(metrics.REVERTS_SUCCEEDED, "Sum", label="succeeded"),
                    metric(metrics.REVERTS_FAILED, "Sum", label="failed"),
                ],
            ),
        )
        dashboard.add_widgets(
            _graph(
                "Undecided backlog, by risk",
                [
                    metric(metrics.UNDECIDED_BACKLOG, "Maximum", self._schedule, label=r, risk=r)
                    for r in metrics.RISKS
                ],
                stacked=True,
            ),
            _graph(
                "Oldest undecided (s), by risk",
                [
                    metric(metrics.OLDEST_UNDECIDED, "Maximum", self._schedule, label=r, risk=r)
                    for r in metrics.RISKS
                ],
            ),
            _graph(
                "Failures",
                [
                    metric(metrics.SLACK_ERRORS, "Sum", label="Slack errors"),
                    metric(metrics.CONTEXT_FAILURES, "Sum", label="context failures"),
                    metric(metrics.LATE_EXPIRIES, "Sum", label="late expiries"),
                    metric(metrics.SECURITY_HUB_FAILURES, "Sum", label="Security Hub failures"),
                ],
            ),
        )
        dashboard.add_widgets(
            *(cloudwatch.AlarmWidget(title=a.node.id, alarm=a, width=6) for a in self.alarms)
        )
        return dashboard


def _graph(
    title: str, shown: Sequence[cloudwatch.IMetric], *, stacked: bool = False
) -> cloudwatch.GraphWidget:
    return cloudwatch.GraphWidget(title=title, left=list(shown), width=WIDTH // 3, stacked=stacked)
