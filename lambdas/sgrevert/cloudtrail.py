"""One CloudTrail record (trail file entry, Lake `eventJson`, EventBridge `detail`) -> `Change`.

Pure: no AWS calls. Anything that is not a successful, watched call that changed a
security group's rules or a prefix list's entries raises `SkipRecord` with a reason; no
other exception escapes for bad input.

Shapes handled (as CloudTrail writes them):
- Authorize*/Revoke*: request `ipPermissions.items[]` with `ipRanges`, `ipv6Ranges`,
  `prefixListIds`, `groups` (empty sets are `{}`), or the legacy top-level `cidrIp`,
  `ipProtocol`, `fromPort`, `toPort`, `sourceSecurityGroupName`; response
  `securityGroupRuleSet.items[]` (Authorize) or `revokedSecurityGroupRuleSet.items[]`
  (Revoke) carrying the rule ids. Calls by `groupName` get their group id from the
  response.
- Revoke by `securityGroupRuleIds.items[].securityGroupRuleId`: when the response does
  not describe the revoked rule, the rule is *id-only*: `protocol` and `source` are
  empty strings (`is_id_only`), ports None, `source_kind` CIDR_IPV4 as a filler.
- ModifySecurityGroupRules: `requestParameters.ModifySecurityGroupRulesRequest` with
  `GroupId` and `SecurityGroupRule` (one object, or a list for several rules), each
  `{SecurityGroupRuleId, SecurityGroupRule: {IpProtocol, FromPort, ToPort, CidrIpv4 |
  CidrIpv6 | PrefixListId | ReferencedGroupId, Description}}`. The rules are the new
  (after) values; what they were before is not in the record (the detector looks it
  up). CloudTrail does not say whether the modified rule is ingress or egress, so
  `direction` is INGRESS as a placeholder (`direction_known` is False for these).
- ModifyManagedPrefixList: `requestParameters.ModifyManagedPrefixListRequest` with
  `PrefixListId`, `CurrentVersion`, `AddEntry` and `RemoveEntry` (one `{Cidr,
  Description}` object, or a list for several); response
  `ModifyManagedPrefixListResponse.prefixList` with `prefixListName` and `ownerId`. The
  change's `group_id` is the list id, `rules` is empty and `prefix_list` holds the
  entries. A call that adds and removes nothing (a rename, a new size) is skipped.

Lake's `requestParameters` column is a map of JSON text; nested values given as JSON
text are decoded, and numbers/booleans given as strings are accepted. The newer
query-style requests are read wrapped in their `<Action>Request` envelope or not, with
either capitalisation of their keys.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from sgrevert.model import (
    MODIFY_RULES_EVENT,
    PREFIX_LIST_EVENT,
    REMOVAL_EVENTS,
    WATCHED_EVENTS,
    Actor,
    Change,
    Direction,
    PrefixListEdit,
    PrefixListEntry,
    Rule,
    SourceKind,
    parse_time,
)

EC2_SOURCE = "ec2.amazonaws.com"
MODIFY_EVENT = MODIFY_RULES_EVENT

_PROTOCOLS = {
    "tcp": "tcp",
    "6": "tcp",
    "udp": "udp",
    "17": "udp",
    "icmp": "icmp",
    "1": "icmp",
    "icmpv6": "icmpv6",
    "58": "icmpv6",
    "-1": "-1",
    "all": "-1",
}
_PORTED = frozenset({"tcp", "udp", "icmp", "icmpv6"})
_PARTITION = re.compile(r"^arn:(aws[a-z0-9-]*):")
_REGION_PARTITIONS = (
    ("us-gov-", "aws-us-gov"),
    ("cn-", "aws-cn"),
    ("us-isob-", "aws-iso-b"),
    ("us-iso-", "aws-iso"),
)
# The broken-input errors the defensive helpers can still meet (int('x'), deep JSON...).
_MALFORMED = (ArithmeticError, AttributeError, LookupError, TypeError, ValueError, RecursionError)


class SkipRecord(Exception):
    """The record is not a change to post; `reason` says why (for logs)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def is_id_only(rule: Rule) -> bool:
    """True for a revoked rule CloudTrail recorded only by its id."""
    return not rule.protocol and not rule.source


def direction_known(event_name: str) -> bool:
    """False for ModifySecurityGroupRules, whose records do not say ingress or egress."""
    return event_name != MODIFY_EVENT


def normalize_protocol(value: Any) -> str:
    """CloudTrail/EC2 protocol -> "tcp", "udp", "icmp", "icmpv6", "-1" or an IANA number."""
    text = _text(value)
    if text is None:
        raise SkipRecord("rule without a protocol")
    lowered = text.lower()
    if lowered in _PROTOCOLS:
        return _PROTOCOLS[lowered]
    if lowered.isdigit() and 0 <= int(lowered) <= 255:
        return str(int(lowered))
    raise SkipRecord(f"unknown protocol {text[:40]!r}")


def parse_record(record: Mapping[str, Any]) -> Change:
    """Turn one CloudTrail record into a Change, or raise SkipRecord saying why not."""
    try:
        return _parse(record)
    except SkipRecord:
        raise
    except _MALFORMED as error:
        raise SkipRecord(f"malformed record ({type(error).__name__})") from error


# -- the record ----------------------------------------------------------------------------


def _parse(record: Any) -> Change:
    if not isinstance(record, Mapping):
        raise SkipRecord("record is not a JSON object")
    event_name = _text(record.get("eventName"))
    if event_name not in WATCHED_EVENTS:
        raise SkipRecord(f"event {str(event_name)[:80]!r} is not watched")
    source = _text(record.get("eventSource"))
    if source != EC2_SOURCE:
        raise SkipRecord(f"event source {str(source)[:80]!r} is not {EC2_SOURCE}")
    error_code = record.get("errorCode")
    if error_code not in (None, ""):
        raise SkipRecord(f"call failed with {str(error_code)[:80]}")

    event_id = _required(record, "eventID")
    region = _required(record, "awsRegion")
    time_text = _required(record, "eventTime")
    try:
        event_time = parse_time(time_text)
    except ValueError:
        raise SkipRecord(f"unreadable eventTime {time_text[:40]!r}") from None

    request = _mapping(record.get("requestParameters")) or {}
    response = _mapping(record.get("responseElements")) or {}

    prefix_list: PrefixListEdit | None = None
    rules: list[Rule] = []
    if event_name == PREFIX_LIST_EVENT:
        prefix_list, owner = _prefix_list_edit(request, response)
        group_id, owners = prefix_list.list_id, [owner]
    else:
        group_id, rules, owners = _rule_change(event_name, request, response)

    account = _text(record.get("recipientAccountId")) or next((a for a in owners if a), None)
    if account is None:
        raise SkipRecord("no recipientAccountId")

    actor, arns = _actor(record)
    return Change(
        event_id=event_id,
        event_name=event_name,
        event_time=event_time,
        account=account,
        region=region,
        group_id=group_id,
        actor=actor,
        rules=tuple(rules),
        group_name=_text(request.get("groupName")),
        vpc_id=_text(request.get("vpcId")),
        partition=_partition(arns, region),
        prefix_list=prefix_list,
    )


def _rule_change(
    event_name: str, request: Mapping[str, Any], response: Mapping[str, Any]
) -> tuple[str, list[Rule], list[str | None]]:
    """A security-group call's group id, rules, and the group owners its response names."""
    response_items: list[Mapping[str, Any]] = []
    if event_name == MODIFY_EVENT:
        modify = _envelope(request, "ModifySecurityGroupRulesRequest")
        group_id = _text(_get(modify, "GroupId", "groupId"))
        rules = _modify_rules(modify)
    else:
        direction = Direction.EGRESS if event_name.endswith("Egress") else Direction.INGRESS
        group_id = _text(request.get("groupId"))
        removal = event_name in REMOVAL_EVENTS
        set_name = "revokedSecurityGroupRuleSet" if removal else "securityGroupRuleSet"
        response_items = _items(response.get(set_name), single=True)
        returned = [_response_rule(item, direction) for item in response_items]
        rules = _match(_request_rules(request, direction), returned)
        if removal:
            rules += _id_only_rules(request, direction, rules)
    if group_id is None:
        group_id = next((g for g in (_text(i.get("groupId")) for i in response_items) if g), None)
    if group_id is None:
        raise SkipRecord("no security group id in the request or the response")
    if not rules:
        raise SkipRecord(f"{event_name} on {group_id} names no rules")
    return group_id, rules, [_text(i.get("groupOwnerId")) for i in response_items]


def _required(record: Mapping[str, Any], key: str) -> str:
    value = _text(record.get(key))
    if value is None:
        raise SkipRecord(f"no {key}")
    return value


def _actor(record: Mapping[str, Any]) -> tuple[Actor, list[str]]:
    identity = _mapping(record.get("userIdentity")) or {}
    kind = _text(identity.get("type")) or "Unknown"
    context = _mapping(identity.get("sessionContext")) or {}
    issuer = _text((_mapping(context.get("sessionIssuer")) or {}).get("arn"))
    invoked_by = _text(identity.get("invokedBy"))
    arn = _text(identity.get("arn"))
    account = _text(identity.get("accountId"))
    # Service principals and cross-account callers have no ARN; name them as CloudTrail does.
    label = (
        arn
        or invoked_by
        or _text(identity.get("principalId"))
        or (f"{kind} in account {account}" if account else kind)
    )
    actor = Actor(
        arn=label,
        type=kind,
        session_issuer=issuer,
        invoked_by=invoked_by,
        source_ip=_text(record.get("sourceIPAddress")),
        user_agent=_text(record.get("userAgent")),
    )
    return actor, [a for a in (arn, issuer) if a]


def _partition(arns: list[str], region: str) -> str:
    for arn in arns:
        found = _PARTITION.match(arn)
        if found:
            return found.group(1)
    for prefix, partition in _REGION_PARTITIONS:
        if region.startswith(prefix):
            return partition
    return "aws"


# -- rules -----------------------------------------------------------------------------------


def _request_rules(request: Mapping[str, Any], direction: Direction) -> list[Rule]:
    rules: list[Rule] = []
    for permission in _items(request.get("ipPermissions")):
        rules += _permission_rules(permission, direction)
    # Legacy form (CidrIp/IpProtocol/... at the top level), still used by some SDK calls.
    legacy_cidr = _text(request.get("cidrIp"))
    legacy_group = _text(request.get("sourceSecurityGroupName"))
    if legacy_cidr or legacy_group:
        protocol = normalize_protocol(request.get("ipProtocol") or "-1")
        from_port, to_port = _ports(protocol, request.get("fromPort"), request.get("toPort"))
        if legacy_cidr:
            kind = SourceKind.CIDR_IPV6 if ":" in legacy_cidr else SourceKind.CIDR_IPV4
            rules.append(Rule(direction, protocol, from_port, to_port, kind, legacy_cidr))
        if legacy_group:
            rules.append(
                Rule(
                    direction,
                    protocol,
                    from_port,
                    to_port,
                    SourceKind.GROUP,
                    legacy_group,
                    source_account=_text(request.get("sourceSecurityGroupOwnerId")),
                )
            )
    return rules


def _permission_rules(permission: Mapping[str, Any], direction: Direction) -> list[Rule]:
    protocol = normalize_protocol(permission.get("ipProtocol"))
    from_port, to_port = _ports(protocol, permission.get("fromPort"), permission.get("toPort"))

    def rule(kind: SourceKind, source: str, item: Mapping[str, Any], owner: Any = None) -> Rule:
        return Rule(
            direction=direction,
            protocol=protocol,
            from_port=from_port,
            to_port=to_port,
            source_kind=kind,
            source=source,
            source_account=_text(owner),
            description=_text(item.get("description")),
        )

    rules: list[Rule] = []
    for key, field, kind in (
        ("ipRanges", "cidrIp", SourceKind.CIDR_IPV4),
        ("ipv6Ranges", "cidrIpv6", SourceKind.CIDR_IPV6),
        ("prefixListIds", "prefixListId", SourceKind.PREFIX_LIST),
    ):
        for item in _items(permission.get(key)):
            rules.append(rule(kind, _source(item, field), item))
    for item in _items(permission.get("groups")):
        # Default-VPC calls may name the referenced group; the response then has its id.
        group = _text(item.get("groupId")) or _text(item.get("groupName"))
        if group is None:
            raise SkipRecord("referenced group without groupId or groupName")
        rules.append(rule(SourceKind.GROUP, group, item, item.get("userId")))
    return rules


def _response_rule(item: Mapping[str, Any], default: Direction) -> Rule:
    egress = _bool(item.get("isEgress"))
    direction = default if egress is None else (Direction.EGRESS if egress else Direction.INGRESS)
    protocol = normalize_protocol(item.get("ipProtocol"))
    from_port, to_port = _ports(protocol, item.get("fromPort"), item.get("toPort"))
    kind, source, owner = _rule_source(
        item,
        ipv4="cidrIpv4",
        ipv6="cidrIpv6",
        prefix_list="prefixListId",
        groups=("referencedGroupId", "referencedSecurityGroupId"),
    )
    reference = _mapping(item.get("referencedGroupInfo"))
    if kind is None and reference is not None:
        kind, source = SourceKind.GROUP, _source(reference, "groupId")
        owner = _text(reference.get("userId"))
    if kind is None or source is None:
        raise SkipRecord("response rule without a source")
    return Rule(
        direction=direction,
        protocol=protocol,
        from_port=from_port,
        to_port=to_port,
        source_kind=kind,
        source=source,
        rule_id=_text(item.get("securityGroupRuleId")),
        source_account=owner,
        description=_text(item.get("description")),
    )


def _modify_rules(modify: Mapping[str, Any]) -> list[Rule]:
    rules: list[Rule] = []
    for entry in _items(_get(modify, "SecurityGroupRule", "securityGroupRule"), single=True):
        rule_id = _text(_get(entry, "SecurityGroupRuleId", "securityGroupRuleId"))
        spec = _mapping(_get(entry, "SecurityGroupRule", "securityGroupRule")) or {}
        protocol = normalize_protocol(_get(spec, "IpProtocol", "ipProtocol"))
        from_port, to_port = _ports(
            protocol, _get(spec, "FromPort", "fromPort"), _get(spec, "ToPort", "toPort")
        )
        kind, source, _ = _rule_source(
            spec,
            ipv4="CidrIpv4",
            ipv6="CidrIpv6",
            prefix_list="PrefixListId",
            groups=("ReferencedGroupId",),
        )
        if kind is None or source is None:
            raise SkipRecord("modified rule without a source")
        rules.append(
            Rule(
                direction=Direction.INGRESS,  # placeholder: see direction_known()
                protocol=protocol,
                from_port=from_port,
                to_port=to_port,
                source_kind=kind,
                source=source,
                rule_id=rule_id,
                description=_text(_get(spec, "Description", "description")),
            )
        )
    return rules


def _prefix_list_edit(
    request: Mapping[str, Any], response: Mapping[str, Any]
) -> tuple[PrefixListEdit, str | None]:
    """The entries a ModifyManagedPrefixList call added and removed, and the list's owner
    as the response names it."""
    modify = _envelope(request, "ModifyManagedPrefixListRequest")
    answer = _envelope(response, "ModifyManagedPrefixListResponse")
    described = _mapping(_get(answer, "prefixList", "PrefixList")) or {}
    list_id = _text(_get(modify, "PrefixListId", "prefixListId")) or _text(
        _get(described, "prefixListId", "PrefixListId")
    )
    if list_id is None:
        raise SkipRecord("no prefix list id in the request or the response")
    added = _entries(modify, "AddEntry", "addEntry", "AddEntries", "addEntries")
    removed = _entries(modify, "RemoveEntry", "removeEntry", "RemoveEntries", "removeEntries")
    if not added and not removed:
        raise SkipRecord(
            f"{PREFIX_LIST_EVENT} on {list_id} adds or removes no entries (a rename or a resize)"
        )
    # The response has the list's name after the call; a rename in the same call is in both.
    name = _text(_get(described, "prefixListName", "PrefixListName")) or _text(
        _get(modify, "PrefixListName", "prefixListName")
    )
    edit = PrefixListEdit(
        list_id=list_id,
        name=name,
        version=_version(_get(modify, "CurrentVersion", "currentVersion")),
        added=added,
        removed=removed,
    )
    return edit, _text(_get(described, "ownerId", "OwnerId"))


def _entries(modify: Mapping[str, Any], *keys: str) -> tuple[PrefixListEntry, ...]:
    entries: list[PrefixListEntry] = []
    for item in _items(_get(modify, *keys), single=True):
        cidr = _text(_get(item, "Cidr", "cidr"))
        if cidr is None:
            raise SkipRecord("prefix list entry without a Cidr")
        entries.append(PrefixListEntry(cidr, _text(_get(item, "Description", "description"))))
    return tuple(entries)


def _version(value: Any) -> int | None:
    """CurrentVersion is optional in the API; Lake gives numbers as strings."""
    text = _text(value)
    if text is None:
        return None
    if not re.fullmatch(r"\d{1,19}", text):
        raise SkipRecord(f"unreadable CurrentVersion {text[:20]!r}")
    return int(text)


def _id_only_rules(
    request: Mapping[str, Any], direction: Direction, known: list[Rule]
) -> list[Rule]:
    described = {r.rule_id for r in known if r.rule_id}
    rules: list[Rule] = []
    for item in _items(request.get("securityGroupRuleIds")):
        rule_id = _source(item, "securityGroupRuleId")
        if rule_id in described:
            continue
        described.add(rule_id)
        rules.append(
            Rule(
                direction=direction,
                protocol="",
                from_port=None,
                to_port=None,
                source_kind=SourceKind.CIDR_IPV4,
                source="",
                rule_id=rule_id,
            )
        )
    return rules


def _rule_source(
    item: Mapping[str, Any], *, ipv4: str, ipv6: str, prefix_list: str, groups: tuple[str, ...]
) -> tuple[SourceKind | None, str | None, str | None]:
    for key, kind in ((ipv4, SourceKind.CIDR_IPV4), (ipv6, SourceKind.CIDR_IPV6)):
        value = _text(item.get(key))
        if value:
            return kind, value, None
    value = _text(item.get(prefix_list))
    if value:
        return SourceKind.PREFIX_LIST, value, None
    for key in groups:
        value = _text(item.get(key))
        if value:
            return SourceKind.GROUP, value, None
    return None, None, None


def _match(requested: list[Rule], returned: list[Rule]) -> list[Rule]:
    """Pair each requested rule with the rule EC2 reported creating, in request order.

    The response is authoritative (it has the rule id, the group id when the request
    named a group, EC2's own protocol spelling); the request adds what the response may
    lack. First an exact match, then the next unpaired rule of the same protocol and
    source kind. Unpaired response rules are kept: EC2 says they exist.
    """
    remaining = list(returned)
    rules: list[Rule] = []
    for wanted in requested:
        found = _take(remaining, _key, wanted) or _take(remaining, _loose_key, wanted)
        if found is None:
            rules.append(wanted)
        else:
            rules.append(
                replace(
                    found,
                    description=found.description or wanted.description,
                    source_account=found.source_account or wanted.source_account,
                )
            )
    return rules + remaining


def _take(rules: list[Rule], key: Callable[[Rule], tuple[Any, ...]], wanted: Rule) -> Rule | None:
    """Remove and return the first rule whose key equals the wanted rule's."""
    target = key(wanted)
    for index, rule in enumerate(rules):
        if key(rule) == target:
            return rules.pop(index)
    return None


def _key(rule: Rule) -> tuple[Any, ...]:
    return (*_loose_key(rule), rule.from_port, rule.to_port, _canonical(rule))


def _loose_key(rule: Rule) -> tuple[Any, ...]:
    # No direction: one call has one direction, and the response's isEgress is the truth.
    return (rule.protocol, rule.source_kind)


def _canonical(rule: Rule) -> str:
    if rule.source_kind in (SourceKind.CIDR_IPV4, SourceKind.CIDR_IPV6):
        try:
            return str(ipaddress.ip_network(rule.source, strict=False))
        except ValueError:
            pass
    return rule.source.lower()


def _ports(protocol: str, from_port: Any, to_port: Any) -> tuple[int | None, int | None]:
    # Ports mean nothing for "all" or for protocols other than tcp/udp/icmp(v6).
    if protocol not in _PORTED:
        return None, None
    return _port(from_port), _port(to_port)


def _port(value: Any) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise SkipRecord("port is a boolean")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and re.fullmatch(r"-?\d{1,5}", value.strip()):
        number = int(value)
    else:
        raise SkipRecord(f"unreadable port {str(value)[:20]!r}")
    if not -1 <= number <= 65535:
        raise SkipRecord(f"port {number} out of range")
    return number


def _source(item: Mapping[str, Any], key: str) -> str:
    value = _text(item.get(key))
    if value is None:
        raise SkipRecord(f"rule source without {key}")
    return value


# -- tolerant readers ------------------------------------------------------------------------


def _text(value: Any) -> str | None:
    """A non-empty string (numbers become strings: Lake and older records mix them)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        stripped = value.strip()
        return stripped or None
    return None


def _bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


def _decoded(value: Any) -> Any:
    """Lake hands nested request values over as JSON text."""
    if isinstance(value, str) and value.lstrip()[:1] in ("{", "["):
        try:
            return json.loads(value)
        except ValueError:
            raise SkipRecord("nested value is not valid JSON") from None
    return value


def _mapping(value: Any) -> Mapping[str, Any] | None:
    value = _decoded(value)
    if value is None or value == "":
        return None
    if not isinstance(value, Mapping):
        raise SkipRecord(f"expected an object, found {type(value).__name__}")
    return value


def _items(value: Any, single: bool = False) -> list[Mapping[str, Any]]:
    """CloudTrail sets: `{"items": [...]}`, `{}` when empty, sometimes a bare list.

    With `single`, a lone object stands for a one-element set (the query-style
    envelope of newer APIs such as ModifySecurityGroupRules).
    """
    value = _decoded(value)
    if value is None or value == "":
        return []
    if isinstance(value, Mapping):
        if "items" in value:
            value = _decoded(value["items"])
        elif not value:
            return []
        elif single:
            return [value]
        else:
            raise SkipRecord("set without items")
    if value is None:
        return []
    if not isinstance(value, list):
        raise SkipRecord(f"expected a list, found {type(value).__name__}")
    items: list[Mapping[str, Any]] = []
    for item in value:
        if not isinstance(item, Mapping):
            raise SkipRecord("set item is not an object")
        items.append(item)
    return items


def _envelope(parameters: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    """Query-style APIs' request or response: inside its `<Action>Request`/`Response`
    wrapper, as CloudTrail writes them, or the parameters themselves when unwrapped."""
    wrapped = _mapping(parameters.get(key))
    return parameters if wrapped is None else wrapped


def _get(mapping: Mapping[str, Any], *keys: str) -> Any:
    for key in keys:
        if key in mapping:
            return mapping[key]
    return None


def described_rule(item: Mapping[str, Any]) -> Rule:
    """A rule as EC2's DescribeSecurityGroupRules returns it (`SecurityGroupRuleId`,
    `IsEgress`, `CidrIpv4`, `ReferencedGroupInfo`...): the same fields as CloudTrail's
    `securityGroupRuleSet` items, capitalised, so read by the same code. SkipRecord if
    it has no source."""
    return _response_rule(_camel(item), Direction.INGRESS)


def _camel(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {key[:1].lower() + key[1:]: _camel(item) for key, item in value.items()}
    return value
