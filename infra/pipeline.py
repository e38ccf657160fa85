"""The delivery pipeline: CodeCommit -> synth (install, test, synth) -> the application.

CDK Pipelines (`CodePipeline`, pipeline type V2). The synth step builds the project
exactly as the README does: `make setup`, `make test`, then `npx cdk synth` with the
virtualenv first on PATH (cdk.json runs `python3 app.py`). The pipeline updates itself
(self-mutation) with the same pinned CDK CLI as package.json.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_codecommit as codecommit
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import pipelines
from constructs import Construct, IConstruct

from infra import nag
from infra.settings import Settings
from infra.stage import SgrevertStage

ROOT = Path(__file__).resolve().parent.parent
BUILD_IMAGE = codebuild.LinuxBuildImage.STANDARD_8_0
# Match the Lambda runtime (bundling resolves wheels for it anyway) and a supported Node.
RUNTIME_VERSIONS = {"python": "3.13", "nodejs": "22"}
INSTALL_COMMANDS = ["make setup"]
BUILD_COMMANDS = ["make test", 'PATH="$PWD/.venv/bin:$PATH" npx cdk synth --quiet']
STAGE_ID = "Deploy"


def cdk_cli_version() -> str:
    """The CLI version package.json pins, so the pipeline never runs a different one."""
    package = json.loads((ROOT / "package.json").read_text())
    return str(package["devDependencies"]["aws-cdk"])


class PipelineStack(cdk.Stack):
    def __init__(
        self, scope: Construct, construct_id: str, *, settings: Settings, **kwargs: Any
    ) -> None:
        super().__init__(
            scope,
            construct_id,
            stack_name=f"{settings.stack_name}-pipeline",
            description="sgrevert delivery pipeline: CodeCommit to the application stack",
            **kwargs,
        )
        self.repository = codecommit.Repository(
            self,
            "Repository",
            repository_name=settings.repository_name,
            description="sgrevert: security-group change review from Slack",
        )
        self.synth = pipelines.ShellStep(
            "Synth",
            input=pipelines.CodePipelineSource.code_commit(self.repository, settings.branch),
            install_commands=INSTALL_COMMANDS,
            commands=BUILD_COMMANDS,
            primary_output_directory="cdk.out",
        )
        self.pipeline = pipelines.CodePipeline(
            self,
            "Pipeline",
            pipeline_name=settings.stack_name,
            pipeline_type=codepipeline.PipelineType.V2,
            synth=self.synth,
            cli_version=cdk_cli_version(),
            cross_account_keys=False,  # one account: no KMS key to pay for and manage
            docker_enabled_for_synth=False,  # local bundling needs no Docker
            docker_enabled_for_self_mutation=False,
            publish_assets_in_parallel=False,
            code_build_defaults=pipelines.CodeBuildOptions(
                build_environment=codebuild.BuildEnvironment(
                    build_image=BUILD_IMAGE, compute_type=codebuild.ComputeType.SMALL
                ),
                partial_build_spec=codebuild.BuildSpec.from_object(
                    {"phases": {"install": {"runtime-versions": RUNTIME_VERSIONS}}}
                ),
            ),
        )
        self.stage = SgrevertStage(self, STAGE_ID, settings=settings, env=settings.env)
        self.pipeline.add_stage(self.stage)
        self.pipeline.build_pipeline()
        self._acknowledge_generated()

        cdk.CfnOutput(
            self,
            "RepositoryCloneUrlHttp",
            value=self.repository.repository_clone_url_http,
            description="git remote for HTTPS (with the AWS CLI credential helper)",
        )
        cdk.CfnOutput(
            self,
            "RepositoryCloneUrlGrc",
            value=self.repository.repository_clone_url_grc,
            description="git remote for git-remote-codecommit (codecommit::region://name)",
        )

    def _acknowledge_generated(self) -> None:
        """Findings on what CDK Pipelines generates (roles, projects, artifact bucket).

        Acknowledged on the CodePipeline construct, which holds all of it; the
        application stage is not below it and stays fully checked.
        """
        scope = self.pipeline
        artifacts = f"<{self._logical_id(self.pipeline.pipeline.artifact_bucket)}.Arn>"
        for action in (
            "s3:Abort*",
            "s3:DeleteObject*",
            "s3:GetBucket*",
            "s3:GetObject*",
            "s3:List*",
        ):
            nag.acknowledge(
                scope,
                "AwsSolutions-IAM5",
                f"Action::{action}",
                "CDK Pipelines' grant on its own artifact bucket, whose ARN scopes it",
            )
        nag.acknowledge(
            scope,
            "AwsSolutions-IAM5",
            f"Resource::{artifacts}/*",
            "objects of the pipeline's own artifact bucket; their keys are generated per run",
        )
        account = "arn:<AWS::Partition>:{service}:<AWS::Region>:<AWS::AccountId>"
        for project in (self.pipeline.synth_project, self.pipeline.self_mutation_project):
            name = f"<{self._logical_id(project)}>"
            nag.acknowledge(
                scope,
                "AwsSolutions-IAM5",
                f"Resource::{account.format(service='logs')}:log-group:/aws/codebuild/{name}:*",
                "log streams of this CodeBuild project's own log group",
            )
            nag.acknowledge(
                scope,
                "AwsSolutions-IAM5",
                f"Resource::{account.format(service='codebuild')}:report-group/{name}-*",
                "test report groups of this CodeBuild project, named after it",
            )
        nag.acknowledge(
            scope,
            "AwsSolutions-IAM5",
            f"Resource::{account.format(service='logs')}:log-group:/aws/codebuild/*",
            "asset publishing projects are created per asset by CDK Pipelines; their log "
            "groups share only this prefix",
        )
        nag.acknowledge(
            scope,
            "AwsSolutions-IAM5",
            f"Resource::{account.format(service='codebuild')}:report-group/*",
            "report groups of the asset publishing projects, which CDK Pipelines names",
        )
        nag.acknowledge(
            scope,
            "AwsSolutions-IAM5",
            "Resource::arn:*:iam::<AWS::AccountId>:role/*",
            "self-mutation assumes this account's CDK bootstrap roles only: the statement "
            "is conditioned on their aws-cdk:bootstrap-role tag",
        )
        nag.acknowledge(
            scope,
            "AwsSolutions-IAM5",
            "Resource::*",
            "cloudformation:DescribeStacks and s3:ListBucket for the CDK CLI's environment "
            "checks, and codebuild:StartBuild/BatchGetBuilds for asset publishing as CDK "
            "Pipelines generates them",
        )
        nag.acknowledge(
            scope,
            "AwsSolutions-S1",
            None,
            "the artifact bucket only holds build artifacts the pipeline recreates; access is "
            "recorded by CloudTrail, a second logging bucket adds cost without insight",
        )
        nag.acknowledge(
            scope,
            "AwsSolutions-CB4",
            None,
            "CodeBuild encrypts build output with the AWS-managed S3 key; a customer-managed "
            "key is only needed to share artifacts across accounts, which this single-account "
            "pipeline does not do",
        )

    def _logical_id(self, construct: IConstruct) -> str:
        resource = construct.node.default_child
        assert isinstance(resource, cdk.CfnElement)
        return self.get_logical_id(resource)
