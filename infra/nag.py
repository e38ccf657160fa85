"""cdk-nag (v3): the AwsSolutions pack on the whole app, and reasoned acknowledgements.

cdk-nag 3 plugs into CDK's own validation (`Validations.of(app).add_plugins`); a finding
fails synth unless acknowledged on the construct (or an ancestor) with a reason. The
acknowledgement id carries the plugin's prefix so the reason shows in the validation
report (`validation-report.json` in the cloud assembly).
"""

from __future__ import annotations

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks
from constructs import IConstruct

PLUGIN = "AwsSolutions"


def add_checks(app: cdk.App) -> None:
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))


def acknowledge(scope: IConstruct, rule: str, finding: str | None, reason: str) -> None:
    """Acknowledge one finding of `rule` (e.g. `Resource::*` of AwsSolutions-IAM5) on `scope`.

    cdk-nag 3 has no prefix matching: each finding of a multi-finding rule is its own id.
    """
    if not reason.strip():
        raise ValueError(f"acknowledging {rule} needs a reason")
    finding_id = f"{rule}[{finding}]" if finding else rule
    cdk.Validations.of(scope).acknowledge(
        cdk.Acknowledgment(id=f"{PLUGIN}::{finding_id}", reason=reason)
    )
