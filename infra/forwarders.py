"""The forwarding rule in every member account and chosen region, as a service-managed
StackSet of `event-forwarder.yaml` with automatic deployment to accounts that join later.

A service-managed StackSet is created from the management account or a StackSets delegated
administrator (`stack_set_call_as`), with trusted access for StackSets enabled in the
organization; it never deploys to the management account itself (see the README).
"""

from __future__ import annotations

from pathlib import Path

from aws_cdk import aws_cloudformation as cloudformation
from aws_cdk import aws_events as events
from constructs import Construct

TEMPLATE = Path(__file__).resolve().parent / "event-forwarder.yaml"
BUS_PARAMETER = "CentralEventBusArn"


class ForwarderStackSet(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        stack_set_name: str,
        bus: events.IEventBus,
        organizational_unit_ids: tuple[str, ...],
        regions: tuple[str, ...],
        call_as: str,
    ) -> None:
        super().__init__(scope, construct_id)
        self.stack_set = cloudformation.CfnStackSet(
            self,
            "StackSet",
            stack_set_name=stack_set_name,
            description="sgrevert: forwards security-group API calls to the central event bus",
            permission_model="SERVICE_MANAGED",
            # Accounts that join a target OU get the rule; accounts that leave lose it.
            auto_deployment=cloudformation.CfnStackSet.AutoDeploymentProperty(
                enabled=True, retain_stacks_on_account_removal=False
            ),
            call_as=call_as,
            capabilities=["CAPABILITY_IAM"],
            template_body=TEMPLATE.read_text(),
            parameters=[
                cloudformation.CfnStackSet.ParameterProperty(
                    parameter_key=BUS_PARAMETER, parameter_value=bus.event_bus_arn
                )
            ],
            stack_instances_group=[
                cloudformation.CfnStackSet.StackInstancesProperty(
                    deployment_targets=cloudformation.CfnStackSet.DeploymentTargetsProperty(
                        organizational_unit_ids=list(organizational_unit_ids)
                    ),
                    regions=list(regions),
                )
            ],
            operation_preferences=cloudformation.CfnStackSet.OperationPreferencesProperty(
                region_concurrency_type="PARALLEL", max_concurrent_percentage=25
            ),
            managed_execution={"Active": True},
        )
