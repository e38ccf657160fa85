"""The person and the tool behind a CloudTrail actor: their email, and how they called.

Pure, from `Actor` alone. The email is what IAM Identity Center (and most SAML set-ups)
put in the session name, or an IAM user named after its owner; it maps the actor to a
Slack user. Note that a plain sts:AssumeRole caller chooses its own session name, so
the email is a claim the role's trust policy may or may not enforce.
"""

from __future__ import annotations

import re

from sgrevert.context import Via
from sgrevert.model import Actor

_EMAIL = re.compile(r"^[A-Za-z0-9._%+=,-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$")
# The ARN resource types whose last segment names a person.
_NAMED = ("assumed-role/", "user/", "federated-user/")

# userAgent markers, most specific first: Terraform and the CDK call through SDKs whose
# own markers (aws-sdk-go-v2, aws-sdk-js) would otherwise read as a plain SDK call.
_TERRAFORM = ("terraform/", "terraform-provider-aws")
_CDK = ("aws-cdk",)
_CONSOLE_AGENTS = frozenset({"console.amazonaws.com", "aws internal", "signin.amazonaws.com"})
_CLI = ("aws-cli/", "boto3/", "botocore/", "aws-sdk-", "apn/")
_CLOUDFORMATION = "cloudformation.amazonaws.com"
_CDK_WORD = re.compile(r"\bCDK\b")


def email_of(actor: Actor) -> str | None:
    """The actor's email, lower-cased, when its ARN names one; None otherwise."""
    _, _, resource = actor.arn.partition(":assumed-role/")
    if resource:
        name = resource.rpartition("/")[2]  # Role/session: the session
    else:
        # arn:PARTITION:SERVICE::ACCOUNT:RESOURCE
        parts = actor.arn.split(":", 5)
        resource = parts[5] if len(parts) == 6 else ""
        if not resource.startswith(_NAMED):
            return None
        name = resource.rpartition("/")[2]  # a user's path comes before its name
    return name.lower() if _EMAIL.match(name) else None


def via(actor: Actor) -> Via:
    """How the call was made: the console, the CLI or an SDK, an IaC tool or a service."""
    agent = (actor.user_agent or "").strip()
    lowered = agent.lower()
    invoked_by = (actor.invoked_by or "").strip().lower()
    if any(marker in lowered for marker in _TERRAFORM):
        return Via.TERRAFORM
    if any(marker in lowered for marker in _CDK) or _CDK_WORD.search(agent):
        return Via.CDK
    if _CLOUDFORMATION in (invoked_by, lowered):
        return Via.CLOUDFORMATION
    if invoked_by in _CONSOLE_AGENTS:
        return Via.CONSOLE
    if invoked_by.endswith(".amazonaws.com") or actor.type == "AWSService":
        return Via.AWS_SERVICE
    if lowered in _CONSOLE_AGENTS or "console" in lowered:
        return Via.CONSOLE
    if any(marker in lowered for marker in _CLI):
        return Via.CLI
    if lowered.endswith(".amazonaws.com"):  # a service calling in its own name
        return Via.AWS_SERVICE
    return Via.UNKNOWN
