# ruff: noqa: F811  (fixtures shared with test_respond and test_temporary are imported by name)
"""The policy's review rules end to end: reminders of undecided changes, fail-closed
denies, self-approval and two-person approvals.

The detector posts each change as it does in production (its fail-closed deadline set,
then the responder asked to arm the change's schedules through the Lambda stand-in), the
responder's real handler takes the schedules' own input and signed clicks, and the
detector's scheduled run is the backstop. Time is one clock moved by hand and shared by
both functions. A schedule "fires" as EventBridge Scheduler fires a one-time schedule:
once its Invoke is accepted it deletes itself (ActionAfterCompletion DELETE), and the
function runs its input.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from sandbox.clicks import SlackUser
from sandbox.lambda_api import LambdaStandIn
from sandbox.slack_api import Ephemeral, SlackStandIn
from sgrevert import respond
from sgrevert.context import ActorInfo, ChangeContext, Via
from sgrevert.detector import Detector, RunReport
from sgrevert.expiry_schedule import deny_name, expiry_name, nudge_name
from sgrevert.model import DENY_UNDECIDED, REMIND_BY, ChangeRecord, Direction, State, Step, iso
from sgrevert.policy import Policy, parse_policy
from sgrevert.responder import Responder
from sgrevert.selfinvoke import DenyUndecidedJob, Job, NudgeJob, SelfInvoker
from sgrevert.settings import SlackSettings
from sgrevert.slack import ChannelPoster, SlackCredentials, web_client
from sgrevert.store import BATCH_PREFIX
from sgrevert.undecided import UNDECIDED_GRACE
from tests.integration.groups import NOW, Group
from tests.integration.test_respond import (  # noqa: F401 (fixtures)
    ALICE,
    BOB,
    CHANNEL,
    FUNCTION,
    FUNCTION_ARN,
    Desk,
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
from tests.integration.test_temporary import (  # noqa: F401 (fixtures)
    HOUR,
    SCHEDULE_GROUP,
    SCHEDULER_ROLE_ARN,
    WHERE,
    Clock,
    Writes,
    at_once,
    choose,
    clock,
    fire,
    payload,
    replies,
    revokes,
    schedule,
    schedule_names,
    scheduler,
)
from tests.support import BOT_TOKEN, LambdaContext

MINUTE = timedelta(minutes=1)
ONCALL = "S0SECONCALL"  # a user group
CAROL = "U0CAROL"  # a user
REMIND_HIGH = {
    "at_or_above": "high",
    "after_minutes": 30,
    "every_minutes": 60,
    "times": 3,
    "escalate_to": [ONCALL, CAROL],
}
REMIND_ONCE = {"at_or_above": "high", "after_minutes": 30, "escalate_to": [ONCALL]}
FAIL_CLOSED = {"deny_if_undecided_after": {"critical": 30}}
TWO_PERSON = {"approvals_required": {"critical": 2}}


# -- the world: both functions under one policy and one clock ----------------------------------


@dataclass
class Review:
    """The detector and the responder under one policy, on one clock."""

    desk: Desk
    detector: Detector
    clock: Clock
    scheduler: Any
    lambdas: LambdaStandIn

    @property
    def slack(self) -> SlackStandIn:
        return self.desk.slack

    def post(
        self, group: Group, *ports: int, risk: str = "critical", actor: str | None = None
    ) -> list[ChangeRecord]:
        """Changes to `group` (one per port), recorded at the clock's time rated `risk` and
        posted by the detector's run (one message; a group message for several, as a burst
        of one actor), with whatever it handed the responder run. `actor`: the Slack user
        the changes' actor maps to, as the detector's context read keeps it."""
        store = self.desk.store
        ids = []
        for port in ports:
            change = group.change(group.authorize(Direction.INGRESS, port, "203.0.113.0/24"))
            assert store.record_new(change, self.clock(), risk=risk)
            if actor is not None:
                who = ActorInfo(Via.CONSOLE, f"{actor.lower()}@example.com", actor)
                store.set_context(change.event_id, ChangeContext(self.clock(), actor=who))
            ids.append(change.event_id)
        report = RunReport()
        self.detector.post_pending(ids, report)
        assert report.posted == len(ports)
        self.lambdas.wait_idle()
        return [store.require(event_id) for event_id in ids]

    def sweep(self) -> RunReport:
        """The detector's scheduled run, and what it handed the responder run."""
        report = self.detector.retry_unposted()
        self.lambdas.wait_idle()
        return report

    def take(self, name: str) -> dict[str, Any]:
        """The schedule `name` as EventBridge Scheduler fires it: it is due, its Invoke is
        accepted and it deletes itself; the clock is moved to its time. Returns it, for
        `fire` to run its input (as often as a test delivers it)."""
        found = schedule(self.scheduler, name)
        self.clock.now = max(self.clock.now, at_of(found))
        self.scheduler.delete_schedule(Name=name, GroupName=SCHEDULE_GROUP)
        return found

    def record(self, record: ChangeRecord) -> ChangeRecord:
        return self.desk.store.require(record.event_id)

    def told(self, user: SlackUser) -> list[str]:
        """The private replies `user` got, in words."""
        return [words(e) for e in self.slack.ephemerals if e.user == user.id]


@pytest.fixture
def review(
    desk: Desk,
    monkeypatch: pytest.MonkeyPatch,
    clock: Clock,
    scheduler: Any,
    slack: SlackStandIn,
    lambdas: LambdaStandIn,
) -> Iterator[Callable[[dict[str, Any]], Review]]:
    """`review(policy)`: revertsg-2 deployed with `policy` (its schedule group and scheduler
    role) on the test's clock, and the detector under the same policy handing its jobs to
    it through Lambda, as `detect.handler` wires it with REVERT_FUNCTION_ARN."""

    def open_review(document: dict[str, Any]) -> Review:
        text = json.dumps(document)
        policy: Policy = parse_policy(text)
        monkeypatch.setenv("POLICY", text)
        monkeypatch.setenv("SCHEDULER_ROLE_ARN", SCHEDULER_ROLE_ARN)
        monkeypatch.setenv("EXPIRY_SCHEDULE_GROUP", SCHEDULE_GROUP)
        respond.reset(Responder.from_env(clock=clock))
        client = web_client(
            SlackSettings("unused", slack.api_url), SlackCredentials(BOT_TOKEN, "-")
        )
        invoker = SelfInvoker(boto3.client("lambda"))

        def start(job: Job) -> None:
            invoker.start(FUNCTION_ARN, job)

        detector = Detector(
            desk.store,
            ChannelPoster(client, CHANNEL),
            clock,
            lambda: 300.0,
            policy=policy,
            start_revert=start,
        )
        return Review(desk, detector, clock, scheduler, lambdas)

    yield open_review
    respond.reset()


def at_of(found: dict[str, Any]) -> datetime:
    """When a one-time schedule fires: its `at(...)` in UTC."""
    expression = str(found["ScheduleExpression"])
    assert found["ScheduleExpressionTimezone"] == "UTC"
    return datetime.strptime(expression, "at(%Y-%m-%dT%H:%M:%S)").replace(tzinfo=UTC)


def words(message: Ephemeral) -> str:
    return json.dumps([message.text, message.blocks], ensure_ascii=False)


def steps(record: ChangeRecord) -> list[Step]:
    return [t.step for t in record.history]


def deliver(job: Job) -> dict[str, Any]:
    """An asynchronous invocation of revertsg-2 with `job` (a retry, a duplicate delivery)."""
    result: dict[str, Any] = respond.handler(job.to_event(), LambdaContext(FUNCTION))
    return result


def jobs_sent(lambdas: LambdaStandIn) -> list[dict[str, Any]]:
    """What the detector (or the responder) handed to revertsg-2, beyond reverts."""
    return [i.payload for i in lambdas.invocations if i.payload.get("sgrevert") != "revert"]


# -- reminders -------------------------------------------------------------------------------


def test_given_an_undecided_high_change_then_it_is_reminded_on_time_the_right_number_of_times(
    review: Callable[[dict[str, Any]], Review], group: Group
) -> None:
    """Given a policy reminding of high changes 30 minutes after the post, then every hour,
    3 times, mentioning the on-call user group and Carol, when a high and a medium change
    are posted and nobody decides, then the high one's reminder schedule fires at +30 min,
    +1 h 30 and +2 h 30, each time a thread reply mentions both, then no schedule is
    left and the detector's later runs owe nothing; the medium one gets no schedule."""
    world = review({"remind": REMIND_HIGH})
    [record] = world.post(group, 22, risk="high")
    [medium] = world.post(Group.create(name="other"), 8080, risk="medium")

    assert schedule_names(world.scheduler) == {nudge_name(record.event_id, 1)}
    assert jobs_sent(world.lambdas) == [{"sgrevert": "arm", "event_id": record.event_id}]
    expected = [NOW + 30 * MINUTE, NOW + 90 * MINUTE, NOW + 150 * MINUTE]
    for number, due in enumerate(expected, start=1):
        found = world.take(nudge_name(record.event_id, number))
        assert at_of(found) == due
        assert (found["Target"]["Arn"], found["Target"]["RoleArn"]) == (
            FUNCTION_ARN,
            SCHEDULER_ROLE_ARN,
        )
        assert found["ActionAfterCompletion"] == "DELETE"
        assert json.loads(found["Target"]["Input"]) == {
            "sgrevert": "nudge",
            "event_id": record.event_id,
            "number": number,
        }
        assert fire(found)["reminded"] == 1

    assert schedule_names(world.scheduler) == set()
    reminded = world.record(record)
    assert (reminded.state, reminded.nudges) == (State.PENDING, 3)
    nudged = [t for t in reminded.history if t.step is Step.NUDGED]
    assert [(t.at, t.by, t.to) for t in nudged] == [
        (at, REMIND_BY, (ONCALL, CAROL)) for at in expected
    ]
    assert [t.why for t in nudged] == [f"reminder {n} of 3" for n in (1, 2, 3)]
    thread = [text_of(reply) for reply in replies(world.slack, record)]
    assert len(thread) == 3
    assert all(f"<!subteam^{ONCALL}>" in reply and f"<@{CAROL}>" in reply for reply in thread)
    assert replies(world.slack, medium) == []

    world.clock.advance(HOUR * 24)
    assert world.sweep().undecided_overdue == 0
    assert world.record(record).nudges == 3


def test_given_a_group_message_when_its_reminder_fires_then_the_group_is_reminded_once(
    review: Callable[[dict[str, Any]], Review], group: Group
) -> None:
    """Given two high changes posted as one group message and a policy reminding once, when
    the group's reminder fires, then both members count it and the thread has one reply
    for them, mentioning the user group."""
    world = review({"remind": REMIND_ONCE})
    members = world.post(group, 22, 3389, risk="high")
    batch = members[0].batch
    assert batch is not None and members[1].batch == batch
    about = f"{BATCH_PREFIX}{batch}"
    assert schedule_names(world.scheduler) == {nudge_name(about, 1)}

    found = world.take(nudge_name(about, 1))

    assert at_of(found) == NOW + 30 * MINUTE
    assert fire(found)["reminded"] == 2
    assert {world.record(m).nudges for m in members} == {1}
    [reminder] = replies(world.slack, members[0])
    assert f"<!subteam^{ONCALL}>" in text_of(reminder)
    assert schedule_names(world.scheduler) == set()  # one reminder in all


def test_given_a_reminder_delivered_twice_or_overlapping_the_sweep_then_each_number_is_posted_once(
    review: Callable[[dict[str, Any]], Review],
    group: Group,
    lambdas: LambdaStandIn,
    atomic_writes: None,
) -> None:
    """Given a change reminded 3 times: when reminder 1 is delivered twice at once
    (Lambda's at-least-once delivery), one delivery reminds; when reminder 2's schedule
    is late and the detector's run hands it over first, the schedule's firing after finds
    it sent; when reminder 3 fires late as the detector's run comes, and both are retried,
    it is sent once. Three reminders in all, in the record and in the thread."""
    world = review({"remind": REMIND_HIGH})
    [record] = world.post(group, 22, risk="high")
    about = record.event_id

    first = world.take(nudge_name(about, 1))
    twice = at_once(lambda: fire(first), lambda: fire(copy.deepcopy(first)))
    assert sorted(r["reminded"] for r in twice) == [0, 1]
    assert len(replies(world.slack, record)) == 1

    second = world.take(nudge_name(about, 2))
    world.clock.now = at_of(second) + UNDECIDED_GRACE + MINUTE
    assert world.sweep().undecided_overdue == 1
    assert NudgeJob(about, 2).to_event() in jobs_sent(lambdas)
    assert fire(second)["reminded"] == 0
    assert len(replies(world.slack, record)) == 2

    third = world.take(nudge_name(about, 3))
    world.clock.now = at_of(third) + UNDECIDED_GRACE + MINUTE
    at_once(lambda: fire(third), world.sweep)
    lambdas.wait_idle()
    assert fire(third)["reminded"] == 0
    assert deliver(NudgeJob(about, 3))["reminded"] == 0

    reminded = world.record(record)
    assert reminded.nudges == 3
    assert [t.why for t in reminded.history if t.step is Step.NUDGED] == [
        f"reminder {n} of 3" for n in (1, 2, 3)
    ]
    assert len(replies(world.slack, record)) == 3
    assert schedule_names(world.scheduler) == set()


def test_given_a_change_decided_after_a_reminder_then_no_more_reminders_come(
    review: Callable[[dict[str, Any]], Review], group: Group
) -> None:
    """Given a change reminded once of 3, when Alice approves it, then the next reminder's
    firing posts nothing and schedules nothing, and the detector's runs owe nothing."""
    world = review({"remind": REMIND_HIGH})
    [record] = world.post(group, 22, risk="high")
    assert fire(world.take(nudge_name(record.event_id, 1)))["reminded"] == 1

    assert choose(world.desk, record, ALICE, "approve")["statusCode"] == 200
    thread = len(replies(world.slack, record))

    assert fire(world.take(nudge_name(record.event_id, 2)))["reminded"] == 0

    approved = world.record(record)
    assert (approved.state, approved.nudges) == (State.APPROVED, 1)
    assert len(replies(world.slack, record)) == thread
    assert schedule_names(world.scheduler) == set()
    world.clock.advance(HOUR * 24)
    assert world.sweep().undecided_overdue == 0


# -- fail closed -----------------------------------------------------------------------------


def test_given_a_critical_change_undecided_at_its_deadline_then_it_is_denied_by_policy_and_reverted(
    review: Callable[[dict[str, Any]], Review], group: Group, ec2_writes: Writes
) -> None:
    """Given a policy failing critical changes closed after 30 minutes, when one is posted
    and nobody decides, then its message shows the deadline, its deny schedule fires then,
    and the change is DENIED by the policy and reverted: its rule revoked on EC2, REVERTED
    by `policy:deny_if_undecided_after`, the decision and the revert in its history and
    its thread, and the message without buttons."""
    world = review(FAIL_CLOSED)
    [record] = world.post(group, 22)
    deadline = NOW + 30 * MINUTE
    assert record.deny_at == deadline
    assert f"<!date^{int(deadline.timestamp())}^" in text_of(world.desk.message(record))
    assert schedule_names(world.scheduler) == {deny_name(record.event_id)}
    found = world.take(deny_name(record.event_id))
    assert at_of(found) == deadline
    assert json.loads(found["Target"]["Input"]) == {
        "sgrevert": "deny_undecided",
        "event_id": record.event_id,
        "deadline": iso(deadline),
    }
    setup = len(ec2_writes())

    result = fire(found)

    assert (result["denied"], result["reverted"]) == (1, True)
    done = world.record(record)
    assert (done.state, done.decided_by) == (State.REVERTED, DENY_UNDECIDED)
    assert done.outcome == f"1 rule revoked in {WHERE}"
    assert record.change.rules[0].rule_id not in group.rule_ids()
    assert len(revokes(ec2_writes()[setup:])) == 1
    assert steps(done) == [Step.POSTED, Step.DECIDED, Step.REVERTED]
    decided = done.history[1]
    assert (decided.at, decided.by, decided.why) == (
        deadline,
        DENY_UNDECIDED,
        "denied: not approved within 30 min",
    )
    thread = [text_of(reply) for reply in replies(world.slack, record)]
    assert len(thread) == 2
    assert "30 min" in thread[0]
    assert f"1 rule revoked in {WHERE}" in thread[1]
    assert buttons(world.desk.message(record)) == set()
    assert done.history_posted == 3


def test_given_the_deny_schedule_missing_then_the_detectors_run_denies_it_once_past_the_grace(
    review: Callable[[dict[str, Any]], Review], group: Group, lambdas: LambdaStandIn
) -> None:
    """Given a fail-closed change whose deny schedule is gone (deleted, never made), when
    the detector's run comes within the grace after the deadline, then it sends nothing;
    when it comes after, it hands the deny to the responder, which reverts the change as
    the schedule would have."""
    world = review(FAIL_CLOSED)
    [record] = world.post(group, 22)
    deadline = NOW + 30 * MINUTE
    world.scheduler.delete_schedule(Name=deny_name(record.event_id), GroupName=SCHEDULE_GROUP)
    world.clock.now = deadline + UNDECIDED_GRACE

    early = world.sweep()

    assert early.undecided_overdue == 0
    assert world.record(record).state is State.PENDING
    world.clock.advance(MINUTE)

    late = world.sweep()

    assert late.undecided_overdue == 1
    assert DenyUndecidedJob(record.event_id, deadline).to_event() in jobs_sent(lambdas)
    done = world.record(record)
    assert (done.state, done.decided_by) == (State.REVERTED, DENY_UNDECIDED)
    assert record.change.rules[0].rule_id not in group.rule_ids()
    assert world.sweep().undecided_overdue == 0


@pytest.mark.parametrize("order", ["at once", "approve first", "deadline first"])
def test_given_a_late_approve_racing_the_fail_closed_deny_then_exactly_one_wins(
    review: Callable[[dict[str, Any]], Review],
    group: Group,
    lambdas: LambdaStandIn,
    ec2_writes: Writes,
    atomic_writes: None,
    order: str,
) -> None:
    """Given a fail-closed change at its deadline, when Bob's Approve arrives as the deny
    schedule fires (at once, or either landing first), then the conditional writes
    decide: either it is APPROVED by Bob and its rule kept (the firing denies nothing),
    or it is reverted by the policy (one revoke) and Bob is told privately; never both."""
    world = review(FAIL_CLOSED)
    [record] = world.post(group, 22)
    click = form(payload(world.desk, record, BOB, "approve"))
    found = world.take(deny_name(record.event_id))
    setup = len(ec2_writes())

    if order == "at once":
        fired, _ = at_once(lambda: fire(found), lambda: world.desk.send(click))
    elif order == "approve first":
        world.desk.send(click)
        fired = fire(found)
    else:
        fired = fire(found)
        world.desk.send(click)
    lambdas.wait_idle()

    done = world.record(record)
    assert steps(done).count(Step.DECIDED) == 1
    if order == "approve first" or (order == "at once" and done.state is State.APPROVED):
        assert (done.state, done.decided_by) == (State.APPROVED, BOB.id)
        assert fired["denied"] == 0
        assert record.change.rules[0].rule_id in group.rule_ids()
        assert revokes(ec2_writes()[setup:]) == []
        assert world.told(BOB) == []
    else:
        assert (done.state, done.decided_by) == (State.REVERTED, DENY_UNDECIDED)
        assert fired["denied"] == 1
        assert record.change.rules[0].rule_id not in group.rule_ids()
        assert len(revokes(ec2_writes()[setup:])) == 1
        assert len(world.told(BOB)) == 1


# -- self-approval -----------------------------------------------------------------------------


def test_given_the_actors_own_change_when_they_approve_then_it_is_refused_but_their_deny_reverts_it(
    review: Callable[[dict[str, Any]], Review], group: Group, lambdas: LambdaStandIn
) -> None:
    """Given a change whose actor maps to Bob and the default `self_approval: false`, when
    Bob clicks Approve, then Allow for… 1 h, then each is refused: nothing written, no
    schedule, the message unchanged, and Bob alone is told privately to ask another
    approver; when Bob clicks Deny, it is denied by him and reverted."""
    world = review({})
    [record] = world.post(group, 22, actor=BOB.id)
    edits = len(world.slack.updates)

    assert choose(world.desk, record, BOB, "approve")["statusCode"] == 200
    assert choose(world.desk, record, BOB, "approve_for", "1 h")["statusCode"] == 200

    assert world.record(record) == record
    assert schedule_names(world.scheduler) == set()
    assert len(world.slack.updates) == edits
    assert [e.user for e in world.slack.ephemerals] == [BOB.id, BOB.id]
    assert all("ask another approver" in told for told in world.told(BOB))

    assert choose(world.desk, record, BOB, "deny")["statusCode"] == 200
    lambdas.wait_idle()

    done = world.record(record)
    assert (done.state, done.decided_by) == (State.REVERTED, BOB.id)
    assert record.change.rules[0].rule_id not in group.rule_ids()


def test_given_an_approval_for_a_while_when_the_actor_extends_or_keeps_it_then_it_is_refused(
    review: Callable[[dict[str, Any]], Review], group: Group
) -> None:
    """Given Bob's change that Alice allowed for an hour, when Bob clicks Extend… +1 h and
    Keep permanently, then both are refused privately and the approval still ends when
    Alice set it to."""
    world = review({})
    [record] = world.post(group, 22, actor=BOB.id)
    assert choose(world.desk, record, ALICE, "approve_for", "1 h")["statusCode"] == 200
    allowed = world.record(record)

    assert choose(world.desk, record, BOB, "extend_for", "+1 h")["statusCode"] == 200
    assert choose(world.desk, record, BOB, "keep_permanently")["statusCode"] == 200

    assert world.record(record) == allowed
    assert allowed.approved_until == NOW + HOUR
    expiry = schedule(world.scheduler, expiry_name(record.event_id))
    assert at_of(expiry) == NOW + HOUR
    assert len(world.told(BOB)) == 2
    assert all("ask another approver" in told for told in world.told(BOB))


def test_given_self_approval_allowed_when_the_actor_approves_then_their_change_is_approved(
    review: Callable[[dict[str, Any]], Review], group: Group
) -> None:
    """Given `self_approval: true`, when Bob approves his own change, then it is APPROVED by
    him and its rule stays."""
    world = review({"self_approval": True})
    [record] = world.post(group, 22, actor=BOB.id)

    assert choose(world.desk, record, BOB, "approve")["statusCode"] == 200

    approved = world.record(record)
    assert (approved.state, approved.decided_by) == (State.APPROVED, BOB.id)
    assert world.told(BOB) == []
    assert record.change.rules[0].rule_id in group.rule_ids()


# -- two-person approval -----------------------------------------------------------------------


def test_given_a_change_needing_two_approvers_when_two_approve_then_it_is_approved_by_both(
    review: Callable[[dict[str, Any]], Review], group: Group
) -> None:
    """Given critical changes need two approvers, when Alice approves, then it stays
    PENDING with her approval counted (1 of 2, in the thread); when Bob approves, it is
    APPROVED by him with both approvals in its history and the thread naming both."""
    world = review(TWO_PERSON)
    [record] = world.post(group, 22)

    assert choose(world.desk, record, ALICE, "approve")["statusCode"] == 200

    half = world.record(record)
    assert (half.state, half.approvers, half.approvals_needed) == (State.PENDING, (ALICE.id,), 2)
    assert steps(half) == [Step.POSTED, Step.APPROVAL]
    assert (half.history[1].by, half.history[1].why) == (ALICE.id, "1 of 2")
    assert "1 of 2" in text_of(replies(world.slack, record)[-1])
    assert "approve" in buttons(world.desk.message(record))  # still open to the second

    world.clock.advance(5 * MINUTE)
    assert choose(world.desk, record, BOB, "approve")["statusCode"] == 200

    done = world.record(record)
    assert (done.state, done.decided_by, done.approved_until) == (State.APPROVED, BOB.id, None)
    assert done.approvers == (ALICE.id, BOB.id)
    assert [(t.step, t.by) for t in done.history] == [
        (Step.POSTED, None),
        (Step.APPROVAL, ALICE.id),
        (Step.DECIDED, BOB.id),
    ]
    thread = [text_of(reply) for reply in replies(world.slack, record)]
    assert len(thread) == 2
    assert "<@U0ALICE>" in thread[1] and "<@U0BOB>" in thread[1]
    assert buttons(world.desk.message(record)) == set()
    assert record.change.rules[0].rule_id in group.rule_ids()


def test_given_one_approval_of_two_when_the_same_user_approves_again_then_it_counts_once(
    review: Callable[[dict[str, Any]], Review], group: Group
) -> None:
    """Given Alice's approval of a change needing two, when she clicks Approve and Allow
    for… 1 h again, then it stays PENDING with one approval, and she alone is told
    privately to ask another approver."""
    world = review(TWO_PERSON)
    [record] = world.post(group, 22)
    assert choose(world.desk, record, ALICE, "approve")["statusCode"] == 200
    half = world.record(record)

    assert choose(world.desk, record, ALICE, "approve")["statusCode"] == 200
    assert choose(world.desk, record, ALICE, "approve_for", "1 h")["statusCode"] == 200

    assert world.record(record) == half
    assert half.approvers == (ALICE.id,)
    assert [e.user for e in world.slack.ephemerals] == [ALICE.id, ALICE.id]
    assert all("ask another approver" in told for told in world.told(ALICE))
    assert schedule_names(world.scheduler) == set()


def test_given_one_approval_of_two_when_another_user_denies_then_the_deny_wins_at_once(
    review: Callable[[dict[str, Any]], Review], group: Group, lambdas: LambdaStandIn
) -> None:
    """Given Alice's approval of a change needing two, when Bob clicks Deny, then it is
    denied by him and reverted: one Deny is enough."""
    world = review(TWO_PERSON)
    [record] = world.post(group, 22)
    assert choose(world.desk, record, ALICE, "approve")["statusCode"] == 200

    assert choose(world.desk, record, BOB, "deny")["statusCode"] == 200
    lambdas.wait_idle()

    done = world.record(record)
    assert (done.state, done.decided_by) == (State.REVERTED, BOB.id)
    assert reverts(lambdas) == [
        {"sgrevert": "revert", "event_id": record.event_id, "denied_by": BOB.id}
    ]
    assert record.change.rules[0].rule_id not in group.rule_ids()


def test_given_two_approvals_for_a_while_then_the_shortest_duration_holds_from_the_last(
    review: Callable[[dict[str, Any]], Review], group: Group
) -> None:
    """Given a change needing two approvers, when Alice allows it for 1 h and, ten minutes
    later, Bob for 8 h, then it is APPROVED until an hour after Bob's approval (the
    shortest chosen, from the last approval), and its expiry schedule fires then."""
    world = review(TWO_PERSON)
    [record] = world.post(group, 22)
    assert choose(world.desk, record, ALICE, "approve_for", "1 h")["statusCode"] == 200
    assert world.record(record).state is State.PENDING
    assert schedule_names(world.scheduler) == set()  # nothing to expire yet
    world.clock.advance(10 * MINUTE)

    assert choose(world.desk, record, BOB, "approve_for", "8 h")["statusCode"] == 200

    until = NOW + 10 * MINUTE + HOUR
    done = world.record(record)
    assert (done.state, done.decided_by, done.approved_until) == (State.APPROVED, BOB.id, until)
    assert [a.duration for a in done.approvals] == [HOUR, 8 * HOUR]
    assert done.history[-1].step is Step.ALLOWED_UNTIL and done.history[-1].until == until
    expiry = schedule(world.scheduler, expiry_name(record.event_id))
    assert at_of(expiry) == until
    assert json.loads(expiry["Target"]["Input"]) == {
        "sgrevert": "expire",
        "event_id": record.event_id,
        "deadline": iso(until),
    }
