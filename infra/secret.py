"""The Slack secret: `{"bot_token": ..., "signing_secret": ...}`, filled by an operator.

Created with an empty `bot_token` and a random `signing_secret`, so nothing real is in
the template and, until someone stores the real values (README), every Slack request
fails signature verification rather than being accepted.
"""

from __future__ import annotations

import json

from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra import nag


class SlackSecret(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, secret_name: str) -> None:
        super().__init__(scope, construct_id)
        self.secret = secretsmanager.Secret(
            self,
            "Secret",
            secret_name=secret_name,
            description="sgrevert Slack app credentials: bot_token and signing_secret",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                secret_string_template=json.dumps({"bot_token": ""}),
                generate_string_key="signing_secret",
                exclude_punctuation=True,
                password_length=32,
            ),
        )
        nag.acknowledge(
            self.secret,
            "AwsSolutions-SMG4",
            None,
            "Slack issues these credentials; they are rotated in Slack's app settings and "
            "stored here by hand, so there is no rotation Lambda to run",
        )
