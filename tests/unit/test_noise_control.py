"""Risk levels, the policy document and how a run's changes become messages."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from sgrevert import blocks
from sgrevert.bursts import plan_messages
from sgrevert.errors import ConfigError
from sgrevert.model import (
    PREFIX_LIST_EVENT,
    WATCHED_EVENTS,
    Actor,
    Change,
    ChangeRecord,
    Direction,
    PrefixListEdit,
    PrefixListEntry,
    Rule,
    SourceKind,
    State,
)
from sgrevert.policy import OWN_REVOKES, parse_policy
from sgrevert.risk import Risk, RiskRules, assess

NOW = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
DEV = "arn:aws:sts::111122223333:assumed-role/developer/dev@example.com"


def rule(source: str, port: int | None = 22, protocol: str = "tcp", **kw: str) -> Rule:
    kind = kw.pop("kind", "")
    source_kind = (
        SourceKind(kind)
        if kind
        else (SourceKind.CIDR_IPV6 if ":" in source else SourceKind.CIDR_IPV4)
    )
    return Rule(Direction.INGRESS, protocol, port, port, source_kind, source, **kw)


def change(*rules: Rule, actor: str = DEV, group: str = "sg-1", event: str = "") -> Change:
    return Change(
        event_id=f"e-{id(rules)}-{group}",
        event_name=event or "AuthorizeSecurityGroupIngress",
        event_time=NOW,
        account="111122223333",
        region="eu-west-1",
        group_id=group,
        actor=Actor(arn=actor, type="AssumedRole"),
        rules=rules,
    )


@pytest.mark.parametrize(
    ("rules", "expected"),
    [
        ((rule("0.0.0.0/0", 22),), Risk.CRITICAL),
        ((rule("::/0", 3389),), Risk.CRITICAL),
        ((rule("0.0.0.0/0", None, "-1"),), Risk.CRITICAL),
        (
            (Rule(Direction.INGRESS, "tcp", 1000, 4000, SourceKind.CIDR_IPV4, "0.0.0.0/0"),),
            Risk.CRITICAL,
        ),
        ((rule("0.0.0.0/0", 443),), Risk.HIGH),
        ((rule("0.0.0.0/0", 8, "icmp"),), Risk.HIGH),
        ((rule("10.0.0.0/8", 22),), Risk.MEDIUM),
        ((rule("sg-9", 22, kind="group", source_account="999988887777"),), Risk.MEDIUM),
        ((rule("sg-9", 22, kind="group", source_account="111122223333"),), Risk.LOW),
        ((rule("10.1.0.0/16", 22),), Risk.LOW),
        ((rule("10.1.0.0/16", 22), rule("0.0.0.0/0", 443)), Risk.HIGH),
    ],
)
def test_risk_is_the_highest_of_the_rules(rules: tuple[Rule, ...], expected: Risk) -> None:
    assert assess(change(*rules)).risk is expected


def test_a_removal_is_low_and_thresholds_are_settings() -> None:
    assert (
        assess(change(rule("0.0.0.0/0", 22), event="RevokeSecurityGroupIngress")).risk is Risk.LOW
    )
    custom = RiskRules(critical_ports=frozenset({8080}), wide_ipv4_prefix=16)
    assert assess(change(rule("0.0.0.0/0", 8080)), custom).risk is Risk.CRITICAL
    assert assess(change(rule("0.0.0.0/0", 22)), custom).risk is Risk.HIGH
    assert assess(change(rule("10.1.0.0/16", 22)), custom).risk is Risk.MEDIUM


def test_an_empty_policy_posts_everything_and_reverts_nothing() -> None:
    policy = parse_policy(None)
    verdict = policy.judge(change(rule("0.0.0.0/0", 22)))
    assert (verdict.post, verdict.ignored_by, verdict.auto_revert_rule) == (True, None, None)
    assert policy.max_messages_per_run == 40


def test_ignore_rules_match_by_actor_glob_account_region_and_group() -> None:
    policy = parse_policy(
        json.dumps(
            {
                "ignore": [
                    {
                        "name": "pipeline",
                        "actor": "arn:aws:sts::*:assumed-role/deploy-*/*",
                        "reason": "deploys are reviewed in pull requests",
                    },
                    {
                        "name": "sandbox",
                        "account": ["444455556666"],
                        "region": "us-*",
                        "reason": "sandbox account",
                    },
                ]
            }
        )
    )
    deploy = change(rule("0.0.0.0/0", 22), actor="arn:aws:sts::1:assumed-role/deploy-app/cfn")
    verdict = policy.judge(deploy)
    assert verdict.ignored_by is not None and verdict.ignored_by.name == "pipeline"
    assert verdict.note == "ignored by pipeline: deploys are reviewed in pull requests"
    assert policy.judge(change(rule("0.0.0.0/0", 22))).ignored_by is None
    elsewhere = replace(change(rule("10.0.0.1/32")), account="444455556666", region="us-east-1")
    assert policy.judge(elsewhere).ignored_by is not None
    assert policy.judge(replace(elsewhere, region="eu-west-1")).ignored_by is None


def test_sgrevert_own_revokes_are_ignored_by_default() -> None:
    own = change(
        rule("0.0.0.0/0", 22),
        actor="arn:aws:sts::111122223333:assumed-role/spoke-001/sgrevert-denied-by-U0ALICE",
        event="RevokeSecurityGroupIngress",
    )
    verdict = parse_policy("{}").judge(own)
    assert verdict.ignored_by is not None and verdict.ignored_by.name == OWN_REVOKES
    assert parse_policy('{"ignore_own_revokes": false}').judge(own).ignored_by is None


def test_min_risk_holds_back_and_auto_revert_names_its_rule() -> None:
    policy = parse_policy('{"min_risk_to_post": "high", "auto_revert_at_or_above": "critical"}')
    held = policy.judge(change(rule("10.0.0.0/8", 22)))
    assert (held.post, held.risk) == (False, Risk.MEDIUM)
    assert "below min_risk_to_post" in (held.note or "")
    reverted = policy.judge(change(rule("0.0.0.0/0", 22)))
    assert reverted.auto_revert_rule == "auto_revert_at_or_above=critical"
    assert reverted.post
    assert policy.judge(change(rule("0.0.0.0/0", 443))).auto_revert_rule is None


def list_edit(
    *added: str, removed: tuple[str, ...] = (), list_id: str = "pl-0123456789abcdef0"
) -> Change:
    """A ModifyManagedPrefixList change of a list: its id is the change's group id."""
    edit = PrefixListEdit(
        list_id,
        "corp-ranges",
        3,
        tuple(PrefixListEntry(cidr) for cidr in added),
        tuple(PrefixListEntry(cidr) for cidr in removed),
    )
    return replace(change(group=list_id, event=PREFIX_LIST_EVENT), prefix_list=edit)


def test_ignore_rules_match_by_event_name() -> None:
    """Given an ignore rule for prefix-list edits and one for Revoke* calls, then each
    ignores only the calls it names, and an Authorize on the same group is posted."""
    policy = parse_policy(
        json.dumps(
            {
                "ignore": [
                    {
                        "name": "vpn-lists",
                        "event": "ModifyManagedPrefixList",
                        "group": "pl-0123*",
                        "reason": "the VPN team owns these lists",
                    },
                    {"name": "removals", "event": ["Revoke*"], "reason": "removals only"},
                ]
            }
        )
    )

    by_list = policy.judge(list_edit("0.0.0.0/0"))
    revoke = policy.judge(change(rule("0.0.0.0/0", 22), event="RevokeSecurityGroupEgress"))
    authorize = policy.judge(change(rule("0.0.0.0/0", 22), group="pl-0123456789abcdef0"))

    assert by_list.ignored_by is not None and by_list.ignored_by.name == "vpn-lists"
    assert by_list.note == "ignored by vpn-lists: the VPN team owns these lists"
    assert revoke.ignored_by is not None and revoke.ignored_by.name == "removals"
    assert authorize.ignored_by is None


def test_an_event_pattern_that_matches_no_watched_call_names_the_watched_ones() -> None:
    """Given an ignore rule whose event names no call sgrevert watches (a typo), then the
    policy is refused, naming the pattern and every watched event."""
    document = {"ignore": [{"event": "ModifyManagedPrefixLists", "reason": "typo"}]}

    with pytest.raises(ConfigError) as raised:
        parse_policy(json.dumps(document))

    message = str(raised.value)
    assert "ignore[0].event 'ModifyManagedPrefixLists' matches no watched event" in message
    assert all(name in message for name in WATCHED_EVENTS)


def test_a_prefix_list_edit_is_judged_at_worst_until_its_references_are_known() -> None:
    """Given 0.0.0.0/0 added to a list and auto-revert at critical, when judged as recorded
    (no references), then it is critical at worst and reverted by policy; judged with the
    rules that reference it (tcp 443) it is high and posted; with none, low."""
    policy = parse_policy('{"auto_revert_at_or_above": "critical"}')
    added = list_edit("0.0.0.0/0")
    https = Rule(Direction.INGRESS, "tcp", 443, 443, SourceKind.PREFIX_LIST, "pl-0123456789abcdef0")

    recorded = policy.judge(added)
    known = policy.judge(added, references=[https])
    unreferenced = policy.judge(added, references=[])

    assert recorded.risk is Risk.CRITICAL
    assert "not known" in recorded.assessment.reason
    assert recorded.auto_revert_rule == "auto_revert_at_or_above=critical"
    assert (known.risk, known.auto_revert_rule, known.post) == (Risk.HIGH, None, True)
    assert unreferenced.risk is Risk.LOW


def test_a_prefix_list_removal_is_never_reverted_by_policy() -> None:
    """Given an edit that only removed entries and auto-revert at low, then nothing is
    reverted: there is nothing to decide."""
    policy = parse_policy('{"auto_revert_at_or_above": "low"}')

    verdict = policy.judge(list_edit(removed=("0.0.0.0/0",)))

    assert (verdict.risk, verdict.auto_revert_rule, verdict.post) == (Risk.LOW, None, True)


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("{", "not valid JSON"),
        ("[]", "must be a JSON object"),
        ('{"min_risk": "low"}', "min_risk is not a policy key"),
        ('{"min_risk_to_post": "severe"}', "'severe' is not a risk level"),
        ('{"ignore": [{"actor": "arn:*"}]}', r"ignore\[0\].reason is required"),
        ('{"ignore": [{"reason": "x"}]}', r"ignore\[0\] needs at least one of"),
        ('{"ignore": [{"reason": "x", "group": 5}]}', r"ignore\[0\].group must be a pattern"),
        ('{"ignore": [{"reason": "x", "event": []}]}', r"ignore\[0\].event must be a pattern"),
        ('{"ignore": [{"reason": "x", "event": "Delete*"}]}', "matches no watched event"),
        ('{"max_messages_per_run": 0}', "max_messages_per_run must be a whole number"),
        ('{"risk": {"critical_ports": ["ssh"]}}', "risk.critical_ports must be a list"),
        ('{"ignore_own_revokes": "no"}', "ignore_own_revokes must be true or false"),
        ('{"owner_tag_keys": "Team"}', "owner_tag_keys must be a list of tag keys"),
        ('{"owner_tag_keys": ["Team", 7]}', r"owner_tag_keys\[1\] must be a tag key"),
        ('{"owner_tag_keys": ["  "]}', r"owner_tag_keys\[0\] must be a tag key"),
        ('{"owner_tag_keys": ["Team", "Team"]}', r"owner_tag_keys\[1\] 'Team' is listed twice"),
        (json.dumps({"owner_tag_keys": ["x" * 129]}), r"owner_tag_keys\[0\] is 129 characters"),
        ('{"lower_risk_when_unattached": "yes"}', "lower_risk_when_unattached must be true or"),
        ('{"lower_risk_when_unattached": 1}', "lower_risk_when_unattached must be true or"),
    ],
)
def test_a_bad_policy_fails_with_an_error_naming_the_problem(document: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_policy(document)


def test_owner_tags_and_unattached_groups_default_and_parse() -> None:
    # Given no policy: the usual ownership tags, and no lowering of risk
    defaults = parse_policy(None)
    assert defaults.owner_tag_keys == ("Name", "Owner", "Team", "Service", "Environment")
    assert defaults.lower_risk_when_unattached is False
    assert parse_policy("{}").owner_tag_keys == defaults.owner_tag_keys

    # When both are set, they are kept as given, in order; an empty list shows no owner
    policy = parse_policy(
        '{"owner_tag_keys": ["team", "cost-center", "aws:cloudformation:stack-name"], '
        '"lower_risk_when_unattached": true}'
    )
    assert policy.owner_tag_keys == ("team", "cost-center", "aws:cloudformation:stack-name")
    assert policy.lower_risk_when_unattached is True
    assert parse_policy('{"owner_tag_keys": []}').owner_tag_keys == ()


def test_every_problem_of_the_new_keys_is_named_at_once() -> None:
    with pytest.raises(ConfigError) as raised:
        parse_policy('{"owner_tag_keys": ["", "Team", "Team"], "lower_risk_when_unattached": 0}')

    message = str(raised.value)
    assert message.startswith("POLICY is invalid: ")
    assert "owner_tag_keys[0] must be a tag key" in message
    assert "owner_tag_keys[2] 'Team' is listed twice" in message
    assert "lower_risk_when_unattached must be true or false, not 0" in message


def test_temporary_approvals_default_to_an_hour_eight_hours_a_day_and_a_week() -> None:
    """Given no policy, or one without the key, then "Allow for…" offers 1 h, 8 h, 24 h
    and 7 d."""
    expected = (timedelta(hours=1), timedelta(hours=8), timedelta(hours=24), timedelta(days=7))
    assert parse_policy(None).temporary_approvals == expected
    assert parse_policy('{"min_risk_to_post": "low"}').temporary_approvals == expected


def test_temporary_approvals_are_kept_in_order_and_an_empty_list_turns_them_off() -> None:
    """Given durations written as the policy writes them, then they are offered in the
    order given; given [], then none is offered."""
    policy = parse_policy('{"temporary_approvals": ["30m", "2h", "1h30m", "30d", "15m"]}')
    assert policy.temporary_approvals == (
        timedelta(minutes=30),
        timedelta(hours=2),
        timedelta(hours=1, minutes=30),
        timedelta(days=30),
        timedelta(minutes=15),
    )
    assert parse_policy('{"temporary_approvals": []}').temporary_approvals == ()


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ('{"temporary_approvals": "1h"}', "temporary_approvals must be a list of durations"),
        ('{"temporary_approvals": [60]}', r"temporary_approvals\[0\] must be a duration such"),
        (
            '{"temporary_approvals": ["1h", "10m"]}',
            r"temporary_approvals\[1\] '10m' is shorter than 15 min: an approval for a while "
            "lasts from 15 min to 30 d",
        ),
        ('{"temporary_approvals": ["31d"]}', r"temporary_approvals\[0\] '31d' is longer than 30 d"),
        ('{"temporary_approvals": ["soon"]}', r"temporary_approvals\[0\] 'soon' is not a duration"),
        (
            '{"temporary_approvals": ["1h", "60m"]}',
            r"temporary_approvals\[1\] '60m' is 1 h, listed twice",
        ),
        (
            json.dumps({"temporary_approvals": [f"{n}h" for n in range(1, 12)]}),
            "temporary_approvals lists 11 durations: at most 10",
        ),
    ],
)
def test_a_bad_temporary_approvals_key_names_the_problem(document: str, message: str) -> None:
    """Given a bad `temporary_approvals`, then the error names the entry and what is wrong."""
    with pytest.raises(ConfigError, match=message):
        parse_policy(document)


def test_every_problem_of_temporary_approvals_is_named_at_once() -> None:
    """Given several bad entries and another bad key, then one error names them all."""
    with pytest.raises(ConfigError) as raised:
        parse_policy(
            '{"temporary_approvals": ["1h", "1h", "5m", true, "1w"], "max_messages_per_run": 0}'
        )

    message = str(raised.value)
    assert message.startswith("POLICY is invalid: ")
    assert "temporary_approvals[1] '1h' is 1 h, listed twice" in message
    assert "temporary_approvals[2] '5m' is shorter than 15 min" in message
    assert 'temporary_approvals[3] must be a duration such as "1h" (a string), not True' in message
    assert "temporary_approvals[4] '1w': 'w' is not a unit of time" in message
    assert "max_messages_per_run must be a whole number" in message


def record(c: Change, state: State = State.PENDING, risk: str = "high") -> ChangeRecord:
    return ChangeRecord(change=c, state=state, recorded_at=NOW, risk=risk)


def test_a_burst_by_one_actor_on_one_group_becomes_one_message() -> None:
    burst = [record(replace(change(rule("10.0.0.1/32")), event_id=f"b{i}")) for i in range(30)]
    other = record(replace(change(rule("10.0.0.1/32"), group="sg-2"), event_id="o"))
    by_policy = replace(
        burst[0],
        change=replace(burst[0].change, event_id="x"),
        state=State.DENIED,
        decided_by="policy:r",
    )
    units = plan_messages([*burst[:10], other, by_policy, *burst[10:]], max_batch=25)
    assert [len(u.records) for u in units] == [25, 1, 1, 5]
    assert units[1].records[0].event_id == "o"
    assert units[2].records[0].state is State.DENIED


def test_a_burst_of_prefix_list_edits_groups_by_list() -> None:
    """Given one actor's edits to two prefix lists and an Authorize, then the edits of
    each list form their own message, apart from the group's change."""
    first = [record(replace(list_edit("10.0.0.0/8"), event_id=f"a{i}")) for i in range(2)]
    other = record(replace(list_edit("10.0.0.0/8", list_id="pl-0aaaabbbbccccdddd"), event_id="b"))
    group = record(replace(change(rule("10.0.0.1/32")), event_id="g"))

    units = plan_messages([first[0], other, group, first[1]])

    assert [u.event_ids for u in units] == [["a0", "a1"], ["b"], ["g"]]


def test_a_group_message_stays_within_block_kit_limits_and_names_the_batch() -> None:
    long = tuple(rule(f"10.{i}.0.0/16", 1000 + i) for i in range(200))
    members = [record(replace(change(*long), event_id=f"m{i}"), risk="low") for i in range(25)]
    members[3] = replace(members[3], risk="critical")
    message = blocks.batch_message("abc", members)
    assert len(message.blocks) <= blocks.MAX_BLOCKS
    assert message.text.startswith("[CRITICAL] 25 changes on sg-1")
    assert message.blocks[0]["text"]["text"].startswith(":rotating_light: CRITICAL")
    for block in message.blocks:
        assert len(json.dumps(block.get("text", {}).get("text", ""))) <= 3100
    values = {
        e["value"]
        for b in message.blocks
        if b["type"] == "actions"
        for e in b["elements"]
        if e["type"] == "button"
    }
    assert values == {"g:abc"}


def test_a_single_message_shows_its_risk_and_a_policy_revert() -> None:
    one = record(change(rule("0.0.0.0/0", 22)), risk="critical")
    message = blocks.message(one)
    assert message.text.startswith("[CRITICAL] ")
    assert "CRITICAL" in message.blocks[0]["text"]["text"]
    reverted = replace(
        one,
        state=State.REVERTED,
        decided_by="policy:auto_revert_at_or_above=critical",
        note="reverted by policy auto_revert_at_or_above=critical: 0.0.0.0/0 to tcp 22",
        outcome="1 rule revoked",
    )
    text = json.dumps(blocks.message(reverted).blocks)
    assert "Reverted by policy" in text and "auto_revert_at_or_above=critical" in text
