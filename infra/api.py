"""The Slack interactivity endpoint: API Gateway REST, POST /slack/actions -> responder.

Slack cannot sign in with IAM or Cognito; requests are authenticated by the responder,
which verifies Slack's HMAC signature on the raw body. API Gateway rejects requests
without the signature headers before they reach Lambda, throttles, and logs access.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra import nag

PATH = "/slack/actions"
STAGE = "prod"
# Human clicks: a few a second at most. Throttling bounds what a flood can cost.
RATE_LIMIT = 10
BURST_LIMIT = 20
SIGNATURE_HEADERS = ("X-Slack-Signature", "X-Slack-Request-Timestamp")


class SlackApi(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        handler: lambda_.IFunction,
        api_name: str,
        log_retention: logs.RetentionDays,
    ) -> None:
        super().__init__(scope, construct_id)
        self.access_logs = logs.LogGroup(
            self, "AccessLogs", retention=log_retention, removal_policy=cdk.RemovalPolicy.RETAIN
        )
        self.api = apigw.RestApi(
            self,
            "Api",
            rest_api_name=api_name,
            description="Slack interactivity for sgrevert (Approve / Deny)",
            endpoint_types=[apigw.EndpointType.REGIONAL],
            # API Gateway writes execution and access logs through an account-level role.
            cloud_watch_role=True,
            cloud_watch_role_removal_policy=cdk.RemovalPolicy.RETAIN,
            deploy_options=apigw.StageOptions(
                stage_name=STAGE,
                throttling_rate_limit=RATE_LIMIT,
                throttling_burst_limit=BURST_LIMIT,
                logging_level=apigw.MethodLoggingLevel.ERROR,
                data_trace_enabled=False,  # bodies carry Slack payloads: keep them out of logs
                metrics_enabled=True,
                access_log_destination=apigw.LogGroupLogDestination(self.access_logs),
                access_log_format=apigw.AccessLogFormat.json_with_standard_fields(
                    caller=False,
                    http_method=True,
                    ip=True,
                    protocol=True,
                    request_time=True,
                    resource_path=True,
                    response_length=True,
                    status=True,
                    user=False,
                ),
            ),
        )
        validator = self.api.add_request_validator(
            "SignedRequests", validate_request_parameters=True, validate_request_body=False
        )
        resource = self.api.root.resource_for_path(PATH)
        self.method = resource.add_method(
            "POST",
            apigw.LambdaIntegration(handler, proxy=True, allow_test_invoke=False),
            authorization_type=apigw.AuthorizationType.NONE,
            request_validator=validator,
            request_parameters={f"method.request.header.{h}": True for h in SIGNATURE_HEADERS},
        )
        self.url = self.api.url_for_path(PATH)

        nag.acknowledge(
            self.api,
            "AwsSolutions-APIG2",
            None,
            "the validator requires Slack's signature headers; the form-encoded body has no "
            "schema to check and is verified by its HMAC signature in the responder",
        )
        nag.acknowledge(
            self.method,
            "AwsSolutions-APIG4",
            None,
            "Slack cannot sign requests with IAM or Cognito; the responder verifies Slack's "
            "HMAC signature on every request and API Gateway requires its headers",
        )
        nag.acknowledge(
            self.method,
            "AwsSolutions-COG4",
            None,
            "Slack's interactivity calls cannot carry a Cognito token; authenticated by "
            "Slack's request signature instead",
        )
        nag.acknowledge(
            self.api.deployment_stage,
            "AwsSolutions-APIG3",
            None,
            "Slack publishes no source IP ranges for a WAF to allow; the endpoint is "
            "throttled and every request is signature-checked",
        )
        cloud_watch_role = self.api.node.find_child("CloudWatchRole")
        nag.acknowledge(
            cloud_watch_role,
            "AwsSolutions-IAM4",
            "Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
            "AmazonAPIGatewayPushToCloudWatchLogs",
            "AWS's documented policy for API Gateway's account-level logging role; API "
            "Gateway names the execution log groups itself",
        )
