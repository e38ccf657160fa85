"""revertsg-1: the detector function and the schedule that runs it."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra.asset import LambdaAsset
from infra.function import SgrevertFunction
from infra.settings import Settings
from infra.table import ChangeTable

HANDLER = "sgrevert.detect.handler"
TIMEOUT = cdk.Duration.minutes(5)  # a Lake query plus posting a burst of changes
# Lake queries the detector runs and polls; ids only come back from StartQuery.
LAKE_ACTIONS = [
    "cloudtrail:StartQuery",
    "cloudtrail:DescribeQuery",
    "cloudtrail:GetQueryResults",
    "cloudtrail:CancelQuery",
]


def event_data_store_arn(scope: Construct, settings: Settings) -> str:
    """The configured ARN, or one built from an id: the store is the organization's."""
    if settings.event_data_store.startswith("arn:"):
        return settings.event_data_store
    return cdk.Stack.of(scope).format_arn(
        service="cloudtrail",
        account=settings.organization_account_id,
        resource="eventdatastore",
        resource_name=settings.event_data_store,
    )


class Detector(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: Settings,
        asset: LambdaAsset,
        table: ChangeTable,
        secret: secretsmanager.ISecret,
    ) -> None:
        super().__init__(scope, construct_id)
        environment = {
            "POWERTOOLS_SERVICE_NAME": "sgrevert-detect",
            "TABLE_NAME": table.table.table_name,
            "SLACK_SECRET_ARN": secret.secret_arn,
            "SLACK_CHANNEL_ID": settings.slack_channel_id,
            "SLACK_API_URL": settings.slack_api_url,
            "EVENT_DATA_STORE": settings.event_data_store,
            "LOOKBACK_MINUTES": str(settings.lookback_minutes),
        }
        if settings.lake_read_role_arn:
            environment["LAKE_READ_ROLE_ARN"] = settings.lake_read_role_arn
        self.handler = SgrevertFunction(
            self,
            "Handler",
            asset=asset,
            function_name=settings.detector_function_name,
            handler=HANDLER,
            description="sgrevert detector: CloudTrail Lake to DynamoDB to Slack",
            environment=environment,
            timeout=TIMEOUT,
            # One run at a time: runs overlap safely, but a second one only burns Lake
            # query slots (10 per account) and Slack's posting rate.
            reserved_concurrency=1 if settings.reserve_concurrency else None,
            log_retention=settings.log_retention,
        )
        function = self.handler.function
        # A failed run is retried by the next scheduled one (the watermark holds), so an
        # immediate retry would only overlap it.
        function.configure_async_invoke(
            retry_attempts=0, max_event_age=cdk.Duration.minutes(settings.schedule_minutes)
        )
        table.grant_read_write(function, self.handler.role)
        secret.grant_read(function)
        if settings.lake_read_role_arn:
            function.add_to_role_policy(
                iam.PolicyStatement(
                    sid="AssumeLakeReadRole",
                    actions=["sts:AssumeRole"],
                    resources=[settings.lake_read_role_arn],
                )
            )
        else:
            function.add_to_role_policy(
                iam.PolicyStatement(
                    sid="QueryLake",
                    actions=LAKE_ACTIONS,
                    resources=[event_data_store_arn(self, settings)],
                )
            )
        self.schedule = events.Rule(
            self,
            "Schedule",
            description=f"Run {settings.detector_function_name} on its schedule",
            schedule=events.Schedule.rate(cdk.Duration.minutes(settings.schedule_minutes)),
            targets=[
                targets.LambdaFunction(
                    function,
                    retry_attempts=2,
                    max_event_age=cdk.Duration.minutes(settings.schedule_minutes),
                )
            ],
        )
