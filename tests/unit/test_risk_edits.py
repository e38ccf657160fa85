"""Risk of the edits: a modification is rated on its after-state, a prefix-list edit as if
each added CIDR were a source of each rule that references the list."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from sgrevert.cloudtrail import parse_record
from sgrevert.model import (
    PREFIX_LIST_EVENT,
    Actor,
    Change,
    Direction,
    PrefixListEdit,
    PrefixListEntry,
    Prior,
    Rule,
    SourceKind,
)
from sgrevert.risk import Risk, RiskRules, assess
from tests.support import load_event

NOW = datetime(2026, 11, 27, 10, 37, tzinfo=UTC)
ACCOUNT = "444455556666"
LIST_ID = "pl-0123456789abcdef0"
WHERE = f"prefix list corp-ranges ({LIST_ID})"


def referencing(from_port: int | None, to_port: int | None = None, protocol: str = "tcp") -> Rule:
    """A rule of some group whose source is the list."""
    return Rule(
        Direction.INGRESS,
        protocol,
        from_port,
        from_port if to_port is None else to_port,
        SourceKind.PREFIX_LIST,
        LIST_ID,
        rule_id="sgr-0b1c2d3e4f5a6b7c8",
    )


def edit(*added: str, removed: tuple[str, ...] = ()) -> Change:
    return Change(
        event_id="e-prefix-list",
        event_name=PREFIX_LIST_EVENT,
        event_time=NOW,
        account=ACCOUNT,
        region="us-east-1",
        group_id=LIST_ID,
        actor=Actor(arn=f"arn:aws:sts::{ACCOUNT}:assumed-role/Admin/jdoe", type="AssumedRole"),
        prefix_list=PrefixListEdit(
            LIST_ID,
            "corp-ranges",
            3,
            tuple(PrefixListEntry(cidr) for cidr in added),
            tuple(PrefixListEntry(cidr) for cidr in removed),
        ),
    )


# -- prefix lists ------------------------------------------------------------------------------


def test_the_internet_added_to_a_list_referenced_for_https_is_high() -> None:
    """Given 0.0.0.0/0 added to a list that a rule for tcp 443 references, then high,
    naming the CIDR, the port and the list."""
    assessment = assess(edit("0.0.0.0/0"), references=[referencing(443)])

    assert assessment.risk is Risk.HIGH
    assert assessment.reason == f"0.0.0.0/0 to tcp 443 via {WHERE}"


def test_the_internet_added_to_a_list_referenced_for_ssh_is_critical() -> None:
    """Given 0.0.0.0/0 added to a list referenced by tcp 443 and tcp 22, then critical,
    set by the tcp 22 rule."""
    assessment = assess(edit("0.0.0.0/0"), references=[referencing(443), referencing(22)])

    assert assessment.risk is Risk.CRITICAL
    assert assessment.reason == f"0.0.0.0/0 to tcp 22 via {WHERE}"


def test_without_the_referencing_rules_an_added_entry_is_rated_at_worst() -> None:
    """Given 0.0.0.0/0 added and the referencing rules not known (None), then critical,
    as if it reached all traffic, and the reason says the rules are not known."""
    assessment = assess(edit("0.0.0.0/0"))

    assert assessment.risk is Risk.CRITICAL
    assert assessment.reason == (
        f"0.0.0.0/0 to all traffic via {WHERE} at worst: the rules that reference it are not known"
    )


@pytest.mark.parametrize(
    ("cidr", "expected"),
    [("::/0", Risk.CRITICAL), ("10.0.0.0/8", Risk.MEDIUM), ("203.0.113.0/24", Risk.LOW)],
)
def test_at_worst_each_added_cidr_is_rated_as_a_source_of_all_traffic(
    cidr: str, expected: Risk
) -> None:
    """Given an entry added and the referencing rules not known, then it is rated as that
    CIDR to all traffic: public critical, wide medium, narrow low."""
    assert assess(edit(cidr)).risk is expected


def test_a_list_no_security_group_references_is_low() -> None:
    """Given 0.0.0.0/0 added to a list no rule references (references read, empty), then
    low, saying so."""
    assessment = assess(edit("0.0.0.0/0"), references=[])

    assert assessment.risk is Risk.LOW
    assert assessment.reason == f"no security group references {WHERE}"


@pytest.mark.parametrize("references", [None, [], [referencing(22)]])
def test_removing_entries_only_is_low(references: list[Rule] | None) -> None:
    """Given an edit that only removed entries, then low, whatever references the list."""
    assessment = assess(edit(removed=("0.0.0.0/0",)), references=references)

    assert (assessment.risk, assessment.reason) == (Risk.LOW, "entries removed")


def test_the_highest_of_every_added_cidr_and_referencing_rule_counts() -> None:
    """Given a narrow and a wide entry added to a list referenced by udp 53 and all
    traffic, then the wide range sets the level, named with the first rule it reaches."""
    assessment = assess(
        edit("203.0.113.0/24", "10.0.0.0/8"),
        references=[referencing(53, protocol="udp"), referencing(None, protocol="-1")],
    )

    assert assessment.risk is Risk.MEDIUM
    assert assessment.reason == f"wide range 10.0.0.0/8 to udp 53 via {WHERE}"


def test_the_risk_settings_apply_to_the_added_entries() -> None:
    """Given custom critical ports, then an entry reaching one of them is critical."""
    custom = RiskRules(critical_ports=frozenset({8443}))

    assert assess(edit("0.0.0.0/0"), custom, [referencing(8443)]).risk is Risk.CRITICAL
    assert assess(edit("0.0.0.0/0"), custom, [referencing(22)]).risk is Risk.HIGH


def test_a_recorded_prefix_list_add_referenced_by_a_database_rule_is_critical() -> None:
    """Given the recorded add of 0.0.0.0/0 to pl-0123456789abcdef0 and, as its reference,
    the tcp 5432 rule the recorded Authorize created from that list, then critical."""
    change = parse_record(load_event("modify_prefix_list_add"))
    (database,) = parse_record(load_event("authorize_ingress_prefix_list")).rules

    assessment = assess(change, references=[database])

    assert assessment.risk is Risk.CRITICAL
    assert assessment.reason == f"0.0.0.0/0 to tcp 5432 via {WHERE}"


# -- modifications ----------------------------------------------------------------------------


def test_a_modification_is_rated_on_the_value_it_sets() -> None:
    """Given the recorded Modify that sets tcp 22 from 0.0.0.0/0, then critical, with or
    without a narrower prior value."""
    change = parse_record(load_event("modify_rule_ssh_from_anywhere"))
    (after,) = change.rules
    before = replace(after, source="10.0.0.0/8")
    with_prior = replace(change, prior=(Prior(before, NOW, "e-authorize"),))

    assert assess(change).risk is Risk.CRITICAL
    assert assess(with_prior) == assess(change)
    assert assess(change).reason == "0.0.0.0/0 to tcp 22"


def test_a_modification_away_from_the_internet_is_rated_low() -> None:
    """Given a Modify that sets tcp 22 from 198.51.100.0/25 and whose prior was
    0.0.0.0/0, then low: the before-state does not count."""
    change = parse_record(load_event("modify_rules"))
    (after,) = change.rules
    opened = Prior(replace(after, source="0.0.0.0/0"), NOW, "e-authorize")

    assert assess(replace(change, prior=(opened,))).risk is Risk.LOW


def test_references_do_not_change_the_risk_of_a_security_group_call() -> None:
    """Given an Authorize and references (only prefix-list edits have any), then its risk is
    that of its rules alone."""
    change = parse_record(load_event("authorize_ingress_prefix_list"))

    assert assess(change, references=[referencing(22)]) == assess(change)
