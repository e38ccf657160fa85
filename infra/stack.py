"""The application stack: composes one construct per capability, nothing more."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from constructs import Construct

from infra.api import SlackApi
from infra.asset import LambdaAsset
from infra.detector import TIMEOUT as DETECTOR_TIMEOUT
from infra.detector import Detector, detector_concurrency
from infra.event_intake import EventIntake
from infra.expiry import Expiry
from infra.forwarders import ForwarderStackSet
from infra.hub import HubRole
from infra.monitoring import Monitoring
from infra.operations import Operations
from infra.responder import RESERVED_CONCURRENCY as RESPONDER_CONCURRENCY
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
        self.intake = self._event_intake(settings) if settings.detection.takes_events else None
        self.hub = (
            HubRole(
                self,
                "Hub",
                role_name=str(settings.hub_role_name),
                responder_role_name=settings.responder_function_name,
                detector_role_name=settings.detector_function_name,
                operator_role_arns=settings.operator_role_arns,
                spoke_role_name=settings.spoke_role_name,
            )
            if settings.creates_hub
            else None
        )
        hub_role_arn = self.hub.role_arn if self.hub else settings.hub_role_arn
        self.detector = Detector(
            self,
            "Detector",
            settings=settings,
            asset=asset,
            table=self.changes,
            secret=self.secret,
            event_queue=self.intake.queue if self.intake else None,
            hub_role_arn=hub_role_arn,
        )
        self.responder = Responder(
            self,
            "Responder",
            settings=settings,
            asset=asset,
            table=self.changes,
            secret=self.secret,
            hub_role_arn=hub_role_arn,
        )
        self.expiry = Expiry(
            self,
            "Expiry",
            group_name=settings.expiry_schedule_group,
            responder=self.responder.handler,
            log_group=self.responder.handler.log_group,
            alarm_topic_arn=settings.alarm_topic_arn,
            metric_namespace=f"sgrevert/{settings.stack_name}",
        )
        self.api = SlackApi(
            self,
            "SlackApi",
            handler=self.responder.handler.function,
            api_name=f"{settings.stack_name}-slack",
            log_retention=settings.log_retention,
        )
        self.monitoring = Monitoring(
            self,
            "Monitoring",
            functions={
                "Detector": self.detector.handler.function,
                "Responder": self.responder.handler.function,
            },
            failed_reverts=self.responder.failures,
            api=self.api.api,
            alarm_topic_arn=settings.alarm_topic_arn,
            event_queue=self.intake.queue if self.intake else None,
            event_dead_letters=self.intake.dead_letters if self.intake else None,
        )
        self.operations = Operations(
            self,
            "Operations",
            settings=settings,
            existing_alarms=[*self.monitoring.alarms, self.expiry.alarm],
        )
        cdk.CfnOutput(
            self,
            "SlackInteractivityUrl",
            value=self.api.url,
            description="Request URL for the Slack app's interactivity (slack-app-manifest.yml)",
        )
        if self.hub:
            cdk.CfnOutput(
                self,
                "HubRoleArn",
                value=self.hub.role_arn,
                description="The spoke roles trust this role (TrustedRoleArn of the spoke "
                "StackSet); operators assume it for `sgrevert revert` (HUB_ROLE_ARN)",
            )
        self._warn(settings)
        cdk.CfnOutput(
            self,
            "SlackSecretArn",
            value=self.secret.secret_arn,
            description="Store bot_token and signing_secret here (README: filling the secret)",
        )

    def _warn(self, settings: Settings) -> None:
        """Settings that are valid but likely to bite, shown by synth and deploy."""
        notes = cdk.Annotations.of(self)
        if settings.reserve_concurrency:
            reserved = RESPONDER_CONCURRENCY + detector_concurrency(settings)
            notes.add_warning_v2(
                "sgrevert:reserve-concurrency",
                f"reserve_concurrency reserves {reserved} executions; Lambda keeps 100 of an "
                f"account's concurrency unreserved, so the deploy fails unless the account's "
                f"quota is at least {reserved + 100} (new accounts often have 10 or 50: see "
                "Service Quotas, 'Concurrent executions')",
            )
        if settings.operator_role_arns and not settings.creates_hub:
            notes.add_warning_v2(
                "sgrevert:operator-roles",
                "operator_role_arns only shape the hub role this stack creates (hub_role_name); "
                "with hub_role_arn, add the operators to that role's trust policy yourself",
            )

    def _event_intake(self, settings: Settings) -> EventIntake:
        """The central bus and queue, and the StackSet that points the organization at it."""
        assert settings.organization_id  # settings require it with EventBridge
        intake = EventIntake(
            self,
            "EventIntake",
            bus_name=settings.stack_name,
            organization_id=settings.organization_id,
            consumer_timeout=DETECTOR_TIMEOUT,
        )
        forwarders = ForwarderStackSet(
            self,
            "Forwarders",
            stack_set_name=f"{settings.stack_name}-event-forwarders",
            bus=intake.bus,
            organizational_unit_ids=settings.target_ous,
            regions=settings.target_regions,
            call_as=settings.stack_set_call_as,
        )
        # Forwarders start sending once the bus accepts their events and queues them.
        forwarders.node.add_dependency(intake)
        cdk.CfnOutput(
            self,
            "CentralEventBusArn",
            value=intake.bus.event_bus_arn,
            description="Where the forwarding rules send events (CentralEventBusArn parameter)",
        )
        return intake
