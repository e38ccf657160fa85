"""The detector's surroundings, shared by the integration tests that run revertsg-1:
the CloudTrail Lake stand-in with one organization event data store, the Slack stand-in
and the environment the handler reads. A module that needs another Lake (page sizes) or
Slack (workspace members) defines its own fixture of the same name."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sandbox.lake import LakeStandIn
from sandbox.slack_api import SlackStandIn
from sgrevert import detect
from tests.support import BOT_TOKEN

CHANNEL = "C0SECURITY"


@pytest.fixture
def lake() -> Iterator[LakeStandIn]:
    with LakeStandIn(page_size=1000, running_polls=1) as stand_in:
        yield stand_in


@pytest.fixture
def slack() -> Iterator[SlackStandIn]:
    with SlackStandIn(bot_token=BOT_TOKEN) as stand_in:
        yield stand_in


@pytest.fixture
def data_store(lake: LakeStandIn) -> str:
    return lake.create_event_data_store("org-trail")


@pytest.fixture
def detector_env(
    monkeypatch: pytest.MonkeyPatch,
    table_name: str,
    slack_secret_arn: str,
    lake: LakeStandIn,
    slack: SlackStandIn,
    data_store: str,
) -> Iterator[None]:
    """revertsg-1's environment: the Lake stand-in, the Slack stand-in, moto."""
    monkeypatch.setenv("TABLE_NAME", table_name)
    monkeypatch.setenv("SLACK_SECRET_ARN", slack_secret_arn)
    monkeypatch.setenv("SLACK_CHANNEL_ID", CHANNEL)
    monkeypatch.setenv("SLACK_API_URL", slack.api_url)
    monkeypatch.setenv("EVENT_DATA_STORE", data_store)
    monkeypatch.setenv("AWS_ENDPOINT_URL_CLOUDTRAIL", lake.endpoint_url)
    detect.reset()
    yield
    detect.reset()
