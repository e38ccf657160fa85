"""Settings from the environment, validated once per cold start.

Each error names the variable and what is wrong with it, so a misconfigured
deployment fails on its first invocation with a message an operator can act on.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from sgrevert.errors import ConfigError
from sgrevert.policy import Policy, parse_policy
from sgrevert.risk import Risk

DEFAULT_SLACK_API_URL = "https://slack.com/api/"
DEFAULT_SPOKE_ROLE_NAME = "spoke-001"
DEFAULT_LOOKBACK_MINUTES = 20
DEFAULT_EXPIRY_SCHEDULE_GROUP = "sgrevert"
DEFAULT_SECURITY_HUB_AT_OR_ABOVE = Risk.HIGH
_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off"})

ROLE_ARN_PATTERN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$")
STORE_PATTERN = re.compile(
    r"^(arn:aws[a-z-]*:cloudtrail:[a-z0-9-]+:\d{12}:eventdatastore/)?[\w-]{1,128}$"
)
ROLE_NAME_PATTERN = re.compile(r"^([\w+=,.@-]+/)*[\w+=,.@-]{1,64}$")
SLACK_USER_PATTERN = re.compile(r"^[UW][A-Z0-9]{2,}$")
# An approver: a Slack user (U…, W…) or a user group (S…), whose members decide.
APPROVER_PATTERN = re.compile(r"^[UWS][A-Z0-9]{2,}$")
SLACK_TEAM_PATTERN = re.compile(r"^[TE][A-Z0-9]{2,31}$")
_FUNCTION_ARN = re.compile(r"^arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:[\w-]{1,64}$")
CHANNEL_PATTERN = re.compile(r"^[CGD][A-Z0-9]{2,}$")
SCHEDULE_GROUP_PATTERN = re.compile(r"^[0-9a-zA-Z._-]{1,64}$")  # EventBridge Scheduler's


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

    def flag(self, name: str, meaning: str) -> bool:
        """true/false (1/0, yes/no, on/off); unset: false."""
        value = self.raw(name)
        if value is None or value.lower() in _FALSE:
            return False
        if value.lower() in _TRUE:
            return True
        raise ConfigError(f"{name}={value!r} is malformed: it must be true or false ({meaning})")

    def risk(self, name: str, default: Risk, meaning: str) -> Risk:
        value = self.raw(name)
        if value is None:
            return default
        try:
            return Risk.parse(value)
        except ValueError as error:
            raise ConfigError(f"{name}={value!r} is malformed: {error} ({meaning})") from None

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


class Detection(StrEnum):
    """Where the detector learns of changes: CloudTrail Lake polling, EventBridge events
    (pushed through the event queue), or both, with Lake as the backstop."""

    LAKE = "lake"
    EVENTBRIDGE = "eventbridge"
    BOTH = "both"

    @property
    def polls_lake(self) -> bool:
        return self is not Detection.EVENTBRIDGE

    @property
    def takes_events(self) -> bool:
        return self is not Detection.LAKE

    @classmethod
    def default(cls, has_event_data_store: bool) -> Detection:
        """Both paths where there is a Lake store to poll; EventBridge alone otherwise."""
        return cls.BOTH if has_event_data_store else cls.EVENTBRIDGE


@dataclass(frozen=True)
class LakeSettings:
    event_data_store: str
    read_role_arn: str | None
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


@dataclass(frozen=True)
class DetectSettings:
    table_name: str
    slack: SlackSettings
    channel_id: str
    detection: Detection
    lake: LakeSettings | None  # None when detection is EventBridge alone
    policy: Policy = field(default_factory=Policy)
    # The responder: policy reverts, and the sweep's overdue expiries and missed reminders
    revert_function_arn: str | None = None
    # Reading a changed group's context in its account: hub (when configured), then spoke
    hub_role_arn: str | None = None
    spoke_role_name: str = DEFAULT_SPOKE_ROLE_NAME
    # Account names (organizations:ListAccounts) through this role; None: the own role
    org_read_role_arn: str | None = None
    # Posted changes at or above the threshold as Security Hub findings (opt-in)
    security_hub: bool = False
    security_hub_at_or_above: Risk = DEFAULT_SECURITY_HUB_AT_OR_ABOVE

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> DetectSettings:
        env = Env(environ)
        table_name = env.required("TABLE_NAME", "the DynamoDB table name")
        slack = _slack(env)
        channel_id = str(
            env.matching(
                "SLACK_CHANNEL_ID",
                CHANNEL_PATTERN,
                "a Slack channel id such as C0123ABCD",
                required=True,
            )
        )
        detection = _detection(env, has_store=env.raw("EVENT_DATA_STORE") is not None)
        return cls(
            table_name=table_name,
            slack=slack,
            channel_id=channel_id,
            detection=detection,
            lake=_lake(env, detection) if detection.polls_lake else None,
            **_noise_control(env),
            hub_role_arn=hub_role_arn(env),
            spoke_role_name=spoke_role_name(env),
            org_read_role_arn=env.matching(
                "ORG_READ_ROLE_ARN",
                ROLE_ARN_PATTERN,
                "an IAM role ARN (a role allowed organizations:ListAccounts, in the management "
                "account or a delegated administrator)",
                required=False,
            ),
            **security_hub(env),
        )


def _noise_control(env: Env) -> dict[str, Any]:
    """POLICY, and the responder a policy revert is handed to (required by auto-revert),
    as are the sweep's overdue expiries and missed reminders whenever it is set."""
    policy = parse_policy(env.raw("POLICY"))
    revert_function_arn = env.matching(
        "REVERT_FUNCTION_ARN",
        _FUNCTION_ARN,
        "the responder's Lambda function ARN (POLICY's auto_revert_at_or_above reverts through "
        "it, and the scheduled run's sweep expires overdue temporary approvals through it)",
        required=policy.auto_revert_at_or_above is not None,
    )
    return {"policy": policy, "revert_function_arn": revert_function_arn}


def _lake(env: Env, detection: Detection) -> LakeSettings:
    return LakeSettings(
        event_data_store=str(
            env.matching(
                "EVENT_DATA_STORE",
                STORE_PATTERN,
                f"a CloudTrail Lake event data store id or ARN (DETECTION={detection.value} "
                "polls Lake)",
                required=True,
            )
        ),
        read_role_arn=env.matching(
            "LAKE_READ_ROLE_ARN", ROLE_ARN_PATTERN, "an IAM role ARN", required=False
        ),
        lookback_minutes=env.positive_int(
            "LOOKBACK_MINUTES", DEFAULT_LOOKBACK_MINUTES, "a positive number of minutes"
        ),
    )


def _detection(env: Env, *, has_store: bool) -> Detection:
    value = env.raw("DETECTION")
    if value is None:
        return Detection.default(has_store)
    try:
        return Detection(value.lower())
    except ValueError:
        choices = ", ".join(d.value for d in Detection)
        raise ConfigError(
            f"DETECTION={value!r} is malformed: it must be one of {choices}"
        ) from None


@dataclass(frozen=True)
class RespondSettings:
    table_name: str
    slack: SlackSettings
    hub_role_arn: str | None
    spoke_role_name: str
    approvers: frozenset[str]  # the default route's users and groups; empty: anyone
    policy: Policy = field(default_factory=Policy)  # its temporary_approvals: Allow for…
    team_id: str | None = None  # SLACK_TEAM_ID: the only workspace whose clicks count
    expiry_schedule_group: str = DEFAULT_EXPIRY_SCHEDULE_GROUP
    # The role EventBridge Scheduler invokes the responder with; None: no Allow for…
    scheduler_role_arn: str | None = None
    # Decisions as the workflow of the changes' Security Hub findings (opt-in)
    security_hub: bool = False
    security_hub_at_or_above: Risk = DEFAULT_SECURITY_HUB_AT_OR_ABOVE

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> RespondSettings:
        env = Env(environ)
        approvers = frozenset(
            part.strip() for part in (env.raw("APPROVERS") or "").split(",") if part.strip()
        )
        bad = sorted(a for a in approvers if not APPROVER_PATTERN.match(a))
        if bad:
            raise ConfigError(
                f"APPROVERS has {', '.join(bad)}: it must be comma-separated Slack user ids "
                "(U...) and user group ids (S...)"
            )
        return cls(
            table_name=env.required("TABLE_NAME", "the DynamoDB table name"),
            slack=_slack(env),
            hub_role_arn=hub_role_arn(env),
            spoke_role_name=spoke_role_name(env),
            approvers=approvers,
            policy=parse_policy(env.raw("POLICY")),
            team_id=env.matching(
                "SLACK_TEAM_ID",
                SLACK_TEAM_PATTERN,
                "a Slack workspace id such as T0123ABCD (clicks from any other are refused)",
                required=False,
            ),
            expiry_schedule_group=expiry_schedule_group(env),
            scheduler_role_arn=env.matching(
                "SCHEDULER_ROLE_ARN",
                ROLE_ARN_PATTERN,
                "an IAM role ARN (the role EventBridge Scheduler assumes to invoke the "
                "responder when an approval for a while ends)",
                required=False,
            ),
            **security_hub(env),
        )


def security_hub(env: Env) -> dict[str, Any]:
    """`SECURITY_HUB` (default false) and `SECURITY_HUB_AT_OR_ABOVE` (default high), read
    alike by the detector (which imports the findings) and the responder (which updates
    them)."""
    return {
        "security_hub": env.flag(
            "SECURITY_HUB", "whether posted changes become Security Hub findings"
        ),
        "security_hub_at_or_above": env.risk(
            "SECURITY_HUB_AT_OR_ABOVE",
            DEFAULT_SECURITY_HUB_AT_OR_ABOVE,
            "the lowest risk level a posted change becomes a Security Hub finding at",
        ),
    }


def expiry_schedule_group(env: Env) -> str:
    """`EXPIRY_SCHEDULE_GROUP`, default `sgrevert` (the responder and the CLI read it alike)."""
    return str(
        env.matching(
            "EXPIRY_SCHEDULE_GROUP",
            SCHEDULE_GROUP_PATTERN,
            "an EventBridge Scheduler schedule group name (1-64 of 0-9 a-z A-Z . _ -)",
            required=False,
        )
        or DEFAULT_EXPIRY_SCHEDULE_GROUP
    )


def hub_role_arn(env: Env) -> str | None:
    """`HUB_ROLE_ARN`, when set (the responder, the detector and the CLI read it alike)."""
    return env.matching("HUB_ROLE_ARN", ROLE_ARN_PATTERN, "an IAM role ARN", required=False)


def spoke_role_name(env: Env) -> str:
    """`SPOKE_ROLE_NAME`, or the default `spoke-001`."""
    return str(
        env.matching(
            "SPOKE_ROLE_NAME",
            ROLE_NAME_PATTERN,
            "an IAM role name, optionally with a path (security/spoke-001)",
            required=False,
        )
        or DEFAULT_SPOKE_ROLE_NAME
    )
