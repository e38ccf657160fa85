"""cdk-nag and cfn-lint on the synthesized app; the Slack manifest; the documented settings."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import yaml
from cfnlint.api import ManualArgs, lint

from infra.settings import KEYS
from tests.infra.conftest import ROOT, Synthesized, cfn_yaml, resources

# Reviewed acknowledgements of the application stack (reasons live next to each one in
# infra/). A new finding, or a new acknowledgement, must be looked at: update this list.
APP_ACKNOWLEDGED = {
    "AwsSolutions-APIG2",
    "AwsSolutions-APIG3",
    "AwsSolutions-APIG4",
    "AwsSolutions-COG4",
    "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
    "AmazonAPIGatewayPushToCloudWatchLogs]",
    "AwsSolutions-IAM5[Resource::*]",
    "AwsSolutions-IAM5[Resource::<ChangesTable043BDF85.Arn>/index/*]",
    "AwsSolutions-L1",
    "AwsSolutions-SMG4",
    "AwsSolutions-SQS3",
}


def schedules_of(group: str) -> str:
    """The responder keeps the expiry schedules of its one schedule group."""
    return (
        "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:scheduler:<AWS::Region>:"
        f"<AWS::AccountId>:schedule/{group}/*]"
    )


SPOKE_ANYWHERE = "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:iam::*:role/security/spoke-001]"
# The hub role the shipped cdk.json creates reaches the spoke role by name in any account.
HUB_TO_SPOKES = "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:iam::*:role/spoke-001]"
# CDK adds an explicit DependsOn on a function's role next to the GetAtt of its ARN.
CFN_LINT_IGNORED = ["W3005"]
CFN_LINT_REGIONS = ["us-east-1", "eu-west-1"]


def nag_report(synthesized: Synthesized) -> dict[str, Any]:
    report = json.loads((synthesized.directory / "validation-report.json").read_text())
    (plugin,) = [p for p in report["pluginReports"] if p["pluginName"] == "AwsSolutions"]
    return dict(plugin)


def acknowledged_in(plugin: dict[str, Any], path_prefix: str) -> set[str]:
    return {
        v["ruleName"]
        for v in plugin.get("suppressedViolations", [])
        for c in v["violatingConstructs"]
        if c["constructPath"].startswith(path_prefix)
    }


@pytest.mark.parametrize("variant", ["pipeline", "direct", "eventbridge"])
def test_cdk_nag_finds_nothing_unacknowledged(variant: str, request: pytest.FixtureRequest) -> None:
    plugin = nag_report(request.getfixturevalue(variant))

    assert plugin["conclusion"] == "success"
    assert plugin["violations"] == []
    for suppressed in plugin["suppressedViolations"]:
        assert len(suppressed["reason"].split()) >= 5, suppressed["ruleName"]


def test_the_application_acknowledgements_are_the_reviewed_ones(pipeline: Synthesized) -> None:
    plugin = nag_report(pipeline)

    assert acknowledged_in(plugin, "SgrevertPipeline/Deploy/") == APP_ACKNOWLEDGED | {
        HUB_TO_SPOKES,
        schedules_of("sgrevert"),
    }


def test_without_a_hub_the_spoke_pattern_is_acknowledged(direct: Synthesized) -> None:
    plugin = nag_report(direct)

    assert acknowledged_in(plugin, "Sgrevert/") == APP_ACKNOWLEDGED | {
        SPOKE_ANYWHERE,
        schedules_of("sgrevert-direct"),
    }


def test_eventbridge_alone_adds_no_acknowledgement(eventbridge: Synthesized) -> None:
    plugin = nag_report(eventbridge)

    # The bus, its policy, the queues and the StackSet need no acknowledgement of their own
    assert acknowledged_in(plugin, "Sgrevert/") == APP_ACKNOWLEDGED | {schedules_of("sgrevert")}


def _lint(text: str) -> list[str]:
    matches = lint(
        text, config=ManualArgs(regions=CFN_LINT_REGIONS, ignore_checks=CFN_LINT_IGNORED)
    )
    return [f"{m.rule.id} line {m.linenumber}: {m.message}" for m in matches]


@pytest.mark.parametrize("variant", ["pipeline", "direct", "eventbridge"])
def test_cfn_lint_passes_on_every_synthesized_template(
    variant: str, request: pytest.FixtureRequest
) -> None:
    synthesized: Synthesized = request.getfixturevalue(variant)

    paths = list(synthesized.template_paths())
    assert paths
    for path in paths:
        assert _lint(path.read_text()) == [], path.name


@pytest.mark.parametrize("name", ["spoke-role.yaml", "event-forwarder.yaml"])
def test_cfn_lint_passes_on_the_templates_deployed_to_member_accounts(name: str) -> None:
    assert _lint((ROOT / "infra" / name).read_text()) == []


def test_cfn_lint_passes_on_the_stack_set_template_body(app_template: dict[str, Any]) -> None:
    (stack_set,) = resources(app_template, "AWS::CloudFormation::StackSet").values()

    assert _lint(stack_set["Properties"]["TemplateBody"]) == []


def test_the_slack_manifest_asks_for_the_minimum() -> None:
    manifest = yaml.safe_load((ROOT / "slack-app-manifest.yml").read_text())

    # post and update, read the review channel to find posts whose answer was lost, and
    # find an actor by email (users:read.email, granted only together with users:read), and
    # read the members of approver user groups (usergroups:read)
    assert manifest["oauth_config"]["scopes"] == {
        "bot": [
            "chat:write",
            "channels:history",
            "groups:history",
            "users:read",
            "users:read.email",
            "usergroups:read",
        ]
    }
    assert manifest["features"]["bot_user"]["display_name"]
    interactivity = manifest["settings"]["interactivity"]
    assert interactivity["is_enabled"] is True
    assert interactivity["request_url"].startswith("https://")
    assert interactivity["request_url"].endswith("/prod/slack/actions")
    assert "event_subscriptions" not in manifest["settings"]
    assert "slash_commands" not in manifest["features"]


def _deploy_section() -> str:
    readme = (ROOT / "README.md").read_text()
    match = re.search(r"^## Deploying to your organization\n(.*?)(?=^## |\Z)", readme, re.M | re.S)
    assert match, "README has a deploy section"
    return match.group(1)


def test_the_readme_documents_every_setting() -> None:
    section = _deploy_section()

    documented = set(re.findall(r"^\| `([a-z_]+)` \|", section, re.M))
    assert documented == {key.name for key in KEYS}


def test_the_readme_spoke_policy_matches_the_stackset_template() -> None:
    # The JSON in the README and infra/spoke-role.yaml grant the same actions
    template = cfn_yaml((ROOT / "infra" / "spoke-role.yaml").read_text())
    policy = template["Resources"]["SpokeRole"]["Properties"]["Policies"][0]["PolicyDocument"]
    granted = {a for s in policy["Statement"] for a in s["Action"]}
    section = _deploy_section()

    for action in granted:
        assert f'"{action}"' in section
    assert granted == {
        "ec2:RevokeSecurityGroupIngress",
        "ec2:RevokeSecurityGroupEgress",
        # undoing a modified rule (restore its earlier value) and a prefix-list edit
        "ec2:ModifySecurityGroupRules",
        "ec2:ModifyManagedPrefixList",
        "ec2:DescribeSecurityGroupRules",
        "ec2:DescribeSecurityGroups",
        # the detector's reading of a changed group: what it is attached to
        "ec2:DescribeNetworkInterfaces",
        "ec2:DescribeInstances",
        # a prefix list's version and entries, and the groups that reference it
        "ec2:DescribeManagedPrefixLists",
        "ec2:GetManagedPrefixListEntries",
        "ec2:GetManagedPrefixListAssociations",
    }


def test_the_spoke_admits_the_detector_only_when_given_without_a_hub() -> None:
    template = cfn_yaml((ROOT / "infra" / "spoke-role.yaml").read_text())
    (trust,) = template["Resources"]["SpokeRole"]["Properties"]["AssumeRolePolicyDocument"][
        "Statement"
    ]

    # The trusted role always; the reader (revertsg-1 without a hub) only when set
    assert trust["Condition"]["ArnEquals"]["aws:PrincipalArn"] == [
        {"Ref": "TrustedRoleArn"},
        {"If": ["HasReader", {"Ref": "ReaderRoleArn"}, {"Ref": "AWS::NoValue"}]},
    ]
    assert template["Parameters"]["ReaderRoleArn"]["Default"] == ""
    assert template["Conditions"]["HasReader"] == {
        "Not": [{"Equals": [{"Ref": "ReaderRoleArn"}, ""]}]
    }
    # Revoking stays where it was: this account's groups only
    (revoke,) = [
        s
        for s in template["Resources"]["SpokeRole"]["Properties"]["Policies"][0]["PolicyDocument"][
            "Statement"
        ]
        if s["Sid"] == "RevokeRules"
    ]
    assert revoke["Resource"] == {
        "Sub": "arn:${AWS::Partition}:ec2:*:${AWS::AccountId}:security-group/*"
    }


def test_the_spoke_writes_only_to_its_own_accounts_groups_rules_and_prefix_lists() -> None:
    template = cfn_yaml((ROOT / "infra" / "spoke-role.yaml").read_text())
    statements = template["Resources"]["SpokeRole"]["Properties"]["Policies"][0]["PolicyDocument"][
        "Statement"
    ]
    account = "arn:${AWS::Partition}:ec2:*:${AWS::AccountId}"

    # Every action that writes is scoped to this account's ARNs; only reads are on "*"
    writes = {
        action: s["Resource"]
        for s in statements
        for action in s["Action"]
        if not action.startswith(("ec2:Describe", "ec2:Get"))
    }
    assert writes == {
        "ec2:RevokeSecurityGroupIngress": {"Sub": f"{account}:security-group/*"},
        "ec2:RevokeSecurityGroupEgress": {"Sub": f"{account}:security-group/*"},
        "ec2:ModifySecurityGroupRules": [
            {"Sub": f"{account}:security-group/*"},
            {"Sub": f"{account}:security-group-rule/*"},
        ],
        "ec2:ModifyManagedPrefixList": {"Sub": f"{account}:prefix-list/*"},
    }
    assert all(s["Effect"] == "Allow" and "Condition" not in s for s in statements)
    reads = [s for s in statements if s["Resource"] == "*"]
    assert all(a.startswith(("ec2:Describe", "ec2:Get")) for s in reads for a in s["Action"])


def test_files_the_readme_points_to_exist() -> None:
    section = _deploy_section()
    for name in ("infra/spoke-role.yaml", "slack-app-manifest.yml", "cdk.json", "package.json"):
        assert f"`{name}`" in section or f"file://{name}" in section, name
        assert (ROOT / name).is_file(), name


def test_the_real_time_section_covers_deploying_without_lake() -> None:
    readme = (ROOT / "README.md").read_text()
    match = re.search(
        r"^## Real-time detection with EventBridge\n(.*?)(?=^## |\Z)", readme, re.M | re.S
    )
    assert match, "README has the real-time section"
    section = match.group(1)

    # The template it deploys by hand exists, with the parameter it passes
    assert "--template-file infra/event-forwarder.yaml" in section
    assert "CentralEventBusArn" in (ROOT / "infra" / "event-forwarder.yaml").read_text()
    # It states each path's latency, and names the settings EventBridge alone needs
    assert "### Detection latency" in section
    for key in ("organization_id", "target_ous", "target_regions", "stack_set_call_as"):
        assert f"`{key}`" in section, key
    assert "DELEGATED_ADMIN" in section
    assert "management account" in section
