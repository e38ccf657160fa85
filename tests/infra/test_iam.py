"""Least privilege: grants, role assumption only on configured ARNs, no wildcard actions."""

from __future__ import annotations

from typing import Any

import pytest

from tests.infra.conftest import (
    Synthesized,
    actions,
    function,
    function_role,
    named_role,
    only,
    resources,
    role_statements,
    under,
)

HUB = "arn:aws:iam::222222222222:role/sgrevert-hub"
LAKE_READER = "arn:aws:iam::111111111111:role/sgrevert-lake-read"
ORG_READER = "arn:aws:iam::111111111111:role/sgrevert-org-read"
SPOKE_001_ANYWHERE = {
    "Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":iam::*:role/spoke-001"]]
}
SPOKE_ANYWHERE = {
    "Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":iam::*:role/security/spoke-001"]]
}
LAKE_ACTIONS = {
    "cloudtrail:StartQuery",
    "cloudtrail:DescribeQuery",
    "cloudtrail:GetQueryResults",
    "cloudtrail:CancelQuery",
}


def all_policy_statements(template: dict[str, Any]) -> list[dict[str, Any]]:
    """Identity and resource policy statements anywhere in a template."""
    found: list[dict[str, Any]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "Statement" in node and isinstance(node["Statement"], list):
                found.extend(node["Statement"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(template["Resources"])
    return found


def statements_with(statements: list[dict[str, Any]], action: str) -> list[dict[str, Any]]:
    return [s for s in statements if action in actions(s) and s["Effect"] == "Allow"]


@pytest.mark.parametrize("variant", ["pipeline", "direct"])
def test_no_allow_statement_has_a_wildcard_action(
    variant: str, request: pytest.FixtureRequest
) -> None:
    synthesized: Synthesized = request.getfixturevalue(variant)
    template = synthesized.template("sgrevert")

    allowed = [
        action
        for statement in all_policy_statements(template)
        if statement["Effect"] == "Allow"
        for action in actions(statement)
    ]
    assert allowed, "policies were found"
    assert [a for a in allowed if "*" in a] == []
    # Deny statements may use wildcards (the queue's TLS-only policy denies sqs:*)


def test_no_managed_policy_on_the_function_roles(app_template: dict[str, Any]) -> None:
    for name in ("revertsg-1", "revertsg-2"):
        role = app_template["Resources"][function_role(app_template, name)]["Properties"]
        assert "ManagedPolicyArns" not in role
        assert role["RoleName"] == name  # trusted by name from other accounts


def test_role_assumption_is_only_on_configured_roles(app_template: dict[str, Any]) -> None:
    assumed = {
        name: [
            s["Resource"]
            for s in statements_with(role_statements(app_template, role), "sts:AssumeRole")
        ]
        for name, role in (
            ("detector", function_role(app_template, "revertsg-1")),
            ("responder", function_role(app_template, "revertsg-2")),
        )
    }

    # With a hub role, the responder may assume only the hub (which alone reaches spokes);
    # the detector the hub too (to read a changed group), and its Lake and Organizations
    # readers in the management account
    hub_id, _ = named_role(app_template, "sgrevert-hub")
    hub = {"Fn::GetAtt": [hub_id, "Arn"]}
    assert assumed == {"detector": [LAKE_READER, hub, ORG_READER], "responder": [hub]}
    # and no other identity policy (trust policies, with a Principal, aside) grants it but
    # the hub's own, which reaches the spoke role by name
    every = statements_with(all_policy_statements(app_template), "sts:AssumeRole")
    others = [s for s in every if "Principal" not in s]
    assert len(others) == 5
    (hub_grant,) = statements_with(role_statements(app_template, hub_id), "sts:AssumeRole")
    assert hub_grant["Resource"] == SPOKE_001_ANYWHERE


def test_an_external_hub_role_is_the_only_role_the_responder_assumes(
    eventbridge_template: dict[str, Any],
) -> None:
    responder = role_statements(
        eventbridge_template, function_role(eventbridge_template, "revertsg-2")
    )

    (assume,) = statements_with(responder, "sts:AssumeRole")
    assert assume["Resource"] == HUB
    assert set(actions(assume)) == {"sts:AssumeRole", "sts:SetSourceIdentity"}
    with pytest.raises(KeyError):
        named_role(eventbridge_template, "sgrevert-hub")  # yours, not the stack's


def test_without_hub_and_reader_roles(direct_template: dict[str, Any]) -> None:
    detector = role_statements(direct_template, function_role(direct_template, "revertsg-1"))
    responder = role_statements(direct_template, function_role(direct_template, "revertsg-2"))

    # The responder assumes the spoke role, by name, in any account
    assert [s["Resource"] for s in statements_with(responder, "sts:AssumeRole")] == [SPOKE_ANYWHERE]
    # and so does the detector, to read a changed group; it assumes no other role
    assert [s["Resource"] for s in statements_with(detector, "sts:AssumeRole")] == [SPOKE_ANYWHERE]
    # It lists the organization's accounts and their OUs itself: neither has a resource ARN
    (org,) = [s for s in detector if any(a.startswith("organizations:") for a in actions(s))]
    assert (actions(org), org["Resource"]) == (
        ["organizations:ListAccounts", "organizations:ListParents"],
        "*",
    )
    # It queries the configured event data store itself
    (lake,) = [s for s in detector if set(actions(s)) & LAKE_ACTIONS]
    assert set(actions(lake)) == LAKE_ACTIONS
    assert (
        lake["Resource"] == "arn:aws:cloudtrail:us-east-1:111111111111:eventdatastore/EXAMPLE-abc"
    )


def test_an_event_data_store_id_becomes_the_organization_store_arn(
    app_template: dict[str, Any], tmp_path: Any
) -> None:
    from tests.infra.conftest import CDK_CONTEXT, synthesize  # noqa: PLC0415

    # Given an id and no read role, the ARN is built in the organization account
    synthesized = synthesize(
        tmp_path,
        direct="true",
        lake_read_role_arn="",
        event_data_store=CDK_CONTEXT["event_data_store"],
    )
    template = synthesized.template("sgrevert")
    detector = role_statements(template, function_role(template, "revertsg-1"))
    (lake,) = [s for s in detector if set(actions(s)) & LAKE_ACTIONS]
    assert lake["Resource"] == {
        "Fn::Join": [
            "",
            [
                "arn:",
                {"Ref": "AWS::Partition"},
                ":cloudtrail:",
                {"Ref": "AWS::Region"},
                ":111111111111:eventdatastore/EXAMPLE-f852-4e8f-8bd1-bcf6cEXAMPLE",
            ],
        ]
    }


def test_grants_of_the_detector(app_template: dict[str, Any]) -> None:
    table_id, _ = only(app_template, "AWS::DynamoDB::Table")
    secret_id, _ = only(app_template, "AWS::SecretsManager::Secret")
    statements = role_statements(app_template, function_role(app_template, "revertsg-1"))

    (table,) = statements_with(statements, "dynamodb:UpdateItem")
    assert {"Fn::GetAtt": [table_id, "Arn"]} in table["Resource"]
    (secret,) = statements_with(statements, "secretsmanager:GetSecretValue")
    assert secret["Resource"] == {"Ref": secret_id}
    assert not [a for s in statements for a in actions(s) if a.startswith("secretsmanager:Put")]
    granted = {a for s in statements for a in actions(s)}
    # (no Organizations call of its own: the shipped org_read_role_arn lists the accounts)
    assert not {a for a in granted if a.startswith(("organizations:", "sqs:Send"))}
    # It invokes the responder (policy reverts, the sweep's expiries), and nothing else
    assert {a for a in granted if a.startswith("lambda:")} == {"lambda:InvokeFunction"}
    # It consumes the event queue, and no other queue
    event_queue_id, _ = only(under(app_template, "EventIntake/Queue"), "AWS::SQS::Queue")
    consume = [s for s in statements if any(a.startswith("sqs:") for a in actions(s))]
    assert [s["Resource"] for s in consume] == [{"Fn::GetAtt": [event_queue_id, "Arn"]}]
    assert set(actions(consume[0])) == {
        "sqs:ReceiveMessage",
        "sqs:ChangeMessageVisibility",
        "sqs:GetQueueUrl",
        "sqs:DeleteMessage",
        "sqs:GetQueueAttributes",
    }


@pytest.mark.parametrize("variant", ["pipeline", "direct", "eventbridge"])
def test_the_detector_reads_context_through_the_responders_chain_naming_nobody(
    variant: str, request: pytest.FixtureRequest
) -> None:
    synthesized: Synthesized = request.getfixturevalue(variant)
    template = synthesized.template("sgrevert-realtime" if variant == "eventbridge" else "sgrevert")
    detector = role_statements(template, function_role(template, "revertsg-1"))
    responder = role_statements(template, function_role(template, "revertsg-2"))

    # The first hop of the responder's chain (the hub, or the spoke role anywhere)
    (context,) = [s for s in detector if s.get("Sid") == "AssumeContextReadRole"]
    (revert,) = statements_with(responder, "sts:AssumeRole")
    assert context["Resource"] == revert["Resource"]
    # without sts:SetSourceIdentity: a read is nobody's decision
    assert actions(context) == ["sts:AssumeRole"]
    assert not statements_with(detector, "sts:SetSourceIdentity")
    # and never an EC2 call of its own: it reads only through the spoke role
    assert not [a for s in detector for a in actions(s) if a.startswith("ec2:")]


def test_an_external_hub_is_what_the_detector_reads_through(
    eventbridge_template: dict[str, Any],
) -> None:
    detector = role_statements(
        eventbridge_template, function_role(eventbridge_template, "revertsg-1")
    )

    assert [s["Resource"] for s in statements_with(detector, "sts:AssumeRole")] == [HUB]
    (org,) = statements_with(detector, "organizations:ListAccounts")
    assert (actions(org), org["Resource"]) == (
        ["organizations:ListAccounts", "organizations:ListParents"],
        "*",
    )


def test_grants_of_the_responder(app_template: dict[str, Any]) -> None:
    table_id, _ = only(app_template, "AWS::DynamoDB::Table")
    secret_id, _ = only(app_template, "AWS::SecretsManager::Secret")
    queue_id, _ = only(under(app_template, "Responder"), "AWS::SQS::Queue")
    statements = role_statements(app_template, function_role(app_template, "revertsg-2"))

    (table,) = statements_with(statements, "dynamodb:UpdateItem")
    assert {"Fn::GetAtt": [table_id, "Arn"]} in table["Resource"]
    (secret,) = statements_with(statements, "secretsmanager:GetSecretValue")
    assert secret["Resource"] == {"Ref": secret_id}
    # It invokes only itself (by name: no dependency on its own ARN attribute)
    (invoke,) = statements_with(statements, "lambda:InvokeFunction")
    assert invoke["Resource"]["Fn::Join"][1][-1] == ":function:revertsg-2"
    (send,) = statements_with(statements, "sqs:SendMessage")
    assert send["Resource"] == {"Fn::GetAtt": [queue_id, "Arn"]}
    (org,) = statements_with(statements, "organizations:DescribeOrganization")
    assert actions(org) == ["organizations:DescribeOrganization"]
    assert not statements_with(statements, "cloudtrail:StartQuery")


def test_the_pipeline_grants_no_service_wide_wildcards(pipeline: Synthesized) -> None:
    # CDK Pipelines' own grants use prefixes such as s3:GetObject* on its artifact bucket
    # (acknowledged in cdk-nag); a whole service or everything is never granted.
    template = pipeline.template("sgrevert-pipeline")
    allowed = [
        a for s in all_policy_statements(template) if s["Effect"] == "Allow" for a in actions(s)
    ]
    assert [a for a in allowed if a == "*" or a.endswith(":*")] == []


def test_function_logs_are_written_only_to_their_own_group(app_template: dict[str, Any]) -> None:
    groups = set(resources(app_template, "AWS::Logs::LogGroup"))
    for name in ("revertsg-1", "revertsg-2"):
        (logs,) = statements_with(
            role_statements(app_template, function_role(app_template, name)), "logs:PutLogEvents"
        )
        assert logs["Resource"]["Fn::GetAtt"][0] in groups


@pytest.mark.parametrize("variant", ["app_template", "direct_template"])
def test_the_detector_may_invoke_the_responder_and_nothing_else(
    variant: str, request: pytest.FixtureRequest
) -> None:
    """With a policy that reverts without a click or without one, the detector invokes the
    responder, by name: policy reverts, and the sweep's overdue expiries and reminders."""
    template = request.getfixturevalue(variant)
    statements = role_statements(template, function_role(template, "revertsg-1"))

    [grant] = statements_with(statements, "lambda:InvokeFunction")
    assert actions(grant) == ["lambda:InvokeFunction"]
    resource = grant["Resource"]
    assert resource["Fn::Join"][1][-1] == ":function:revertsg-2"  # this stack's, by name
    _, detector = function(template, "revertsg-1")
    variables = detector["Properties"]["Environment"]["Variables"]
    assert variables["REVERT_FUNCTION_ARN"] == resource
