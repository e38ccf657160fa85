"""Routes: which channel a change is posted to, who may decide it, and who gets a copy.

Pure. Two keys of the policy document (see `sgrevert.policy`):

    "routes": [
      {"name": "payments", "match": {"ou": ["ou-ab12-payments"]},
       "channel": "C0PAYMENTS", "approvers": ["S0PAYLEADS", "U0ALICE"]},
      {"name": "platform", "match": {"tag": {"Owner": "platform"}, "region": ["eu-west-1"]},
       "channel": "C0PLATFORM", "approvers": ["S0PLATFORM"]}
    ],
    "also_to": [
      {"name": "security-sees-critical", "match": {"risk_at_or_above": "critical"},
       "channel": "C0SECURITY"}
    ]

`routes` are tried in order and the first that matches wins: the change is posted to its
`channel` and only its `approvers` (Slack users `U…`/`W…`, user groups `S…`) may decide
it. When none matches, the default route (`slack_channel_id` with the approvers the
deployment names) does. Every `also_to` entry that matches sends a copy to its channel,
for information (no buttons, updated with the outcome); never into the channel the change
is posted to, and one copy a channel.

A match holds when all its keys hold, and it needs at least one: `account` (account ids),
`ou` (OU or root ids: any of them in the account's parent chain, which ends at the root
`r-…`), `region`, `tag` (every tag given is on the group with that value; only the
policy's `owner_tag_keys` are read from the group) and `risk_at_or_above`. A list means
any of its values; ids are compared exactly. An unrated change has no risk to compare, so
`risk_at_or_above` does not match it. When the account's parent chain could not be read,
an `ou` match does not match, and `Routed.skipped_unknown_ou` names the routes that
would otherwise have been tried on it, so the caller can say why a change went elsewhere.

`read_routing` reads both keys and reports every problem naming its path: ids of the
wrong form, unknown keys, an empty match, a route without approvers, names used twice,
tag keys the group's tags are not read for, risk levels, and at most 50 routes and 20
`also_to` entries.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sgrevert.risk import Risk
from sgrevert.slack_ids import read_ids

MAX_ROUTES = 50
MAX_ALSO_TO = 20
MATCH_KEYS = ("account", "ou", "region", "tag", "risk_at_or_above")
ROUTE_KEYS = frozenset({"name", "match", "channel", "approvers"})
COPY_KEYS = frozenset({"name", "match", "channel"})
_ACCOUNT = re.compile(r"\d{12}")
_OU = re.compile(r"ou-[0-9a-z]{4,32}-[a-z0-9]{8,32}|r-[0-9a-z]{4,32}")
_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d{1,2}")
_CHANNEL = re.compile(r"[CG][A-Z0-9]{2,31}")
_LEVELS = ", ".join(r.label for r in Risk)
_APPROVERS = "Slack user ids (U…, W…) and user group ids (S…)"


@dataclass(frozen=True)
class RouteFacts:
    """What a change is routed on."""

    account: str
    region: str
    ous: tuple[str, ...] | None  # the account's parent chain, nearest first; None: not known
    tags: Mapping[str, str]  # the group's owner tags
    risk: Risk | None  # None: not rated


@dataclass(frozen=True)
class Match:
    """Empty tuples and mappings, and a None level, constrain nothing."""

    account: tuple[str, ...] = ()
    ou: tuple[str, ...] = ()
    region: tuple[str, ...] = ()
    tag: Mapping[str, str] = field(default_factory=dict)
    risk_at_or_above: Risk | None = None

    def holds_but_for_ou(self, facts: RouteFacts) -> bool:
        """Every key but `ou` holds."""
        return (
            (not self.account or facts.account in self.account)
            and (not self.region or facts.region in self.region)
            and all(facts.tags.get(key) == value for key, value in self.tag.items())
            and (
                self.risk_at_or_above is None
                or (facts.risk is not None and facts.risk >= self.risk_at_or_above)
            )
        )

    def holds(self, facts: RouteFacts) -> bool:
        """Every key holds; an `ou` key does not when the parent chain is not known."""
        if not self.holds_but_for_ou(facts):
            return False
        if not self.ou:
            return True
        return facts.ous is not None and any(ou in facts.ous for ou in self.ou)

    def needs_unknown_ou(self, facts: RouteFacts) -> bool:
        """It would hold but for an `ou` key, and the parent chain is not known."""
        return bool(self.ou) and facts.ous is None and self.holds_but_for_ou(facts)


@dataclass(frozen=True)
class Route:
    """Where matching changes are posted and who may decide them. The default route (the
    deployment's channel and approvers) has the empty match."""

    name: str
    channel: str
    approvers: tuple[str, ...]  # Slack users U…/W… and user groups S…
    match: Match = field(default_factory=Match)


@dataclass(frozen=True)
class Copy:
    """A channel that sees matching changes for information: no buttons."""

    name: str
    channel: str
    match: Match


@dataclass(frozen=True)
class Routed:
    """The route a change takes, and the routes passed over because the account's parent
    chain was not known (each would have been tried on it; they come before `route`)."""

    route: Route
    skipped_unknown_ou: tuple[str, ...] = ()


@dataclass(frozen=True)
class Routing:
    routes: tuple[Route, ...] = ()  # first match wins
    also_to: tuple[Copy, ...] = ()

    def route_for(self, facts: RouteFacts, default: Route) -> Routed:
        """The first route that matches `facts`, `default` when none does."""
        skipped: list[str] = []
        for route in self.routes:
            if route.match.holds(facts):
                return Routed(route, tuple(skipped))
            if route.match.needs_unknown_ou(facts):
                skipped.append(route.name)
        return Routed(default, tuple(skipped))

    def copies_for(self, facts: RouteFacts, posted_to: str) -> tuple[str, ...]:
        """The channels that get a copy of a change posted to `posted_to`, in policy
        order, each once."""
        return _unique(
            copy.channel
            for copy in self.also_to
            if copy.channel != posted_to and copy.match.holds(facts)
        )

    @property
    def needs_ous(self) -> bool:
        """Some match names an OU: the account's parent chain must be read."""
        return any(match.ou for match in self._matches)

    @property
    def channels(self) -> tuple[str, ...]:
        """Every channel named, routes first, each once (the bot must be in each)."""
        return _unique([r.channel for r in self.routes] + [c.channel for c in self.also_to])

    @property
    def tag_keys(self) -> tuple[str, ...]:
        """Every tag key a match names, each once."""
        return _unique(key for match in self._matches for key in match.tag)

    @property
    def _matches(self) -> list[Match]:
        return [r.match for r in self.routes] + [c.match for c in self.also_to]


def _unique(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(values))


def read_routing(
    document: Mapping[str, Any], errors: list[str], *, owner_tag_keys: tuple[str, ...]
) -> Routing:
    """The `routes` and `also_to` keys of the policy `document` (none when absent).
    Appends one message to `errors` per problem, each naming its path."""
    reader = _RoutingReader(errors, owner_tag_keys)
    # One after the other, so the problems are reported in document order.
    routes = [
        reader.route(entry, path)
        for entry, path in reader.entries(document.get("routes", []), "routes", MAX_ROUTES)
    ]
    copies = [
        reader.copy(entry, path)
        for entry, path in reader.entries(document.get("also_to", []), "also_to", MAX_ALSO_TO)
    ]
    return Routing(
        routes=tuple(route for route in routes if route is not None),
        also_to=tuple(copy for copy in copies if copy is not None),
    )


class _RoutingReader:
    def __init__(self, errors: list[str], owner_tag_keys: tuple[str, ...]) -> None:
        self.errors = errors
        self.owner_tag_keys = owner_tag_keys
        self.names: dict[str, str] = {}  # name -> the path that named it first

    def entries(self, value: Any, key: str, most: int) -> list[tuple[Mapping[str, Any], str]]:
        """The objects of the list at `key`, each with its path."""
        if not isinstance(value, list):
            self.errors.append(f"{key} must be a list of objects, not {value!r}")
            return []
        if len(value) > most:
            self.errors.append(f"{key} lists {len(value)} entries: at most {most}")
        found: list[tuple[Mapping[str, Any], str]] = []
        for index, item in enumerate(value):
            path = f"{key}[{index}]"
            if isinstance(item, Mapping):
                found.append((item, path))
            else:
                self.errors.append(f"{path} must be an object, not {item!r}")
        return found

    def route(self, entry: Mapping[str, Any], path: str) -> Route | None:
        before = len(self.errors)
        self._unknown(entry, ROUTE_KEYS, path, "a route")
        name = self._name(entry, path)
        match = self._match(
            entry, path, "a route for every change is the default: slack_channel_id"
        )
        channel = self._channel(entry, path, "the route posts to")
        approvers = self._approvers(entry, path)
        if len(self.errors) > before or name is None or match is None or channel is None:
            return None
        return Route(name, channel, approvers, match)

    def copy(self, entry: Mapping[str, Any], path: str) -> Copy | None:
        before = len(self.errors)
        self._unknown(entry, COPY_KEYS, path, "an also_to entry", explained={"approvers"})
        if "approvers" in entry:
            self.errors.append(
                f"{path}.approvers: a copy is for information, nobody decides from it; "
                "to let others decide, add them to the route's approvers"
            )
        name = self._name(entry, path)
        match = self._match(
            entry, path, 'for a copy of every rated change: {"risk_at_or_above": "low"}'
        )
        channel = self._channel(entry, path, "that gets the copies")
        if len(self.errors) > before or name is None or match is None or channel is None:
            return None
        return Copy(name, channel, match)

    def _unknown(
        self,
        entry: Mapping[str, Any],
        known: frozenset[str],
        path: str,
        what: str,
        explained: Iterable[str] = (),  # keys with a message of their own
    ) -> None:
        for key in sorted(set(entry) - known - set(explained)):
            self.errors.append(f"{path}.{key} is not a key of {what} ({', '.join(sorted(known))})")

    def _name(self, entry: Mapping[str, Any], path: str) -> str | None:
        name = entry.get("name")
        if not isinstance(name, str) or not name.strip():
            self.errors.append(
                f"{path}.name is required: a non-empty string, unique among routes and also_to"
            )
            return None
        name = name.strip()
        if name in self.names:
            self.errors.append(
                f"{path}.name {name!r} is used twice (also by {self.names[name]}): names "
                "of routes and also_to entries are unique"
            )
        else:
            self.names[name] = path
        return name

    def _channel(self, entry: Mapping[str, Any], path: str, what: str) -> str | None:
        if "channel" not in entry:
            self.errors.append(f"{path}.channel is required: the Slack channel id (C…, G…) {what}")
            return None
        channel = entry["channel"]
        if not isinstance(channel, str) or not _CHANNEL.fullmatch(channel):
            self.errors.append(
                f"{path}.channel {channel!r} is not a Slack channel id (C…, G…): use the id "
                "from the channel's details, not its name"
            )
            return None
        return channel

    def _approvers(self, entry: Mapping[str, Any], path: str) -> tuple[str, ...]:
        key = f"{path}.approvers"
        if "approvers" not in entry:
            self.errors.append(f"{key} is required: the {_APPROVERS} who may decide its changes")
            return ()
        value = entry["approvers"]
        if not isinstance(value, list):
            self.errors.append(f"{key} must be a list of {_APPROVERS}, not {value!r}")
            return ()
        if not value:
            self.errors.append(
                f"{key} is empty: nobody could decide its changes; name the {_APPROVERS} who may"
            )
        return read_ids(value, key, self.errors)

    def _match(self, entry: Mapping[str, Any], path: str, why_not_empty: str) -> Match | None:
        key = f"{path}.match"
        keys = ", ".join(MATCH_KEYS)
        if "match" not in entry:
            self.errors.append(f"{key} is required: an object with any of {keys}")
            return None
        value = entry["match"]
        if not isinstance(value, Mapping):
            self.errors.append(f"{key} must be an object with any of {keys}, not {value!r}")
            return None
        if not value:
            self.errors.append(f"{key} is empty: give at least one of {keys} ({why_not_empty})")
            return None
        for unknown in sorted(set(value) - set(MATCH_KEYS)):
            self.errors.append(f"{key}.{unknown} is not a match key ({keys})")
        return Match(
            account=self._ids(
                value, "account", key, _ACCOUNT, "an AWS account id (12 digits, as a string)"
            ),
            ou=self._ids(
                value,
                "ou",
                key,
                _OU,
                "an OU id (ou-…-…) or root id (r-…): use the id from Organizations, not "
                "the OU's name",
            ),
            region=self._ids(value, "region", key, _REGION, "a region name such as eu-west-1"),
            tag=self._tags(value, key),
            risk_at_or_above=self._level(value, key),
        )

    def _ids(
        self, match: Mapping[str, Any], name: str, path: str, form: re.Pattern[str], what: str
    ) -> tuple[str, ...]:
        """An id or a non-empty list of them: any of them matches."""
        if name not in match:
            return ()
        key = f"{path}.{name}"
        value = match[name]
        if isinstance(value, str):
            items = [(key, value)]
        elif isinstance(value, list) and value:
            items = [(f"{key}[{index}]", item) for index, item in enumerate(value)]
        else:
            self.errors.append(f"{key} must be {what} or a non-empty list of them, not {value!r}")
            return ()
        ids: list[str] = []
        for where, item in items:
            if not isinstance(item, str) or not form.fullmatch(item):
                self.errors.append(f"{where} {item!r} is not {what}")
            elif item in ids:
                self.errors.append(f"{where} {item!r} is listed twice")
            else:
                ids.append(item)
        return tuple(ids)

    def _tags(self, match: Mapping[str, Any], path: str) -> dict[str, str]:
        if "tag" not in match:
            return {}
        key = f"{path}.tag"
        value = match["tag"]
        example = 'such as {"Owner": "payments"}'
        if not isinstance(value, Mapping):
            self.errors.append(
                f"{key} must be an object of tag key to value, {example}, not {value!r}"
            )
            return {}
        if not value:
            self.errors.append(f"{key} is empty: give the tags the group must have, {example}")
        tags: dict[str, str] = {}
        read = ", ".join(self.owner_tag_keys) or "none"
        for tag, item in value.items():
            if tag not in self.owner_tag_keys:
                self.errors.append(
                    f"{key}.{tag}: only the owner_tag_keys ({read}) are read from the group; "
                    f"add {tag!r} to owner_tag_keys to route on it"
                )
            elif not isinstance(item, str):
                self.errors.append(f"{key}.{tag} must be the tag's value (a string), not {item!r}")
            else:
                tags[tag] = item
        return tags

    def _level(self, match: Mapping[str, Any], path: str) -> Risk | None:
        if "risk_at_or_above" not in match:
            return None
        key = f"{path}.risk_at_or_above"
        value = match["risk_at_or_above"]
        if not isinstance(value, str):
            self.errors.append(f"{key} must be a risk level ({_LEVELS}), not {value!r}")
            return None
        try:
            return Risk.parse(value)
        except ValueError as error:
            self.errors.append(f"{key}: {error}")
            return None
