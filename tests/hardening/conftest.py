"""Hardening: a hypothesis profile and one cheap world per test function.

Each property generates thousands of requests or records against state created once per
test function (one moto table, one recorded change): examples are compared with what the
table held before, so a fresh world per example is never needed.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, settings
from moto.dynamodb.models import DynamoDBBackend

from sandbox.slack_api import SlackStandIn
from sgrevert import blocks, respond
from sgrevert.model import ChangeRecord, Direction, Rule, SourceKind
from sgrevert.store import ChangeStore
from tests.integration.groups import MEMBER_ACCOUNT, NOW, make_change
from tests.support import BOT_TOKEN, REGION

CHANNEL = "C0SECURITY"

settings.register_profile(
    "hardening",
    deadline=None,
    derandomize=False,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
settings.load_profile("hardening")


@dataclass
class World:
    """The responder's surroundings and the one change every generated request aims at."""

    store: ChangeStore
    table: Any
    slack: SlackStandIn
    record: ChangeRecord
    blocks: list[dict[str, Any]]
    writes: list[str] = field(default_factory=list)  # every DynamoDB write moto received

    def item(self) -> dict[str, Any]:
        """The change's item exactly as stored (consistent read)."""
        key = {"pk": f"change#{self.record.event_id}"}
        return dict(self.table.get_item(Key=key, ConsistentRead=True)["Item"])

    def items(self) -> list[dict[str, Any]]:
        return list(self.table.scan(ConsistentRead=True)["Items"])


WRITES = ("put_item", "update_item", "delete_item", "transact_write_items", "batch_write_item")


def _count_writes(monkeypatch: pytest.MonkeyPatch, seen: list[str]) -> None:
    """Record every write moto's DynamoDB receives (moto runs in this process): a rejected
    request must not even try to write."""

    def counted(name: str, original: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(original)
        def write(*args: Any, **kwargs: Any) -> Any:
            seen.append(name)
            return original(*args, **kwargs)

        return write

    for name in WRITES:
        monkeypatch.setattr(DynamoDBBackend, name, counted(name, getattr(DynamoDBBackend, name)))


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Thousands of refusals log a warning each; keep errors, drop the rest, for speed.
    (Powertools' child loggers carry their own level, so levels on parents would not do.)"""
    logging.disable(logging.WARNING)
    try:
        yield
    finally:
        logging.disable(logging.NOTSET)


@pytest.fixture
def slack() -> Iterator[SlackStandIn]:
    with SlackStandIn(bot_token=BOT_TOKEN) as stand_in:
        yield stand_in


@pytest.fixture
def world(
    monkeypatch: pytest.MonkeyPatch,
    table_name: str,
    change_store: ChangeStore,
    slack_secret_arn: str,
    slack: SlackStandIn,
) -> Iterator[World]:
    """A pending, posted change and the responder's settings; the Responder is built once."""
    monkeypatch.setenv("TABLE_NAME", table_name)
    monkeypatch.setenv("SLACK_SECRET_ARN", slack_secret_arn)
    monkeypatch.setenv("SLACK_API_URL", slack.api_url)
    monkeypatch.setenv("SPOKE_ROLE_NAME", "spoke-001")
    monkeypatch.delenv("HUB_ROLE_ARN", raising=False)
    monkeypatch.delenv("APPROVERS", raising=False)
    # Nothing here may start a revert: an invoke would go nowhere and fail loudly.
    monkeypatch.setenv("AWS_ENDPOINT_URL_LAMBDA", "http://127.0.0.1:9")
    rule = Rule(Direction.INGRESS, "tcp", 22, 22, SourceKind.CIDR_IPV4, "203.0.113.0/24", "sgr-1")
    change = make_change(MEMBER_ACCOUNT, REGION, "sg-0123456789abcdef0", [rule])
    assert change_store.record_new(change, NOW)
    message = blocks.message(change_store.require(change.event_id))
    assert message.blocks
    change_store.mark_posted(change.event_id, CHANNEL, "1700000000.000100", NOW)
    respond.reset()
    built = World(
        change_store,
        boto3.resource("dynamodb").Table(table_name),
        slack,
        change_store.require(change.event_id),
        message.blocks,
    )
    _count_writes(monkeypatch, built.writes)
    with quiet():
        yield built
    respond.reset()
