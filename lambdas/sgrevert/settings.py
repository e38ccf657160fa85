"""Settings from the environment, validated once per cold start.

Each error names the variable and what is wrong with it, so a misconfigured
deployment fails on its first invocation with a message an operator can act on.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

from sgrevert.errors import ConfigError

DEFAULT_SLACK_API_URL = "https://slack.com/api/"
DEFAULT_SPOKE_ROLE_NAME = "spoke-001"
DEFAULT_LOOKBACK_MINUTES = 20

_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$")
_STORE = re.compile(r"^(arn:aws[a-z-]*:cloudtrail:[a-z0-9-]+:\d{12}:eventdatastore/)?[\w-]{1,128}$")
_ROLE_NAME = re.compile(r"^([\w+=,.@-]+/)*[\w+=,.@-]{1,64}$")
_SLACK_USER = re.compile(r"^[UW][A-Z0-9]{2,}$")
_CHANNEL = re.compile(r"^[CGD][A-Z0-9]{2,}$")


class Env:
    """Typed readers over an environment mapping (os.environ by default)."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self._env = os.environ if environ is None else environ

    def raw(self, name: str) -> str | None:
        value = self._env.get(name, "").strip()
        return value or None

    def required(self, name: str, meaning: str) -> str:
        value = self.raw(name)
        if value is None:
            raise ConfigError(f"{name} is not set: it must be {meaning}")
        return value

    def matching(
        self, name: str, pattern: re.Pattern[str], meaning: str, *, required: bool
    ) -> str | None:
        value = self.required(name, meaning) if required else self.raw(name)
        if value is not None and not pattern.match(value):
            raise ConfigError(f"{name}={value!r} is malformed: it must be {meaning}")
        return value

    def positive_int(self, name: str, default: int, meaning: str) -> int:
        value = self.raw(name)
        if value is None:
            return default
        try:
            number = int(value)
        except ValueError:
            number = 0
        if number <= 0:
            raise ConfigError(f"{name}={value!r} is malformed: it must be {meaning}")
        return number

    def url(self, name: str, default: str) -> str:
        value = self.raw(name) or default
        if not re.match(r"^https?://[^\s/]+", value):
            raise ConfigError(f"{name}={value!r} is malformed: it must be an http(s) URL")
        return value if value.endswith("/") else value + "/"


@dataclass(frozen=True)
class SlackSettings:
    secret_arn: str
    api_url: str


def _slack(env: Env) -> SlackSettings:
    return SlackSettings(
        secret_arn=env.required(
            "SLACK_SECRET_ARN",
            'the ARN or name of a Secrets Manager secret holding {"bot_token", "signing_secret"}',
        ),
        api_url=env.url("SLACK_API_URL", DEFAULT_SLACK_API_URL),
    )


@dataclass(frozen=True)
class DetectSettings:
    table_name: str
    slack: SlackSettings
    channel_id: str
    event_data_store: str
    lake_read_role_arn: str | None
    lookback_minutes: int

    @property
    def event_data_store_id(self) -> str:
        """The id Lake expects in FROM, whether an id or an ARN was configured."""
        return self.event_data_store.rsplit("/", 1)[-1]

    @property
    def event_data_store_region(self) -> str | None:
        """The store's region when an ARN was configured: Lake is queried where the store is."""
        if self.event_data_store.startswith("arn:"):
            return self.event_data_store.split(":")[3]
        return None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> DetectSettings:
        env = Env(environ)
        return cls(
            table_name=env.required("TABLE_NAME", "the DynamoDB table name"),
            slack=_slack(env),
            channel_id=str(
                env.matching(
                    "SLACK_CHANNEL_ID",
                    _CHANNEL,
                    "a Slack channel id such as C0123ABCD",
                    required=True,
                )
            ),
            event_data_store=str(
                env.matching(
                    "EVENT_DATA_STORE",
                    _STORE,
                    "a CloudTrail Lake event data store id or ARN",
                    required=True,
                )
            ),
            lake_read_role_arn=env.matching(
                "LAKE_READ_ROLE_ARN", _ROLE_ARN, "an IAM role ARN", required=False
            ),
            lookback_minutes=env.positive_int(
                "LOOKBACK_MINUTES", DEFAULT_LOOKBACK_MINUTES, "a positive number of minutes"
            ),
        )


@dataclass(frozen=True)
class RespondSettings:
    table_name: str
    slack: SlackSettings
    hub_role_arn: str | None
    spoke_role_name: str
    approvers: frozenset[str]  # empty: anyone in the channel may decide

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> RespondSettings:
        env = Env(environ)
        approvers = frozenset(
            part.strip() for part in (env.raw("APPROVERS") or "").split(",") if part.strip()
        )
        bad = sorted(a for a in approvers if not _SLACK_USER.match(a))
        if bad:
            raise ConfigError(
                f"APPROVERS has {', '.join(bad)}: it must be comma-separated Slack user ids (U...)"
            )
        return cls(
            table_name=env.required("TABLE_NAME", "the DynamoDB table name"),
            slack=_slack(env),
            hub_role_arn=env.matching("HUB_ROLE_ARN", _ROLE_ARN, "an IAM role ARN", required=False),
            spoke_role_name=str(
                env.matching(
                    "SPOKE_ROLE_NAME",
                    _ROLE_NAME,
                    "an IAM role name, optionally with a path (security/spoke-001)",
                    required=False,
                )
                or DEFAULT_SPOKE_ROLE_NAME
            ),
            approvers=approvers,
        )
