"""revertsg-1: the scheduled detector. Thin: settings, adapters, one call into Detector."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from sgrevert import aws
from sgrevert.detector import Detector
from sgrevert.lake import LakeQuery
from sgrevert.settings import DetectSettings
from sgrevert.slack import ChannelPoster, load_credentials, web_client
from sgrevert.store import ChangeStore

logger = Logger(service="sgrevert-detect")

# Without a Lambda context (a local run), behave as a 5-minute function would.
DEFAULT_TIME_BUDGET_SECONDS = 300.0


@cache
def settings() -> DetectSettings:
    """Read once per cold start; a bad setting fails every invocation with its name."""
    return DetectSettings.from_env()


def reset() -> None:
    """Forget cached settings, for processes that change the environment between runs."""
    settings.cache_clear()


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    config = settings()
    base = aws.session()
    lake_session = (
        aws.assumed_session(config.lake_read_role_arn, "sgrevert-detect", base)
        if config.lake_read_role_arn
        else base
    )
    slack = web_client(config.slack, load_credentials(config.slack.secret_arn))
    detector = Detector(
        store=ChangeStore(aws.table(config.table_name, base)),
        poster=ChannelPoster(slack, config.channel_id),
        clock=lambda: datetime.now(UTC),
        time_left=_time_left(context),
    )
    region = config.event_data_store_region
    cloudtrail = aws.client(
        "cloudtrail", lake_session, **({"region_name": region} if region else {})
    )
    report = detector.poll_lake(
        LakeQuery(cloudtrail),
        config.event_data_store_id,
        timedelta(minutes=config.lookback_minutes),
    )
    return report.as_dict()


def _time_left(context: LambdaContext | None) -> Any:
    if context is not None and hasattr(context, "get_remaining_time_in_millis"):
        return lambda: context.get_remaining_time_in_millis() / 1000.0
    started = datetime.now(UTC)
    return lambda: DEFAULT_TIME_BUDGET_SECONDS - (datetime.now(UTC) - started).total_seconds()
