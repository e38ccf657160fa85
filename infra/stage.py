"""The application stage: what the pipeline deploys (the same stack `direct=true` deploys)."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from constructs import Construct

from infra.settings import Settings
from infra.stack import SgrevertStack


class SgrevertStage(cdk.Stage):
    """The application as the pipeline deploys it."""

    def __init__(
        self, scope: Construct, construct_id: str, *, settings: Settings, **kwargs: Any
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.stack = SgrevertStack(self, "Sgrevert", settings=settings)
