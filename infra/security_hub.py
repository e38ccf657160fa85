"""Security Hub findings (`security_hub: true`): what each function needs to send them.

The detector imports a posted change's finding and the responder updates its workflow;
either may do both (a decision whose finding is missing imports it first). Imports go to
this account's default product of a custom integration, updates to this account's hub,
both in the stack's region: nothing else is granted.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam

from infra.function import SgrevertFunction
from infra.settings import Settings

IMPORT = "securityhub:BatchImportFindings"
UPDATE = "securityhub:BatchUpdateFindings"


def product_arn(stack: cdk.Stack) -> str:
    """`arn:<partition>:securityhub:<region>:<account>:product/<account>/default`."""
    return stack.format_arn(
        service="securityhub", resource="product", resource_name=f"{stack.account}/default"
    )


def hub_arn(stack: cdk.Stack) -> str:
    return stack.format_arn(service="securityhub", resource="hub", resource_name="default")


def send_findings(handler: SgrevertFunction, settings: Settings) -> None:
    """The settings and grants, only when Security Hub is enabled."""
    if not settings.security_hub:
        return
    stack = cdk.Stack.of(handler)
    function = handler.function
    function.add_environment("SECURITY_HUB", "true")
    function.add_environment("SECURITY_HUB_AT_OR_ABOVE", settings.security_hub_at_or_above.label)
    function.add_to_role_policy(
        iam.PolicyStatement(sid="ImportFindings", actions=[IMPORT], resources=[product_arn(stack)])
    )
    function.add_to_role_policy(
        iam.PolicyStatement(sid="UpdateFindings", actions=[UPDATE], resources=[hub_arn(stack)])
    )
