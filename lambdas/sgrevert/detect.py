"""revertsg-1: the detector. Thin: settings, adapters, one call into Detector.

Two kinds of invocation: an SQS batch from the event queue (the real-time EventBridge
path), answered with its partial batch failures; and the schedule, which polls CloudTrail
Lake or, with EventBridge alone, only posts changes earlier runs could not post (after a
Slack outage, say). Either scheduled run also sweeps the approvals for a while, handing
overdue expiries and missed reminders to the responder (REVERT_FUNCTION_ARN), and counts
the undecided changes. Every run's metrics are written when it ends (`sgrevert.metrics`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from sgrevert import aws, metrics, security_hub
from sgrevert.account_names import AccountNames
from sgrevert.context_read import ContextReader
from sgrevert.detector import Detector
from sgrevert.event_queue import QueuedEvents, is_sqs_batch
from sgrevert.lake import LakeQuery
from sgrevert.org_units import OrgUnits
from sgrevert.people import SlackPeople
from sgrevert.roles import RoleChain, session_policy
from sgrevert.run_report import RunReport
from sgrevert.selfinvoke import Job, SelfInvoker
from sgrevert.settings import DetectSettings, LakeSettings
from sgrevert.slack import ChannelPoster, SlackCredentials, load_credentials, web_client
from sgrevert.store import ChangeStore

logger = Logger(service="sgrevert-detect")

# Without a Lambda context (a local run), behave as a 5-minute function would.
DEFAULT_TIME_BUDGET_SECONDS = 300.0
# Every role the detector assumes is narrowed to the calls it makes there (the context
# reader's hub and spoke sessions likewise, in sgrevert.roles).
LAKE_POLICY = session_policy(
    [
        "cloudtrail:StartQuery",
        "cloudtrail:DescribeQuery",
        "cloudtrail:GetQueryResults",
        "cloudtrail:CancelQuery",
    ],
    ["*"],
)
# Account names, and OU chains for the routes that match on `ou`.
ACCOUNTS_POLICY = session_policy(["organizations:ListAccounts", "organizations:ListParents"], ["*"])


def _utcnow() -> datetime:
    return datetime.now(UTC)


# The detector's time: real time, unless the process installs another with `reset`.
_clock: Callable[[], datetime] = _utcnow


@cache
def settings() -> DetectSettings:
    """Read once per cold start; a bad setting fails every invocation with its name."""
    return DetectSettings.from_env()


def _organizations() -> Any:
    """An Organizations client, through the organization read role when one is set."""
    config = settings()
    base = aws.session()
    if config.org_read_role_arn:
        base = aws.assumed_session(
            config.org_read_role_arn, "sgrevert-accounts", base, policy=ACCOUNTS_POLICY
        )
    return aws.client("organizations", base)


@cache
def account_names() -> AccountNames:
    """Kept for the process: one ListAccounts an hour answers every run."""
    return AccountNames(_organizations)


@cache
def org_units() -> OrgUnits:
    """Kept for the process: each account's and OU's parent is read once an hour."""
    return OrgUnits(_organizations)


def _ou_chain(account: str) -> tuple[str, ...] | None:
    chain, why = org_units().chain(account)
    if chain is None:
        logger.warning("OU chain not read", extra={"account": account, "reason": why})
    return chain


@cache
def findings() -> security_hub.Findings:
    """Kept for the process: posted changes as Security Hub findings, when enabled."""
    config = settings()
    return security_hub.from_settings(config.security_hub, config.security_hub_at_or_above)


@cache
def people(bot_token: str) -> SlackPeople:
    """Kept for the process (per token, so a rotated token is used): each email is looked
    up in Slack once."""
    credentials = SlackCredentials(bot_token=bot_token, signing_secret="")
    return SlackPeople(web_client(settings().slack, credentials))


def reset(clock: Callable[[], datetime] | None = None) -> None:
    """Forget cached settings, for processes that change the environment between runs; and
    keep time by `clock` from now on (the sandbox moves its own by hand), or by real time
    again when None."""
    global _clock  # noqa: PLW0603 -- the process's time, set by whoever runs the handler
    _clock = clock or _utcnow
    settings.cache_clear()
    account_names.cache_clear()
    org_units.cache_clear()
    findings.cache_clear()
    people.cache_clear()


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    config = settings()
    base = aws.session()
    # No blind resend of a post whose answer was lost: the detector looks for it instead.
    slack = web_client(
        config.slack,
        load_credentials(config.slack.secret_arn),
        resend_on_connection_error=False,
    )
    detector = Detector(
        store=ChangeStore(aws.table(config.table_name, base)),
        poster=ChannelPoster(slack, config.channel_id),
        clock=_clock,
        time_left=_time_left(context),
        policy=config.policy,
        start_revert=_job_starter(config.revert_function_arn, base),
        context=ContextReader(
            RoleChain(aws.client("sts", base), config.hub_role_arn, config.spoke_role_name),
            account_names(),
            people(slack.token or ""),
            owner_tag_keys=config.policy.owner_tag_keys,
        ),
        findings=findings(),
        ou_chain=_ou_chain,
    )
    if is_sqs_batch(event):
        batch = QueuedEvents(event, context)
        with metrics.detecting(metrics.Path.EVENTBRIDGE):
            metrics.run_done(detector.take_events(batch))
        return dict(batch.response)
    if config.lake is None:
        with metrics.detecting(metrics.Path.EVENTBRIDGE):  # the only path: its leftovers
            report = detector.retry_unposted()
    else:
        with metrics.detecting(metrics.Path.LAKE):
            report = _poll_lake(detector, config.lake, base)
    metrics.run_done(report)
    return report.as_dict()


def _job_starter(function_arn: str | None, base: boto3.Session) -> Any:
    """Policy reverts go to the responder as a Deny click's do, and the sweep's overdue
    expiries and missed reminders as their schedules' do: an asynchronous Invoke."""
    if function_arn is None:
        return None
    invoker = SelfInvoker(aws.client("lambda", base))

    def start(job: Job) -> None:
        invoker.start(function_arn, job)

    return start


def _poll_lake(detector: Detector, lake: LakeSettings, base: boto3.Session) -> RunReport:
    lake_session = (
        aws.assumed_session(lake.read_role_arn, "sgrevert-detect", base, policy=LAKE_POLICY)
        if lake.read_role_arn
        else base
    )
    region = lake.event_data_store_region
    cloudtrail = aws.client(
        "cloudtrail", lake_session, **({"region_name": region} if region else {})
    )
    return detector.poll_lake(
        LakeQuery(cloudtrail),
        lake.event_data_store_id,
        timedelta(minutes=lake.lookback_minutes),
    )


def _time_left(context: LambdaContext | None) -> Any:
    if context is not None and hasattr(context, "get_remaining_time_in_millis"):
        return lambda: context.get_remaining_time_in_millis() / 1000.0
    started = datetime.now(UTC)
    return lambda: DEFAULT_TIME_BUDGET_SECONDS - (datetime.now(UTC) - started).total_seconds()
