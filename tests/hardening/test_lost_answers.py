"""Slack failing while the detector posts: every change ends posted exactly once.

The hard case is a post Slack made whose answer never arrived (a timeout, a dropped
connection, a 5xx after the fact, or the run dying mid-post): posting again would make a
second message, not posting would lose the change. The detector finds such posts in the
channel by the attempt id in their metadata. Faults are injected in the Slack stand-in,
which the detector reaches through slack_sdk, as in production.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sandbox.slack_api import SlackStandIn
from sgrevert.detector import POST_EVENT_TYPE, Detector, RunReport, post_metadata
from sgrevert.policy import Policy
from sgrevert.settings import SlackSettings
from sgrevert.slack import ChannelPoster, SlackCredentials, web_client
from sgrevert.store import ChangeStore
from tests.hardening.conftest import CHANNEL, quiet
from tests.integration.test_noise_control import trail_record
from tests.support import BOT_TOKEN

# A slow answer hangs far past the client's timeout (the stand-in ends the hang when it
# stops), so the client always gives up first, however loaded the machine: no race. The
# timeout itself is generous for the answers that are not slowed, which take milliseconds.
CLIENT_TIMEOUT = 1.0  # seconds
SLOW = 120.0


def detector(
    store: ChangeStore, slack: SlackStandIn, clock: Any = None, rate_limit_retries: int = 1
) -> Detector:
    """The detector as the handler builds it (no blind resend), with a short client timeout."""
    client = web_client(
        SlackSettings("unused", slack.api_url),
        SlackCredentials(BOT_TOKEN, "-"),
        rate_limit_retries,
        resend_on_connection_error=False,
        timeout=CLIENT_TIMEOUT,
    )
    return Detector(
        store,
        ChannelPoster(client, CHANNEL),
        clock or (lambda: datetime.now(UTC)),
        lambda: 300.0,
        policy=Policy(),
    )


def run(d: Detector, records: list[dict[str, Any]] | None = None) -> RunReport:
    report = RunReport()
    with quiet():
        d.post_pending(d.record(records or [], report), report)
    return report


def change_messages(slack: SlackStandIn, since: int = 0) -> list[str]:
    """ts of every change message in the channel (run summaries carry no metadata)."""
    return [
        m.ts
        for m in slack.posted[since:]
        if m.metadata and m.metadata["event_type"] == POST_EVENT_TYPE
    ]


def assert_each_posted_exactly_once(
    store: ChangeStore, slack: SlackStandIn, event_ids: list[str], since: int = 0
) -> None:
    stamps = [store.require(e).slack_ts for e in event_ids]
    assert None not in stamps, "a change was never posted"
    messages = change_messages(slack, since)
    # no message without a change: a second message for a change would be one
    assert Counter(messages) == Counter(set(stamps))


def records(n: int, group: str = "sg-{n:017x}") -> list[dict[str, Any]]:
    """`n` changes; with a fixed group, one actor's burst (posted as one group message)."""
    return [
        trail_record(group.format(n=i), f"sgr-{i:017x}", f"10.9.{i}.0/24", 443) for i in range(n)
    ]


# (status, carried out first?, slow answer?)
LOST_ANSWERS = {
    "dropped after posting": (0, True, False),
    "500 after posting": (500, True, False),
    "503 after posting": (503, True, False),
    "timeout after posting": (200, True, True),
}
NOT_POSTED = {
    "dropped before posting": (0, False, False),
    "500 before posting": (500, False, False),
    "timeout before posting": (0, False, True),
    "429 past the retries": (429, False, False),
}


@pytest.mark.parametrize("fault", list(LOST_ANSWERS), ids=list(LOST_ANSWERS))
@pytest.mark.parametrize("size", [1, 3], ids=["one change", "a group message"])
def test_a_post_whose_answer_was_lost_is_found_in_the_channel_not_posted_again(
    change_store: ChangeStore, slack: SlackStandIn, fault: str, size: int
) -> None:
    status, after, slow = LOST_ANSWERS[fault]
    burst = records(size, group="sg-0000000000000000a")
    slack.fail("chat.postMessage", status=status, after=after, hang=SLOW if slow else 0)

    first = run(detector(change_store, slack), burst)

    assert (first.post_failed, len(change_messages(slack))) == (1, 1)  # made, not known
    second = run(detector(change_store, slack))

    assert second.posted == size
    assert_each_posted_exactly_once(change_store, slack, [r["eventID"] for r in burst])


@pytest.mark.parametrize("fault", list(NOT_POSTED), ids=list(NOT_POSTED))
def test_a_post_slack_never_made_is_made_by_the_next_run(
    change_store: ChangeStore, slack: SlackStandIn, fault: str
) -> None:
    status, _, slow = NOT_POSTED[fault]
    [change] = records(1)
    slack.fail(
        "chat.postMessage",
        times=2 if status == 429 else 1,  # the client waits out one 429
        status=status,
        hang=SLOW if slow else 0,
        retry_after=0 if status == 429 else None,
    )

    first = run(detector(change_store, slack), [change])

    assert (first.posted, first.post_failed, change_messages(slack)) == (0, 1, [])
    second = run(detector(change_store, slack))

    assert second.posted == 1
    assert_each_posted_exactly_once(change_store, slack, [change["eventID"]])


def test_a_run_that_died_after_posting_is_completed_by_the_next_once_the_claim_lapses(
    change_store: ChangeStore, slack: SlackStandIn
) -> None:
    [change] = records(1)
    d = detector(change_store, slack)
    d.record([change], RunReport())
    now = datetime.now(UTC)
    # what a run killed between its post and its write leaves: a claim and a made post
    unknown = change_store.claim_post(change["eventID"], now, timedelta(minutes=5), "900-dead")
    assert unknown == frozenset()
    poster = ChannelPoster(
        web_client(SlackSettings("unused", slack.api_url), SlackCredentials(BOT_TOKEN, "-")),
        CHANNEL,
    )
    record = change_store.require(change["eventID"])
    poster.post("posted by the dead run", [], post_metadata("900-dead", None, [record]))

    during = run(detector(change_store, slack))  # the claim still holds: nobody posts
    assert during.posted == 0
    later = detector(change_store, slack, clock=lambda: datetime.now(UTC) + timedelta(minutes=6))
    after = run(later)

    assert after.posted == 1
    assert_each_posted_exactly_once(change_store, slack, [change["eventID"]])


def test_without_the_history_scope_a_lost_answer_costs_a_second_message_never_a_lost_change(
    change_store: ChangeStore, slack: SlackStandIn
) -> None:
    slack.history_scope = False
    [change] = records(1)
    slack.fail("chat.postMessage", status=0, after=True)

    run(detector(change_store, slack), [change])
    run(detector(change_store, slack))

    assert len(change_messages(slack)) == 2
    assert change_store.require(change["eventID"]).slack_ts == change_messages(slack)[-1]


# -- the property: random faults at random points over many runs ------------------------------

FAULTS = {**LOST_ANSWERS, **NOT_POSTED, "history 503": (503, False, False)}
run_plan = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=3),  # new single changes this run
        st.integers(min_value=0, max_value=3),  # size of a new burst on one group this run
        st.lists(st.sampled_from(sorted(FAULTS)), max_size=3),  # faults, in call order
    ),
    min_size=1,
    max_size=4,
)


def test_slack_failing_at_random_points_over_many_runs_posts_every_change_exactly_once(
    change_store: ChangeStore, slack: SlackStandIn
) -> None:
    @settings(max_examples=30)
    @given(plan=run_plan)
    def property_(plan: list[tuple[int, int, list[str]]]) -> None:
        since = len(slack.posted)
        seen: list[str] = []
        for singles, burst, faults in plan:
            batch = records(singles) + records(burst, group=f"sg-{len(seen):017x}b")
            seen += [r["eventID"] for r in batch]
            for name in faults:
                status, after, slow = FAULTS[name]
                slack.fail(
                    "conversations.history" if name.startswith("history") else "chat.postMessage",
                    status=status,
                    after=after,
                    hang=SLOW if slow else 0,
                    retry_after=0 if status == 429 else None,
                )
            run(detector(change_store, slack), batch)
        slack.heal()  # Slack recovers; the next runs post whatever is left
        for _ in range(len(plan) + 1):
            if not change_store.unposted_ids():
                break
            run(detector(change_store, slack))

        assert change_store.unposted_ids() == []
        assert_each_posted_exactly_once(change_store, slack, seen, since)

    property_()
