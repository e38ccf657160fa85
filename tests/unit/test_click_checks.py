"""Whether a click counts: from the change's workspace, channel and message (pure)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from sgrevert.click_checks import approvers_of, check_place
from sgrevert.errors import WrongPlace
from sgrevert.interaction import Action, Click, explain
from sgrevert.model import Actor, Change, ChangeRecord, State

NOW = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)
POSTED = ChangeRecord(
    Change(
        event_id="ev-1",
        event_name="AuthorizeSecurityGroupIngress",
        event_time=NOW,
        account="111122223333",
        region="eu-west-1",
        group_id="sg-1",
        actor=Actor(arn="arn:aws:iam::111122223333:user/alice", type="IAMUser"),
    ),
    State.PENDING,
    NOW,
    slack_channel="C0PAYMENTS",
    slack_ts="1700000000.000100",
)
CLICK = Click(
    action=Action.APPROVE,
    event_id="ev-1",
    user_id="U0BOB",
    user_name="bob",
    channel_id="C0PAYMENTS",
    message_ts="1700000000.000100",
    team_id="T0ACME",
)


def test_a_click_on_the_changes_message_counts() -> None:
    check_place(CLICK, POSTED, "T0ACME")
    check_place(CLICK, POSTED, None)


def test_a_click_in_the_messages_thread_counts() -> None:
    reply = replace(CLICK, message_ts="1700000100.000200", thread_ts=POSTED.slack_ts)
    check_place(reply, POSTED, "T0ACME")


@pytest.mark.parametrize(
    ("click", "posted", "where"),
    [
        (replace(CLICK, team_id="T0OTHER"), POSTED, "workspace"),
        (replace(CLICK, team_id=None), POSTED, "workspace"),
        (replace(CLICK, channel_id="C0SECURITY"), POSTED, "channel"),
        (replace(CLICK, message_ts="1700000999.000100"), POSTED, "message"),
        (replace(CLICK, message_ts=None), POSTED, "message"),
        (CLICK, replace(POSTED, slack_ts=None, slack_channel=None), "message"),
    ],
)
def test_a_click_from_anywhere_else_is_refused_saying_where(
    click: Click, posted: ChangeRecord, where: str
) -> None:
    with pytest.raises(WrongPlace) as refused:
        check_place(click, posted, "T0ACME")
    assert refused.value.where == where
    assert "Nothing was changed" in explain(refused.value)


def test_a_routes_approvers_decide_and_the_default_ones_never_override_them() -> None:
    routed = replace(POSTED, route="payments", route_approvers=("S0PAYLEADS",))
    assert approvers_of(routed, ("U0DEFAULT",)) == ("S0PAYLEADS",)
    assert approvers_of(POSTED, ("U0DEFAULT",)) == ("U0DEFAULT",)
