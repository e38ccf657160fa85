"""cdk-nag and cfn-lint on the synthesized app; the Slack manifest; the documented settings."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import yaml
from cfnlint.api import ManualArgs, lint

from infra.settings import KEYS
from tests.infra.conftest import ROOT, Synthesized

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
SPOKE_ANYWHERE = "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:iam::*:role/security/spoke-001]"
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


@pytest.mark.parametrize("variant", ["pipeline", "direct"])
def test_cdk_nag_finds_nothing_unacknowledged(variant: str, request: pytest.FixtureRequest) -> None:
    plugin = nag_report(request.getfixturevalue(variant))

    assert plugin["conclusion"] == "success"
    assert plugin["violations"] == []
    for suppressed in plugin["suppressedViolations"]:
        assert len(suppressed["reason"].split()) >= 5, suppressed["ruleName"]


def test_the_application_acknowledgements_are_the_reviewed_ones(pipeline: Synthesized) -> None:
    plugin = nag_report(pipeline)

    assert acknowledged_in(plugin, "SgrevertPipeline/Deploy/") == APP_ACKNOWLEDGED


def test_without_a_hub_the_spoke_pattern_is_acknowledged(direct: Synthesized) -> None:
    plugin = nag_report(direct)

    assert acknowledged_in(plugin, "Sgrevert/") == APP_ACKNOWLEDGED | {SPOKE_ANYWHERE}


def _lint(text: str) -> list[str]:
    matches = lint(
        text, config=ManualArgs(regions=CFN_LINT_REGIONS, ignore_checks=CFN_LINT_IGNORED)
    )
    return [f"{m.rule.id} line {m.linenumber}: {m.message}" for m in matches]


@pytest.mark.parametrize("variant", ["pipeline", "direct"])
def test_cfn_lint_passes_on_every_synthesized_template(
    variant: str, request: pytest.FixtureRequest
) -> None:
    synthesized: Synthesized = request.getfixturevalue(variant)

    paths = list(synthesized.template_paths())
    assert paths
    for path in paths:
        assert _lint(path.read_text()) == [], path.name


def test_cfn_lint_passes_on_the_spoke_role_template() -> None:
    assert _lint((ROOT / "infra" / "spoke-role.yaml").read_text()) == []


def test_the_slack_manifest_asks_for_the_minimum() -> None:
    manifest = yaml.safe_load((ROOT / "slack-app-manifest.yml").read_text())

    assert manifest["oauth_config"]["scopes"] == {"bot": ["chat:write"]}
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
    template = yaml.load(  # a SafeLoader that also reads CloudFormation tags
        (ROOT / "infra" / "spoke-role.yaml").read_text(), Loader=_CfnLoader
    )
    policy = template["Resources"]["SpokeRole"]["Properties"]["Policies"][0]["PolicyDocument"]
    granted = {a for s in policy["Statement"] for a in s["Action"]}
    section = _deploy_section()

    for action in granted:
        assert f'"{action}"' in section
    assert granted == {
        "ec2:RevokeSecurityGroupIngress",
        "ec2:RevokeSecurityGroupEgress",
        "ec2:DescribeSecurityGroupRules",
        "ec2:DescribeSecurityGroups",
    }


class _CfnLoader(yaml.SafeLoader):
    """Reads CloudFormation short-form tags (!Ref, !Sub, ...) as plain values."""


def _cfn_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return {suffix: loader.construct_scalar(node)}
    if isinstance(node, yaml.SequenceNode):
        return {suffix: loader.construct_sequence(node, deep=True)}
    return {suffix: loader.construct_mapping(node, deep=True)}


_CfnLoader.add_multi_constructor("!", _cfn_tag)


def test_files_the_readme_points_to_exist() -> None:
    section = _deploy_section()
    for name in ("infra/spoke-role.yaml", "slack-app-manifest.yml", "cdk.json", "package.json"):
        assert f"`{name}`" in section or f"file://{name}" in section, name
        assert (ROOT / name).is_file(), name
