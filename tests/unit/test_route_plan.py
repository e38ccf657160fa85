"""A run's messages routed: each into its route's channel, split where members differ,
with their copies (pure)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from sgrevert.bursts import Unit, plan_messages
from sgrevert.context import ChangeContext, GroupInfo
from sgrevert.model import Actor, Change, ChangeRecord, Direction, Rule, SourceKind, State
from sgrevert.risk import Risk
from sgrevert.route_plan import default_route, facts_for, route_units
from sgrevert.routes import Copy, Match, Route, Routing

NOW = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)
PAYMENTS_ACCOUNT = "222233334444"
PAYMENTS_OU = "ou-ab12-paymentsx"
PAYMENTS = Route("payments", "C0PAYMENTS", ("S0PAYLEADS",), Match(ou=(PAYMENTS_OU,)))
PLATFORM = Route("platform", "C0PLATFORM", ("U0PLAT",), Match(tag={"Owner": "platform"}))
SECURITY = Copy("security", "C0SECURITY", Match(risk_at_or_above=Risk.CRITICAL))
ROUTING = Routing(routes=(PAYMENTS, PLATFORM), also_to=(SECURITY,))
DEFAULT = default_route("C0REVIEW")


def record(
    event_id: str, *, account: str = "111122223333", risk: str = "high", owner: str | None = None
) -> ChangeRecord:
    change = Change(
        event_id=event_id,
        event_name="AuthorizeSecurityGroupIngress",
        event_time=NOW,
        account=account,
        region="eu-west-1",
        group_id="sg-1",
        actor=Actor(arn="arn:aws:iam::111122223333:user/alice", type="IAMUser"),
        rules=(Rule(Direction.INGRESS, "tcp", 22, 22, SourceKind.CIDR_IPV4, "0.0.0.0/0"),),
    )
    context = (
        ChangeContext(read_at=NOW, group=GroupInfo(owner_tags={"Owner": owner}))
        if owner is not None
        else None
    )
    return ChangeRecord(change, State.PENDING, NOW, risk=risk, context=context)


def chains(account: str) -> tuple[str, ...] | None:
    return (PAYMENTS_OU, "r-ab12") if account == PAYMENTS_ACCOUNT else ("r-ab12",)


def test_each_change_goes_to_the_channel_of_its_first_matching_route() -> None:
    units = [
        Unit((record("pay", account=PAYMENTS_ACCOUNT, owner="platform"),)),
        Unit((record("plat", owner="platform"),)),
        Unit((record("rest"),)),
    ]
    postings = route_units(units, ROUTING, DEFAULT, chains)
    assert [(p.unit.event_ids, p.channel, p.by_default) for p in postings] == [
        (["pay"], "C0PAYMENTS", False),  # payments comes first, whatever the tags
        (["plat"], "C0PLATFORM", False),
        (["rest"], "C0REVIEW", True),
    ]


def test_a_burst_whose_members_match_different_routes_is_one_message_per_route() -> None:
    burst = [record("a", risk="critical"), record("b")]
    routing = Routing(
        routes=(Route("crit", "C0CRIT", ("U0A",), Match(risk_at_or_above=Risk.CRITICAL)),)
    )
    [unit] = plan_messages(burst)
    assert unit.is_batch
    postings = route_units([unit], routing, DEFAULT, chains)
    assert [(p.unit.event_ids, p.channel) for p in postings] == [
        (["a"], "C0CRIT"),
        (["b"], "C0REVIEW"),
    ]


def test_copies_go_where_their_match_holds_never_into_the_posted_channel() -> None:
    units = [Unit((record("crit", risk="critical"),)), Unit((record("high"),))]
    postings = route_units(units, ROUTING, DEFAULT, chains)
    assert [p.copies for p in postings] == [("C0SECURITY",), ()]
    into_security = Routing(routes=(replace(PLATFORM, channel="C0SECURITY"),), also_to=(SECURITY,))
    [posting] = route_units(
        [Unit((record("crit", risk="critical", owner="platform"),))], into_security, DEFAULT, chains
    )
    assert (posting.channel, posting.copies) == ("C0SECURITY", ())


def test_an_unreadable_ou_chain_falls_through_to_the_default_route() -> None:
    postings = route_units(
        [Unit((record("pay", account=PAYMENTS_ACCOUNT),))], ROUTING, DEFAULT, lambda a: None
    )
    assert [p.channel for p in postings] == ["C0REVIEW"]


def test_the_ou_chain_is_read_once_per_account_and_only_when_a_route_needs_it() -> None:
    asked: list[str] = []

    def counting(account: str) -> tuple[str, ...] | None:
        asked.append(account)
        return chains(account)

    units = [Unit((record(f"e{i}", account=PAYMENTS_ACCOUNT),)) for i in range(3)]
    route_units(units, ROUTING, DEFAULT, counting)
    assert asked == [PAYMENTS_ACCOUNT]
    asked.clear()
    route_units(units, Routing(routes=(PLATFORM,)), DEFAULT, counting)
    assert asked == []


def test_the_facts_are_the_change_the_groups_tags_and_the_chain() -> None:
    facts = facts_for(record("e", risk="critical", owner="payments"), ("r-ab12",))
    assert (facts.account, facts.region, facts.ous, dict(facts.tags), facts.risk) == (
        "111122223333",
        "eu-west-1",
        ("r-ab12",),
        {"Owner": "payments"},
        Risk.CRITICAL,
    )
    assert dict(facts_for(record("e"), None).tags) == {}  # no context read: no tags
