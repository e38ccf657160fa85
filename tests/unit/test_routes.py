"""Routes in the policy: how a change finds its channel, approvers and copies, and how the
`routes` and `also_to` keys are read, every refusal naming its path."""

from __future__ import annotations

import json
from typing import Any

import pytest

from sgrevert.errors import ConfigError
from sgrevert.policy import DEFAULT_OWNER_TAG_KEYS, parse_policy
from sgrevert.risk import Risk
from sgrevert.routes import Copy, Match, Route, Routed, RouteFacts, Routing, read_routing

PAYMENTS_OU = "ou-ab12-payments"
ROOT = "r-ab12"
DEFAULT = Route("default", "C0DEFAULT", ("U0ONCALL",))
PAYMENTS = Route("payments", "C0PAYMENTS", ("S0PAYLEADS", "U0ALICE"), Match(ou=(PAYMENTS_OU,)))
PLATFORM = Route(
    "platform",
    "C0PLATFORM",
    ("S0PLATFORM",),
    Match(tag={"Owner": "platform"}, region=("eu-west-1",)),
)
SECURITY = Copy("security-sees-critical", "C0SECURITY", Match(risk_at_or_above=Risk.CRITICAL))
ROUTING = Routing(routes=(PAYMENTS, PLATFORM), also_to=(SECURITY,))
SPEC_DOCUMENT: dict[str, Any] = {
    "routes": [
        {
            "name": "payments",
            "match": {"ou": [PAYMENTS_OU]},
            "channel": "C0PAYMENTS",
            "approvers": ["S0PAYLEADS", "U0ALICE"],
        },
        {
            "name": "platform",
            "match": {"tag": {"Owner": "platform"}, "region": ["eu-west-1"]},
            "channel": "C0PLATFORM",
            "approvers": ["S0PLATFORM"],
        },
    ],
    "also_to": [
        {
            "name": "security-sees-critical",
            "match": {"risk_at_or_above": "critical"},
            "channel": "C0SECURITY",
        }
    ],
}


def facts(
    *,
    account: str = "111122223333",
    region: str = "us-east-1",
    ous: tuple[str, ...] | None = ("ou-ab12-other000", ROOT),
    tags: dict[str, str] | None = None,
    risk: Risk | None = Risk.HIGH,
) -> RouteFacts:
    return RouteFacts(account, region, ous, tags or {}, risk)


def routed(routing: Routing, change: RouteFacts) -> Routed:
    return routing.route_for(change, DEFAULT)


def route_with(match: dict[str, Any], **entry: Any) -> dict[str, Any]:
    return {"name": "r", "match": match, "channel": "C0R", "approvers": ["U0R"], **entry}


def errors_of(document: dict[str, Any], owner_tag_keys: tuple[str, ...] = ("Owner",)) -> list[str]:
    errors: list[str] = []
    read_routing(document, errors, owner_tag_keys=owner_tag_keys)
    return errors


# Matching


@pytest.mark.parametrize(
    ("match", "matching", "other"),
    [
        (Match(account=("111122223333", "444455556666")), facts(), facts(account="999988887777")),
        (Match(region=("eu-west-1",)), facts(region="eu-west-1"), facts(region="eu-west-2")),
        (
            Match(ou=(PAYMENTS_OU,)),
            facts(ous=("ou-ab12-team0000", PAYMENTS_OU, ROOT)),
            facts(ous=("ou-ab12-team0000", ROOT)),
        ),
        (Match(ou=(ROOT,)), facts(ous=(ROOT,)), facts(ous=("r-cd34",))),
        (
            Match(tag={"Owner": "payments", "Team": "cards"}),
            facts(tags={"Owner": "payments", "Team": "cards", "Name": "web"}),
            facts(tags={"Owner": "payments", "Team": "loans"}),
        ),
        (Match(tag={"Owner": "payments"}), facts(tags={"Owner": "payments"}), facts(tags={})),
        (
            Match(risk_at_or_above=Risk.HIGH),
            facts(risk=Risk.CRITICAL),
            facts(risk=Risk.MEDIUM),
        ),
        (Match(risk_at_or_above=Risk.LOW), facts(risk=Risk.LOW), facts(risk=None)),
        (
            Match(account=("111122223333",), region=("eu-west-1",)),
            facts(region="eu-west-1"),
            facts(region="us-east-1"),
        ),
    ],
    ids=[
        "account",
        "region",
        "ou-in-chain",
        "ou-root",
        "every-tag",
        "tag-absent",
        "risk",
        "unrated",
        "all-keys",
    ],
)
def test_a_match_holds_only_when_every_key_it_has_holds(
    match: Match, matching: RouteFacts, other: RouteFacts
) -> None:
    """Given a match, then a change meeting all its keys matches and one missing any
    does not."""
    assert match.holds(matching)
    assert not match.holds(other)


def test_the_first_matching_route_wins() -> None:
    """Given a change that both routes match, then the earlier route takes it."""
    change = facts(ous=(PAYMENTS_OU, ROOT), region="eu-west-1", tags={"Owner": "platform"})

    assert routed(ROUTING, change) == Routed(PAYMENTS)
    assert routed(Routing(routes=(PLATFORM, PAYMENTS)), change) == Routed(PLATFORM)


def test_a_later_route_takes_what_the_earlier_ones_do_not_match() -> None:
    """Given a change outside the payments OU on a platform-owned group in eu-west-1,
    then the platform route takes it."""
    change = facts(region="eu-west-1", tags={"Owner": "platform"})

    assert routed(ROUTING, change) == Routed(PLATFORM)


def test_no_matching_route_gives_the_default_route() -> None:
    """Given a change no route matches, or no routes at all, then the default takes it."""
    assert routed(ROUTING, facts(tags={"Owner": "platform"})) == Routed(DEFAULT)
    assert routed(Routing(), facts()) == Routed(DEFAULT)


def test_an_unknown_ou_chain_matches_no_ou_route_and_says_which_it_passed_over() -> None:
    """Given a change whose account's parent chain could not be read, then a route on an
    OU does not take it, and the result names that route as skipped for that reason."""
    change = facts(ous=None, region="eu-west-1", tags={"Owner": "platform"})

    assert routed(ROUTING, change) == Routed(PLATFORM, skipped_unknown_ou=("payments",))
    assert routed(ROUTING, facts(ous=None)) == Routed(DEFAULT, skipped_unknown_ou=("payments",))


def test_an_ou_route_that_fails_on_another_key_is_not_reported_as_skipped() -> None:
    """Given an unknown chain and an OU route whose other keys do not hold, then the
    chain was not why it was passed over: it is not named."""
    routing = Routing(
        routes=(
            Route(
                "eu-payments", "C0EUPAY", ("U0EU",), Match(ou=(PAYMENTS_OU,), region=("eu-west-1",))
            ),
        )
    )

    assert routed(routing, facts(ous=None, region="us-east-1")) == Routed(DEFAULT)


def test_routes_after_the_chosen_one_are_not_reported_as_skipped() -> None:
    """Given an unknown chain and an OU route after the route that matched, then it was
    never tried: it is not named."""
    routing = Routing(routes=(PLATFORM, PAYMENTS))
    change = facts(ous=None, region="eu-west-1", tags={"Owner": "platform"})

    assert routed(routing, change) == Routed(PLATFORM)


def test_every_matching_copy_goes_out_once_and_never_into_the_posted_channel() -> None:
    """Given copies that match, then each channel gets one copy, in policy order, and
    the channel the change is posted to none."""
    routing = Routing(
        routes=(PAYMENTS,),
        also_to=(
            SECURITY,
            Copy("audit-sees-payments", "C0AUDIT", Match(ou=(PAYMENTS_OU,))),
            Copy("security-sees-eu", "C0SECURITY", Match(region=("eu-west-1",))),
            Copy("payments-see-critical", "C0PAYMENTS", Match(risk_at_or_above=Risk.CRITICAL)),
        ),
    )
    change = facts(ous=(PAYMENTS_OU, ROOT), region="eu-west-1", risk=Risk.CRITICAL)

    assert routing.copies_for(change, posted_to="C0PAYMENTS") == ("C0SECURITY", "C0AUDIT")
    assert routing.copies_for(change, posted_to="C0SECURITY") == ("C0AUDIT", "C0PAYMENTS")


def test_copies_follow_their_own_match() -> None:
    """Given the security copy for critical changes, then a high change gets none and an
    unknown chain sends no copy on an OU."""
    routing = Routing(also_to=(SECURITY, Copy("audit", "C0AUDIT", Match(ou=(PAYMENTS_OU,)))))

    assert routing.copies_for(facts(risk=Risk.HIGH), posted_to="C0DEFAULT") == ()
    assert routing.copies_for(facts(ous=None, risk=Risk.CRITICAL), posted_to="C0DEFAULT") == (
        "C0SECURITY",
    )


def test_routing_names_its_channels_tag_keys_and_whether_it_reads_ous() -> None:
    """Given routes and copies, then the channels named (each once), the tag keys used
    and whether an OU is named are known; with none, nothing is."""
    routing = Routing(
        routes=(
            PAYMENTS,
            PLATFORM,
            Route("team", "C0PLATFORM", ("U0T",), Match(tag={"Team": "x"})),
        ),
        also_to=(SECURITY,),
    )

    assert routing.channels == ("C0PAYMENTS", "C0PLATFORM", "C0SECURITY")
    assert routing.tag_keys == ("Owner", "Team")
    assert routing.needs_ous
    assert not Routing(routes=(PLATFORM,), also_to=(SECURITY,)).needs_ous
    assert Routing(also_to=(Copy("c", "C0C", Match(ou=(ROOT,))),)).needs_ous
    assert (Routing().channels, Routing().tag_keys, Routing().needs_ous) == ((), (), False)


# Reading


def test_the_policy_reads_routes_and_also_to_as_written() -> None:
    """Given the spec's example in the policy, then it is read into the routing above."""
    policy = parse_policy(json.dumps(SPEC_DOCUMENT))

    assert policy.routing == ROUTING


def test_a_policy_without_routes_routes_everything_to_the_default() -> None:
    """Given no policy or one without the keys, then there are no routes and no copies."""
    assert parse_policy(None).routing == Routing()
    assert parse_policy('{"min_risk_to_post": "medium"}').routing == Routing()


def test_single_ids_and_level_names_in_any_case_are_read() -> None:
    """Given a single id instead of a list and a level in capitals, then they are read."""
    errors: list[str] = []
    routing = read_routing(
        {
            "routes": [route_with({"account": "111122223333", "region": "eu-west-1"})],
            "also_to": [{"name": "c", "match": {"risk_at_or_above": "High"}, "channel": "G0SEC"}],
        },
        errors,
        owner_tag_keys=(),
    )

    assert errors == []
    assert routing == Routing(
        routes=(
            Route("r", "C0R", ("U0R",), Match(account=("111122223333",), region=("eu-west-1",))),
        ),
        also_to=(Copy("c", "G0SEC", Match(risk_at_or_above=Risk.HIGH)),),
    )


def test_tag_keys_are_checked_against_the_policys_owner_tag_keys() -> None:
    """Given a tag match on a key the policy does not read from groups, then the policy
    is refused, saying to add the key to owner_tag_keys; with it added, it is read."""
    document = {"routes": [route_with({"tag": {"CostCentre": "42"}})]}

    with pytest.raises(ConfigError) as refused:
        parse_policy(json.dumps(document))

    read = ", ".join(DEFAULT_OWNER_TAG_KEYS)
    assert str(refused.value) == (
        "POLICY is invalid: routes[0].match.tag.CostCentre: only the owner_tag_keys "
        f"({read}) are read from the group; add 'CostCentre' to owner_tag_keys to route on it"
    )
    accepted = parse_policy(json.dumps({**document, "owner_tag_keys": ["CostCentre"]}))
    assert accepted.routing.tag_keys == ("CostCentre",)


def test_every_problem_is_reported_together() -> None:
    """Given several broken entries, then each problem is named, in document order."""
    errors = errors_of(
        {
            "routes": [
                {"name": "a", "match": {}, "channel": "general", "approvers": []},
                route_with({"region": "Europe"}, name="a"),
            ],
            "also_to": "C0SECURITY",
        }
    )

    assert len(errors) == 6
    assert errors[0].startswith("routes[0].match is empty")
    assert errors[1].startswith("routes[0].channel 'general' is not a Slack channel id")
    assert errors[2].startswith("routes[0].approvers is empty")
    assert errors[3].startswith("routes[1].name 'a' is used twice")
    assert errors[4].startswith("routes[1].match.region 'Europe' is not a region name")
    assert errors[5].startswith("also_to must be a list of objects")


MATCH_KEYS = "account, ou, region, tag, risk_at_or_above"
APPROVERS = "Slack user ids (U…, W…) and user group ids (S…)"
OU_FORM = "an OU id (ou-…-…) or root id (r-…): use the id from Organizations, not the OU's name"


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"routes": {"name": "x"}}, "routes must be a list of objects, not {'name': 'x'}"),
        ({"also_to": None}, "also_to must be a list of objects, not None"),
        (
            {"routes": [route_with({"account": f"{n:012d}"}, name=f"r{n}") for n in range(51)]},
            "routes lists 51 entries: at most 50",
        ),
        (
            {
                "also_to": [
                    {"name": f"c{n}", "match": {"region": "eu-west-1"}, "channel": "C0C"}
                    for n in range(21)
                ]
            },
            "also_to lists 21 entries: at most 20",
        ),
        ({"routes": ["payments"]}, "routes[0] must be an object, not 'payments'"),
        ({"also_to": [7]}, "also_to[0] must be an object, not 7"),
        (
            {"routes": [route_with({"region": "eu-west-1"}, colour="red")]},
            "routes[0].colour is not a key of a route (approvers, channel, match, name)",
        ),
        (
            {
                "also_to": [
                    {"name": "c", "match": {"region": "eu-west-1"}, "channel": "C0C", "to": 1}
                ]
            },
            "also_to[0].to is not a key of an also_to entry (channel, match, name)",
        ),
        (
            {
                "also_to": [
                    {
                        "name": "c",
                        "match": {"region": "eu-west-1"},
                        "channel": "C0C",
                        "approvers": ["U0A"],
                    }
                ]
            },
            "also_to[0].approvers: a copy is for information, nobody decides from it; to let "
            "others decide, add them to the route's approvers",
        ),
        (
            {
                "routes": [
                    {"match": {"region": "eu-west-1"}, "channel": "C0R", "approvers": ["U0R"]}
                ]
            },
            "routes[0].name is required: a non-empty string, unique among routes and also_to",
        ),
        (
            {"routes": [route_with({"region": "eu-west-1"}, name="  ")]},
            "routes[0].name is required: a non-empty string, unique among routes and also_to",
        ),
        (
            {
                "routes": [route_with({"region": "eu-west-1"}, name="payments")],
                "also_to": [
                    {"name": "payments ", "match": {"region": "eu-west-1"}, "channel": "C0C"}
                ],
            },
            "also_to[0].name 'payments' is used twice (also by routes[0]): names of routes and "
            "also_to entries are unique",
        ),
        (
            {"routes": [{"name": "r", "match": {"region": "eu-west-1"}, "approvers": ["U0R"]}]},
            "routes[0].channel is required: the Slack channel id (C…, G…) the route posts to",
        ),
        (
            {"also_to": [{"name": "c", "match": {"region": "eu-west-1"}}]},
            "also_to[0].channel is required: the Slack channel id (C…, G…) that gets the copies",
        ),
        (
            {"routes": [route_with({"region": "eu-west-1"}, channel="#payments")]},
            "routes[0].channel '#payments' is not a Slack channel id (C…, G…): use the id "
            "from the channel's details, not its name",
        ),
        (
            {"routes": [route_with({"region": "eu-west-1"}, channel="D0DIRECT")]},
            "routes[0].channel 'D0DIRECT' is not a Slack channel id (C…, G…): use the id "
            "from the channel's details, not its name",
        ),
        (
            {"routes": [{"name": "r", "match": {"region": "eu-west-1"}, "channel": "C0R"}]},
            f"routes[0].approvers is required: the {APPROVERS} who may decide its changes",
        ),
        (
            {"routes": [route_with({"region": "eu-west-1"}, approvers="U0ALICE")]},
            f"routes[0].approvers must be a list of {APPROVERS}, not 'U0ALICE'",
        ),
        (
            {"routes": [route_with({"region": "eu-west-1"}, approvers=[])]},
            f"routes[0].approvers is empty: nobody could decide its changes; name the "
            f"{APPROVERS} who may",
        ),
        (
            {"routes": [route_with({"region": "eu-west-1"}, approvers=["U0ALICE", "@alice"])]},
            "routes[0].approvers[1] '@alice' is not a Slack user id (U…, W…) or user group "
            "id (S…): use the id, not a name or handle",
        ),
        (
            {"routes": [route_with({"region": "eu-west-1"}, approvers=["S0LEADS", "S0LEADS"])]},
            "routes[0].approvers[1] 'S0LEADS' is listed twice",
        ),
        (
            {"routes": [{"name": "r", "channel": "C0R", "approvers": ["U0R"]}]},
            f"routes[0].match is required: an object with any of {MATCH_KEYS}",
        ),
        (
            {"routes": [route_with(["eu-west-1"])]},  # type: ignore[arg-type]
            f"routes[0].match must be an object with any of {MATCH_KEYS}, not ['eu-west-1']",
        ),
        (
            {"routes": [route_with({})]},
            f"routes[0].match is empty: give at least one of {MATCH_KEYS} (a route for every "
            "change is the default: slack_channel_id)",
        ),
        (
            {"also_to": [{"name": "c", "match": {}, "channel": "C0C"}]},
            f"also_to[0].match is empty: give at least one of {MATCH_KEYS} (for a copy of "
            'every rated change: {"risk_at_or_above": "low"})',
        ),
        (
            {"routes": [route_with({"region": "eu-west-1", "team": "x"})]},
            f"routes[0].match.team is not a match key ({MATCH_KEYS})",
        ),
        (
            {"routes": [route_with({"account": ["111122223333", 444455556666]})]},
            "routes[0].match.account[1] 444455556666 is not an AWS account id (12 digits, as "
            "a string)",
        ),
        (
            {"routes": [route_with({"account": "1111-2222-3333"})]},
            "routes[0].match.account '1111-2222-3333' is not an AWS account id (12 digits, as "
            "a string)",
        ),
        (
            {"routes": [route_with({"account": []})]},
            "routes[0].match.account must be an AWS account id (12 digits, as a string) or a "
            "non-empty list of them, not []",
        ),
        (
            {"routes": [route_with({"ou": ["Payments"]})]},
            f"routes[0].match.ou[0] 'Payments' is not {OU_FORM}",
        ),
        (
            {"routes": [route_with({"ou": ["ou-ab12-short"]})]},
            f"routes[0].match.ou[0] 'ou-ab12-short' is not {OU_FORM}",
        ),
        (
            {"routes": [route_with({"ou": [ROOT, ROOT]})]},
            "routes[0].match.ou[1] 'r-ab12' is listed twice",
        ),
        (
            {"routes": [route_with({"region": ["eu-west-1", "EU-West-2"]})]},
            "routes[0].match.region[1] 'EU-West-2' is not a region name such as eu-west-1",
        ),
        (
            {"routes": [route_with({"tag": "Owner=payments"})]},
            'routes[0].match.tag must be an object of tag key to value, such as {"Owner": '
            "\"payments\"}, not 'Owner=payments'",
        ),
        (
            {"routes": [route_with({"tag": {}})]},
            'routes[0].match.tag is empty: give the tags the group must have, such as {"Owner": '
            '"payments"}',
        ),
        (
            {"routes": [route_with({"tag": {"Owner": 7}})]},
            "routes[0].match.tag.Owner must be the tag's value (a string), not 7",
        ),
        (
            {"routes": [route_with({"tag": {"Team": "cards"}})]},
            "routes[0].match.tag.Team: only the owner_tag_keys (Owner) are read from the group; "
            "add 'Team' to owner_tag_keys to route on it",
        ),
        (
            {"routes": [route_with({"risk_at_or_above": "severe"})]},
            "routes[0].match.risk_at_or_above: 'severe' is not a risk level (low, medium, "
            "high, critical)",
        ),
        (
            {"also_to": [{"name": "c", "match": {"risk_at_or_above": 4}, "channel": "C0C"}]},
            "also_to[0].match.risk_at_or_above must be a risk level (low, medium, high, "
            "critical), not 4",
        ),
    ],
    ids=lambda value: None if isinstance(value, dict) else value[:60],
)
def test_each_problem_is_refused_naming_its_path(document: dict[str, Any], message: str) -> None:
    """Given one problem in routes or also_to, then exactly that message is reported."""
    assert errors_of(document) == [message]


def test_no_owner_tag_keys_means_no_tag_can_be_routed_on() -> None:
    """Given owner_tag_keys empty, then a tag match says none are read."""
    assert errors_of({"routes": [route_with({"tag": {"Owner": "x"}})]}, owner_tag_keys=()) == [
        "routes[0].match.tag.Owner: only the owner_tag_keys (none) are read from the group; "
        "add 'Owner' to owner_tag_keys to route on it"
    ]


def test_a_route_with_too_few_approvers_for_approvals_required_is_refused() -> None:
    """Given critical changes needing two approvers, then a route that can receive them
    and lists a single user is refused; one that only takes high changes, or names a user
    group, is not."""
    document = {
        "approvals_required": {"critical": 2},
        "routes": [
            {
                "name": "solo",
                "match": {"region": "eu-west-1"},
                "channel": "C0SOLO",
                "approvers": ["U0ALICE"],
            },
            {
                "name": "team",
                "match": {"region": "us-east-1"},
                "channel": "C0TEAM",
                "approvers": ["S0TEAM"],
            },
        ],
    }
    with pytest.raises(ConfigError) as refused:
        parse_policy(json.dumps(document))
    assert "routes[0] (solo).approvers lists 1 user(s) and no user group" in str(refused.value)
    assert "routes[1]" not in str(refused.value)
