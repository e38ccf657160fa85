# ruff: noqa: F811  (fixtures shared with test_respond are imported by name)
"""Approvals for a while through revertsg-2's real handler: signed clicks on Allow for…,
Extend…, Keep permanently and Revert now, the schedules they set on moto's EventBridge
Scheduler, and the schedules' own input fired back through the handler.

Time is the responder's injected clock, moved by hand: "an hour later" is `clock.advance`,
never a wait. The Slack stand-in keeps each thread reply's `thread_ts`; the Lambda
stand-in runs the asynchronous invocations (the revert, a handed-over step) in the same
handler. EC2 writes are counted from moto's request recorder (`ec2_writes`).
"""

from __future__ import annotations

import copy
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

import boto3
import pytest
from slack_sdk import WebClient

from sandbox.clicks import SlackUser, block_actions_payload
from sandbox.lambda_api import LambdaStandIn
from sandbox.slack_api import PostedMessage, SlackStandIn
from sgrevert import blocks, respond
from sgrevert.deadline import ANSWER_BUDGET_SECONDS
from sgrevert.expiry_schedule import expiry_name, reminder_name
from sgrevert.model import ChangeRecord, Direction, State, Step
from sgrevert.responder import Responder
from sgrevert.store import BATCH_PREFIX
from tests.integration.groups import MEMBER_ACCOUNT, NOW, Group
from tests.integration.test_respond import (  # noqa: F401 (fixtures)
    ALICE,
    BOB,
    CHANNEL,
    FUNCTION,
    FUNCTION_ARN,
    SPOKE_ROLE_ARN,
    Desk,
    api_event,
    assumed_roles,
    buttons,
    desk,
    env,
    form,
    group,
    lambdas,
    reverts,
    slack,
    text_of,
)
from tests.support import BOT_TOKEN, REGION, SECURITY_ACCOUNT, LambdaContext

SCHEDULER_ROLE_ARN = f"arn:aws:iam::{SECURITY_ACCOUNT}:role/sgrevert-scheduler"
SCHEDULE_GROUP = "sgrevert"
HOUR = timedelta(hours=1)
DEADLINE = NOW + HOUR
REMIND_AT = DEADLINE - timedelta(minutes=6)  # a tenth of the hour before it
WHERE = f"{MEMBER_ACCOUNT} / {REGION}"
TEMPORARY_BUTTONS = {"revert_now", "extend_for", "keep_permanently"}

Writes = Callable[[], list[dict[str, str]]]


# -- the world: a clock moved by hand, the scheduler, clicks on selects ------------------------


class Clock:
    """The responder's clock: it reads `now`, which only the test moves."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, by: timedelta) -> None:
        self.now += by


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def scheduler(aws: str) -> Any:
    """moto's EventBridge Scheduler, with the stack's schedule group."""
    client = boto3.client("scheduler")
    client.create_schedule_group(Name=SCHEDULE_GROUP)
    return client


@pytest.fixture
def timed(env: None, monkeypatch: pytest.MonkeyPatch, clock: Clock, scheduler: Any) -> None:
    """revertsg-2 with temporary approvals configured, on the test's clock."""
    monkeypatch.setenv("SCHEDULER_ROLE_ARN", SCHEDULER_ROLE_ARN)
    monkeypatch.setenv("EXPIRY_SCHEDULE_GROUP", SCHEDULE_GROUP)
    respond.reset(Responder.from_env(clock=clock))


@pytest.fixture
def errors() -> Iterator[list[logging.LogRecord]]:
    """The error records the responder logs (what the alarms' metric filters match)."""
    seen: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record)

    handler = Keep(logging.ERROR)
    logger = logging.getLogger("sgrevert-respond")
    logger.addHandler(handler)
    yield seen
    logger.removeHandler(handler)


def choose(
    desk: Desk,
    record: ChangeRecord,
    user: SlackUser,
    action: str,
    option: str | None = None,
    *,
    on: PostedMessage | None = None,
) -> dict[str, Any]:
    """`user` clicks `action` (choosing `option` in a select) on the change's message as it
    is now, or on the thread reply `on`; and what the answer handed over has run (on a
    loaded machine the schedules, the edit or the thread may not fit in the answer)."""
    answer = desk.send(form(payload(desk, record, user, action, option, on=on)))
    desk.lambdas.wait_idle()
    return answer


def payload(
    desk: Desk,
    record: ChangeRecord,
    user: SlackUser,
    action: str,
    option: str | None = None,
    *,
    on: PostedMessage | None = None,
) -> dict[str, Any]:
    message = on or desk.message(record)
    return block_actions_payload(
        user=user,
        channel=CHANNEL,
        ts=message.ts,
        text=message.text,
        blocks=message.blocks,
        action_id=action,
        response_url=desk.slack.new_response_url(CHANNEL, message.ts),
        option=option,
        thread_ts=message.thread_ts,
    )


def schedule(scheduler: Any, name: str) -> dict[str, Any]:
    found: dict[str, Any] = scheduler.get_schedule(Name=name, GroupName=SCHEDULE_GROUP)
    return found


def schedule_names(scheduler: Any) -> set[str]:
    listed = scheduler.list_schedules(GroupName=SCHEDULE_GROUP)["Schedules"]
    return {str(s["Name"]) for s in listed}


def fire(found: dict[str, Any]) -> dict[str, Any]:
    """What EventBridge Scheduler does at the schedule's time: invoke its target with its
    input (here straight through the handler, as the target's Lambda would run it)."""
    event = json.loads(found["Target"]["Input"])
    result: dict[str, Any] = respond.handler(event, LambdaContext(FUNCTION))
    return result


def replies(slack: SlackStandIn, record: ChangeRecord) -> list[PostedMessage]:
    """The thread replies under the change's message, in order."""
    return [m for m in slack.posted if m.thread_ts == record.slack_ts]


def revokes(writes: list[dict[str, str]]) -> list[dict[str, str]]:
    return [w for w in writes if w["Action"].startswith("RevokeSecurityGroup")]


def allowed_for_an_hour(desk: Desk, group: Group) -> ChangeRecord:
    """A change to the group, posted, and allowed by Alice for an hour at NOW."""
    record = desk.post(group.change(group.authorize(Direction.INGRESS, 22, "203.0.113.0/24")))
    assert choose(desk, record, ALICE, "approve_for", "1 h")["statusCode"] == 200
    return desk.store.require(record.event_id)


# -- Allow for…: the approval and its schedules ------------------------------------------------


def test_given_a_pending_change_when_allowed_for_an_hour_then_it_is_approved_until_then_with_its_schedules(
    desk: Desk, timed: None, group: Group, slack: SlackStandIn, scheduler: Any
) -> None:
    """Given a posted change, when Alice chooses Allow for… 1 h, then it is APPROVED by her
    until an hour from now, one-time schedules in the group expire it then (through the
    scheduler role, with the expiry's event as input) and remind her 6 minutes before,
    the message offers Revert now, Extend… and Keep permanently, and the thread says so."""
    added = group.authorize(Direction.INGRESS, 22, "203.0.113.0/24")
    record = desk.post(group.change(added))

    answer = choose(desk, record, ALICE, "approve_for", "1 h")

    assert answer["statusCode"] == 200
    allowed = desk.store.require(record.event_id)
    assert (allowed.state, allowed.decided_by, allowed.approved_until) == (
        State.APPROVED,
        ALICE.id,
        DEADLINE,
    )
    expiry = schedule(scheduler, expiry_name(record.event_id))
    assert expiry["ScheduleExpression"] == f"at({DEADLINE:%Y-%m-%dT%H:%M:%S})"
    assert expiry["ScheduleExpressionTimezone"] == "UTC"
    assert expiry["FlexibleTimeWindow"] == {"Mode": "OFF"}
    assert expiry["ActionAfterCompletion"] == "DELETE"
    assert (expiry["Target"]["Arn"], expiry["Target"]["RoleArn"]) == (
        FUNCTION_ARN,
        SCHEDULER_ROLE_ARN,
    )
    assert json.loads(expiry["Target"]["Input"]) == {
        "sgrevert": "expire",
        "event_id": record.event_id,
        "deadline": f"{DEADLINE:%Y-%m-%dT%H:%M:%S}Z",
    }
    reminder = schedule(scheduler, reminder_name(record.event_id))
    assert reminder["ScheduleExpression"] == f"at({REMIND_AT:%Y-%m-%dT%H:%M:%S})"
    assert reminder["ActionAfterCompletion"] == "DELETE"
    assert json.loads(reminder["Target"]["Input"])["sgrevert"] == "remind"
    message = desk.message(record)
    assert "Allowed by <@U0ALICE> until" in text_of(message)
    assert "(1 h)" in text_of(message)
    assert buttons(message) >= TEMPORARY_BUTTONS
    assert "approve" not in buttons(message)
    [reply] = replies(slack, record)
    assert "Allowed by <@U0ALICE> until" in text_of(reply)
    assert added[0].rule_id in group.rule_ids()


def test_given_an_approval_for_an_hour_when_its_schedule_fires_then_it_is_reverted_as_its_expiry(
    desk: Desk,
    timed: None,
    group: Group,
    slack: SlackStandIn,
    scheduler: Any,
    clock: Clock,
    aws: str,
) -> None:
    """Given a change Alice allowed for an hour, when the hour has passed and the expiry
    schedule fires with its own input, then the change is reverted as a Deny would revert
    it, in the name of her approval's expiry: REVERTED by `expiry:U0ALICE`, "approval by
    @alice expired", its rule revoked through the spoke role, and its whole history, in
    the record and in the thread, in order."""
    record = allowed_for_an_hour(desk, group)
    expiry = schedule(scheduler, expiry_name(record.event_id))
    clock.advance(HOUR)

    result = fire(expiry)

    assert (result["expired"], result["reverted"]) == (1, 1)
    done = desk.store.require(record.event_id)
    assert (done.state, done.decided_by) == (State.REVERTED, f"expiry:{ALICE.id}")
    assert done.outcome == f"1 rule revoked in {WHERE}"
    assert done.history[-2].why == "approval by U0ALICE expired"
    assert record.change.rules[0].rule_id not in group.rule_ids()
    assert (SPOKE_ROLE_ARN, "sgrevert-denied-by-expiry-U0ALICE") in assumed_roles(aws)
    assert "Approval by <@U0ALICE> expired" in text_of(desk.message(record))
    assert buttons(desk.message(record)) == set()
    assert [t.step for t in done.history] == [
        Step.POSTED,
        Step.ALLOWED_UNTIL,
        Step.EXPIRED,
        Step.REVERTED,
    ]
    assert done.history[2].at == NOW + HOUR
    assert done.history_posted == 4
    thread = [text_of(reply) for reply in replies(slack, record)]
    assert len(thread) == 3
    assert "Allowed by <@U0ALICE>" in thread[0]
    assert "Approval by <@U0ALICE> expired" in thread[1]
    assert f"1 rule revoked in {WHERE}" in thread[2]


def test_given_an_approval_for_an_hour_when_the_reminder_fires_then_the_approver_is_asked_in_the_thread(
    desk: Desk, timed: None, group: Group, slack: SlackStandIn, scheduler: Any, clock: Clock
) -> None:
    """Given a change Alice allowed for an hour, when its reminder fires 6 minutes before
    the end, then a thread reply mentions her with Extend… and Keep permanently, once
    however often the reminder fires; and Extend… +1 h on that reply moves the deadline."""
    record = allowed_for_an_hour(desk, group)
    reminder = schedule(scheduler, reminder_name(record.event_id))
    clock.advance(HOUR - timedelta(minutes=6))

    assert fire(reminder)["reminded"] == 1
    assert fire(reminder)["reminded"] == 0  # a second delivery: once per deadline

    thread = replies(slack, record)
    assert len(thread) == 2  # allowed until, then the reminder
    asked = thread[1]
    assert "<@U0ALICE>" in text_of(asked)
    assert {"extend_for", "keep_permanently"} <= buttons(asked)
    reminded = desk.store.require(record.event_id)
    assert reminded.reminded_for == DEADLINE
    assert [t.step for t in reminded.history][-1] is Step.REMINDED

    assert choose(desk, record, ALICE, "extend_for", "+1 h", on=asked)["statusCode"] == 200

    extended = desk.store.require(record.event_id)
    assert extended.approved_until == DEADLINE + HOUR
    assert "Allowed by <@U0ALICE> until" in text_of(
        desk.message(record)
    )  # the message, not the reply


# -- Extend…, Keep permanently, Revert now -----------------------------------------------------


def test_given_an_approval_for_an_hour_when_extended_then_its_schedule_moves_and_the_old_deadline_does_nothing(
    desk: Desk,
    timed: None,
    group: Group,
    slack: SlackStandIn,
    scheduler: Any,
    clock: Clock,
    ec2_writes: Writes,
) -> None:
    """Given a change Alice allowed for an hour, when Bob extends it by an hour half-way,
    then the one expiry schedule now fires at the new deadline with the new deadline as
    input, Bob is the approver, the old deadline's firing changes nothing, and the new
    one reverts it."""
    record = allowed_for_an_hour(desk, group)
    old = schedule(scheduler, expiry_name(record.event_id))
    clock.advance(HOUR / 2)

    assert choose(desk, record, BOB, "extend_for", "+1 h")["statusCode"] == 200

    extended = desk.store.require(record.event_id)
    assert (extended.state, extended.decided_by) == (State.APPROVED, BOB.id)
    assert extended.approved_until == DEADLINE + HOUR
    moved = schedule(scheduler, expiry_name(record.event_id))
    assert moved["ScheduleExpression"] == f"at({DEADLINE + HOUR:%Y-%m-%dT%H:%M:%S})"
    assert json.loads(moved["Target"]["Input"])["deadline"] == (
        f"{DEADLINE + HOUR:%Y-%m-%dT%H:%M:%S}Z"
    )
    assert moved["ActionAfterCompletion"] == "DELETE"
    remind = schedule(scheduler, reminder_name(record.event_id))
    assert (
        remind["ScheduleExpression"]
        == f"at({DEADLINE + HOUR - timedelta(minutes=9):%Y-%m-%dT%H:%M:%S})"
    )
    assert "Extended by <@U0BOB>" in text_of(replies(slack, record)[-1])
    setup = len(ec2_writes())

    clock.advance(HOUR / 2)
    assert fire(old)["expired"] == 0

    assert desk.store.require(record.event_id) == extended
    assert ec2_writes()[setup:] == []

    clock.advance(HOUR)
    assert fire(moved)["reverted"] == 1

    done = desk.store.require(record.event_id)
    assert (done.state, done.decided_by) == (State.REVERTED, f"expiry:{BOB.id}")
    assert len(revokes(ec2_writes()[setup:])) == 1


def test_given_an_approval_for_a_while_when_kept_permanently_then_its_schedules_are_deleted(
    desk: Desk,
    timed: None,
    group: Group,
    slack: SlackStandIn,
    scheduler: Any,
    clock: Clock,
    ec2_writes: Writes,
) -> None:
    """Given a change Alice allowed for an hour, when she keeps it permanently, then it is
    APPROVED for good, both its schedules are gone, a late firing of the old deadline
    changes nothing, and the thread says who kept it."""
    record = allowed_for_an_hour(desk, group)
    old = schedule(scheduler, expiry_name(record.event_id))

    assert choose(desk, record, ALICE, "keep_permanently")["statusCode"] == 200

    kept = desk.store.require(record.event_id)
    assert (kept.state, kept.approved_until, kept.decided_by) == (State.APPROVED, None, ALICE.id)
    assert schedule_names(scheduler) == set()
    assert "Approved by <@U0ALICE>" in text_of(desk.message(record))
    assert buttons(desk.message(record)) == set()
    assert "Kept permanently by <@U0ALICE>" in text_of(replies(slack, record)[-1])
    setup = len(ec2_writes())

    clock.advance(HOUR)
    assert fire(old)["expired"] == 0

    assert desk.store.require(record.event_id) == kept
    assert ec2_writes()[setup:] == []
    assert record.change.rules[0].rule_id in group.rule_ids()


def test_given_an_approval_for_a_while_when_reverted_now_then_it_is_denied_reverted_and_unscheduled(
    desk: Desk,
    timed: None,
    group: Group,
    slack: SlackStandIn,
    lambdas: LambdaStandIn,
    scheduler: Any,
    clock: Clock,
    ec2_writes: Writes,
) -> None:
    """Given a change Alice allowed for an hour, when Bob clicks Revert now, then it is
    denied by him and reverted as after a Deny (the asynchronous revert), its schedules
    are gone, and the old deadline's firing finds nothing to do."""
    record = allowed_for_an_hour(desk, group)
    old = schedule(scheduler, expiry_name(record.event_id))
    setup = len(ec2_writes())

    assert choose(desk, record, BOB, "revert_now")["statusCode"] == 200
    lambdas.wait_idle()

    done = desk.store.require(record.event_id)
    assert (done.state, done.decided_by) == (State.REVERTED, BOB.id)
    assert done.outcome == f"1 rule revoked in {WHERE}"
    assert reverts(lambdas) == [
        {"sgrevert": "revert", "event_id": record.event_id, "denied_by": BOB.id}
    ]
    assert schedule_names(scheduler) == set()
    assert "Denied by <@U0BOB>" in text_of(desk.message(record))
    thread = [text_of(reply) for reply in replies(slack, record)]
    assert "Denied by <@U0BOB>" in thread[-2]
    assert f"1 rule revoked in {WHERE}" in thread[-1]

    clock.advance(HOUR)
    assert fire(old)["expired"] == 0

    assert len(revokes(ec2_writes()[setup:])) == 1
    assert desk.store.require(record.event_id) == done


# -- what a click cannot do, and what does not fit ---------------------------------------------


def test_given_the_schedule_group_missing_when_allowed_for_a_while_then_the_approval_stands_and_the_clicker_is_told(
    desk: Desk,
    timed: None,
    group: Group,
    slack: SlackStandIn,
    scheduler: Any,
    errors: list[logging.LogRecord],
) -> None:
    """Given a deployment whose schedule group is missing, when Alice allows a change for an
    hour, then the change stays APPROVED until its deadline (the detector's sweep expires
    it), Alice is told privately why the expiry is not scheduled and what happens instead,
    and the failure is logged as the error an alarm watches."""
    scheduler.delete_schedule_group(Name=SCHEDULE_GROUP)
    record = desk.post(group.change(group.authorize(Direction.INGRESS, 22, "203.0.113.0/24")))

    assert choose(desk, record, ALICE, "approve_for", "1 h")["statusCode"] == 200

    allowed = desk.store.require(record.event_id)
    assert (allowed.state, allowed.approved_until) == (State.APPROVED, DEADLINE)
    [told] = slack.ephemerals
    assert told.user == ALICE.id
    words = json.dumps(told.blocks)
    assert "but the expiry could not be scheduled" in words
    assert "will revert it within about 15 minutes after the deadline" in words
    assert "Schedule group sgrevert does not exist" in words
    assert [e.getMessage() for e in errors] == ["expiry schedule failed"]
    assert "Allowed by <@U0ALICE> until" in text_of(desk.message(record))


def test_given_no_scheduler_role_when_allow_for_is_clicked_then_it_is_refused_and_nothing_changes(
    desk: Desk, env: None, group: Group, slack: SlackStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Given a responder without SCHEDULER_ROLE_ARN, when Alice chooses Allow for… 1 h, then
    the change stays pending and she is told temporary approvals are not set up."""
    monkeypatch.delenv("SCHEDULER_ROLE_ARN", raising=False)
    respond.reset()
    record = desk.post(group.change(group.authorize(Direction.INGRESS, 22, "203.0.113.0/24")))

    assert choose(desk, record, ALICE, "approve_for", "1 h")["statusCode"] == 200

    assert desk.store.require(record.event_id).state is State.PENDING
    [told] = slack.ephemerals
    assert "not set up" in str(told.text)
    assert slack.updates == []


def test_given_a_duration_the_policy_does_not_offer_when_chosen_then_it_is_refused_and_nothing_changes(
    desk: Desk, timed: None, group: Group, slack: SlackStandIn, scheduler: Any
) -> None:
    """Given a message offering the policy's durations, when a click arrives for 2 h (a
    message from another policy, or a forged value), then the change stays pending, no
    schedule is made, and the clicker is told which durations there are."""
    record = desk.post(group.change(group.authorize(Direction.INGRESS, 22, "203.0.113.0/24")))
    click = payload(desk, record, ALICE, "approve_for", "1 h")
    two_hours = {"text": {"type": "plain_text", "text": "2 h"}, "value": f"{record.event_id}|7200"}
    click["actions"][0]["selected_option"] = two_hours

    assert desk.send(form(click))["statusCode"] == 200

    assert desk.store.require(record.event_id).state is State.PENDING
    assert schedule_names(scheduler) == set()
    [told] = slack.ephemerals
    assert "2 h is not offered here" in str(told.text)


def test_given_no_time_left_for_the_schedules_when_allowed_for_a_while_then_they_are_handed_over(
    desk: Desk,
    timed: None,
    group: Group,
    slack: SlackStandIn,
    lambdas: LambdaStandIn,
    scheduler: Any,
) -> None:
    """Given a click whose answer is due sooner than a Scheduler call may take (plus the
    hand-over), when Alice allows the change for an hour, then the approval is recorded at
    once and an asynchronous invocation sets the schedules, edits the message and posts
    the thread."""
    record = desk.post(group.change(group.authorize(Direction.INGRESS, 22, "203.0.113.0/24")))
    event = api_event(form(payload(desk, record, ALICE, "approve_for", "1 h")))
    # API Gateway received it long enough ago that 1.5 s of the answer's budget are left.
    event["requestContext"]["requestTimeEpoch"] = int(
        (time.time() - ANSWER_BUDGET_SECONDS + 1.5) * 1000
    )

    assert respond.handler(event, LambdaContext(FUNCTION))["statusCode"] == 200

    assert desk.store.require(record.event_id).approved_until == DEADLINE
    lambdas.wait_idle()
    assert [i.payload for i in lambdas.invocations] == [
        {"sgrevert": "schedule", "event_id": record.event_id, "show": True}
    ]
    assert lambdas.invocations[0].errors == []
    expiry = schedule(scheduler, expiry_name(record.event_id))
    assert expiry["ScheduleExpression"] == f"at({DEADLINE:%Y-%m-%dT%H:%M:%S})"
    assert schedule_names(scheduler) == {
        expiry_name(record.event_id),
        reminder_name(record.event_id),
    }
    assert "Allowed by <@U0ALICE> until" in text_of(desk.message(record))
    assert len(replies(slack, record)) == 1


def test_given_a_thread_reply_slack_failed_when_the_next_step_comes_then_it_is_posted_first_and_once(
    desk: Desk, timed: None, group: Group, slack: SlackStandIn, lambdas: LambdaStandIn
) -> None:
    """Given a change allowed for an hour whose thread reply Slack failed (the click had no
    time left, so an asynchronous invocation set the schedules and posted it, and Slack
    answered 500), when Alice keeps it permanently, then the missed step is posted before
    the new one, each once, and both are counted as posted."""
    record = desk.post(group.change(group.authorize(Direction.INGRESS, 22, "203.0.113.0/24")))
    event = api_event(form(payload(desk, record, ALICE, "approve_for", "1 h")))
    event["requestContext"]["requestTimeEpoch"] = int((time.time() - ANSWER_BUDGET_SECONDS) * 1000)
    slack.fail("chat.postMessage", times=1, status=500)

    assert respond.handler(event, LambdaContext(FUNCTION))["statusCode"] == 200
    lambdas.wait_idle()

    assert [i.payload["sgrevert"] for i in lambdas.invocations] == ["schedule"]
    assert replies(slack, record) == []
    assert desk.store.require(record.event_id).history_posted == 0  # nothing counted

    assert choose(desk, record, ALICE, "keep_permanently")["statusCode"] == 200

    thread = [text_of(reply) for reply in replies(slack, record)]
    assert len(thread) == 2
    assert "Allowed by <@U0ALICE>" in thread[0]
    assert "Kept permanently by <@U0ALICE>" in thread[1]
    assert desk.store.require(record.event_id).history_posted == 3


# -- races: one revert ------------------------------------------------------------------------


def at_once(*calls: Callable[[], Any]) -> list[Any]:
    start = threading.Barrier(len(calls))

    def run(call: Callable[[], Any]) -> Any:
        start.wait()
        return call()

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def test_given_two_firings_of_one_deadline_when_they_race_then_one_reverts(
    desk: Desk,
    timed: None,
    group: Group,
    slack: SlackStandIn,
    scheduler: Any,
    clock: Clock,
    ec2_writes: Writes,
    atomic_writes: None,
) -> None:
    """Given a change allowed for an hour, when its schedule and the detector's sweep fire
    for the deadline at the same moment, then one of them reverts it and the other does
    nothing: one revoke, one expiry in the history, each step once in the thread."""
    record = allowed_for_an_hour(desk, group)
    expiry = schedule(scheduler, expiry_name(record.event_id))
    clock.advance(HOUR + timedelta(minutes=5))
    setup = len(ec2_writes())

    results = at_once(lambda: fire(expiry), lambda: fire(copy.deepcopy(expiry)))

    assert sorted(r["expired"] for r in results) == [0, 1]
    assert len(revokes(ec2_writes()[setup:])) == 1
    done = desk.store.require(record.event_id)
    assert done.state is State.REVERTED
    assert [t.step for t in done.history].count(Step.EXPIRED) == 1
    assert len(replies(slack, record)) == 3  # allowed, expired, reverted


def test_given_revert_now_racing_the_expiry_when_both_arrive_then_one_reverts(
    desk: Desk,
    timed: None,
    group: Group,
    lambdas: LambdaStandIn,
    scheduler: Any,
    clock: Clock,
    ec2_writes: Writes,
    atomic_writes: None,
) -> None:
    """Given a change allowed for an hour, when Bob clicks Revert now as the deadline's
    schedule fires, then the conditional writes decide: exactly one of them denies it and
    one revoke is made; the other is told or does nothing."""
    record = allowed_for_an_hour(desk, group)
    expiry = schedule(scheduler, expiry_name(record.event_id))
    click = form(payload(desk, record, BOB, "revert_now"))
    clock.advance(HOUR)
    setup = len(ec2_writes())

    at_once(lambda: fire(expiry), lambda: desk.send(click))
    lambdas.wait_idle()

    done = desk.store.require(record.event_id)
    assert done.state is State.REVERTED
    assert done.decided_by in (BOB.id, f"expiry:{ALICE.id}")
    assert len(revokes(ec2_writes()[setup:])) == 1
    assert len(reverts(lambdas)) == (1 if done.decided_by == BOB.id else 0)


# -- a group message ----------------------------------------------------------------------------


def post_group(desk: Desk, group: Group, ports: list[int]) -> tuple[str, list[ChangeRecord]]:
    """Changes to one group posted together in one group message, as the detector does."""
    batch_id = uuid.uuid4().hex[:12]
    changes = [group.change(group.authorize(Direction.INGRESS, p, "203.0.113.0/24")) for p in ports]
    for change in changes:
        assert desk.store.record_new(change, NOW)
    desk.store.save_batch(batch_id, [c.event_id for c in changes], NOW)
    message = blocks.batch_message(batch_id, desk.store.batch_records(batch_id))
    posted = WebClient(token=BOT_TOKEN, base_url=desk.slack.api_url).chat_postMessage(
        channel=CHANNEL, text=message.text, blocks=message.blocks
    )
    for change in changes:
        desk.store.mark_posted(change.event_id, CHANNEL, str(posted["ts"]), NOW, batch=batch_id)
    return batch_id, desk.store.batch_records(batch_id)


def test_given_a_group_message_when_allowed_for_an_hour_then_expired_then_every_member_is_reverted(
    desk: Desk,
    timed: None,
    group: Group,
    slack: SlackStandIn,
    scheduler: Any,
    clock: Clock,
    ec2_writes: Writes,
) -> None:
    """Given two changes posted in one group message, when Alice allows the group for an
    hour, is reminded, and the group's schedule fires at the deadline, then both are
    approved until then under one schedule, both are reverted by the expiry, and the
    thread holds the shared steps once (one reminder) and each member's revert on its own."""
    batch_id, members = post_group(desk, group, [22, 3389])
    first = members[0]

    assert choose(desk, first, ALICE, "approve_for", "1 h")["statusCode"] == 200

    allowed = desk.store.batch_records(batch_id)
    assert {(r.state, r.approved_until) for r in allowed} == {(State.APPROVED, DEADLINE)}
    about = f"{BATCH_PREFIX}{batch_id}"
    assert schedule_names(scheduler) == {expiry_name(about), reminder_name(about)}
    assert buttons(desk.message(first)) >= TEMPORARY_BUTTONS
    expiry = schedule(scheduler, expiry_name(about))
    assert json.loads(expiry["Target"]["Input"])["event_id"] == about
    clock.advance(HOUR - timedelta(minutes=6))
    assert fire(schedule(scheduler, reminder_name(about)))["reminded"] == 2
    reminder = replies(slack, first)[-1]
    assert "<@U0ALICE>" in text_of(reminder)
    assert buttons(reminder) == set()  # a group is extended or kept on its message
    setup = len(ec2_writes())
    clock.advance(timedelta(minutes=6))

    result = fire(expiry)

    assert (result["expired"], result["reverted"]) == (2, 2)
    done = desk.store.batch_records(batch_id)
    assert {(r.state, r.decided_by) for r in done} == {(State.REVERTED, f"expiry:{ALICE.id}")}
    assert len(revokes(ec2_writes()[setup:])) == 2
    assert group.rule_ids() & {r.change.rules[0].rule_id for r in done} == set()
    assert "Approval by <@U0ALICE> expired" in text_of(desk.message(first))
    thread = [text_of(reply) for reply in replies(slack, first)]
    assert len(thread) == 5  # allowed, reminded and expired once, a revert each
    assert "Allowed by <@U0ALICE>" in thread[0]
    assert "expired" in thread[2]
    assert all(f"1 rule revoked in {WHERE}" in reply for reply in thread[3:])
    assert {r.history_posted for r in done} == {5}
