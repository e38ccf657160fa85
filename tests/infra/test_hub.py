"""The hub role the stack creates, and the warnings synth gives for settings that bite."""

from __future__ import annotations

from typing import Any

from aws_cdk import cx_api

from tests.infra.conftest import (
    CDK_CONTEXT,
    Synthesized,
    actions,
    function_role,
    named_role,
    role_statements,
)

SECURITY = "222222222222"
OPERATORS = CDK_CONTEXT["operator_role_arns"]
# The stack is environment-agnostic: its own account is a reference until deployed.
THIS_ACCOUNT = {"Ref": "AWS::AccountId"}
RESPONDER_ROLE = {
    "Fn::Join": [
        "",
        ["arn:", {"Ref": "AWS::Partition"}, ":iam::", THIS_ACCOUNT, ":role/revertsg-2"],
    ]
}
DETECTOR_ROLE = {
    "Fn::Join": [
        "",
        ["arn:", {"Ref": "AWS::Partition"}, ":iam::", THIS_ACCOUNT, ":role/revertsg-1"],
    ]
}


def trust(template: dict[str, Any]) -> list[dict[str, Any]]:
    _, hub = named_role(template, "sgrevert-hub")
    return list(hub["Properties"]["AssumeRolePolicyDocument"]["Statement"])


def test_the_hub_trusts_both_functions_and_the_operators_with_their_source_identity(
    app_template: dict[str, Any],
) -> None:
    (statement,) = trust(app_template)

    assert statement["Effect"] == "Allow"
    assert set(actions(statement)) == {"sts:AssumeRole", "sts:SetSourceIdentity"}
    # the account, pinned to exactly these roles: revertsg-2, revertsg-1 (which reads a
    # changed group through it) and the break-glass operators
    assert statement["Principal"] == {
        "AWS": [
            {
                "Fn::Join": [
                    "",
                    ["arn:", {"Ref": "AWS::Partition"}, ":iam::", THIS_ACCOUNT, ":root"],
                ]
            },
            {
                "Fn::Join": [
                    "",
                    ["arn:", {"Ref": "AWS::Partition"}, f":iam::{SECURITY}:root"],
                ]
            },
        ]
    }
    assert statement["Condition"] == {
        "ArnLike": {"aws:PrincipalArn": [RESPONDER_ROLE, DETECTOR_ROLE, *OPERATORS]}
    }


def test_the_cli_operator_chain_is_what_the_hub_admits(app_template: dict[str, Any]) -> None:
    # The documented break-glass path: an operator role of the security account assumes
    # the hub (HUB_ROLE_ARN), which assumes the spoke; sgrevert.roles sets SourceIdentity
    # on that first hop, which the trust must allow.
    (statement,) = trust(app_template)
    operator = (
        "arn:aws:iam::222222222222:role/aws-reserved/sso.amazonaws.com/eu-west-1/"
        "AWSReservedSSO_SecurityAdmin_0123456789abcdef"
    )

    patterns = statement["Condition"]["ArnLike"]["aws:PrincipalArn"]
    assert any(_arn_like(p, operator) for p in patterns if isinstance(p, str))
    assert not any(
        _arn_like(p, "arn:aws:iam::222222222222:role/Developer")
        for p in patterns
        if isinstance(p, str)
    )
    assert "sts:SetSourceIdentity" in actions(statement)


def test_the_hub_may_only_reach_spoke_roles_by_name(app_template: dict[str, Any]) -> None:
    hub_id, hub = named_role(app_template, "sgrevert-hub")

    (statement,) = role_statements(app_template, hub_id)
    assert set(actions(statement)) == {"sts:AssumeRole", "sts:SetSourceIdentity"}
    assert statement["Resource"] == {
        "Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":iam::*:role/spoke-001"]]
    }
    assert hub["Properties"]["MaxSessionDuration"] == 3600
    assert "ManagedPolicyArns" not in hub["Properties"]


def test_the_responder_sets_its_source_identity_on_the_hub_only(
    app_template: dict[str, Any],
) -> None:
    hub_id, _ = named_role(app_template, "sgrevert-hub")
    statements = role_statements(app_template, function_role(app_template, "revertsg-2"))

    (assume,) = [s for s in statements if "sts:AssumeRole" in actions(s)]
    assert set(actions(assume)) == {"sts:AssumeRole", "sts:SetSourceIdentity"}
    assert assume["Resource"] == {"Fn::GetAtt": [hub_id, "Arn"]}


def test_the_detector_reaches_the_hub_it_is_trusted_by(app_template: dict[str, Any]) -> None:
    hub_id, _ = named_role(app_template, "sgrevert-hub")
    detector_role = function_role(app_template, "revertsg-1")

    # by name, as the hub's trust pins it: the role is named for the function
    assert app_template["Resources"][detector_role]["Properties"]["RoleName"] == "revertsg-1"
    (assume,) = [
        s
        for s in role_statements(app_template, detector_role)
        if s.get("Sid") == "AssumeContextReadRole"
    ]
    assert assume["Resource"] == {"Fn::GetAtt": [hub_id, "Arn"]}


def test_the_hub_role_is_an_output_for_the_spoke_stackset(app_template: dict[str, Any]) -> None:
    hub_id, _ = named_role(app_template, "sgrevert-hub")

    assert app_template["Outputs"]["HubRoleArn"]["Value"] == {"Fn::GetAtt": [hub_id, "Arn"]}


def warnings(synthesized: Synthesized, stack_name: str) -> list[str]:
    stack = synthesized.stack(stack_name)
    return [
        str(message.entry.data)
        for message in stack.messages
        if message.level == cx_api.SynthesisMessageLevel.WARNING
    ]


def test_reserving_concurrency_warns_with_the_quota_it_needs(eventbridge: Synthesized) -> None:
    found = [w for w in warnings(eventbridge, "sgrevert-realtime") if "reserve_concurrency" in w]

    # 10 for the responder, 1 + 2 for the detector with its event queue
    assert len(found) == 1
    assert "reserves 13 executions" in found[0]
    assert "at least 113" in found[0]


def test_no_reservation_no_warning(direct: Synthesized) -> None:
    assert not [w for w in warnings(direct, "sgrevert") if "reserve_concurrency" in w]


def _arn_like(pattern: str, arn: str) -> bool:
    """IAM's ArnLike for the patterns used here: * matches any run of characters."""
    import fnmatch  # noqa: PLC0415

    return fnmatch.fnmatchcase(arn, pattern.replace("?", "[?]"))
