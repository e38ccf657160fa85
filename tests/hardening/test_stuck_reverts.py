"""A Deny whose revert never finished (every asynchronous attempt failed, or its event
expired) is not left saying "reverting…": a later scheduled run records it REVERT_FAILED,
says why, and shows it, so Deny can retry. Reverts that may still be running are left."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sandbox.slack_api import SlackStandIn
from sgrevert import blocks
from sgrevert.detector import STUCK_REVERT_AFTER, Detector
from sgrevert.model import Direction, Rule, SourceKind, State
from sgrevert.policy import Policy
from sgrevert.settings import SlackSettings
from sgrevert.slack import ChannelPoster, SlackCredentials, web_client
from sgrevert.store import ChangeStore
from tests.hardening.conftest import CHANNEL, quiet
from tests.integration.groups import MEMBER_ACCOUNT, make_change
from tests.support import BOT_TOKEN, REGION

NOW = datetime.now(UTC).replace(microsecond=0)


def poster(slack: SlackStandIn) -> ChannelPoster:
    client = web_client(SlackSettings("unused", slack.api_url), SlackCredentials(BOT_TOKEN, "-"))
    return ChannelPoster(client, CHANNEL)


def denied(store: ChangeStore, slack: SlackStandIn, n: int, decided: datetime) -> str:
    """A posted change someone denied at `decided`, its message saying "reverting…"."""
    rule = Rule(Direction.INGRESS, "tcp", 22, 22, SourceKind.CIDR_IPV4, "0.0.0.0/0", f"sgr-{n}")
    change = make_change(MEMBER_ACCOUNT, REGION, f"sg-{n:017x}", [rule])
    store.record_new(change, decided)
    message = blocks.message(store.require(change.event_id))
    channel, ts = poster(slack).post(message.text, message.blocks)
    store.mark_posted(change.event_id, channel, ts, decided)
    store.decide(change.event_id, State.DENIED, "U0ALICE", decided)
    return change.event_id


def detector(store: ChangeStore, slack: SlackStandIn) -> Detector:
    return Detector(store, poster(slack), lambda: NOW, lambda: 300.0, policy=Policy())


def test_a_deny_whose_revert_never_finished_ends_failed_and_offers_deny_again(
    change_store: ChangeStore, slack: SlackStandIn
) -> None:
    stuck = denied(change_store, slack, 1, NOW - STUCK_REVERT_AFTER - timedelta(minutes=1))
    running = denied(change_store, slack, 2, NOW - timedelta(minutes=5))

    with quiet():
        report = detector(change_store, slack).retry_unposted()

    assert report.stuck_reverts == 1
    failed = change_store.require(stuck)
    assert failed.state is State.REVERT_FAILED
    assert failed.outcome is not None and "did not finish" in failed.outcome
    assert change_store.require(running).state is State.DENIED  # may still be reverting
    [update] = slack.updates
    assert update.ts == failed.slack_ts
    shown = str(update.blocks)
    assert "deny" in shown and "did not finish" in shown  # Deny is offered again
    # and Deny retries it: the record takes a new decision
    assert change_store.decide(stuck, State.DENIED, "U0BOB", NOW).state is State.DENIED


def test_a_revert_that_finished_meanwhile_is_left_as_it_ended(
    change_store: ChangeStore, slack: SlackStandIn
) -> None:
    event_id = denied(change_store, slack, 3, NOW - timedelta(hours=2))
    change_store.finish_revert(event_id, True, "1 rule revoked", NOW)

    with quiet():
        report = detector(change_store, slack).retry_unposted()

    assert report.stuck_reverts == 0
    assert change_store.require(event_id).state is State.REVERTED
    assert slack.updates == []
