"""The application stack: composes one construct per capability, nothing more."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from constructs import Construct

from infra.api import SlackApi
from infra.asset import LambdaAsset
from infra.detector import Detector
from infra.monitoring import Monitoring
from infra.responder import Responder
from infra.secret import SlackSecret
from infra.settings import Settings
from infra.table import ChangeTable


class SgrevertStack(cdk.Stack):
    def __init__(
        self, scope: Construct, construct_id: str, *, settings: Settings, **kwargs: Any
    ) -> None:
        super().__init__(
            scope,
            construct_id,
            stack_name=settings.stack_name,
            description="sgrevert: security-group change review for AWS Organizations, from Slack",
            **kwargs,
        )
        asset = LambdaAsset()
        self.changes = ChangeTable(self, "Changes", table_name=settings.table_name)
        self.secret = SlackSecret(self, "Slack", secret_name=f"{settings.stack_name}/slack").secret
        self.detector = Detector(
            self, "Detector", settings=settings, asset=asset, table=self.changes, secret=self.secret
        )
        self.responder = Responder(
            self,
            "Responder",
            settings=settings,
            asset=asset,
            table=self.changes,
            secret=self.secret,
        )
        self.api = SlackApi(
            self,
            "SlackApi",
            handler=self.responder.handler.function,
            api_name=f"{settings.stack_name}-slack",
            log_retention=settings.log_retention,
        )
        Monitoring(
            self,
            "Monitoring",
            functions={
                "Detector": self.detector.handler.function,
                "Responder": self.responder.handler.function,
            },
            failed_reverts=self.responder.failures,
            api=self.api.api,
            alarm_topic_arn=settings.alarm_topic_arn,
        )
        cdk.CfnOutput(
            self,
            "SlackInteractivityUrl",
            value=self.api.url,
            description="Request URL for the Slack app's interactivity (slack-app-manifest.yml)",
        )
        cdk.CfnOutput(
            self,
            "SlackSecretArn",
            value=self.secret.secret_arn,
            description="Store bot_token and signing_secret here (README: filling the secret)",
        )
