"""revertsg-2: the responder function, its asynchronous self-invocation and its failures."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra import nag
from infra.asset import LambdaAsset
from infra.function import SgrevertFunction
from infra.security_hub import send_findings
from infra.settings import Settings
from infra.table import ChangeTable

HANDLER = "sgrevert.respond.handler"
# One timeout covers both paths of the function. The click path answers Slack within
# 3 s (and API Gateway would cut it at 29 s); the asynchronous revert it hands off
# chains two AssumeRoles, revokes with throttling retries and updates Slack.
TIMEOUT = cdk.Duration.seconds(60)
RESERVED_CONCURRENCY = 10  # caps what a flood of (rejected) requests can take from the account
ASYNC_RETRIES = 2  # the revert is idempotent, so Lambda's retries are safe
ASYNC_MAX_AGE = cdk.Duration.hours(1)


class Responder(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: Settings,
        asset: LambdaAsset,
        table: ChangeTable,
        secret: secretsmanager.ISecret,
        hub_role_arn: str | None,
    ) -> None:
        """`hub_role_arn`: the hub the stack created, or `settings.hub_role_arn`, or None."""
        super().__init__(scope, construct_id)
        environment = {
            "POWERTOOLS_SERVICE_NAME": "sgrevert-respond",
            "TABLE_NAME": table.table.table_name,
            "SLACK_SECRET_ARN": secret.secret_arn,
            "SLACK_API_URL": settings.slack_api_url,
            "SPOKE_ROLE_NAME": settings.spoke_role_name,
        }
        if hub_role_arn:
            environment["HUB_ROLE_ARN"] = hub_role_arn
        if settings.approvers:
            environment["APPROVERS"] = ",".join(settings.approvers)
        if settings.slack_team_id:
            environment["SLACK_TEAM_ID"] = settings.slack_team_id
        if settings.policy:
            # The detector's policy: its temporary_approvals are the Allow for… durations.
            environment["POLICY"] = settings.policy

        # Reverts that failed every asynchronous attempt land here (and raise an alarm).
        self.failures = sqs.Queue(
            self,
            "FailedReverts",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=cdk.Duration.days(14),
        )
        nag.acknowledge(
            self.failures,
            "AwsSolutions-SQS3",
            None,
            "this queue is itself the dead-letter destination of failed asynchronous reverts",
        )

        self.handler = SgrevertFunction(
            self,
            "Handler",
            asset=asset,
            function_name=settings.responder_function_name,
            handler=HANDLER,
            description="sgrevert responder: Slack decisions and cross-account reverts",
            environment=environment,
            timeout=TIMEOUT,
            reserved_concurrency=RESERVED_CONCURRENCY if settings.reserve_concurrency else None,
            log_retention=settings.log_retention,
        )
        function = self.handler.function
        function.configure_async_invoke(
            on_failure=destinations.SqsDestination(self.failures),
            retry_attempts=ASYNC_RETRIES,
            max_event_age=ASYNC_MAX_AGE,
        )
        table.grant_read_write(function, self.handler.role)
        secret.grant_read(function)
        send_findings(self.handler, settings)
        # Its own ARN from the fixed name: `function.function_arn` here would make the
        # function depend on its own policy.
        function.add_to_role_policy(
            iam.PolicyStatement(
                sid="InvokeSelfAsync",
                actions=["lambda:InvokeFunction"],
                resources=[self.handler.arn],
            )
        )
        self.assumable_roles = self._assumable_roles(settings, hub_role_arn)
        function.add_to_role_policy(
            iam.PolicyStatement(
                sid="AssumeRevertRole",
                # the session names who decided (SourceIdentity); see sgrevert.roles
                actions=["sts:AssumeRole", "sts:SetSourceIdentity"],
                resources=self.assumable_roles,
            )
        )
        if not hub_role_arn:
            nag.acknowledge(
                self.handler.role,
                "AwsSolutions-IAM5",
                f"Resource::{self._spoke_pattern_for_nag(settings)}",
                "without a hub role the responder assumes the spoke role in whichever member "
                "account a denied change happened; only that role name, in any account",
            )
        # Tells a change in the management account (no spoke role there) apart, for a
        # clear failure; DescribeOrganization has no resource-level permissions.
        function.add_to_role_policy(
            iam.PolicyStatement(
                sid="DescribeOrganization",
                actions=["organizations:DescribeOrganization"],
                resources=["*"],
            )
        )
        nag.acknowledge(
            self.handler.role,
            "AwsSolutions-IAM5",
            "Resource::*",
            "organizations:DescribeOrganization (read-only) supports no resource ARN",
        )

    def _assumable_roles(self, settings: Settings, hub_role_arn: str | None) -> list[str]:
        """Least privilege: the hub role when there is one, else the spoke role anywhere."""
        if hub_role_arn:
            return [hub_role_arn]
        return [
            cdk.Stack.of(self).format_arn(
                service="iam",
                region="",
                account="*",
                resource="role",
                resource_name=settings.spoke_role_name.strip("/"),
            )
        ]

    @staticmethod
    def _spoke_pattern_for_nag(settings: Settings) -> str:
        return f"arn:<AWS::Partition>:iam::*:role/{settings.spoke_role_name.strip('/')}"
