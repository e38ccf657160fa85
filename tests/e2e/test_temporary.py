"""Approvals for a while over the sandbox: Allow for… 1 h on a posted change, its reminder
and its expiry, each fired by its EventBridge Scheduler schedule when the sandbox's clock
is advanced (`Sandbox.advance`: no waiting), and the history in the message's thread.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from sandbox.servers import ALICE, BOB, ERIN, Sandbox
from sgrevert.model import State, Step
from tests.e2e.story import Made, authorize, buttons, rule_ids, shown

pytestmark = pytest.mark.e2e

HOUR = timedelta(hours=1)
REMINDER = timedelta(minutes=6)  # a tenth of the hour before its end
TEMPORARY_BUTTONS = ["revert_now", "extend_for", "keep_permanently"]


def allowed_for_an_hour(box: Sandbox) -> Made:
    """SSH from anywhere on web, detected, posted and allowed by alice for 1 h."""
    made = authorize(box, "web", "0.0.0.0/0", 22, who=ERIN.email, description="debugging")
    box.deliver_trail()
    assert box.run_detector()["posted"] == 1
    answer = box.click(made.event_id, "approve_for", ALICE, option="1 h")
    assert answer.status_code == 200, answer.text
    box.wait_for_reverts()
    return made


def step_names(box: Sandbox, event_id: str) -> list[Step]:
    return [t.step for t in box.record(event_id).history]


def test_an_approval_for_an_hour_reminds_its_approver_then_expires_through_its_schedule(
    box: Sandbox,
) -> None:
    """Given SSH from anywhere on web, posted, when alice picks Allow for… 1 h, then it is
    approved until an hour from now with its two one-time schedules; when the clock moves
    55 minutes, the reminder's schedule fires and the thread mentions alice (and erin, who
    made the change); when it moves past the deadline, the expiry's schedule fires and the
    change is reverted as alice's approval expiring: its rule is gone, the message says so,
    no schedule is left, and the thread holds every step."""
    before = rule_ids(box, "web")
    started = box.clock()

    made = allowed_for_an_hour(box)

    # Then it is approved until an hour from the click, on the message and in the record
    record = box.record(made.event_id)
    assert record.state is State.APPROVED
    assert record.decided_by == ALICE.id
    assert record.approved_until is not None
    deadline = record.approved_until
    assert started + HOUR - timedelta(seconds=1) <= deadline <= box.clock() + HOUR
    text = shown(box, made.event_id)
    assert f"Allowed by <@{ALICE.id}> until" in text and "(1 h)" in text
    assert deadline.strftime("%H:%M UTC") in text
    assert buttons(box.posted(made.event_id).message.blocks) == TEMPORARY_BUTTONS
    # and the Scheduler holds its expiry and its reminder, targeting the responder
    schedules = box.schedules()
    assert [(s.name.split("-")[0], s.at) for s in schedules] == [
        ("remind", (deadline - REMINDER).replace(microsecond=0)),
        ("expire", deadline.replace(microsecond=0)),
    ]
    assert {s.target_arn for s in schedules} == {box.respond_arn}
    assert {s.role_arn for s in schedules} == {box.scheduler_role_arn}
    assert all(s.delete_after for s in schedules)
    assert set(made.rule_ids) <= rule_ids(box, "web")

    # When 55 minutes pass
    reminded = box.advance(timedelta(minutes=55))

    # Then the reminder's schedule fired (and deleted itself) and alice is reminded in the
    # thread, erin too; the change is still allowed
    assert [(f.schedule.name.split("-")[0], f.delivered) for f in reminded] == [("remind", True)]
    assert [s.name.split("-")[0] for s in box.schedules()] == ["expire"]
    reminder = box.thread(made.event_id)[-1]
    assert f"<@{ALICE.id}>" in (reminder.text or "") and f"<@{ERIN.slack.id}>" in (
        reminder.text or ""
    )
    assert "extend_for" in buttons(reminder.blocks)
    assert box.record(made.event_id).state is State.APPROVED
    assert set(made.rule_ids) <= rule_ids(box, "web")

    # When the deadline passes
    expired = box.advance(timedelta(minutes=10))

    # Then the expiry's schedule fired with the deadline it was set for, and the change
    # is reverted as the expiry of alice's approval
    assert [f.schedule.name.split("-")[0] for f in expired] == ["expire"]
    assert expired[0].schedule.event == {
        "sgrevert": "expire",
        "event_id": made.event_id,
        "deadline": deadline.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    record = box.record(made.event_id)
    assert record.state is State.REVERTED, record.outcome
    assert record.decided_by == f"expiry:{ALICE.id}"
    assert rule_ids(box, "web") == before
    assert box.schedules() == []
    text = shown(box, made.event_id)
    assert "expired" in text.lower()
    assert buttons(box.posted(made.event_id).message.blocks) == []
    # and the record's history and the thread tell every step, in order
    assert step_names(box, made.event_id) == [
        Step.POSTED,
        Step.ALLOWED_UNTIL,
        Step.REMINDED,
        Step.EXPIRED,
        Step.REVERTED,
    ]
    thread = [m.text or "" for m in box.thread(made.event_id)]
    assert len(thread) == 4, thread
    assert thread[0].startswith(":white_check_mark: Allowed by") and "(1 h)" in thread[0]
    assert "expired" in thread[2] and "Reverted" in thread[3]
    # and the responder ran each firing once, without an error
    fired = [
        i for i in box.lambdas.invocations if i.payload.get("sgrevert") in ("remind", "expire")
    ]
    assert [(i.payload["sgrevert"], i.invocation_type, i.errors) for i in fired] == [
        ("remind", "Event", []),
        ("expire", "Event", []),
    ]


def test_extended_from_its_reminder_an_approval_outlives_its_first_deadline(
    box: Sandbox,
) -> None:
    """Given a change allowed for 1 h and its reminder posted, when bob picks Extend… +1 h
    on the reminder, then the first deadline passes with nothing fired and the rule kept,
    and the expiry fires at the new deadline, an hour later, and reverts it."""
    made = allowed_for_an_hour(box)
    first = box.record(made.event_id).approved_until
    assert first is not None
    box.advance(timedelta(minutes=55))
    reminder = box.thread(made.event_id)[-1]

    answer = box.click(made.event_id, "extend_for", BOB, option="+1 h", reply=reminder)
    assert answer.status_code == 200, answer.text
    box.wait_for_reverts()

    # Then the deadline is an hour later and the expiry schedule moved with it
    record = box.record(made.event_id)
    assert record.state is State.APPROVED
    assert record.approved_until == first + HOUR
    expiry = next(s for s in box.schedules() if s.name.startswith("expire-"))
    assert expiry.at == (first + HOUR).replace(microsecond=0)
    # when the first deadline passes, nothing fires and the rule stays
    assert [f.schedule.name for f in box.advance(timedelta(minutes=10))] == []
    assert box.record(made.event_id).state is State.APPROVED
    assert set(made.rule_ids) <= rule_ids(box, "web")
    # when the new one passes, its reminder and then its expiry fire, and it is reverted
    fired = box.advance(HOUR)
    assert [f.schedule.name.split("-")[0] for f in fired] == ["remind", "expire"]
    record = box.record(made.event_id)
    assert record.state is State.REVERTED, record.outcome
    assert (record.decided_by or "").startswith("expiry:")
    assert not set(made.rule_ids) & rule_ids(box, "web")
    assert Step.EXTENDED in step_names(box, made.event_id)


def test_an_approval_whose_schedule_is_gone_is_expired_by_the_detectors_sweep(
    box: Sandbox,
) -> None:
    """Given a change allowed for 1 h whose schedules were deleted (by hand, say), when
    the clock passes the deadline nothing fires; when it is more than the grace past and
    the detector's scheduled run sweeps, on the same clock, then it hands the expiry to the
    responder, which reverts the change as the approval's expiry."""
    made = allowed_for_an_hour(box)
    scheduler = box.org.session(box.org.security).client("scheduler", endpoint_url=box.moto_url)
    for schedule in box.schedules():
        scheduler.delete_schedule(Name=schedule.name, GroupName=schedule.group)

    assert box.advance(HOUR + timedelta(minutes=2)) == []
    assert box.record(made.event_id).state is State.APPROVED

    box.advance(timedelta(minutes=5))
    report = box.run_detector()
    box.wait_for_reverts()

    # Then the sweep sent one late expiry and the responder reverted the change
    assert report["late_expiries"] == 1
    record = box.record(made.event_id)
    assert record.state is State.REVERTED, record.outcome
    assert record.decided_by == f"expiry:{ALICE.id}"
    assert not set(made.rule_ids) & rule_ids(box, "web")
