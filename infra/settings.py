"""Deployment settings, read once from the CDK context (cdk.json or `-c key=value`).

Every key is listed in `KEYS` with its default and meaning; the README's settings table
documents the same keys (a test keeps them in step). Values from cdk.json arrive as JSON
types, values from `-c` as strings, so each reader accepts both. All problems are
reported together, each naming its context key, so one failed synth shows everything
to fix.

Validation reuses the runtime's patterns (`sgrevert.settings`): what synth accepts is
what the functions accept at cold start.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_logs as logs

from sgrevert import policy as runtime_policy
from sgrevert import settings as runtime
from sgrevert import store
from sgrevert.errors import ConfigError
from sgrevert.review_rules import too_few_approvers
from sgrevert.risk import Risk
from sgrevert.settings import Detection

_ACCOUNT = re.compile(r"^\d{12}$")
_REGION = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$")
_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")  # function, table and stack names
_REPOSITORY = re.compile(r"^[\w.-]{1,100}$")
_BRANCH = re.compile(r"^[\w./-]{1,255}$")
_TOPIC_ARN = re.compile(r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[\w-]{1,256}$")
_ORGANIZATION = re.compile(r"^o-[a-z0-9]{10,32}$")
_OU = re.compile(r"^(r-[0-9a-z]{4,32}|ou-[0-9a-z]{4,32}-[a-z0-9]{8,32})$")
_CALL_AS = ("DELEGATED_ADMIN", "SELF")
_ROLE_NAME = re.compile(r"^[\w+=,.@-]{1,64}$")
_OPERATOR_ROLE = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/*-]+$")
_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off", ""}
_RETENTION: dict[int, logs.RetentionDays] = {
    1: logs.RetentionDays.ONE_DAY,
    3: logs.RetentionDays.THREE_DAYS,
    5: logs.RetentionDays.FIVE_DAYS,
    7: logs.RetentionDays.ONE_WEEK,
    14: logs.RetentionDays.TWO_WEEKS,
    30: logs.RetentionDays.ONE_MONTH,
    60: logs.RetentionDays.TWO_MONTHS,
    90: logs.RetentionDays.THREE_MONTHS,
    120: logs.RetentionDays.FOUR_MONTHS,
    150: logs.RetentionDays.FIVE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS,
    365: logs.RetentionDays.ONE_YEAR,
    400: logs.RetentionDays.THIRTEEN_MONTHS,
    545: logs.RetentionDays.EIGHTEEN_MONTHS,
    731: logs.RetentionDays.TWO_YEARS,
    1096: logs.RetentionDays.THREE_YEARS,
    1827: logs.RetentionDays.FIVE_YEARS,
    2192: logs.RetentionDays.SIX_YEARS,
    2557: logs.RetentionDays.SEVEN_YEARS,
    2922: logs.RetentionDays.EIGHT_YEARS,
    3288: logs.RetentionDays.NINE_YEARS,
    3653: logs.RetentionDays.TEN_YEARS,
}


class SettingsError(ValueError):
    """One or more context keys are missing or malformed; the message names each one."""


@dataclass(frozen=True)
class Key:
    name: str
    default: Any  # None: optional without a default; REQUIRED: must be set
    meaning: str


REQUIRED = object()

KEYS: tuple[Key, ...] = (
    Key(
        "detection",
        None,
        "where changes are detected: lake, eventbridge or both; unset: both with an "
        "event_data_store, else eventbridge",
    ),
    Key(
        "organization_account_id",
        None,
        "the organization's management account (owner of the organization event data store); "
        "required when Lake is polled",
    ),
    Key(
        "event_data_store",
        None,
        "the organization's CloudTrail Lake event data store, id or ARN; required when Lake "
        "is polled",
    ),
    Key("slack_channel_id", REQUIRED, "the id of the Slack channel changes are posted to"),
    Key(
        "organization_id",
        None,
        "the organization's id (o-...): only its accounts may send events to the central bus; "
        "required with EventBridge",
    ),
    Key(
        "target_ous",
        (),
        "organizational units (or the root, r-...) whose accounts get the forwarding rule "
        "(list or comma-separated); required with EventBridge",
    ),
    Key(
        "target_regions",
        (),
        "regions of those accounts that get the forwarding rule (list or comma-separated); "
        "required with EventBridge",
    ),
    Key(
        "stack_set_call_as",
        "DELEGATED_ADMIN",
        "DELEGATED_ADMIN (the security account administers StackSets for the organization) "
        "or SELF (the stack is deployed in the management account)",
    ),
    Key(
        "lake_read_role_arn",
        None,
        "role in the organization account the detector assumes to query Lake; unset: query "
        "with the detector's own role (delegated administrator)",
    ),
    Key(
        "org_read_role_arn",
        None,
        "a role in the management account or a delegated administrator allowed "
        "organizations:ListAccounts and organizations:ListParents, which the detector assumes "
        "to name accounts and read their OUs (routes); unset: the detector calls them with "
        "its own role",
    ),
    Key(
        "hub_role_name",
        None,
        "create the hub role in this stack under this name: the role the spokes trust, "
        "assumed by the responder, the detector (to read a changed group) and the "
        "operator_role_arns; unset: see hub_role_arn",
    ),
    Key(
        "hub_role_arn",
        None,
        "a hub role you manage yourself, instead of hub_role_name; with neither, the "
        "responder and the detector assume the spoke roles directly",
    ),
    Key(
        "operator_role_arns",
        (),
        "roles allowed to assume the hub role this stack creates, for the break-glass "
        "`sgrevert revert` (list or comma-separated; * allowed in the name)",
    ),
    Key(
        "spoke_role_name",
        runtime.DEFAULT_SPOKE_ROLE_NAME,
        "the revoking role in every member account, optionally with a path",
    ),
    Key(
        "approvers",
        (),
        "Slack user ids (U…) and user group ids (S…) who decide the changes no policy route "
        "takes (list or comma-separated); empty: anyone",
    ),
    Key("schedule_minutes", 10, "how often the detector runs"),
    Key(
        "lookback_minutes", runtime.DEFAULT_LOOKBACK_MINUTES, "how far each detector run looks back"
    ),
    Key("slack_api_url", runtime.DEFAULT_SLACK_API_URL, "Slack Web API base URL (GovSlack)"),
    Key(
        "slack_team_id",
        None,
        "the Slack workspace id (T…); set: clicks from any other workspace are refused",
    ),
    Key("repository_name", "sgrevert", "the CodeCommit repository the pipeline builds from"),
    Key("branch", "main", "the branch the pipeline builds"),
    Key("table_name", store.DEFAULT_TABLE_NAME, "the DynamoDB table"),
    Key("detector_function_name", "revertsg-1", "the detector function (and its role)"),
    Key("responder_function_name", "revertsg-2", "the responder function (and its role)"),
    Key("stack_name", "sgrevert", "the application's CloudFormation stack"),
    Key(
        "reserve_concurrency",
        False,
        "reserve concurrency: 1 for the detector (3 with EventBridge), 10 for the responder; "
        "needs an account concurrency quota of 100 + the reservations",
    ),
    Key("log_retention_days", 365, "retention of the functions' and the API's logs"),
    Key("alarm_topic_arn", None, "existing SNS topic the alarms notify; unset: alarms only"),
    Key(
        "lake_lag_alarm_minutes",
        30,
        "the detection lag alarm on the Lake path: p90 from the CloudTrail event to the Slack "
        "post above this for 3 periods of schedule_minutes (at least 5)",
    ),
    Key(
        "eventbridge_lag_alarm_minutes",
        5,
        "the detection lag alarm on the EventBridge path: p90 above this for 3 periods of 5 "
        "minutes",
    ),
    Key(
        "undecided_critical_alarm_minutes",
        60,
        "the alarm on a critical change still undecided this long after its CloudTrail event",
    ),
    Key(
        "security_hub",
        False,
        "true: posted changes at or above security_hub_at_or_above become findings in this "
        "account's Security Hub, and decisions set their workflow status",
    ),
    Key(
        "security_hub_at_or_above",
        runtime.DEFAULT_SECURITY_HUB_AT_OR_ABOVE.label,
        "the lowest risk level a posted change becomes a Security Hub finding at",
    ),
    Key("account", None, "account to deploy to; unset: the one the CLI's credentials belong to"),
    Key("region", None, "region to deploy to; unset: the CLI's region"),
    Key(
        "policy",
        None,
        "the policy document (README: Noise control, Review rules, Routes): ignore rules, "
        "min_risk_to_post, auto_revert_at_or_above, max_messages_per_run, risk, "
        "owner_tag_keys, lower_risk_when_unattached, temporary_approvals, remind, "
        "deny_if_undecided_after, self_approval, approvals_required, routes, also_to",
    ),
    Key(
        "expiry_schedule_group",
        runtime.DEFAULT_EXPIRY_SCHEDULE_GROUP,
        "the EventBridge Scheduler schedule group the stack creates for the schedules that "
        "end approvals for a while",
    ),
    Key("direct", False, "true: deploy the application stack directly, without the pipeline"),
)

_BY_NAME = {key.name: key for key in KEYS}


@dataclass(frozen=True)
class Settings:
    detection: Detection
    organization_account_id: str | None
    event_data_store: str | None
    slack_channel_id: str
    organization_id: str | None
    target_ous: tuple[str, ...]
    target_regions: tuple[str, ...]
    stack_set_call_as: str
    lake_read_role_arn: str | None
    org_read_role_arn: str | None
    hub_role_name: str | None
    hub_role_arn: str | None
    operator_role_arns: tuple[str, ...]
    spoke_role_name: str
    approvers: tuple[str, ...]
    schedule_minutes: int
    lookback_minutes: int
    slack_api_url: str
    slack_team_id: str | None
    repository_name: str
    branch: str
    table_name: str
    detector_function_name: str
    responder_function_name: str
    stack_name: str
    reserve_concurrency: bool
    log_retention_days: int
    alarm_topic_arn: str | None
    lake_lag_alarm_minutes: int
    eventbridge_lag_alarm_minutes: int
    undecided_critical_alarm_minutes: int
    security_hub: bool
    security_hub_at_or_above: Risk
    policy: str | None  # validated, as the detector's POLICY (compact JSON)
    expiry_schedule_group: str
    account: str | None
    region: str | None
    direct: bool

    @property
    def env(self) -> cdk.Environment | None:
        """None keeps the stacks environment-agnostic, so synth needs no credentials."""
        if self.account is None and self.region is None:
            return None
        return cdk.Environment(account=self.account, region=self.region)

    @property
    def creates_hub(self) -> bool:
        return self.hub_role_name is not None

    @property
    def log_retention(self) -> logs.RetentionDays:
        return _RETENTION[self.log_retention_days]

    @classmethod
    def from_context(cls, context: Mapping[str, Any]) -> Settings:
        return _Reader(context).settings()

    @classmethod
    def of(cls, scope: cdk.App) -> Settings:
        """Settings from an app's context (cdk.json merged with `-c` values)."""
        return cls.from_context({key.name: scope.node.try_get_context(key.name) for key in KEYS})


class _Reader:
    """Reads each key once, collecting every problem before raising."""

    def __init__(self, context: Mapping[str, Any]) -> None:
        self._context = context
        self._errors: list[str] = []

    def settings(self) -> Settings:
        detection = self._detection(has_event_data_store=self._context_has("event_data_store"))
        values: dict[str, Any] = {
            "detection": detection,
            "organization_account_id": self._text("organization_account_id", _ACCOUNT, "12 digits"),
            "event_data_store": self._text(
                "event_data_store", runtime.STORE_PATTERN, "an event data store id or ARN"
            ),
            "slack_channel_id": self._text(
                "slack_channel_id", runtime.CHANNEL_PATTERN, "a Slack channel id such as C0123ABCD"
            ),
            "organization_id": self._text(
                "organization_id", _ORGANIZATION, "an organization id such as o-a1b2c3d4e5"
            ),
            "target_ous": self._list(
                "target_ous", _OU, "organizational unit or root ids (ou-ab12-cdef3456, r-ab12)"
            ),
            "target_regions": self._list("target_regions", _REGION, "regions such as eu-west-1"),
            "stack_set_call_as": self._choice("stack_set_call_as", _CALL_AS),
            "lake_read_role_arn": self._text(
                "lake_read_role_arn", runtime.ROLE_ARN_PATTERN, "an IAM role ARN"
            ),
            "org_read_role_arn": self._text(
                "org_read_role_arn", runtime.ROLE_ARN_PATTERN, "an IAM role ARN"
            ),
            "hub_role_name": self._text("hub_role_name", _ROLE_NAME, "an IAM role name"),
            "hub_role_arn": self._text("hub_role_arn", runtime.ROLE_ARN_PATTERN, "an IAM role ARN"),
            "operator_role_arns": self._list(
                "operator_role_arns",
                _OPERATOR_ROLE,
                "IAM role ARNs (arn:aws:iam::222222222222:role/SecurityAdmin; * allowed in the "
                "name)",
            ),
            "spoke_role_name": self._text(
                "spoke_role_name",
                runtime.ROLE_NAME_PATTERN,
                "an IAM role name, optionally with a path (security/spoke-001)",
            ),
            "approvers": self._approvers(),
            "schedule_minutes": self._number("schedule_minutes", 1, 1440),
            "lookback_minutes": self._number("lookback_minutes", 1, 1440),
            "slack_api_url": self._text(
                "slack_api_url", re.compile(r"^https://[^\s/]+"), "an https URL"
            ),
            "slack_team_id": self._text(
                "slack_team_id",
                runtime.SLACK_TEAM_PATTERN,
                "a Slack workspace id such as T0123ABCD",
            ),
            "repository_name": self._text("repository_name", _REPOSITORY, "a repository name"),
            "branch": self._text("branch", _BRANCH, "a branch name"),
            "table_name": self._text("table_name", re.compile(r"^[\w.-]{3,255}$"), "a table name"),
            "detector_function_name": self._text("detector_function_name", _NAME, "a name"),
            "responder_function_name": self._text("responder_function_name", _NAME, "a name"),
            "stack_name": self._text(
                "stack_name", re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,127}$"), "a stack name"
            ),
            "reserve_concurrency": self._flag("reserve_concurrency"),
            "log_retention_days": self._retention(),
            "alarm_topic_arn": self._text("alarm_topic_arn", _TOPIC_ARN, "an SNS topic ARN"),
            "lake_lag_alarm_minutes": self._number("lake_lag_alarm_minutes", 1, 1440),
            "eventbridge_lag_alarm_minutes": self._number("eventbridge_lag_alarm_minutes", 1, 1440),
            "undecided_critical_alarm_minutes": self._number(
                "undecided_critical_alarm_minutes", 1, 10080
            ),
            "security_hub": self._flag("security_hub"),
            "security_hub_at_or_above": self._risk("security_hub_at_or_above"),
            "account": self._text("account", _ACCOUNT, "12 digits"),
            "region": self._text("region", _REGION, "a region such as eu-west-1"),
            "direct": self._flag("direct"),
            "policy": self._policy(),
            "expiry_schedule_group": self._text(
                "expiry_schedule_group",
                runtime.SCHEDULE_GROUP_PATTERN,
                "a schedule group name (1-64 of 0-9 a-z A-Z . _ -)",
            ),
        }
        self._require_for(detection, "organization_account_id", "event_data_store", lake=True)
        self._require_for(detection, "organization_id", "target_ous", "target_regions", lake=False)
        if values["hub_role_name"] and values["hub_role_arn"]:
            self._fail(
                "hub_role_arn",
                "set hub_role_name (the stack creates the hub) or hub_role_arn (your own), "
                "not both",
            )
        if (
            values["detector_function_name"]
            and values["detector_function_name"] == values["responder_function_name"]
        ):
            self._fail("responder_function_name", "must differ from detector_function_name")
        if values["policy"]:
            # The default route's approvers must be able to give what approvals_required asks.
            review = runtime_policy.parse_policy(values["policy"]).review
            problem = too_few_approvers(review, values["approvers"])
            if problem:
                self._fail("approvers", problem)
        if self._errors:
            raise SettingsError(
                "invalid cdk.json context (set it in cdk.json or pass -c key=value):\n  "
                + "\n  ".join(self._errors)
            )
        return Settings(**values)

    def _context_has(self, name: str) -> bool:
        """Set to something, even something malformed (that is reported on its own)."""
        value = self._context.get(name)
        if isinstance(value, str):
            return bool(value.strip())
        if isinstance(value, list | tuple):
            return bool(value)
        return value is not None

    def _detection(self, *, has_event_data_store: bool) -> Detection:
        value = self._raw("detection")
        if value is None:
            return Detection.default(has_event_data_store)
        try:
            return Detection(str(value).lower())
        except ValueError:
            choices = ", ".join(d.value for d in Detection)
            self._fail("detection", f"{value!r} is malformed: it must be one of {choices}")
            return Detection.default(has_event_data_store)

    def _require_for(self, detection: Detection, *names: str, lake: bool) -> None:
        """Keys a detection path needs: Lake's when Lake is polled, EventBridge's otherwise."""
        needed = detection.polls_lake if lake else detection.takes_events
        path = "polls CloudTrail Lake" if lake else "takes EventBridge events"
        for name in names:
            if needed and not self._context_has(name):
                self._fail(name, f"is required: detection={detection.value} {path}")

    def _list(self, name: str, pattern: re.Pattern[str], form: str) -> tuple[str, ...]:
        value = self._raw(name)
        if isinstance(value, str):
            value = value.split(",")
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            self._fail(name, f"{value!r} is malformed: it must be a list of {form}")
            return ()
        items = tuple(dict.fromkeys(v.strip() for v in value if v.strip()))
        bad = [v for v in items if not pattern.match(v)]
        if bad:
            self._fail(name, f"{', '.join(map(repr, bad))} is malformed: it must be {form}")
        return items

    def _choice(self, name: str, choices: tuple[str, ...]) -> str:
        value = self._raw(name)
        if not isinstance(value, str) or value.upper() not in choices:
            self._fail(name, f"{value!r} is malformed: it must be one of {', '.join(choices)}")
            return str(_BY_NAME[name].default)
        return value.upper()

    def _fail(self, name: str, problem: str) -> None:
        self._errors.append(f"{name}: {problem} ({_BY_NAME[name].meaning})")

    def _policy(self) -> str | None:
        """Checked with the detector's own parser, so synth refuses what a cold start would."""
        value = self._raw("policy")
        if value is None:
            return None
        try:
            document = json.loads(value) if isinstance(value, str) else value
            runtime_policy.policy_from_document(document, "policy")
        except ValueError as error:
            self._fail("policy", f"is not valid JSON: {error}")
            return None
        except ConfigError as error:
            self._fail("policy", str(error).removeprefix("policy "))
            return None
        return json.dumps(document, separators=(",", ":"), sort_keys=True)

    def _raw(self, name: str) -> Any:
        """The value, or the key's default when unset or blank; REQUIRED when missing."""
        value = self._context.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            default = _BY_NAME[name].default
            if default is REQUIRED:
                self._fail(name, "is required")
            return default
        return value.strip() if isinstance(value, str) else value

    def _text(self, name: str, pattern: re.Pattern[str], form: str) -> Any:
        value = self._raw(name)
        if value is None or value is REQUIRED:
            return None
        if not isinstance(value, str) or not pattern.match(value):
            self._fail(name, f"{value!r} is malformed: it must be {form}")
            return None
        return value

    def _number(self, name: str, low: int, high: int) -> int:
        return int(
            self._parsed(name, _to_int, lambda n: low <= n <= high, f"a whole number {low}-{high}")
        )

    def _retention(self) -> int:
        return int(
            self._parsed(
                "log_retention_days",
                _to_int,
                lambda n: n in _RETENTION,
                "a CloudWatch Logs retention in days: " + ", ".join(map(str, _RETENTION)),
            )
        )

    def _flag(self, name: str) -> bool:
        return bool(self._parsed(name, _to_bool, lambda _: True, "true or false"))

    def _parsed(
        self, name: str, parse: Callable[[Any], Any], valid: Callable[[Any], bool], form: str
    ) -> Any:
        value = self._raw(name)
        try:
            parsed = parse(value)
        except ValueError:
            parsed = None
        if parsed is None or not valid(parsed):
            self._fail(name, f"{value!r} is malformed: it must be {form}")
            return _BY_NAME[name].default
        return parsed

    def _risk(self, name: str) -> Risk:
        value = self._raw(name)
        try:
            return Risk.parse(str(value))
        except ValueError:
            choices = ", ".join(r.label for r in Risk)
            self._fail(name, f"{value!r} is malformed: it must be one of {choices}")
            return Risk.parse(str(_BY_NAME[name].default))

    def _approvers(self) -> tuple[str, ...]:
        value = self._raw("approvers")
        if isinstance(value, str):
            value = value.split(",")
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            self._fail("approvers", f"{value!r} is malformed: it must be a list of user ids")
            return ()
        approvers = tuple(dict.fromkeys(v.strip() for v in value if v.strip()))
        bad = [a for a in approvers if not runtime.APPROVER_PATTERN.match(a)]
        if bad:
            self._fail(
                "approvers",
                f"{', '.join(bad)} malformed: Slack user ids look like U0123ABCD, user group "
                "ids like S0123ABCD",
            )
        return approvers


def _to_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def _to_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in _TRUE | _FALSE:
        return value.lower() in _TRUE
    return None
