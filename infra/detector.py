"""revertsg-1: the detector function, the schedule that runs it and, with EventBridge, its
event queue mapping.

Before posting a change the detector reads its context: the account's name and OU chain
(organizations:ListAccounts and ListParents, with its own role or through
`org_read_role_arn`) and the security group, its rules and what it is attached to, in
the member account through the hub (or, without one, straight into the spoke role) under
a session policy that allows only the describe calls (`sgrevert.roles.RoleChain.read_session`)."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra import nag
from infra.asset import LambdaAsset
from infra.function import SgrevertFunction
from infra.security_hub import send_findings
from infra.settings import Settings
from infra.table import ChangeTable

HANDLER = "sgrevert.detect.handler"
TIMEOUT = cdk.Duration.minutes(5)  # a Lake query plus posting a burst of changes
# The event queue mapping: batches of up to 10 events, gathered for at most 5 s (the
# real-time path stays within seconds), on at most 2 concurrent invocations.
BATCH_SIZE = 10
BATCHING_WINDOW = cdk.Duration.seconds(5)
QUEUE_CONCURRENCY = 2
# One scheduled run at a time, plus the queue's invocations when the detector takes events.
SCHEDULED_CONCURRENCY = 1
# Lake queries the detector runs and polls; ids only come back from StartQuery.
LAKE_ACTIONS = [
    "cloudtrail:StartQuery",
    "cloudtrail:DescribeQuery",
    "cloudtrail:GetQueryResults",
    "cloudtrail:CancelQuery",
]


def event_data_store_arn(scope: Construct, event_data_store: str, organization_account: str) -> str:
    """The configured ARN, or one built from an id: the store is the organization's."""
    if event_data_store.startswith("arn:"):
        return event_data_store
    return cdk.Stack.of(scope).format_arn(
        service="cloudtrail",
        account=organization_account,
        resource="eventdatastore",
        resource_name=event_data_store,
    )


def detector_concurrency(settings: Settings) -> int:
    """What `reserve_concurrency` reserves: one scheduled run, plus the queue's batches."""
    return SCHEDULED_CONCURRENCY + (QUEUE_CONCURRENCY if settings.detection.takes_events else 0)


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
        event_queue: sqs.IQueue | None,
        hub_role_arn: str | None,
    ) -> None:
        """`hub_role_arn`: the hub the stack created, or `settings.hub_role_arn`, or None
        (the spoke roles are then assumed directly)."""
        super().__init__(scope, construct_id)
        environment = {
            "POWERTOOLS_SERVICE_NAME": "sgrevert-detect",
            "TABLE_NAME": table.table.table_name,
            "SLACK_SECRET_ARN": secret.secret_arn,
            "SLACK_CHANNEL_ID": settings.slack_channel_id,
            "SLACK_API_URL": settings.slack_api_url,
            "DETECTION": settings.detection.value,
            "SPOKE_ROLE_NAME": settings.spoke_role_name,
        }
        if hub_role_arn:
            environment["HUB_ROLE_ARN"] = hub_role_arn
        if settings.org_read_role_arn:
            environment["ORG_READ_ROLE_ARN"] = settings.org_read_role_arn
        if settings.detection.polls_lake:
            assert settings.event_data_store  # settings require it when Lake is polled
            environment["EVENT_DATA_STORE"] = settings.event_data_store
            environment["LOOKBACK_MINUTES"] = str(settings.lookback_minutes)
            if settings.lake_read_role_arn:
                environment["LAKE_READ_ROLE_ARN"] = settings.lake_read_role_arn
        if settings.policy:
            environment["POLICY"] = settings.policy
        revert_function = self._revert_function_arn(settings)
        environment["REVERT_FUNCTION_ARN"] = revert_function
        concurrency = detector_concurrency(settings)
        self.handler = SgrevertFunction(
            self,
            "Handler",
            asset=asset,
            function_name=settings.detector_function_name,
            handler=HANDLER,
            description="sgrevert detector: security-group changes to DynamoDB and Slack",
            environment=environment,
            timeout=TIMEOUT,
            # Off by default: runs overlap safely (claims, conditional writes), and a
            # reservation needs an account quota of 100 + reserved (README: Settings).
            reserved_concurrency=concurrency if settings.reserve_concurrency else None,
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
        send_findings(self.handler, settings)
        if settings.detection.polls_lake:
            self._grant_lake(settings)
        self._grant_context(settings, hub_role_arn)
        # Policy reverts go to the responder exactly as a Deny click's do, and the sweep's
        # overdue expiries and missed reminders as their schedules' do.
        function.add_to_role_policy(
            iam.PolicyStatement(
                sid="StartResponderJobs",
                actions=["lambda:InvokeFunction"],
                resources=[revert_function],
            )
        )
        if event_queue is not None:
            function.add_event_source(
                event_sources.SqsEventSource(
                    event_queue,
                    batch_size=BATCH_SIZE,
                    max_batching_window=BATCHING_WINDOW,
                    report_batch_item_failures=True,
                    max_concurrency=QUEUE_CONCURRENCY,
                )
            )
        # With EventBridge alone the schedule still runs: it posts what a Slack outage left.
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

    def _revert_function_arn(self, settings: Settings) -> str:
        """The responder, by name: for policy reverts and the sweep of approvals for a while."""
        return cdk.Stack.of(self).format_arn(
            service="lambda",
            resource="function",
            resource_name=settings.responder_function_name,
            arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
        )

    def _grant_context(self, settings: Settings, hub_role_arn: str | None) -> None:
        """What reading a change's context needs: the role chain into the member accounts
        (no SetSourceIdentity: a read names nobody) and the organization's account names."""
        function = self.handler.function
        self.context_roles = [hub_role_arn] if hub_role_arn else [self._spoke_anywhere(settings)]
        function.add_to_role_policy(
            iam.PolicyStatement(
                sid="AssumeContextReadRole",
                actions=["sts:AssumeRole"],
                resources=self.context_roles,
            )
        )
        if not hub_role_arn:
            nag.acknowledge(
                self.handler.role,
                "AwsSolutions-IAM5",
                f"Resource::arn:<AWS::Partition>:iam::*:role/{settings.spoke_role_name.strip('/')}",
                "without a hub role the detector reads a changed group through the spoke role "
                "of whichever member account it is in, under a describe-only session policy; "
                "only that role name, in any account",
            )
        if settings.org_read_role_arn:
            function.add_to_role_policy(
                iam.PolicyStatement(
                    sid="AssumeOrgReadRole",
                    actions=["sts:AssumeRole"],
                    resources=[settings.org_read_role_arn],
                )
            )
            return
        function.add_to_role_policy(
            iam.PolicyStatement(
                sid="ReadOrganization",
                actions=["organizations:ListAccounts", "organizations:ListParents"],
                resources=["*"],
            )
        )
        nag.acknowledge(
            self.handler.role,
            "AwsSolutions-IAM5",
            "Resource::*",
            "organizations:ListAccounts (read-only: account ids and names) supports no "
            "resource ARN; ListParents (read-only: an account's OU chain, for routes) walks "
            "the whole tree up to the root",
        )

    def _spoke_anywhere(self, settings: Settings) -> str:
        return cdk.Stack.of(self).format_arn(
            service="iam",
            region="",
            account="*",
            resource="role",
            resource_name=settings.spoke_role_name.strip("/"),
        )

    def _grant_lake(self, settings: Settings) -> None:
        function = self.handler.function
        if settings.lake_read_role_arn:
            function.add_to_role_policy(
                iam.PolicyStatement(
                    sid="AssumeLakeReadRole",
                    actions=["sts:AssumeRole"],
                    resources=[settings.lake_read_role_arn],
                )
            )
            return
        assert settings.event_data_store and settings.organization_account_id
        function.add_to_role_policy(
            iam.PolicyStatement(
                sid="QueryLake",
                actions=LAKE_ACTIONS,
                resources=[
                    event_data_store_arn(
                        self, settings.event_data_store, settings.organization_account_id
                    )
                ],
            )
        )
