"""The pipeline: CodeCommit -> synth (install, test, synth) -> self-update -> the app."""

from __future__ import annotations

import json
from typing import Any

import pytest

from infra.pipeline import cdk_cli_version
from tests.infra.conftest import ROOT, Synthesized, only, resources


@pytest.fixture(scope="module")
def template(pipeline: Synthesized) -> dict[str, Any]:
    return pipeline.template("sgrevert-pipeline")


def stages(template: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    _, resource = only(template, "AWS::CodePipeline::Pipeline")
    return {s["Name"]: s["Actions"] for s in resource["Properties"]["Stages"]}


def project(template: dict[str, Any], action: dict[str, Any]) -> dict[str, Any]:
    return dict(template["Resources"][action["Configuration"]["ProjectName"]["Ref"]]["Properties"])


def test_a_v2_pipeline(template: dict[str, Any]) -> None:
    _, resource = only(template, "AWS::CodePipeline::Pipeline")

    assert resource["Properties"]["PipelineType"] == "V2"
    assert resource["Properties"]["Name"] == "sgrevert"
    assert list(stages(template)) == ["Source", "Build", "UpdatePipeline", "Assets", "Deploy"]


def test_the_source_is_the_repository_the_stack_creates(template: dict[str, Any]) -> None:
    repository_id, repository = only(template, "AWS::CodeCommit::Repository")
    (source,) = stages(template)["Source"]

    assert repository["Properties"]["RepositoryName"] == "sgrevert"
    assert source["ActionTypeId"]["Provider"] == "CodeCommit"
    assert source["Configuration"]["RepositoryName"] == {"Fn::GetAtt": [repository_id, "Name"]}
    assert source["Configuration"]["BranchName"] == "main"
    # Pushes start the pipeline through EventBridge rather than polling
    assert source["Configuration"]["PollForSourceChanges"] is False
    assert resources(template, "AWS::Events::Rule")


def test_synth_installs_tests_and_synthesizes_like_the_readme(template: dict[str, Any]) -> None:
    (synth,) = stages(template)["Build"]
    props = project(template, synth)
    spec = json.loads(props["Source"]["BuildSpec"])

    assert spec["phases"]["install"]["commands"] == ["make setup"]
    assert spec["phases"]["build"]["commands"] == [
        "make test",
        'PATH="$PWD/.venv/bin:$PATH" npx cdk synth --quiet',
    ]
    assert spec["phases"]["install"]["runtime-versions"] == {"python": "3.13", "nodejs": "22"}
    assert spec["artifacts"]["base-directory"] == "cdk.out"
    assert props["Environment"]["Image"] == "aws/codebuild/standard:8.0"
    assert props["Environment"]["PrivilegedMode"] is False  # no Docker needed


def test_the_pipeline_updates_itself_with_the_pinned_cli(template: dict[str, Any]) -> None:
    (mutate,) = stages(template)["UpdatePipeline"]
    spec = json.loads(project(template, mutate)["Source"]["BuildSpec"])
    package = json.loads((ROOT / "package.json").read_text())

    assert cdk_cli_version() == package["devDependencies"]["aws-cdk"]
    assert spec["phases"]["install"]["commands"] == [f"npm install -g aws-cdk@{cdk_cli_version()}"]


def test_then_it_deploys_the_application_stack(template: dict[str, Any]) -> None:
    deploy = stages(template)["Deploy"]

    assert {a["Configuration"]["StackName"] for a in deploy} == {"sgrevert"}
    prepare = next(a for a in deploy if a["Name"] == "Prepare")
    # The functions' roles are named (other accounts trust them by name)
    assert "CAPABILITY_NAMED_IAM" in prepare["Configuration"]["Capabilities"]


def test_clone_urls_are_outputs(template: dict[str, Any]) -> None:
    repository_id, _ = only(template, "AWS::CodeCommit::Repository")

    outputs = template["Outputs"]
    assert outputs["RepositoryCloneUrlHttp"]["Value"] == {
        "Fn::GetAtt": [repository_id, "CloneUrlHttp"]
    }
    assert outputs["RepositoryCloneUrlGrc"]["Value"]["Fn::Join"][1][0] == "codecommit::"


def test_stacks_are_environment_agnostic(pipeline: Synthesized) -> None:
    # No account or region in cdk.json: synth needs no credentials
    for stack in pipeline.assembly.stacks_recursively:
        assert stack.environment.account == "unknown-account"
        assert stack.environment.region == "unknown-region"
