"""How risky a change is, from its rules alone.

Pure. The levels, highest first:

- critical: a public source (`0.0.0.0/0`, `::/0`) to all traffic or to an administrative
  or data port (`RiskRules.critical_ports`);
- high: a public source to any other port or protocol;
- medium: a very wide range that is not public (IPv4 prefix at most `/8`, IPv6 at most
  `/32`, e.g. `10.0.0.0/8`) or a group in another account;
- low: the rest, and every removal (a Revoke only narrows access).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from enum import IntEnum

from sgrevert.model import Change, Rule, SourceKind

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
_REMOVALS = frozenset({"RevokeSecurityGroupIngress", "RevokeSecurityGroupEgress"})


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


def assess(change: Change, rules: RiskRules | None = None) -> Assessment:
    """The highest risk among the change's rules, with the first rule that reached it."""
    rules = rules or RiskRules()
    if change.event_name in _REMOVALS:
        return Assessment(Risk.LOW, "rules removed")
    best = Assessment(Risk.LOW, "no public, wide or cross-account source")
    for rule in change.rules:
        found = _rule_risk(change, rule, rules)
        if found.risk > best.risk:
            best = found
    return best


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
