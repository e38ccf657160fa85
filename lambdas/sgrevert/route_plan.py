"""Which channel each of a run's messages goes to, who decides it, and where its copies go:
the policy's routes (`sgrevert.routes`) applied to the messages `bursts` planned.

Pure, given how to read an account's OU chain. A burst whose members match different
routes (one member critical, the others not) becomes one message per route, so a message
is always decided by one route's approvers. What a route matches on that could not be
read (the OU chain, the group's tags) does not match: the change falls through to a
later route or the default one, and is still posted.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from aws_lambda_powertools import Logger

from sgrevert.bursts import Unit
from sgrevert.model import ChangeRecord
from sgrevert.risk import Risk
from sgrevert.routes import Route, RouteFacts, Routing

logger = Logger(service="sgrevert-detect", child=True)

DEFAULT_ROUTE = "default"

# An account's OU chain (nearest first, the root last), or None when it cannot be read.
OuChain = Callable[[str], tuple[str, ...] | None]


@dataclass(frozen=True)
class Posting:
    """One message to post: its changes, the route that decides them, and the channels
    that get a copy for information."""

    unit: Unit
    route: Route
    copies: tuple[str, ...] = ()
    by_default: bool = True  # the default route: decided by the default approvers

    @property
    def channel(self) -> str:
        return self.route.channel


def default_route(channel: str) -> Route:
    """The default route: the review channel (`slack_channel_id`), decided by the default
    approvers, which the responder knows (`approvers`)."""
    return Route(name=DEFAULT_ROUTE, channel=channel, approvers=())


def facts_for(record: ChangeRecord, ous: tuple[str, ...] | None) -> RouteFacts:
    """What a route can match a change on: its account, region and risk, the account's OU
    chain, and the group's tags as its context read them."""
    group = record.context.group if record.context else None
    return RouteFacts(
        account=record.change.account,
        region=record.change.region,
        ous=ous,
        tags=dict(group.owner_tags) if group else {},
        risk=_risk(record.risk),
    )


def route_units(
    units: Sequence[Unit], routing: Routing, default: Route, ou_chain: OuChain
) -> list[Posting]:
    """The messages to post, in the order of `units`: each unit, split by route."""
    chains: dict[str, tuple[str, ...] | None] = {}

    def ous(account: str) -> tuple[str, ...] | None:
        if not routing.needs_ous:
            return None
        if account not in chains:
            chains[account] = ou_chain(account)
        return chains[account]

    postings: list[Posting] = []
    for unit in units:
        routed: dict[tuple[bool, str], tuple[Route, list[ChangeRecord], list[str]]] = {}
        for record in unit.records:
            facts = facts_for(record, ous(record.change.account))
            found = routing.route_for(facts, default)
            if found.skipped_unknown_ou:
                logger.warning(
                    "routes passed over: the account's OU chain could not be read",
                    extra={
                        "event_id": record.event_id,
                        "routes": list(found.skipped_unknown_ou),
                        "route": found.route.name,
                    },
                )
            key = (found.route is default, found.route.name)
            route, members, copies = routed.setdefault(key, (found.route, [], []))
            members.append(record)
            copies.extend(c for c in routing.copies_for(facts, route.channel) if c not in copies)
        postings.extend(
            Posting(Unit(tuple(members)), route, tuple(copies), by_default=key[0])
            for key, (route, members, copies) in routed.items()
        )
    return postings


def _risk(label: str | None) -> Risk | None:
    if label is None:
        return None
    try:
        return Risk.parse(label)
    except ValueError:
        return None
