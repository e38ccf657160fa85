"""Parsing a verified click and wording the replies to clicks that change nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import pytest

from sgrevert.errors import AlreadyDecided, NotDecidable, UnknownChange
from sgrevert.interaction import (
    BadInteraction,
    NotAllowed,
    check_approver,
    explain,
    parse_click,
)
from sgrevert.model import Actor, Change, ChangeRecord, State

EVENT_ID = "6f1c2b0e-8a2d-4c47-9d1e-3b5a7f0c9e21"


def payload(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "type": "block_actions",
        "user": {"id": "U0ALICE", "username": "alice", "team_id": "T0SANDBOX"},
        "container": {"type": "message", "message_ts": "1700000000.000100", "channel_id": "C0SEC"},
        "channel": {"id": "C0SEC", "name": "security-changes"},
        "response_url": "https://hooks.slack.com/actions/T0/1/abc",
        "actions": [{"action_id": "deny", "value": EVENT_ID, "type": "button"}],
    }
    base.update(overrides)
    return base


def form(data: Any) -> str:
    return urlencode({"payload": json.dumps(data)})


def record(
    state: State, decided_by: str | None = "U0ALICE", outcome: str | None = None
) -> ChangeRecord:
    change = Change(
        event_id=EVENT_ID,
        event_name="AuthorizeSecurityGroupIngress",
        event_time=datetime(2026, 11, 27, 12, 0, tzinfo=UTC),
        account="111122223333",
        region="eu-west-1",
        group_id="sg-1",
        actor=Actor(arn="arn:aws:iam::111122223333:user/dev", type="IAMUser"),
    )
    return ChangeRecord(
        change=change,
        state=state,
        recorded_at=change.event_time,
        decided_by=decided_by,
        decided_at=datetime(2026, 11, 27, 12, 5, tzinfo=UTC),
        outcome=outcome,
    )


def test_given_a_deny_click_when_parsed_then_it_names_the_change_user_and_message() -> None:
    click = parse_click(form(payload()))
    assert click.decision is State.DENIED
    assert (click.event_id, click.user_id, click.user_name) == (EVENT_ID, "U0ALICE", "alice")
    assert (click.channel_id, click.message_ts) == ("C0SEC", "1700000000.000100")


def test_given_an_approve_click_without_a_channel_object_when_parsed_then_the_container_is_used() -> (
    None
):
    data = payload(actions=[{"action_id": "approve", "value": EVENT_ID}])
    del data["channel"]
    click = parse_click(form(data))
    assert (click.decision, click.channel_id) == (State.APPROVED, "C0SEC")


@pytest.mark.parametrize(
    "body",
    [
        "",
        "payload=",
        "payload=not-json",
        form([1, 2]),
        form(payload(type="view_submission")),
        form(payload(type="interactive_message")),
        form(payload(actions=[])),
        form(payload(actions=[{"action_id": "deny", "value": EVENT_ID}] * 2)),
        form(payload(actions=["deny"])),
        form(payload(actions=[{"action_id": "delete", "value": EVENT_ID}])),
        form(payload(actions=[{"action_id": ["deny"], "value": EVENT_ID}])),
        form(payload(actions=[{"action_id": "deny"}])),
        form(payload(actions=[{"action_id": "deny", "value": ""}])),
        form(payload(actions=[{"action_id": "deny", "value": "x" * 500}])),
        form(payload(actions=[{"action_id": "deny", "value": "ev 1\n"}])),
        form(payload(user={"id": "alice"})),
        form(payload(user="U0ALICE")),
        form(payload(channel={"id": "not a channel"}, container={})),
        urlencode([("payload", json.dumps(payload())), ("payload", json.dumps(payload()))]),
    ],
    ids=lambda body: body[:40],
)
def test_given_anything_but_one_approve_or_deny_click_when_parsed_then_it_is_rejected(
    body: str,
) -> None:
    with pytest.raises(BadInteraction):
        parse_click(body)


def test_given_no_approvers_when_anyone_clicks_then_they_may_decide() -> None:
    check_approver("U0ANYONE", frozenset())
    check_approver("U0ALICE", frozenset({"U0ALICE"}))
    with pytest.raises(NotAllowed):
        check_approver("U0MALLORY", frozenset({"U0ALICE"}))


def test_given_each_refusal_when_explained_then_the_clicker_learns_why() -> None:
    not_allowed = explain(NotAllowed("U0MALLORY", frozenset({"U0BOB", "U0ALICE"})))
    assert "not allowed" in not_allowed
    assert "<@U0ALICE>, <@U0BOB>" in not_allowed
    assert "no longer on record" in explain(UnknownChange(EVENT_ID))
    assert "for information" in explain(NotDecidable(record(State.INFO, None)))
    approved = explain(AlreadyDecided(record(State.APPROVED)))
    assert approved.startswith("<@U0ALICE> already approved this change at 2026-11-27 12:05 UTC")
    assert "revert is under way" in explain(AlreadyDecided(record(State.DENIED)))
    assert "rules were revoked" in explain(AlreadyDecided(record(State.REVERTED)))
    failed = explain(AlreadyDecided(record(State.REVERT_FAILED, outcome="AccessDenied <x>")))
    assert "AccessDenied &lt;x&gt;" in failed
    assert "Click Deny to retry" in failed
