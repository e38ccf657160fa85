"""The Slack message for a change record: content per state and Block Kit limits."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from sgrevert.blocks import (
    ACTION_APPROVE,
    ACTION_DENY,
    INFO_REASON,
    Message,
    decider,
    escape,
    message,
    notice,
    rule_line,
)
from sgrevert.cloudtrail import parse_record
from sgrevert.decidable import decidable
from sgrevert.model import Actor, Change, ChangeRecord, Direction, Rule, SourceKind, State
from tests.support import EVENTS, load_event

RECORDED = datetime(2026, 11, 27, 10, 30, tzinfo=UTC)
DECIDED = datetime(2026, 11, 27, 10, 41, tzinfo=UTC)
FIXTURES = sorted(path.stem for path in EVENTS.glob("*.json") if "failed" not in path.stem)


def change_from(name: str) -> Change:
    return parse_record(load_event(name))


def record_of(
    change: Change,
    state: State | None = None,
    decided_by: str | None = None,
    outcome: str | None = None,
) -> ChangeRecord:
    if state is None:
        state = State.PENDING if decidable(change) else State.INFO
    decided = state not in (State.PENDING, State.INFO)
    return ChangeRecord(
        change=change,
        state=state,
        recorded_at=RECORDED,
        slack_channel="C0123456789",
        slack_ts="1764239400.000100",
        decided_by=decided_by or ("U024BE7LH" if decided else None),
        decided_at=DECIDED if decided else None,
        outcome=outcome,
    )


def texts(msg: Message) -> list[str]:
    """Every piece of text in the blocks, in order."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("text"), str):
                found.append(node["text"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(msg.blocks)
    return found


def all_text(msg: Message) -> str:
    return "\n".join(texts(msg))


def actions(msg: Message) -> list[dict[str, Any]]:
    return [b for b in msg.blocks if b["type"] == "actions"]


def buttons(msg: Message) -> dict[str, dict[str, Any]]:
    return {
        e["action_id"]: e
        for block in actions(msg)
        for e in block["elements"]
        if e["type"] == "button"
    }


def selects(msg: Message) -> dict[str, dict[str, Any]]:
    return {
        e["action_id"]: e
        for block in actions(msg)
        for e in block["elements"]
        if e["type"] == "static_select"
    }


def action_ids(msg: Message) -> list[str]:
    """Every interactive element's action id, in order."""
    return [e["action_id"] for block in actions(msg) for e in block["elements"]]


def assert_within_block_kit_limits(msg: Message) -> None:
    assert 0 < len(msg.text) <= 300
    assert 0 < len(msg.blocks) <= 50
    assert len(json.dumps(msg.blocks)) < 50_000
    block_ids = [b["block_id"] for b in msg.blocks if "block_id" in b]
    assert len(block_ids) == len(set(block_ids))
    for block in msg.blocks:
        kind = block["type"]
        if kind == "header":
            assert block["text"]["type"] == "plain_text"
            assert 0 < len(block["text"]["text"]) <= 150
        elif kind == "section":
            assert "text" in block or "fields" in block
            if "text" in block:
                assert 0 < len(block["text"]["text"]) <= 3000
            fields = block.get("fields", [])
            assert len(fields) <= 10
            assert all(0 < len(f["text"]) <= 2000 for f in fields)
        elif kind == "context":
            assert 0 < len(block["elements"]) <= 10
            assert all(len(e["text"]) <= 3000 for e in block["elements"])
        elif kind == "actions":
            assert 0 < len(block["elements"]) <= 25
            ids = [element["action_id"] for element in block["elements"]]
            assert len(ids) == len(set(ids))
            for element in block["elements"]:
                assert element["type"] in ("button", "static_select")
                assert len(element["action_id"]) <= 255
                if element["type"] == "button":
                    assert 0 < len(element["text"]["text"]) <= 75
                    assert 0 < len(element["value"]) <= 2000
                else:
                    assert 0 < len(element["placeholder"]["text"]) <= 150
                    assert 0 < len(element["options"]) <= 100
                    for option in element["options"]:
                        assert 0 < len(option["text"]["text"]) <= 75
                        assert 0 < len(option["value"]) <= 150
                    values = [option["value"] for option in element["options"]]
                    assert len(values) == len(set(values))
                confirm = element.get("confirm")
                if confirm:
                    assert len(confirm["title"]["text"]) <= 100
                    assert len(confirm["text"]["text"]) <= 300
                    assert len(confirm["confirm"]["text"]) <= 30
                    assert len(confirm["deny"]["text"]) <= 30
        else:
            assert kind == "divider"


def many_rules_change(count: int) -> Change:
    base = change_from("authorize_ingress_ipv4_ipv6_multi")
    rules = tuple(
        Rule(
            direction=Direction.INGRESS,
            protocol="tcp",
            from_port=1000 + i,
            to_port=1000 + i,
            source_kind=SourceKind.CIDR_IPV4,
            source=f"10.{i // 256}.{i % 256}.0/24",
            rule_id=f"sgr-{i:017x}",
            description=f"service {i} & friends",
        )
        for i in range(count)
    )
    return replace(base, rules=rules)


# -- every fixture, every state ----------------------------------------------------------------


@pytest.mark.parametrize("state", list(State))
@pytest.mark.parametrize("name", FIXTURES)
def test_every_fixture_renders_within_block_kit_limits_in_every_state(
    name: str, state: State
) -> None:
    """Given any recorded change in any state, when rendered, then the message is valid
    Block Kit and the fallback text names the group and account."""
    change = change_from(name)

    msg = message(record_of(change, state, outcome="Revoked 1 rule."))

    assert_within_block_kit_limits(msg)
    assert change.group_id in msg.text
    assert change.account in msg.text


# -- one test per state ------------------------------------------------------------------------


def test_a_pending_change_offers_approve_and_a_confirmed_deny() -> None:
    """Given a PENDING change, then it has Approve (primary) and Deny (danger, confirmed),
    both carrying the event id."""
    change = change_from("authorize_ingress_ipv4_ipv6_multi")

    msg = message(record_of(change, State.PENDING))

    found = buttons(msg)
    assert set(found) == {ACTION_APPROVE, ACTION_DENY}
    assert found[ACTION_APPROVE]["style"] == "primary"
    assert found[ACTION_DENY]["style"] == "danger"
    assert found[ACTION_APPROVE]["value"] == found[ACTION_DENY]["value"] == change.event_id
    confirm = found[ACTION_DENY]["confirm"]
    assert "5 rules" in confirm["text"]["text"]
    assert change.group_id in confirm["text"]["text"]
    assert "awaiting review" in msg.text


def test_a_pending_change_says_what_where_who_and_when() -> None:
    """Given a PENDING change, then the message shows the event in words, the group,
    account, region, the actor and how they called, and the time."""
    change = change_from("authorize_ingress_cross_account_group")

    text = all_text(message(record_of(change)))

    assert "1 inbound rule added" in text
    for expected in (
        change.group_id,
        change.account,
        change.region,
        change.actor.arn,
        "AssumedRole",
        "arn:aws:iam::111122223333:role/terraform-apply",
        "198.51.100.200",
        "Terraform/1.9.8",
        "2026-11-27 10:06:30 UTC",
        change.event_id,
    ):
        assert expected in text, expected


def test_the_rules_are_listed_with_direction_protocol_ports_source_and_id() -> None:
    """Given a change with several rules, then each rule is listed with its details."""
    change = change_from("authorize_ingress_ipv4_ipv6_multi")

    text = all_text(message(record_of(change)))

    assert "*in* `tcp 22` from `203.0.113.10/32`" in text
    assert "*in* `tcp 443` from `::/0` (anywhere)" in text
    assert "`udp 51820` from `2001:db8:1234::/48`" in text
    for rule in change.rules:
        assert f"`{rule.rule_id}`" in text


def test_an_informational_change_has_no_buttons_and_says_why() -> None:
    """Given an INFO change (a Revoke), then there are no buttons and a line says why."""
    msg = message(record_of(change_from("revoke_ingress_by_permissions"), State.INFO))

    assert actions(msg) == []
    assert INFO_REASON in all_text(msg)
    assert "for information" in msg.text
    assert "1 inbound rule removed" in msg.text


def test_an_approved_change_names_the_approver_and_has_no_buttons() -> None:
    """Given an APPROVED change, then it says who approved it, as a mention, with no buttons."""
    msg = message(record_of(change_from("authorize_egress"), State.APPROVED, "U024BE7LH"))

    assert actions(msg) == []
    assert "Approved by <@U024BE7LH>" in all_text(msg)
    assert "approved by <@U024BE7LH>" in msg.text


def test_a_denied_change_says_it_is_being_reverted() -> None:
    """Given a DENIED change, then it says who denied it and that the revert is running."""
    msg = message(record_of(change_from("authorize_egress"), State.DENIED, "W012A3CDE"))

    assert actions(msg) == []
    assert "Denied by <@W012A3CDE>" in all_text(msg)
    assert "reverting…" in all_text(msg)
    assert "denied by <@W012A3CDE>, reverting" in msg.text


def test_a_reverted_change_shows_the_outcome() -> None:
    """Given a REVERTED change, then it shows who denied it and what the revert did."""
    outcome = "Revoked 2 rules (sgr-0f1a2b3c4d5e6f7a8, sgr-0f1a2b3c4d5e6f7a9)."
    msg = message(record_of(change_from("authorize_egress"), State.REVERTED, outcome=outcome))

    assert actions(msg) == []
    assert "Denied by <@U024BE7LH> " in all_text(msg)
    assert outcome in all_text(msg)
    assert "reverted" in msg.text


def test_a_failed_revert_shows_the_failure_and_offers_deny_again() -> None:
    """Given a REVERT_FAILED change, then it shows the failure, what to do, and only the
    Deny button, so the revert can be retried."""
    outcome = "AccessDenied assuming arn:aws:iam::444455556666:role/sgrevert-spoke"
    change = change_from("authorize_egress")

    msg = message(record_of(change, State.REVERT_FAILED, outcome=outcome))

    text = all_text(msg)
    assert outcome in text
    assert "press *Deny* again to retry" in text
    assert set(buttons(msg)) == {ACTION_DENY}
    assert buttons(msg)[ACTION_DENY]["value"] == change.event_id
    assert buttons(msg)[ACTION_DENY]["text"]["text"] == "Retry revert"
    assert "confirm" in buttons(msg)[ACTION_DENY]
    assert "revert FAILED" in msg.text


# -- who decided ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("decided_by", "expected"),
    [
        ("U024BE7LH", "<@U024BE7LH>"),
        ("W012A3CDE", "<@W012A3CDE>"),
        (
            "cli:arn:aws:iam::111122223333:user/ops",
            "operator arn:aws:iam::111122223333:user/ops from the CLI",
        ),
        ("policy:allow-office-vpn", "policy allow-office-vpn"),
        ("policy:<!channel>", "policy &lt;!channel&gt;"),
        ("expiry:U024BE7LH", "the expiry of the approval by <@U024BE7LH>"),
        (None, "someone"),
    ],
)
def test_the_decider_is_a_mention_or_plain_words(decided_by: str | None, expected: str) -> None:
    """Given who decided, then Slack users are mentioned and CLI, policy and expiry decisions
    are words."""
    assert decider(decided_by) == expected


def test_a_cli_decision_is_rendered_as_the_operator() -> None:
    """Given a change approved from the CLI, then the message names the operator, not a user."""
    msg = message(record_of(change_from("authorize_egress"), State.APPROVED, "cli:alice"))

    assert "Approved by operator alice from the CLI" in all_text(msg)
    assert "<@" not in all_text(msg)


# -- rule lines -------------------------------------------------------------------------------


def test_rule_lines_describe_each_kind_of_source() -> None:
    """Given rules of every kind, then each line says what the rule allows."""
    prefix = change_from("authorize_ingress_prefix_list")
    group = change_from("authorize_ingress_cross_account_group")
    egress = change_from("authorize_egress")
    everything = change_from("authorize_ingress_all_traffic")
    icmp = change_from("authorize_ingress_icmp")

    assert "from prefix list `pl-0123456789abcdef0`" in rule_line(prefix, prefix.rules[0])
    assert "from group `sg-0123abcd4567ef890` in account `444455556666`" in rule_line(
        group, group.rules[0]
    )
    assert rule_line(egress, egress.rules[0]).startswith("• *out* `tcp 443` to `0.0.0.0/0`")
    assert "`all traffic` from `10.0.0.0/8`" in rule_line(everything, everything.rules[0])
    assert "`icmp type 8`" in rule_line(icmp, icmp.rules[0])
    assert "`icmpv6 all`" in rule_line(icmp, icmp.rules[1])


def test_id_only_and_modified_rules_say_what_is_known() -> None:
    """Given an id-only revoked rule and a modified rule with no earlier value on record,
    then the id-only line says only the id is known and the modify line shows the rule by
    id, its new value, and that the previous one is not on record."""
    revoke = change_from("revoke_egress_by_rule_ids")
    modify = change_from("modify_rules")

    assert rule_line(revoke, revoke.rules[0]) == (
        "• rule `sgr-0f1a2b3c4d5e6f7a8` (CloudTrail recorded only its id)"
    )
    line = rule_line(modify, modify.rules[0])
    assert line == (
        "• `sgr-01a2b3c4d5e6f7082`: `tcp 22` from `198.51.100.0/25` (previous value not on "
        "record) — _office VPN (narrowed)_"
    )
    assert "*in*" not in line


# -- escaping and limits ----------------------------------------------------------------------


def test_strings_from_the_record_are_escaped() -> None:
    """Given hostile descriptions, group names and user agents, then no raw control
    sequence reaches the message."""
    base = change_from("authorize_ingress_ipv4_ipv6_multi")
    hostile = "<!channel> <https://evil.example|click> & `code`"
    change = replace(
        base,
        group_name=hostile,
        actor=replace(base.actor, user_agent=hostile, arn=hostile),
        rules=tuple(replace(r, description=hostile) for r in base.rules),
    )

    msg = message(record_of(change))

    rendered = json.dumps(msg.blocks) + msg.text
    assert "<!channel>" not in rendered
    assert "<https://evil" not in rendered
    assert "&lt;!channel&gt;" in all_text(msg)
    assert "bastion &lt;ops&gt; &amp; friends" in all_text(message(record_of(base)))
    assert_within_block_kit_limits(msg)


def test_a_call_adding_300_rules_still_yields_a_valid_message() -> None:
    """Given a call that added 300 rules, when rendered as PENDING, then the message stays
    within Block Kit limits, keeps its buttons, and says how many rules are not shown."""
    change = many_rules_change(300)

    msg = message(record_of(change))

    assert_within_block_kit_limits(msg)
    assert set(buttons(msg)) == {ACTION_APPROVE, ACTION_DENY}
    text = all_text(msg)
    shown = text.count("• *in*")
    assert 0 < shown < 300
    assert f"…and {300 - shown} more rules" in text
    assert "300 inbound rules added" in msg.text


def test_huge_values_everywhere_are_clipped_to_the_limits() -> None:
    """Given absurdly long strings in every field, then every limit still holds."""
    long = "x<&>" * 2000
    change = many_rules_change(60)
    change = replace(
        change,
        event_id="e" * 3000,
        group_id="sg-" + long,
        group_name=long,
        account=long,
        region=long,
        vpc_id=long,
        actor=Actor(long, long, long, long, long, long),
        rules=tuple(replace(r, description=long, source=long) for r in change.rules),
    )

    for state in State:
        msg = message(record_of(change, state, decided_by="cli:" + long, outcome=long))
        assert_within_block_kit_limits(msg)


def test_escape_handles_the_three_control_characters() -> None:
    """Given &, < and >, then they become entities (& first, so nothing is escaped twice)."""
    assert escape("a & <b> &amp;") == "a &amp; &lt;b&gt; &amp;amp;"


def test_a_notice_is_one_section_with_a_fallback() -> None:
    """Given a short reply, then it is a single mrkdwn section with the same fallback text."""
    msg = notice("Already approved by <@U024BE7LH>.")

    assert msg.text == "Already approved by <@U024BE7LH>."
    assert msg.blocks == [
        {"type": "section", "text": {"type": "mrkdwn", "text": "Already approved by <@U024BE7LH>."}}
    ]
    assert_within_block_kit_limits(notice("y" * 10_000))


# -- records stored before context existed ------------------------------------------------------


def test_a_record_without_context_renders_as_it_always_did() -> None:
    """Given a record with no context (stored before context was read), then the message
    has no context section, names the account by id and tags the risk alone."""
    change = change_from("authorize_ingress_ipv4")

    msg = message(replace(record_of(change), risk="critical"))

    assert [b["type"] for b in msg.blocks] == [
        "header",
        "section",
        "section",
        "section",
        "divider",
        "section",
        "context",
        "actions",
    ]
    assert msg.blocks[1]["text"]["text"] == (
        "*1 inbound rule added* on `sg-0c3d5e7f9a1b2c4d6` in account `111122223333`, `eu-west-1`"
    )
    assert msg.blocks[0]["text"]["text"] == (
        ":rotating_light: CRITICAL · 1 inbound rule added on sg-0c3d5e7f9a1b2c4d6"
    )
    assert msg.text == (
        "[CRITICAL] 1 inbound rule added on sg-0c3d5e7f9a1b2c4d6 in 111122223333 eu-west-1: "
        "awaiting review"
    )
    assert "↳" not in all_text(msg)
