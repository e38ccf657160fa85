"""How risky a change is, from the access it grants.

Pure. The levels, highest first:

- critical: a public source (`0.0.0.0/0`, `::/0`) to all traffic or to an administrative
  or data port (`RiskRules.critical_ports`);
- high: a public source to any other port or protocol;
- medium: a very wide range that is not public (IPv4 prefix at most `/8`, IPv6 at most
  `/32`, e.g. `10.0.0.0/8`) or a group in another account;
- low: the rest, and every removal (a Revoke, or a prefix-list edit that only removed
  entries, only narrows access).

An Authorize is rated on the rules it added and a ModifySecurityGroupRules on the rules'
new values (its after-state), whatever they were before. A prefix-list edit opens every
rule that references the list, so each added CIDR is rated as a source of each of those
rules (`references`). When they are not known (not read yet, or the read failed), it is
rated at worst, as if the CIDR reached all traffic, and the reason says so; when no
security group references the list, it is low.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, replace
from enum import IntEnum

from sgrevert.model import (
    PREFIX_LIST_EVENT,
    REMOVAL_EVENTS,
    Change,
    Direction,
    PrefixListEdit,
    Rule,
    SourceKind,
)

# Remote access, databases, caches, search and dashboards, Docker, SMB and telnet.
DEFAULT_CRITICAL_PORTS: tuple[int, ...] = (
    22,
    3389,
    3306,
    5432,
    1433,
    1521,
    27017,
    6379,
    9200,
    5601,
    2375,
    445,
    23,
)
DEFAULT_WIDE_IPV4_PREFIX = 8
DEFAULT_WIDE_IPV6_PREFIX = 32
PUBLIC_SOURCES = frozenset({"0.0.0.0/0", "::/0"})
_PORTED = frozenset({"tcp", "udp", "6", "17"})
# What an added prefix-list entry could reach when the rules referencing the list are unknown.
_ALL_TRAFFIC = Rule(Direction.INGRESS, "-1", None, None, SourceKind.CIDR_IPV4, "")


class Risk(IntEnum):
    """Ordered so thresholds compare: `risk >= Risk.HIGH`."""

    LOW = 1
    MEDIUM = 2
    HIGH = 3
    CRITICAL = 4

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Risk:
        """`critical`, `High`...; ValueError naming the choices otherwise."""
        try:
            return cls[text.strip().upper()]
        except KeyError:
            choices = ", ".join(r.label for r in cls)
            raise ValueError(f"{text!r} is not a risk level ({choices})") from None

    def lowered(self) -> Risk:
        """One level down, low staying low."""
        return Risk(max(Risk.LOW, self - 1))


@dataclass(frozen=True)
class RiskRules:
    critical_ports: frozenset[int] = frozenset(DEFAULT_CRITICAL_PORTS)
    wide_ipv4_prefix: int = DEFAULT_WIDE_IPV4_PREFIX
    wide_ipv6_prefix: int = DEFAULT_WIDE_IPV6_PREFIX


@dataclass(frozen=True)
class Assessment:
    risk: Risk
    reason: str  # the rule that set the level, in words: "0.0.0.0/0 to tcp 22"


_NARROW = Assessment(Risk.LOW, "narrow source")


def assess(
    change: Change, rules: RiskRules | None = None, references: Iterable[Rule] | None = None
) -> Assessment:
    """The highest risk among the change's rules, with the first rule that reached it.

    `references` matters only for a prefix-list edit: the rules, in any group of the
    list's account and region, whose source is the list (None: not known)."""
    rules = rules or RiskRules()
    if change.event_name in REMOVAL_EVENTS:
        return Assessment(Risk.LOW, "rules removed")
    if change.event_name == PREFIX_LIST_EVENT:
        return _prefix_list_risk(change, rules, references)
    return _highest(
        (_rule_risk(change, rule, rules) for rule in change.rules),
        Assessment(Risk.LOW, "no public, wide or cross-account source"),
    )


def _prefix_list_risk(
    change: Change, rules: RiskRules, references: Iterable[Rule] | None
) -> Assessment:
    edit = change.prefix_list
    if edit is None or not edit.added:
        return Assessment(Risk.LOW, "entries removed")
    where = _list_label(edit)
    if references is None:
        found = _highest(_entry_risks(change, edit, (_ALL_TRAFFIC,), rules))
        return Assessment(
            found.risk,
            f"{found.reason} via {where} at worst: the rules that reference it are not known",
        )
    referencing = tuple(references)
    if not referencing:
        return Assessment(Risk.LOW, f"no security group references {where}")
    found = _highest(_entry_risks(change, edit, referencing, rules))
    return Assessment(found.risk, f"{found.reason} via {where}")


def _entry_risks(
    change: Change, edit: PrefixListEdit, referencing: tuple[Rule, ...], rules: RiskRules
) -> Iterable[Assessment]:
    """Each added CIDR as the source of each referencing rule."""
    for rule in referencing:
        for entry in edit.added:
            kind = SourceKind.CIDR_IPV6 if ":" in entry.cidr else SourceKind.CIDR_IPV4
            yield _rule_risk(change, replace(rule, source_kind=kind, source=entry.cidr), rules)


def _highest(found: Iterable[Assessment], floor: Assessment = _NARROW) -> Assessment:
    """The first assessment of the highest level (`floor` when none is above low)."""
    best = floor
    for assessment in found:
        if assessment.risk > best.risk:
            best = assessment
    return best


def _list_label(edit: PrefixListEdit) -> str:
    return (
        f"prefix list {edit.name} ({edit.list_id})" if edit.name else f"prefix list {edit.list_id}"
    )


def _rule_risk(change: Change, rule: Rule, rules: RiskRules) -> Assessment:
    traffic = "all traffic" if rule.protocol == "-1" else f"{rule.protocol} {rule.ports}"
    if rule.source_kind is SourceKind.GROUP:
        if rule.source_account and rule.source_account != change.account:
            return Assessment(Risk.MEDIUM, f"group {rule.source} in account {rule.source_account}")
        return Assessment(Risk.LOW, "same-account group")
    if rule.source_kind is SourceKind.PREFIX_LIST:
        return Assessment(Risk.LOW, "prefix list")
    if rule.source in PUBLIC_SOURCES:
        if rule.protocol == "-1" or _opens_critical_port(rule, rules.critical_ports):
            return Assessment(Risk.CRITICAL, f"{rule.source} to {traffic}")
        return Assessment(Risk.HIGH, f"{rule.source} to {traffic}")
    if _is_wide(rule.source, rules):
        return Assessment(Risk.MEDIUM, f"wide range {rule.source} to {traffic}")
    return Assessment(Risk.LOW, "narrow source")


def _opens_critical_port(rule: Rule, ports: frozenset[int]) -> bool:
    if rule.protocol not in _PORTED:
        return False  # icmp and other protocols have no ports
    if rule.from_port is None or rule.from_port < 0:
        return True  # tcp/udp without ports means every port
    high = rule.to_port if rule.to_port is not None and rule.to_port >= 0 else 65535
    return any(rule.from_port <= port <= high for port in ports)


def _is_wide(cidr: str, rules: RiskRules) -> bool:
    try:
        network = ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        return False
    limit = rules.wide_ipv4_prefix if network.version == 4 else rules.wide_ipv6_prefix
    return network.prefixlen <= limit
