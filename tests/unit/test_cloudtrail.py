"""CloudTrail record -> Change, on real-shaped records from tests/events/."""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sgrevert.cloudtrail import (
    SkipRecord,
    direction_known,
    is_id_only,
    normalize_protocol,
    parse_record,
)
from sgrevert.decidable import decidable
from sgrevert.model import (
    MODIFY_RULES_EVENT,
    PREFIX_LIST_EVENT,
    REMOVAL_EVENTS,
    REVERTIBLE_EVENTS,
    Change,
    Direction,
    PrefixListEdit,
    PrefixListEntry,
    Prior,
    SourceKind,
)
from tests.support import EVENTS, load_event

ACCOUNT_A = "111122223333"
ACCOUNT_B = "444455556666"
PREFIX_LIST = "pl-0123456789abcdef0"

ALL_FIXTURES = sorted(path.stem for path in EVENTS.glob("*.json"))
FAILED_FIXTURES = ["authorize_ingress_failed_duplicate"]
PARSED_FIXTURES = [name for name in ALL_FIXTURES if name not in FAILED_FIXTURES]


def _calls(*events: str) -> list[str]:
    """The parsed fixtures recording one of these calls (by the record's eventName)."""
    return [name for name in PARSED_FIXTURES if load_event(name)["eventName"] in events]


AUTHORIZE_FIXTURES = _calls(*REVERTIBLE_EVENTS)
REVOKE_FIXTURES = _calls(*REMOVAL_EVENTS)
MODIFY_FIXTURES = _calls(MODIFY_RULES_EVENT)
PREFIX_LIST_FIXTURES = _calls(PREFIX_LIST_EVENT)
GROUP_FIXTURES = [name for name in PARSED_FIXTURES if name not in PREFIX_LIST_FIXTURES]


def parse(name: str) -> Change:
    return parse_record(load_event(name))


def response_rule_ids(record: dict[str, Any]) -> list[str]:
    items = record["responseElements"]["securityGroupRuleSet"]["items"]
    return [item["securityGroupRuleId"] for item in items]


# -- every fixture -----------------------------------------------------------------------------


def test_the_fixtures_cover_the_required_cases() -> None:
    """Given tests/events/, then it holds the cases the detector issue lists, with distinct ids."""
    records = [load_event(name) for name in ALL_FIXTURES]
    assert len({r["eventID"] for r in records}) == len(records)
    assert {r["recipientAccountId"] for r in records} == {ACCOUNT_A, ACCOUNT_B}
    assert {r["awsRegion"] for r in records} == {"eu-west-1", "us-east-1"}
    assert {r["eventName"] for r in records} == {
        "AuthorizeSecurityGroupIngress",
        "AuthorizeSecurityGroupEgress",
        "RevokeSecurityGroupIngress",
        "RevokeSecurityGroupEgress",
        "ModifySecurityGroupRules",
        "ModifyManagedPrefixList",
    }
    assert len(ALL_FIXTURES) == 21


def test_the_edit_fixtures_cover_every_source_and_entry_case() -> None:
    """Given the ModifySecurityGroupRules and ModifyManagedPrefixList fixtures, then they
    hold one rule and several, every source kind, and entries added, removed and both."""
    modified = [parse(name) for name in MODIFY_FIXTURES]
    edits = [parse(name).prefix_list for name in PREFIX_LIST_FIXTURES]

    assert {len(change.rules) for change in modified} == {1, 2}
    assert {rule.source_kind for change in modified for rule in change.rules} == set(SourceKind)
    assert {(bool(e.added), bool(e.removed)) for e in edits if e} == {
        (True, False),
        (False, True),
        (True, True),
    }


@pytest.mark.parametrize("name", GROUP_FIXTURES)
def test_a_successful_call_becomes_a_change_of_the_recipient_account(name: str) -> None:
    """Given a successful watched security-group call, when parsed, then the change carries
    the record's event id, name, time, recipient account, region, group and rules."""
    record = load_event(name)

    change = parse_record(record)

    assert change.event_id == record["eventID"]
    assert change.event_name == record["eventName"]
    assert change.event_time == datetime.fromisoformat(record["eventTime"].replace("Z", "+00:00"))
    assert change.account == record["recipientAccountId"]
    assert change.region == record["awsRegion"]
    assert change.group_id.startswith("sg-")
    assert change.rules
    assert change.prefix_list is None
    assert change.partition == "aws"


@pytest.mark.parametrize("name", PREFIX_LIST_FIXTURES)
def test_a_prefix_list_edit_becomes_a_change_of_the_list(name: str) -> None:
    """Given a successful ModifyManagedPrefixList call, when parsed, then the change is
    the list's (its id as the group id, no rules) in the recipient account, with the
    entries the call added or removed and the version it named."""
    record = load_event(name)
    request = record["requestParameters"]["ModifyManagedPrefixListRequest"]

    change = parse_record(record)

    assert (change.event_id, change.event_name) == (record["eventID"], PREFIX_LIST_EVENT)
    assert (change.account, change.region) == (ACCOUNT_B, "us-east-1")
    assert change.group_id == PREFIX_LIST
    assert change.rules == ()
    assert change.prefix_list is not None
    assert change.prefix_list.list_id == PREFIX_LIST
    assert change.prefix_list.name == "corp-ranges"
    assert change.prefix_list.version == request["CurrentVersion"]
    assert change.prefix_list.added or change.prefix_list.removed


@pytest.mark.parametrize("name", AUTHORIZE_FIXTURES)
def test_every_authorized_rule_gets_its_rule_id_from_the_response(name: str) -> None:
    """Given an Authorize call, when parsed, then the rules are exactly the rules EC2
    reported creating, each with its securityGroupRuleId, and the change is revertible."""
    record = load_event(name)

    change = parse_record(record)

    assert [rule.rule_id for rule in change.rules] == response_rule_ids(record)
    assert decidable(change)


@pytest.mark.parametrize("name", [*REVOKE_FIXTURES, "modify_prefix_list_remove"])
def test_revokes_and_prefix_list_removals_are_informational(name: str) -> None:
    """Given a Revoke, or a prefix-list edit that only removed entries, when parsed, then
    the change is not decidable: undoing it would add access."""
    assert not decidable(parse(name))


@pytest.mark.parametrize("name", MODIFY_FIXTURES)
def test_a_modify_without_a_recorded_prior_is_decidable(name: str) -> None:
    """Given a Modify as parsed (the record holds only the after-values, so no prior is
    on record yet), then it is decidable: nobody can tell that it narrowed."""
    change = parse(name)

    assert change.prior == ()
    assert decidable(change)


def test_a_modify_with_a_prior_that_it_narrows_is_informational() -> None:
    """Given modify_rules (198.51.100.0/25) and, as its prior, the rule the multi-source
    Authorize created under the same id (198.51.100.0/24), then it is informational."""
    created = parse("authorize_ingress_ipv4_ipv6_multi")
    before = next(r for r in created.rules if r.rule_id == "sgr-01a2b3c4d5e6f7082")
    modified = parse("modify_rules")
    prior = Prior(rule=before, seen_at=created.event_time, source=created.event_id)

    assert not decidable(replace(modified, prior=(prior,)))


@pytest.mark.parametrize("name", ["modify_prefix_list_add", "modify_prefix_list_add_and_remove"])
def test_a_prefix_list_edit_that_added_entries_is_decidable(name: str) -> None:
    """Given a prefix-list edit that added entries (and perhaps removed others), then it
    is decidable."""
    assert decidable(parse(name))


@pytest.mark.parametrize("name", PARSED_FIXTURES)
def test_a_change_survives_the_round_trip_through_its_stored_form(name: str) -> None:
    """Given a parsed change, when stored as a dict (JSON) and read back, then it is equal."""
    change = parse(name)

    assert Change.from_dict(json.loads(json.dumps(change.to_dict()))) == change


# -- sources, protocols, directions --------------------------------------------------------------


def test_several_permissions_and_sources_in_one_call_are_all_kept() -> None:
    """Given one call with three permissions and five sources (IPv4 and IPv6), when parsed,
    then there is one rule per source, in request order, with its description."""
    change = parse("authorize_ingress_ipv4_ipv6_multi")

    assert [(r.protocol, r.ports, r.source_kind, r.source) for r in change.rules] == [
        ("tcp", "22", SourceKind.CIDR_IPV4, "203.0.113.10/32"),
        ("tcp", "22", SourceKind.CIDR_IPV4, "198.51.100.0/24"),
        ("tcp", "443", SourceKind.CIDR_IPV4, "0.0.0.0/0"),
        ("tcp", "443", SourceKind.CIDR_IPV6, "::/0"),
        ("udp", "51820", SourceKind.CIDR_IPV6, "2001:db8:1234::/48"),
    ]
    assert [r.description for r in change.rules] == [
        "bastion <ops> & friends",
        "office VPN",
        None,
        "public HTTPS",
        None,
    ]
    assert {r.direction for r in change.rules} == {Direction.INGRESS}


def test_a_prefix_list_source_is_recognised() -> None:
    """Given an Authorize from a prefix list, then the rule's source is the prefix list id."""
    (rule,) = parse("authorize_ingress_prefix_list").rules

    assert (rule.source_kind, rule.source, rule.ports) == (
        SourceKind.PREFIX_LIST,
        "pl-0123456789abcdef0",
        "5432",
    )
    assert rule.description == "corp ranges"


def test_a_referenced_group_in_another_account_keeps_its_owner() -> None:
    """Given a rule referencing a group owned by another account, then the rule names the
    group and its owner, and the change stays in the recipient account."""
    change = parse("authorize_ingress_cross_account_group")
    (rule,) = change.rules

    assert (rule.source_kind, rule.source, rule.source_account) == (
        SourceKind.GROUP,
        "sg-0123abcd4567ef890",
        ACCOUNT_B,
    )
    assert (rule.from_port, rule.to_port, rule.ports) == (8080, 8090, "8080-8090")
    assert change.account == ACCOUNT_A


def test_all_traffic_has_no_ports() -> None:
    """Given protocol -1, then the rule's protocol is "-1" with no ports ("all")."""
    (rule,) = parse("authorize_ingress_all_traffic").rules

    assert (rule.protocol, rule.from_port, rule.to_port, rule.ports) == ("-1", None, None, "all")


def test_icmp_keeps_type_and_code_and_protocol_numbers_are_named() -> None:
    """Given icmp type 8 (any code) and icmpv6 requested as protocol 58, then both are named
    and the icmp type survives."""
    icmp, icmpv6 = parse("authorize_ingress_icmp").rules

    assert (icmp.protocol, icmp.from_port, icmp.to_port, icmp.ports) == ("icmp", 8, -1, "type 8")
    assert (icmpv6.protocol, icmpv6.ports, icmpv6.source) == ("icmpv6", "all", "fd00::/8")
    assert icmpv6.rule_id == "sgr-0e1f2a3b4c5d6e7f9"


def test_egress_calls_produce_egress_rules() -> None:
    """Given AuthorizeSecurityGroupEgress, then every rule is egress."""
    change = parse("authorize_egress")

    assert [r.direction for r in change.rules] == [Direction.EGRESS, Direction.EGRESS]
    assert [r.source_kind for r in change.rules] == [SourceKind.CIDR_IPV4, SourceKind.PREFIX_LIST]


def test_is_egress_in_the_response_decides_the_direction() -> None:
    """Given a response rule flagged isEgress, then that flag wins over the event name."""
    record = load_event("authorize_ingress_prefix_list")
    record["responseElements"]["securityGroupRuleSet"]["items"][0]["isEgress"] = "true"

    (rule,) = parse_record(record).rules

    assert rule.direction is Direction.EGRESS


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("tcp", "tcp"),
        ("TCP", "tcp"),
        ("6", "tcp"),
        (6, "tcp"),
        ("udp", "udp"),
        ("17", "udp"),
        ("icmp", "icmp"),
        ("1", "icmp"),
        ("icmpv6", "icmpv6"),
        ("58", "icmpv6"),
        ("-1", "-1"),
        (-1, "-1"),
        ("all", "-1"),
        ("50", "50"),
    ],
)
def test_protocols_are_normalised(given: Any, expected: str) -> None:
    """Given a protocol as CloudTrail may spell it, then it is normalised."""
    assert normalize_protocol(given) == expected


@pytest.mark.parametrize("given", [None, "", "gre", "256", True, {"a": 1}])
def test_unknown_protocols_skip_the_record(given: Any) -> None:
    """Given a protocol that is not one, then SkipRecord (never another exception)."""
    with pytest.raises(SkipRecord):
        normalize_protocol(given)


def test_a_protocol_without_ports_ignores_any_ports_given() -> None:
    """Given protocol 50 (ESP) with ports, then the rule has no ports: EC2 ignores them."""
    record = load_event("authorize_ingress_all_traffic")
    record["requestParameters"]["ipPermissions"]["items"][0].update(
        ipProtocol="50", fromPort=1, toPort=2
    )
    record["responseElements"]["securityGroupRuleSet"]["items"][0]["ipProtocol"] = "50"

    (rule,) = parse_record(record).rules

    assert (rule.protocol, rule.from_port, rule.to_port) == ("50", None, None)


# -- group, account, actor, partition ---------------------------------------------------------


def test_a_call_by_group_name_takes_the_group_id_from_the_response() -> None:
    """Given a call naming the group (default VPC, CloudFormation), then the group id comes
    from the response and the name is kept."""
    record = load_event("authorize_ingress_by_group_name")
    assert "groupId" not in record["requestParameters"]

    change = parse_record(record)

    assert (change.group_id, change.group_name) == ("sg-0b2c4d6e8f0a1c3e5", "legacy-web")
    assert change.rules[0].rule_id == "sgr-0a9b8c7d6e5f4a3b2"


def test_a_call_by_group_name_shows_the_service_that_made_it() -> None:
    """Given a call CloudFormation made for a role, then the actor names both."""
    actor = parse("authorize_ingress_by_group_name").actor

    assert actor.arn == "arn:aws:sts::111122223333:assumed-role/cfn-exec-role/AWSCloudFormation"
    assert actor.invoked_by == "cloudformation.amazonaws.com"
    assert actor.source_ip == "cloudformation.amazonaws.com"


def test_legacy_top_level_parameters_are_understood() -> None:
    """Given the legacy form (cidrIp/ipProtocol/fromPort/toPort, ipPermissions {}), then the
    single rule is read and matched to its rule id."""
    (rule,) = parse("authorize_ingress_legacy_params").rules

    assert (rule.protocol, rule.ports, rule.source, rule.rule_id) == (
        "tcp",
        "3389",
        "0.0.0.0/0",
        "sgr-0b9a8f7e6d5c4b3a2",
    )


def test_the_account_is_the_recipient_not_the_caller() -> None:
    """Given a caller from another account, then the change belongs to recipientAccountId."""
    record = load_event("authorize_ingress_prefix_list")
    record["userIdentity"]["accountId"] = ACCOUNT_A
    record["userIdentity"]["arn"] = f"arn:aws:iam::{ACCOUNT_A}:user/deploy-bot"

    assert parse_record(record).account == ACCOUNT_B


def test_the_actor_carries_who_how_and_from_where() -> None:
    """Given an assumed-role session, then the actor has its ARN, type, issuer, IP and agent."""
    record = load_event("authorize_ingress_cross_account_group")

    actor = parse_record(record).actor

    assert actor.arn == "arn:aws:sts::111122223333:assumed-role/terraform-apply/gitlab-runner-8812"
    assert actor.type == "AssumedRole"
    assert actor.session_issuer == "arn:aws:iam::111122223333:role/terraform-apply"
    assert actor.invoked_by is None
    assert actor.source_ip == "198.51.100.200"
    assert actor.user_agent == record["userAgent"]


def test_an_aws_service_without_an_arn_is_named_by_the_service() -> None:
    """Given userIdentity of type AWSService (no ARN), then the actor is named by invokedBy."""
    record = load_event("authorize_egress")
    record["userIdentity"] = {"type": "AWSService", "invokedBy": "elasticmapreduce.amazonaws.com"}

    actor = parse_record(record).actor

    assert (actor.arn, actor.type, actor.invoked_by) == (
        "elasticmapreduce.amazonaws.com",
        "AWSService",
        "elasticmapreduce.amazonaws.com",
    )


@pytest.mark.parametrize(
    ("arn", "region", "partition"),
    [
        ("arn:aws-us-gov:iam::111122223333:user/ops", "us-gov-west-1", "aws-us-gov"),
        ("arn:aws-cn:iam::111122223333:user/ops", "cn-north-1", "aws-cn"),
        (None, "cn-northwest-1", "aws-cn"),
        (None, "us-gov-east-1", "aws-us-gov"),
        (None, "eu-west-1", "aws"),
    ],
)
def test_the_partition_comes_from_the_caller_arn_or_else_the_region(
    arn: str | None, region: str, partition: str
) -> None:
    """Given a caller ARN (or none) and a region, then the partition follows them."""
    record = load_event("authorize_ingress_prefix_list")
    record["awsRegion"] = region
    record["userIdentity"] = (
        {"type": "IAMUser", "arn": arn} if arn else {"type": "AWSService", "invokedBy": "x"}
    )

    assert parse_record(record).partition == partition


# -- older and odd shapes ---------------------------------------------------------------------


def test_without_response_items_rules_come_from_the_request_without_ids() -> None:
    """Given an older record whose response has no rule set, then the rules still come from
    the request, with no rule id."""
    record = load_event("authorize_ingress_ipv4_ipv6_multi")
    record["responseElements"] = {"requestId": record["requestID"], "_return": True}

    change = parse_record(record)

    assert len(change.rules) == 5
    assert {rule.rule_id for rule in change.rules} == {None}


def test_a_referenced_group_named_in_the_request_gets_its_id_from_the_response() -> None:
    """Given a default-VPC request naming the referenced group, then the response's group id
    and owner are used, paired by position."""
    record = load_event("authorize_ingress_cross_account_group")
    groups = record["requestParameters"]["ipPermissions"]["items"][0]["groups"]
    groups["items"][0] = {"groupName": "payments", "userId": ACCOUNT_B}

    (rule,) = parse_record(record).rules

    assert (rule.source, rule.source_account, rule.rule_id) == (
        "sg-0123abcd4567ef890",
        ACCOUNT_B,
        "sgr-0c1d2e3f4a5b6c7d8",
    )


def test_a_cidr_spelled_differently_in_the_response_still_pairs() -> None:
    """Given an IPv6 CIDR the response spells in another form, then the rule is still paired."""
    record = load_event("authorize_ingress_ipv4_ipv6_multi")
    items = record["responseElements"]["securityGroupRuleSet"]["items"]
    items[4]["cidrIpv6"] = "2001:0db8:1234:0000::/48"

    change = parse_record(record)

    assert change.rules[4].rule_id == "sgr-01a2b3c4d5e6f7085"
    assert len(change.rules) == 5


def test_lake_style_json_text_values_are_decoded() -> None:
    """Given nested request values as JSON text and numbers as strings (Lake's map<string,
    string>), then the record parses as if it were plain JSON."""
    record = load_event("authorize_ingress_ipv4_ipv6_multi")
    expected = parse_record(record)
    params = record["requestParameters"]
    params["ipPermissions"] = json.dumps(params["ipPermissions"])
    for item in record["responseElements"]["securityGroupRuleSet"]["items"]:
        item["fromPort"], item["toPort"] = str(item["fromPort"]), str(item["toPort"])
        item["isEgress"] = str(item["isEgress"]).lower()

    assert parse_record(record) == expected


# -- revoke and modify ---------------------------------------------------------------------------


def test_a_revoke_by_permissions_names_the_revoked_rule() -> None:
    """Given a Revoke by permissions whose response lists the revoked rule, then the rule
    carries the revoked rule's id."""
    change = parse("revoke_ingress_by_permissions")
    (rule,) = change.rules

    assert (rule.direction, rule.ports, rule.source, rule.rule_id) == (
        Direction.INGRESS,
        "22",
        "0.0.0.0/0",
        "sgr-0123456789abcdef0",
    )


def test_a_revoke_by_rule_ids_alone_gives_id_only_rules() -> None:
    """Given a Revoke by rule ids with no description of the rules, then each id becomes an
    id-only egress rule (empty protocol and source)."""
    change = parse("revoke_egress_by_rule_ids")

    assert [r.rule_id for r in change.rules] == ["sgr-0f1a2b3c4d5e6f7a8", "sgr-0f1a2b3c4d5e6f7a9"]
    assert all(is_id_only(r) for r in change.rules)
    assert all(r.direction is Direction.EGRESS for r in change.rules)
    assert all((r.protocol, r.source, r.from_port) == ("", "", None) for r in change.rules)


def test_a_revoke_by_rule_ids_uses_the_revoked_rules_when_described() -> None:
    """Given a Revoke by rule ids whose response describes one of them, then that rule is
    complete and only the other stays id-only."""
    record = load_event("revoke_egress_by_rule_ids")
    record["responseElements"]["revokedSecurityGroupRuleSet"] = {
        "items": [
            {
                "groupId": "sg-0f9e8d7c6b5a49382",
                "securityGroupRuleId": "sgr-0f1a2b3c4d5e6f7a8",
                "isEgress": True,
                "ipProtocol": "tcp",
                "fromPort": 443,
                "toPort": 443,
                "cidrIpv4": "0.0.0.0/0",
            }
        ]
    }

    described, bare = parse_record(record).rules

    assert (described.rule_id, described.source, described.ports) == (
        "sgr-0f1a2b3c4d5e6f7a8",
        "0.0.0.0/0",
        "443",
    )
    assert not is_id_only(described)
    assert is_id_only(bare)
    assert bare.rule_id == "sgr-0f1a2b3c4d5e6f7a9"


def test_a_modify_reads_the_wrapped_request() -> None:
    """Given ModifySecurityGroupRules (request wrapped in ModifySecurityGroupRulesRequest),
    then the group, rule id and new rule come from it, and the direction is marked unknown."""
    change = parse("modify_rules")
    (rule,) = change.rules

    assert change.group_id == "sg-0a1b2c3d4e5f60718"
    assert (rule.rule_id, rule.protocol, rule.ports, rule.source, rule.description) == (
        "sgr-01a2b3c4d5e6f7082",
        "tcp",
        "22",
        "198.51.100.0/25",
        "office VPN (narrowed)",
    )
    assert not direction_known(change.event_name)
    assert direction_known("AuthorizeSecurityGroupIngress")


def test_a_modify_of_several_rules_keeps_them_all_in_request_order() -> None:
    """Given a Modify of two rules in one call (a list under SecurityGroupRule, tagged 1
    and 2), then both rules are kept, in order, each with its id and new value."""
    change = parse("modify_rules_several")

    assert change.group_id == "sg-0d4c3b2a1f0e9d8c7"
    assert [(r.rule_id, r.protocol, r.ports, r.source, r.description) for r in change.rules] == [
        ("sgr-0d1e2f3a4b5c6d7e8", "tcp", "443", "10.0.0.0/8", "internal HTTPS"),
        ("sgr-0d1e2f3a4b5c6d7e9", "tcp", "8080-8081", "10.20.0.0/16", "app subnets"),
    ]


def test_a_widening_modify_carries_only_the_value_it_sets() -> None:
    """Given the Modify that sets tcp 22 from 0.0.0.0/0 (its earlier value is not in the
    record), then the rule is that after-value, with its id and no prior."""
    change = parse("modify_rule_ssh_from_anywhere")
    (rule,) = change.rules

    assert (rule.rule_id, rule.protocol, rule.ports, rule.source_kind, rule.source) == (
        "sgr-01a2b3c4d5e6f7086",
        "tcp",
        "22",
        SourceKind.CIDR_IPV4,
        "0.0.0.0/0",
    )
    assert change.prior == ()
    assert change.actor.session_issuer == "arn:aws:iam::111122223333:role/terraform-apply"


@pytest.mark.parametrize(
    ("name", "kind", "source", "ports"),
    [
        ("modify_rule_ipv6_source", SourceKind.CIDR_IPV6, "2001:db8:1234:5600::/56", "51820"),
        ("modify_rule_prefix_list_source", SourceKind.PREFIX_LIST, PREFIX_LIST, "5432-5439"),
        ("modify_rule_group_source", SourceKind.GROUP, "sg-0c3d5e7f9a1b2c4d6", "8080-8090"),
    ],
)
def test_a_modify_reads_every_source_kind(
    name: str, kind: SourceKind, source: str, ports: str
) -> None:
    """Given a Modify to an IPv6 CIDR, a prefix list or a referenced group, then the rule's
    source kind, source and ports are those the request set."""
    (rule,) = parse(name).rules

    assert (rule.source_kind, rule.source, rule.ports) == (kind, source, ports)


def test_a_modify_request_without_its_envelope_reads_the_same() -> None:
    """Given a Modify whose request is not wrapped in ModifySecurityGroupRulesRequest and
    spells its keys in lower camel case, then it parses as the wrapped one does."""
    record = load_event("modify_rules_several")
    wrapped = record["requestParameters"].pop("ModifySecurityGroupRulesRequest")
    record["requestParameters"] = {
        "groupId": wrapped["GroupId"],
        "securityGroupRule": wrapped["SecurityGroupRule"],
    }

    assert parse_record(record) == parse("modify_rules_several")


# -- prefix lists ---------------------------------------------------------------------------


def test_a_prefix_list_add_names_the_list_its_version_and_the_added_entry() -> None:
    """Given ModifyManagedPrefixList adding 0.0.0.0/0 at CurrentVersion 3, then the edit
    holds the list id, its name from the response, version 3 and that one entry."""
    change = parse("modify_prefix_list_add")

    assert change.prefix_list == PrefixListEdit(
        list_id=PREFIX_LIST,
        name="corp-ranges",
        version=3,
        added=(PrefixListEntry("0.0.0.0/0", "vendor access (temporary)"),),
    )
    assert change.actor.arn == "arn:aws:sts::444455556666:assumed-role/Admin/jdoe"


def test_a_prefix_list_removal_holds_the_removed_entry_only() -> None:
    """Given ModifyManagedPrefixList removing one entry, then the edit removes it and adds
    nothing."""
    edit = parse("modify_prefix_list_remove").prefix_list

    assert edit is not None
    assert (edit.added, edit.removed, edit.version) == (
        (),
        (PrefixListEntry("192.0.2.0/24"),),
        4,
    )


def test_a_prefix_list_edit_that_adds_and_removes_keeps_both_in_order() -> None:
    """Given one call adding two entries (a list) and removing one (an object), then the
    edit has both added entries in request order and the removed one."""
    edit = parse("modify_prefix_list_add_and_remove").prefix_list

    assert edit is not None
    assert edit.added == (
        PrefixListEntry("203.0.113.0/24", "new office"),
        PrefixListEntry("198.51.100.64/26", "DR site"),
    )
    assert edit.removed == (PrefixListEntry("198.51.100.0/24"),)


def test_a_prefix_list_request_in_other_spellings_reads_the_same() -> None:
    """Given the request unwrapped, with `addEntries` as {"items": [...]}, `RemoveEntry`
    as JSON text and CurrentVersion as a string (Lake), then the change is the same."""
    record = load_event("modify_prefix_list_add_and_remove")
    expected = parse_record(record)
    wrapped = record["requestParameters"].pop("ModifyManagedPrefixListRequest")
    record["requestParameters"] = {
        "prefixListId": wrapped["PrefixListId"],
        "currentVersion": str(wrapped["CurrentVersion"]),
        "addEntries": {
            "items": [
                {"cidr": e["Cidr"], "description": e["Description"]} for e in wrapped["AddEntry"]
            ]
        },
        "RemoveEntry": json.dumps(wrapped["RemoveEntry"]),
    }

    assert parse_record(record) == expected


def test_a_prefix_list_response_without_the_list_leaves_the_name_unknown() -> None:
    """Given a record whose response does not describe the list, then the edit has no
    name, unless the request renamed the list in the same call."""
    record = load_event("modify_prefix_list_add")
    record["responseElements"] = None

    edit = parse_record(record).prefix_list
    assert edit is not None
    assert (edit.list_id, edit.name, edit.version) == (PREFIX_LIST, None, 3)

    record["requestParameters"]["ModifyManagedPrefixListRequest"]["PrefixListName"] = "vendors"
    renamed = parse_record(record).prefix_list
    assert renamed is not None and renamed.name == "vendors"


def test_a_prefix_list_record_without_recipient_takes_the_lists_owner() -> None:
    """Given no recipientAccountId, then the account is the owner the response names."""
    record = load_event("modify_prefix_list_remove")
    del record["recipientAccountId"]

    assert parse_record(record).account == ACCOUNT_B


def test_a_prefix_list_edit_without_a_current_version_has_none() -> None:
    """Given a call without CurrentVersion (optional in the API), then the version is None."""
    record = load_event("modify_prefix_list_add")
    del record["requestParameters"]["ModifyManagedPrefixListRequest"]["CurrentVersion"]

    edit = parse_record(record).prefix_list

    assert edit is not None and edit.version is None


@pytest.mark.parametrize(
    ("edit", "reason"),
    [
        ({"RemoveEntry": None, "PrefixListName": "corp-ranges-v2"}, "adds or removes no entries"),
        ({"RemoveEntry": None, "MaxEntries": 40}, "adds or removes no entries"),
        ({"RemoveEntry": {}}, "adds or removes no entries"),
        ({"AddEntry": {"Description": "no cidr", "tag": 1}}, "entry without a Cidr"),
        ({"CurrentVersion": "three"}, "unreadable CurrentVersion"),
    ],
)
def test_a_prefix_list_call_that_changes_no_entries_is_skipped(
    edit: dict[str, Any], reason: str
) -> None:
    """Given a ModifyManagedPrefixList that only renames or resizes the list, or whose
    entries or version cannot be read, then SkipRecord says why."""
    record = load_event("modify_prefix_list_remove")
    request = record["requestParameters"]["ModifyManagedPrefixListRequest"]
    for key, value in edit.items():
        if value is None:
            del request[key]
        else:
            request[key] = value

    with pytest.raises(SkipRecord) as caught:
        parse_record(record)

    assert reason in caught.value.reason


def test_a_prefix_list_call_naming_no_list_is_skipped() -> None:
    """Given neither the request nor the response names the list, then SkipRecord."""
    record = load_event("modify_prefix_list_add")
    del record["requestParameters"]["ModifyManagedPrefixListRequest"]["PrefixListId"]
    record["responseElements"] = None

    with pytest.raises(SkipRecord, match="no prefix list id"):
        parse_record(record)


# -- skipped records ------------------------------------------------------------------------------


def test_a_failed_call_is_skipped_with_its_error_code() -> None:
    """Given a call that failed (errorCode, no response), then SkipRecord names the error."""
    record = load_event("authorize_ingress_failed_duplicate")
    assert record["responseElements"] is None

    with pytest.raises(SkipRecord) as caught:
        parse_record(record)

    assert "Client.InvalidPermission.Duplicate" in caught.value.reason


def mutate(name: str, path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    record: dict[str, Any] = copy.deepcopy(load_event(name))
    target = record
    for key in path[:-1]:
        target = target[key]
    if value is _DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return record


_DELETE = object()


@pytest.mark.parametrize(
    ("path", "value", "reason"),
    [
        (("eventName",), "DescribeSecurityGroups", "not watched"),
        (("eventName",), "CreateSecurityGroup", "not watched"),
        (("eventSource",), "vpc-lattice.amazonaws.com", "event source"),
        (("eventID",), _DELETE, "no eventID"),
        (("eventTime",), "yesterday", "eventTime"),
        (("recipientAccountId",), _DELETE, None),
        (("requestParameters",), None, "no security group id"),
        (("requestParameters", "ipPermissions"), {}, "names no rules"),
        (("requestParameters", "ipPermissions"), [1, 2], "not an object"),
        (("requestParameters", "ipPermissions"), "{truncated", "not valid JSON"),
        (("requestParameters", "ipPermissions", "items", 0, "fromPort"), "twenty", "port"),
        (("requestParameters", "ipPermissions", "items", 0, "fromPort"), 70000, "range"),
        (
            ("responseElements", "securityGroupRuleSet", "items", 0, "prefixListId"),
            _DELETE,
            "source",
        ),
    ],
)
def test_records_that_are_not_changes_are_skipped_with_a_reason(
    path: tuple[Any, ...], value: Any, reason: str | None
) -> None:
    """Given a record that is unwatched, foreign or malformed, then SkipRecord says why."""
    record = mutate("authorize_ingress_prefix_list", path, value)
    if path[0] == "requestParameters" and value in (None, {}):
        record["responseElements"] = None  # nothing left to describe the rules
    if path == ("recipientAccountId",):
        # The response's groupOwnerId names the account too; without both there is none.
        del record["responseElements"]["securityGroupRuleSet"]["items"][0]["groupOwnerId"]
        reason = "recipientAccountId"

    with pytest.raises(SkipRecord) as caught:
        parse_record(record)

    assert reason is not None
    assert reason in caught.value.reason


@pytest.mark.parametrize("record", [None, [], "text", 7, {}, {"eventName": ["x"]}])
def test_non_records_are_skipped(record: Any) -> None:
    """Given something that is not a CloudTrail record at all, then SkipRecord."""
    with pytest.raises(SkipRecord):
        parse_record(record)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    paths = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, child in value.items():
            paths += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            paths += _paths(child, (*prefix, index))
    return paths


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(ALL_FIXTURES), choice=st.integers(min_value=0), value=JSON)
def test_any_corruption_of_a_record_yields_a_change_or_skip_record(
    name: str, choice: int, value: Any
) -> None:
    """Given a real record with any one value replaced by arbitrary JSON, when parsed, then
    the result is a Change or SkipRecord, never another exception."""
    record = load_event(name)
    paths = _paths(record)
    path = paths[choice % len(paths)]
    target = record
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value

    try:
        change = parse_record(record)
    except SkipRecord as skipped:
        assert skipped.reason
    else:
        assert isinstance(change, Change)
        assert change.event_time.tzinfo is not None
        assert change.event_time <= datetime.max.replace(tzinfo=UTC)
