"""Synthesized assemblies shared by the infrastructure tests (one synth per session each).

Asset bundling is skipped (`aws:cdk:bundling-stacks` = []): the templates do not depend
on it, and pip would otherwise run on every synth. `test_bundling.py` bundles once.

- `pipeline`: cdk.json as shipped (the hub role created in the stack with an operator
  role, Lake read role, organization read role, detection by both Lake and EventBridge):
  the pipeline stack and the application stage it deploys.
- `direct`: `direct=true` and the other branch of every choice (no hub role, no Lake
  read role, no organization read role, approvers, an alarm topic, no reserved
  concurrency, a spoke role path, an event data store ARN, a 5-minute schedule, 30-day
  logs, another table name, Lake alone, a policy that reverts critical changes without a
  click and offers its own temporary approvals, another expiry schedule group).
- `eventbridge`: `direct=true`, EventBridge alone, no Lake setting at all, the StackSet
  created by the management account itself (which lists its accounts with its own role:
  no organization read role), a hub role managed outside the stack, and reserved
  concurrency.
All run cdk-nag, so synth itself fails on any unacknowledged finding.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
import yaml
from aws_cdk import cx_api
from aws_cdk.assertions import Template

from infra.app import build

ROOT = Path(__file__).resolve().parents[2]
CDK_CONTEXT: dict[str, Any] = json.loads((ROOT / "cdk.json").read_text())["context"]
# As the CLI synthesizes (resource path metadata, which cfn-lint uses to recognise CDK
# templates), minus asset bundling.
SYNTH_CONTEXT = {"aws:cdk:bundling-stacks": [], "aws:cdk:enable-path-metadata": True}

EXTERNAL_HUB = "arn:aws:iam::222222222222:role/sgrevert-hub"

DIRECT_OVERRIDES: dict[str, Any] = {
    "direct": "true",
    "hub_role_name": "",
    "operator_role_arns": "",
    "lake_read_role_arn": "",
    "org_read_role_arn": "",
    "approvers": "U0123ABCD,U0456EFGH",
    "alarm_topic_arn": "arn:aws:sns:eu-west-1:222222222222:security-alarms",
    "reserve_concurrency": "false",
    "spoke_role_name": "security/spoke-001",
    "event_data_store": "arn:aws:cloudtrail:us-east-1:111111111111:eventdatastore/EXAMPLE-abc",
    "schedule_minutes": "5",
    "log_retention_days": "30",
    "table_name": "sgrevert-changes",
    "detection": "lake",
    "policy": {
        "auto_revert_at_or_above": "critical",
        "max_messages_per_run": 20,
        "temporary_approvals": ["30m", "4h"],
    },
    "expiry_schedule_group": "sgrevert-direct",
}

EVENTBRIDGE_OVERRIDES: dict[str, Any] = {
    "direct": "true",
    "detection": "",  # derived: no event data store, so EventBridge alone
    "event_data_store": "",
    "organization_account_id": "",
    "lake_read_role_arn": "",
    "org_read_role_arn": "",
    "lookback_minutes": "",
    "target_ous": "ou-ab12-cdef3456, ou-ab12-0123abcd",
    "target_regions": "eu-central-1",
    "stack_set_call_as": "SELF",
    "stack_name": "sgrevert-realtime",
    "hub_role_name": "",
    "operator_role_arns": "",
    "hub_role_arn": EXTERNAL_HUB,
    "reserve_concurrency": "true",
}


@dataclass(frozen=True)
class Synthesized:
    assembly: cx_api.CloudAssembly

    def stack(self, stack_name: str) -> cx_api.CloudFormationStackArtifact:
        for stack in self.assembly.stacks_recursively:
            if stack.stack_name == stack_name:
                return stack
        raise KeyError(stack_name)

    def template(self, stack_name: str) -> dict[str, Any]:
        return dict(self.stack(stack_name).template)

    def assertions(self, stack_name: str) -> Template:
        return Template.from_json(self.template(stack_name))

    def template_paths(self) -> Iterator[Path]:
        for stack in self.assembly.stacks_recursively:
            yield Path(stack.template_full_path)

    @property
    def directory(self) -> Path:
        return Path(self.assembly.directory)


def synthesize(outdir: Path, **overrides: Any) -> Synthesized:
    app = cdk.App(outdir=str(outdir), context={**CDK_CONTEXT, **SYNTH_CONTEXT, **overrides})
    build(app)
    return Synthesized(app.synth())


@pytest.fixture(scope="session")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    return synthesize(tmp_path_factory.mktemp("pipeline"))


@pytest.fixture(scope="session")
def direct(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    return synthesize(tmp_path_factory.mktemp("direct"), **DIRECT_OVERRIDES)


@pytest.fixture(scope="session")
def eventbridge(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    return synthesize(tmp_path_factory.mktemp("eventbridge"), **EVENTBRIDGE_OVERRIDES)


@pytest.fixture(scope="session")
def app_template(pipeline: Synthesized) -> dict[str, Any]:
    """The application stack as the pipeline deploys it."""
    return pipeline.template("sgrevert")


@pytest.fixture(scope="session")
def direct_template(direct: Synthesized) -> dict[str, Any]:
    return direct.template("sgrevert")


@pytest.fixture(scope="session")
def eventbridge_template(eventbridge: Synthesized) -> dict[str, Any]:
    return eventbridge.template("sgrevert-realtime")


def resources(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {
        logical_id: resource
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == resource_type
    }


def only(template: dict[str, Any], resource_type: str) -> tuple[str, dict[str, Any]]:
    found = resources(template, resource_type)
    assert len(found) == 1, f"expected one {resource_type}, found {sorted(found)}"
    return next(iter(found.items()))


def under(template: dict[str, Any], construct: str) -> dict[str, Any]:
    """The resources of a template under one of the stack's constructs (by path metadata)."""
    return {
        "Resources": {
            logical_id: resource
            for logical_id, resource in template["Resources"].items()
            if f"Sgrevert/{construct}/" in resource.get("Metadata", {}).get("aws:cdk:path", "")
        }
    }


def function(template: dict[str, Any], name: str) -> tuple[str, dict[str, Any]]:
    for logical_id, resource in resources(template, "AWS::Lambda::Function").items():
        if resource["Properties"].get("FunctionName") == name:
            return logical_id, resource
    raise KeyError(name)


def role_statements(template: dict[str, Any], role_logical_id: str) -> list[dict[str, Any]]:
    """Every statement of the identity policies attached to a role."""
    statements: list[dict[str, Any]] = []
    for policy in resources(template, "AWS::IAM::Policy").values():
        if {"Ref": role_logical_id} in policy["Properties"]["Roles"]:
            statements.extend(policy["Properties"]["PolicyDocument"]["Statement"])
    role = template["Resources"][role_logical_id]["Properties"]
    for inline in role.get("Policies", []):
        statements.extend(inline["PolicyDocument"]["Statement"])
    return statements


def actions(statement: dict[str, Any]) -> list[str]:
    value = statement.get("Action", [])
    return [value] if isinstance(value, str) else list(value)


def named_role(template: dict[str, Any], name: str) -> tuple[str, dict[str, Any]]:
    for logical_id, resource in resources(template, "AWS::IAM::Role").items():
        if resource["Properties"].get("RoleName") == name:
            return logical_id, resource
    raise KeyError(name)


def function_role(template: dict[str, Any], name: str) -> str:
    _, resource = function(template, name)
    return str(resource["Properties"]["Role"]["Fn::GetAtt"][0])


class CfnLoader(yaml.SafeLoader):
    """Reads CloudFormation short-form tags (!Ref, !Sub, ...) as plain values."""


def _cfn_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return {suffix: loader.construct_scalar(node)}
    if isinstance(node, yaml.SequenceNode):
        return {suffix: loader.construct_sequence(node, deep=True)}
    return {suffix: loader.construct_mapping(node, deep=True)}


CfnLoader.add_multi_constructor("!", _cfn_tag)


def cfn_yaml(text: str) -> dict[str, Any]:
    """A CloudFormation YAML template as data, short-form tags as one-key mappings."""
    return dict(yaml.load(text, Loader=CfnLoader))  # a SafeLoader subclass
