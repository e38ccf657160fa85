"""A change's context in its Slack message, its group message and the `changes` CLI:
the account's name, the exposure beside the risk, the group, its IaC, what it is
attached to, the actor as a person, each rule's note and what could not be read."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sgrevert.attachments import attachment, summarize
from sgrevert.blocks import ACTION_APPROVE, ACTION_DENY, MAX_BLOCKS, batch_message, message
from sgrevert.cli import CHANGES_HEADERS, changes_table, record_dict
from sgrevert.cli_render import Style
from sgrevert.context import ActorInfo, Attachment, AttachmentKind, ChangeContext, Gap, Via
from sgrevert.decidable import decidable
from sgrevert.group_info import group_info
from sgrevert.model import ChangeRecord, Direction, Rule, SourceKind, State
from tests.unit.test_blocks import (
    FIXTURES,
    all_text,
    assert_within_block_kit_limits,
    buttons,
    change_from,
    many_rules_change,
    record_of,
)
from tests.unit.test_context_facts import interface, security_group

READ_AT = datetime(2026, 11, 27, 10, 0, 30, tzinfo=UTC)
DENIED = "AccessDenied assuming arn:aws:iam::111122223333:role/security/spoke-001"
SLACK_USER = "U024BE7LH"


def read_after(change_rules: tuple[Rule, ...]) -> tuple[Rule, ...]:
    """The group's rules as DescribeSecurityGroupRules returned them after the change: the
    new ones, an older SSH rule from the office range, and the default egress rule."""
    return (
        *change_rules,
        Rule(
            Direction.INGRESS,
            "tcp",
            0,
            65535,
            SourceKind.CIDR_IPV4,
            "203.0.113.0/24",
            "sgr-0old0ffice00001",
        ),
        Rule(
            Direction.EGRESS,
            "-1",
            None,
            None,
            SourceKind.CIDR_IPV4,
            "0.0.0.0/0",
            "sgr-0default0egress",
        ),
    )


def full_context(rules: tuple[Rule, ...], **overrides: Any) -> ChangeContext:
    """What the reader would store for a public web group CloudFormation manages."""
    names = {"i-0abc1234def567890": "web-1", "i-0def5678abc123456": "web-2"}
    interfaces = [
        interface("eni-0a1", instance="i-0abc1234def567890", public_ip="54.216.10.20"),
        interface("eni-0a2", instance="i-0def5678abc123456", ipv6=("2a05:d018:1234::10",)),
        interface(
            "eni-0b1", description="ELB app/web-prod/50dc6c495c0c9188", requester="amazon-elb"
        ),
        interface(
            "eni-0b2",
            description="ELB app/web-prod/50dc6c495c0c9188",
            requester="amazon-elb",
            public_ip="34.240.1.1",
        ),
    ]
    context = ChangeContext(
        read_at=READ_AT,
        account_name="prod-payments",
        group=group_info(
            security_group({"aws:cloudformation:stack-name": "web-prod", "Owner": "team-payments"})
        ),
        rules=read_after(rules),
        attachments=summarize(attachment(i, names) for i in interfaces),
        actor=ActorInfo(Via.CONSOLE, "maria.silva@example.com", SLACK_USER),
        gaps=(Gap("actor", "users:read.email scope missing"),),
    )
    return replace(context, **overrides)


def with_context(record: ChangeRecord, **overrides: Any) -> ChangeRecord:
    return replace(record, risk="critical", context=full_context(record.change.rules, **overrides))


# -- a single message ------------------------------------------------------------------------


def test_a_change_with_full_context_says_whose_account_what_is_exposed_and_who_did_it() -> None:
    """Given a critical change to a public, CloudFormation-managed group by a mapped user,
    when rendered, then the message names the account, puts the exposure beside the risk,
    shows the group, the IaC warning, the attachments, the public ones, mentions the actor,
    notes each rule and lists what could not be read, within Block Kit limits."""
    record = with_context(record_of(change_from("authorize_ingress_ipv4_ipv6_multi")))

    msg = message(record)

    text = all_text(msg)
    assert msg.blocks[0]["text"]["text"].startswith(
        ":rotating_light: CRITICAL · reachable from the internet · 5 inbound rules added on sg-"
    )
    assert msg.text.startswith("[CRITICAL · reachable from the internet] 5 inbound rules added")
    assert "in prod-payments (111122223333) eu-west-1: awaiting review" in msg.text
    assert "in account prod-payments (`111122223333`), `eu-west-1`" in text
    for expected in (
        "*Group* web-prod: Web tier &lt;prod&gt; &amp; friends · VPC `vpc-0f1e2d3c4b5a69788` · "
        "Owner team-payments",
        ":warning: managed by CloudFormation stack web-prod: this change was made outside it",
        "Attached to 2 EC2 instances (web-1, web-2), 1 load balancer (web-prod)",
        "*reachable from the internet*: `i-0abc1234def567890` (web-1) `54.216.10.20`, "
        "`i-0def5678abc123456` (web-2) `2a05:d018:1234::10`, load balancer web-prod `34.240.1.1`",
        f"By <@{SLACK_USER}> via the console",
        "↳ already allowed by `sgr-0old0ffice00001` (`tcp 0-65535` from `203.0.113.0/24`): "
        "changes little",
        "↳ the group's first rule open to the internet",
        ":grey_question: The actor's Slack user unavailable: users:read.email scope missing",
    ):
        assert expected in text, expected
    assert text.count("first rule open to the internet") == 1
    assert set(buttons(msg)) == {ACTION_APPROVE, ACTION_DENY}
    assert_within_block_kit_limits(msg)


def test_a_change_whose_account_could_not_be_read_says_so_and_still_names_the_actor() -> None:
    """Given a context where assuming the spoke role failed, then the message shows the
    bare account id, no exposure, a context block saying why, and the actor by email."""
    change = change_from("authorize_ingress_ipv4")
    context = ChangeContext(
        read_at=READ_AT,
        actor=ActorInfo(Via.CONSOLE, "li.wei@example.com", None),
        gaps=(
            Gap("account", "organizations:DescribeAccount: AccessDenied"),
            Gap("group", f"context unavailable for 111122223333: {DENIED}"),
        ),
    )

    msg = message(replace(record_of(change), risk="high", context=context))

    text = all_text(msg)
    assert msg.text.startswith("[HIGH] 1 inbound rule added")
    assert "in account `111122223333`" in text
    assert f"Context unavailable for 111122223333: {DENIED}" in text
    assert "Account name unavailable: organizations:DescribeAccount: AccessDenied" in text
    assert "By li.wei@example.com via the console" in text
    assert "reachable" not in text and "Attached" not in text
    assert_within_block_kit_limits(msg)


def test_a_group_attached_to_nothing_says_so_beside_the_risk() -> None:
    """Given a group with no network interfaces, then the header and fallback say it is
    attached to nothing and the context says the rule has no effect yet."""
    record = with_context(
        record_of(change_from("authorize_ingress_ipv4")), attachments=summarize([])
    )

    msg = message(record)

    assert "CRITICAL · attached to nothing · 1 inbound rule added" in msg.blocks[0]["text"]["text"]
    assert msg.text.startswith("[CRITICAL · attached to nothing] ")
    assert "Attached to nothing: the rule has no effect until the group is used" in all_text(msg)


def test_a_terraform_change_on_a_terraform_group_warns_the_revert_comes_back() -> None:
    """Given a group tagged managed-by=terraform changed through Terraform, then the
    warning says a revert comes back with the next deploy."""
    change = change_from("authorize_ingress_cross_account_group")
    record = replace(
        record_of(change),
        context=full_context(
            change.rules,
            group=group_info(security_group({"managed-by": "Terraform"})),
            actor=ActorInfo(Via.TERRAFORM, None, None),
        ),
    )

    text = all_text(message(record))

    assert (
        ":warning: managed by Terraform: a revert will come back with the next deploy; "
        "fix it in code"
    ) in text
    assert "By `terraform-apply/gitlab-runner-8812` via Terraform" in text


def test_strings_in_the_context_are_escaped() -> None:
    """Given hostile account, group, tag, attachment and gap strings and a forged Slack
    user, then no control sequence reaches the message."""
    hostile = "<!channel> <https://evil.example|click> & `x`"
    record = with_context(
        record_of(change_from("authorize_ingress_ipv4")),
        account_name=hostile,
        group=group_info(
            {
                "GroupName": hostile,
                "Description": hostile,
                "Tags": [
                    {"Key": "Owner", "Value": hostile},
                    {"Key": "managed-by", "Value": hostile},
                ],
            }
        ),
        attachments=summarize(
            [Attachment(AttachmentKind.INSTANCE, "eni-1", "i-1", hostile, "54.0.0.1")]
        ),
        actor=ActorInfo(Via.CONSOLE, hostile, "<!here>"),
        gaps=(Gap("attachments", hostile),),
    )

    msg = message(record)

    rendered = json.dumps(msg.blocks) + msg.text
    assert "<!channel>" not in rendered and "<!here>" not in rendered
    assert "<https://evil" not in rendered
    assert "&lt;!channel&gt;" in all_text(msg)
    assert_within_block_kit_limits(msg)


def test_a_huge_context_on_a_huge_change_stays_within_the_block_limit() -> None:
    """Given 300 new rules, a thousand existing rules, every kind of attachment with long
    names, long tags and fifty gaps, then every Block Kit limit still holds, the buttons
    stay and the hidden rules are counted."""
    change = many_rules_change(300)
    long = "n<&>" * 500
    existing = tuple(
        Rule(
            Direction.INGRESS,
            "tcp",
            0,
            65535,
            SourceKind.CIDR_IPV4,
            f"10.{i % 256}.0.0/16",
            f"sgr-{i:017x}0",
        )
        for i in range(1000)
    )
    attachments = summarize(
        Attachment(kind, f"eni-{kind.value}-{n}", f"{long}-{n}", f"{long}-{n}", f"54.1.{n}.1")
        for kind in AttachmentKind
        for n in range(50)
    )
    context = ChangeContext(
        read_at=READ_AT,
        account_name=long,
        group=group_info(
            {
                "GroupName": long,
                "Description": long,
                "VpcId": long,
                "Tags": [
                    {"Key": k, "Value": long}
                    for k in ("Name", "Owner", "Team", "Service", "Environment")
                ]
                + [{"Key": "managed-by", "Value": long}],
            }
        ),
        rules=existing + change.rules,
        attachments=attachments,
        actor=ActorInfo(Via.CLI, long, long),
        gaps=tuple(Gap("rules", f"{long} {n}") for n in range(50)),
    )

    for state in State:
        msg = message(replace(record_of(change, state), risk="critical", context=context))
        assert_within_block_kit_limits(msg)
    msg = message(replace(record_of(change), risk="critical", context=context))
    assert set(buttons(msg)) == {ACTION_APPROVE, ACTION_DENY}
    assert "more rules" in all_text(msg)
    assert "already allowed by" in all_text(msg)


# -- a group message -------------------------------------------------------------------------


def members(count: int, context: ChangeContext | None) -> list[ChangeRecord]:
    base = change_from("authorize_ingress_ipv4_ipv6_multi")
    return [
        replace(
            record_of(
                replace(
                    base,
                    event_id=f"{base.event_id[:-2]}{n:02d}",
                    event_time=base.event_time + timedelta(minutes=n),
                )
            ),
            risk="critical" if n == 1 else "low",
            context=context,
        )
        for n in range(count)
    ]


def test_a_group_message_shows_the_groups_context_once() -> None:
    """Given three changes by one actor to one group, each with context, then the group
    message names the account, puts the exposure beside the highest risk, says the context
    once (the latest read), notes each member's rules and keeps one decision for all."""
    base = change_from("authorize_ingress_ipv4_ipv6_multi")
    older = full_context(
        base.rules, account_name="old-name", read_at=READ_AT - timedelta(minutes=5)
    )
    records = members(3, full_context(base.rules))
    records[0] = replace(records[0], context=older)

    msg = batch_message("b-123", records)

    text = all_text(msg)
    assert msg.blocks[0]["text"]["text"].startswith(
        ":rotating_light: CRITICAL · reachable from the internet · 3 changes on sg-"
    )
    assert msg.text.startswith("[CRITICAL · reachable from the internet] 3 changes on sg-")
    assert "in prod-payments (111122223333): 3 awaiting review" in msg.text
    assert "in account prod-payments (`111122223333`)" in text
    assert "old-name" not in text
    assert text.count("Attached to 2 EC2 instances") == 1
    assert text.count(f"<@{SLACK_USER}>") == 1
    assert text.count(":warning: managed by CloudFormation stack web-prod") == 1
    assert text.count("The actor's Slack user unavailable") == 1
    assert "(already allowed by `sgr-0old0ffice00001`" in text
    values = {
        e["value"]
        for b in msg.blocks
        if b["type"] == "actions"
        for e in b["elements"]
        if e["type"] == "button"
    }
    assert values == {"g:b-123"}
    assert_within_block_kit_limits(msg)


def test_a_group_message_without_context_is_as_before() -> None:
    """Given members without context, then the group message has no context section."""
    msg = batch_message("b-1", members(2, None))

    text = all_text(msg)
    assert msg.text.startswith("[CRITICAL] 2 changes on sg-")
    assert "in account `111122223333`" in text
    assert [b["type"] for b in msg.blocks[:4]] == ["header", "section", "section", "divider"]
    assert "Attached" not in text and "unavailable" not in text


def test_a_big_group_message_with_a_big_context_stays_within_the_block_limit() -> None:
    """Given 40 members of 200 rules each and a context with fifty gaps, then the group
    message stays within Block Kit limits and keeps its buttons."""
    base = many_rules_change(200)
    context = full_context(
        base.rules, gaps=tuple(Gap("attachments", "x<>" * 400 + str(n)) for n in range(50))
    )
    records = [
        replace(record_of(replace(base, event_id=f"m{n}")), risk="high", context=context)
        for n in range(40)
    ]

    msg = batch_message("big", records)

    assert len(msg.blocks) <= MAX_BLOCKS
    assert_within_block_kit_limits(msg)
    assert {b["type"] for b in msg.blocks[-1:]} == {"actions"}


# -- the CLI ---------------------------------------------------------------------------------


def test_the_changes_table_names_the_account_and_shows_the_exposure() -> None:
    """Given one record with context and one without, then the table shows the account's
    name where known and the exposure, with - where nothing was read."""
    with_ctx = with_context(record_of(change_from("authorize_ingress_ipv4_ipv6_multi")))
    without = record_of(change_from("authorize_egress"))

    lines = changes_table([with_ctx, without], Style(colour=False)).splitlines()

    assert lines[0].split() == [w for h in CHANGES_HEADERS for w in h.split()]
    assert "prod-payments (111122223333)" in lines[1]
    assert "internet (3)" in lines[1]
    assert "444455556666" in lines[2] and "(444455556666)" not in lines[2]
    exposure = lines[0].index("EXPOSURE")
    assert lines[2][exposure : exposure + 2] == "- "


def test_changes_json_carries_the_context_or_null() -> None:
    """Given records with and without context, then --json has the context's dict or null,
    and the dict reads back into the same context."""
    with_ctx = with_context(record_of(change_from("authorize_ingress_ipv4")))

    printed = json.loads(json.dumps(record_dict(with_ctx)))

    assert printed["context"]["account_name"] == "prod-payments"
    assert printed["context"]["attachments"]["public_count"] == 3
    assert ChangeContext.from_dict(printed["context"]) == with_ctx.context
    assert record_dict(record_of(change_from("authorize_egress")))["context"] is None


@pytest.mark.parametrize("state", list(State))
@pytest.mark.parametrize("name", FIXTURES)
def test_every_fixture_with_full_context_renders_within_limits_in_every_state(
    name: str, state: State
) -> None:
    """Given any recorded change with a full context in any state, then the message is
    valid Block Kit, names the account and only additions carry rule notes."""
    change = change_from(name)
    record = replace(
        record_of(change, state, outcome="Revoked 1 rule."),
        risk="high",
        context=full_context(change.rules),
    )

    msg = message(record)

    assert_within_block_kit_limits(msg)
    assert "prod-payments (111122223333)" in msg.text or "prod-payments (444455556666)" in msg.text
    if not decidable(change):
        assert "↳" not in all_text(msg)
