"""Builds the app: the pipeline by default, the application stack alone with `direct=true`."""

from __future__ import annotations

import aws_cdk as cdk

from infra import nag
from infra.pipeline import PipelineStack
from infra.settings import Settings
from infra.stack import SgrevertStack

APP_STACK_ID = "Sgrevert"
PIPELINE_STACK_ID = "SgrevertPipeline"


def build(app: cdk.App) -> Settings:
    settings = Settings.of(app)
    if settings.direct:
        SgrevertStack(app, APP_STACK_ID, settings=settings, env=settings.env)
    else:
        PipelineStack(app, PIPELINE_STACK_ID, settings=settings, env=settings.env)
    nag.add_checks(app)
    return settings
