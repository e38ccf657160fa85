"""Whether a new rule changes anything: an existing rule that already allows its traffic,
and whether it is the group's first rule open to the internet.

Pure. `existing` is the group's rules as read after the change (`ChangeContext.rules`),
so it holds the new rules too: a rule never covers itself (same id, or the same
traffic when it has no id), and `others` drops every rule of the change.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from sgrevert.model import Change, Rule, SourceKind

# DescribeSecurityGroupRules gives names for these and IANA numbers for the rest.
_PROTOCOL_NAMES = {"6": "tcp", "17": "udp", "1": "icmp", "58": "icmpv6"}
_PORTED = frozenset({"tcp", "udp"})
_ICMP = frozenset({"icmp", "icmpv6"})
_CIDRS = frozenset({SourceKind.CIDR_IPV4, SourceKind.CIDR_IPV6})
_Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def covering_rule(rule: Rule, existing: Iterable[Rule]) -> Rule | None:
    """The first other rule in the same direction that allows all `rule` allows."""
    for other in existing:
        if _same_rule(rule, other) or other.direction is not rule.direction:
            continue
        if _covers_traffic(other, rule) and _covers_source(other, rule):
            return other
    return None


def allows_no_more(after: Rule, before: Rule) -> bool:
    """A modification from `before` to `after` narrows (or keeps) access: `after` lets in
    only traffic `before` let in (a subset of protocol, ports and source)."""
    return _covers_traffic(before, after) and _covers_source(before, after)


def opens_to_internet(rule: Rule) -> bool:
    """A CIDR source of prefix length 0: 0.0.0.0/0, ::/0 (or 10.0.0.0/0, which is the same)."""
    network = _network(rule)
    return network is not None and network.prefixlen == 0


def first_open_to_internet(rule: Rule, existing: Iterable[Rule]) -> bool:
    """`rule` opens the group to the internet and no other of its rules in that direction
    did."""
    if not opens_to_internet(rule):
        return False
    return not any(
        other.direction is rule.direction and opens_to_internet(other)
        for other in existing
        if not _same_rule(rule, other)
    )


def others(change: Change, existing: Iterable[Rule]) -> tuple[Rule, ...]:
    """The group's rules other than those the change itself added or modified."""
    ids = {r.rule_id for r in change.rules if r.rule_id}
    anonymous = [_traffic_key(r) for r in change.rules if not r.rule_id]
    return tuple(
        other
        for other in existing
        if other.rule_id not in ids and _traffic_key(other) not in anonymous
    )


def _same_rule(rule: Rule, other: Rule) -> bool:
    if rule.rule_id and other.rule_id:
        return rule.rule_id == other.rule_id
    return _traffic_key(rule) == _traffic_key(other)


def _traffic_key(rule: Rule) -> tuple[object, ...]:
    """What a rule allows, ignoring its id and description."""
    return (
        rule.direction,
        _protocol(rule),
        _ports(rule),
        rule.source_kind,
        str(_network(rule) or rule.source),
    )


def _protocol(rule: Rule) -> str:
    protocol = rule.protocol.lower()
    return _PROTOCOL_NAMES.get(protocol, protocol)


def _ports(rule: Rule) -> tuple[int, int] | None:
    """tcp/udp: the inclusive range; icmp: (type, code) with -1 for all; else None."""
    protocol = _protocol(rule)
    if protocol in _PORTED:
        if rule.from_port is None or rule.from_port < 0:
            return (0, 65535)
        high = rule.to_port if rule.to_port is not None and rule.to_port >= 0 else rule.from_port
        return (rule.from_port, high)
    if protocol in _ICMP:
        icmp_type = -1 if rule.from_port is None else rule.from_port
        code = -1 if rule.to_port is None or icmp_type == -1 else rule.to_port
        return (icmp_type, code)
    return None


def _covers_traffic(wide: Rule, narrow: Rule) -> bool:
    protocol = _protocol(wide)
    if protocol == "-1":
        return True
    if protocol != _protocol(narrow):
        return False
    outer, inner = _ports(wide), _ports(narrow)
    if outer is None or inner is None:
        return outer == inner  # protocols without ports: the protocol is all there is
    if protocol in _PORTED:
        return outer[0] <= inner[0] and inner[1] <= outer[1]
    # icmp: -1 is every type (and so every code), or every code of one type.
    if outer[0] == -1:
        return True
    return outer[0] == inner[0] and (outer[1] == -1 or outer[1] == inner[1])


def _covers_source(wide: Rule, narrow: Rule) -> bool:
    if wide.source_kind is not narrow.source_kind:
        return False
    if wide.source_kind not in _CIDRS:
        return wide.source == narrow.source  # prefix lists and groups: only themselves
    outer, inner = _network(wide), _network(narrow)
    if outer is None or inner is None:
        return wide.source == narrow.source
    if outer.version != inner.version:
        return False
    return inner.subnet_of(outer)  # type: ignore[arg-type]  # same version, checked above


def _network(rule: Rule) -> _Network | None:
    if rule.source_kind not in _CIDRS:
        return None
    try:
        return ipaddress.ip_network(rule.source, strict=False)
    except ValueError:
        return None
