"""A sgrevert Lambda function: shared asset, own role, own log group.

The role is created here rather than by `lambda.Function` so it carries no managed
policy (AWSLambdaBasicExecutionRole writes to any log group) and a fixed name equal to
the function's: the roles in other accounts trust it by ARN (see the README).
"""

from __future__ import annotations

from collections.abc import Mapping

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra import nag
from infra.asset import ARCHITECTURE, RUNTIME, LambdaAsset


class SgrevertFunction(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        asset: LambdaAsset,
        function_name: str,
        handler: str,
        description: str,
        environment: Mapping[str, str],
        timeout: cdk.Duration,
        reserved_concurrency: int | None,
        log_retention: logs.RetentionDays,
        memory_size: int = 256,
    ) -> None:
        super().__init__(scope, construct_id)
        self.name = function_name
        self.log_group = logs.LogGroup(
            self, "Logs", retention=log_retention, removal_policy=cdk.RemovalPolicy.RETAIN
        )
        self.role = iam.Role(
            self,
            "Role",
            role_name=function_name,
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"{function_name}: {description}",
        )
        self.log_group.grant_write(self.role)
        self.function = lambda_.Function(
            self,
            "Function",
            function_name=function_name,
            description=description,
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            handler=handler,
            code=asset.code,
            role=self.role,
            environment=dict(environment),
            timeout=timeout,
            memory_size=memory_size,
            reserved_concurrent_executions=reserved_concurrency,
            log_group=self.log_group,
            logging_format=lambda_.LoggingFormat.JSON,
            application_log_level_v2=lambda_.ApplicationLogLevel.INFO,
            system_log_level_v2=lambda_.SystemLogLevel.WARN,
        )
        nag.acknowledge(
            self.function,
            "AwsSolutions-L1",
            None,
            f"{RUNTIME.name} is the runtime the package and its bundled wheels are built and "
            "tested for; move to a newer one deliberately, with the CodeBuild image's Python",
        )

    @property
    def arn(self) -> str:
        """The unqualified ARN, built from the fixed name: usable in the function's own policy
        without the circular reference `function_arn` would create."""
        return cdk.Stack.of(self).format_arn(
            service="lambda",
            resource="function",
            resource_name=self.name,
            arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
        )
