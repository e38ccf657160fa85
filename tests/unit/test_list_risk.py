"""A prefix-list edit rated again from the rules that reference the list, once the context
has read them; and the read session that reads them may call exactly the calls it makes."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from sgrevert import detect
from sgrevert.cloudtrail import parse_record
from sgrevert.context import ChangeContext, Gap, ListReference
from sgrevert.context_read import READ_ACTIONS
from sgrevert.list_risk import rated_on_references
from sgrevert.model import ChangeRecord, Direction, Rule, SourceKind, State
from sgrevert.risk import RiskRules, assess
from sgrevert.roles import session_policy
from tests.support import load_event

READ_AT = datetime(2026, 11, 27, 10, 45, tzinfo=UTC)
LIST_ID = "pl-0123456789abcdef0"


def list_rule(port: int | None, protocol: str = "tcp", rule_id: str = "sgr-0a") -> Rule:
    """A rule whose source is the list, as DescribeSecurityGroupRules gives it."""
    return Rule(Direction.INGRESS, protocol, port, port, SourceKind.PREFIX_LIST, LIST_ID, rule_id)


def adding_anywhere() -> ChangeRecord:
    """The fixture's edit: 0.0.0.0/0 added to corp-ranges, recorded at the worst case since
    the referencing rules were not known yet."""
    change = parse_record(load_event("modify_prefix_list_add"))
    return ChangeRecord(
        change=change,
        state=State.PENDING,
        recorded_at=READ_AT,
        risk=assess(change).risk.label,
    )


def read_with(*references: ListReference, gaps: tuple[Gap, ...] = ()) -> ChangeContext:
    return ChangeContext(read_at=READ_AT, references=references, gaps=gaps)


def test_an_edit_adding_anywhere_to_a_list_referenced_by_https_only_is_high_not_critical() -> None:
    """Given 0.0.0.0/0 added to a list that two groups reference with tcp 443 only, then the
    edit, recorded critical at worst, is rated high on those two rules, saying so."""
    record = adding_anywhere()
    assert record.risk == "critical"
    context = read_with(
        ListReference("sg-0aaa", "web", (list_rule(443, rule_id="sgr-0a"),)),
        ListReference("sg-0bbb", "api", (list_rule(443, rule_id="sgr-0b"),)),
    )

    risk, note = rated_on_references(record, context, RiskRules())

    assert risk == "high"
    assert note == (
        f"rated on the 2 rules that reference {LIST_ID}: 0.0.0.0/0 to tcp 443 via prefix list "
        f"corp-ranges ({LIST_ID})"
    )


def test_a_referencing_ssh_rule_keeps_it_critical_and_the_policys_ports_count() -> None:
    """Given a list referenced by a tcp 22 rule, then adding anywhere is critical; given a
    policy whose critical ports leave 22 out, it is high."""
    record = adding_anywhere()
    context = read_with(ListReference("sg-0aaa", None, (list_rule(22),)))

    assert rated_on_references(record, context, RiskRules())[0] == "critical"
    lenient = RiskRules(critical_ports=frozenset({3389}))
    risk, note = rated_on_references(record, context, lenient)
    assert risk == "high"
    assert note is not None and note.startswith(f"rated on the 1 rule that references {LIST_ID}")


def test_a_list_no_group_references_is_low() -> None:
    """Given a list that no security group references, then the edit is low, and says why."""
    risk, note = rated_on_references(adding_anywhere(), read_with(), RiskRules())

    assert risk == "low"
    assert note == f"no security group references prefix list corp-ranges ({LIST_ID})"


@pytest.mark.parametrize(
    "context",
    [
        ChangeContext(
            read_at=READ_AT,
            gaps=(Gap("references", "GetManagedPrefixListAssociations: AccessDenied"),),
        ),
        read_with(
            ListReference("sg-0aaa", "web", (list_rule(443),)),
            gaps=(Gap("references", "more than 50 security groups reference the list; ..."),),
        ),
    ],
    ids=["not read", "cut"],
)
def test_references_not_read_or_read_in_part_keep_the_worst_case(context: ChangeContext) -> None:
    """Given references that could not be read, or only some of them, then the recorded
    worst case stands: what was not read may open more."""
    assert rated_on_references(adding_anywhere(), context, RiskRules()) == (None, None)


def test_a_decided_edit_or_any_other_change_keeps_its_risk() -> None:
    """Given an edit the policy already reverted, or an Authorize, then the risk is kept."""
    context = read_with(ListReference("sg-0aaa", "web", (list_rule(443),)))
    reverted = replace(adding_anywhere(), state=State.DENIED, decided_by="policy:no-anywhere")
    authorize = parse_record(load_event("authorize_ingress_ipv4"))
    other = ChangeRecord(authorize, State.PENDING, READ_AT, risk="critical")

    assert rated_on_references(reverted, context, RiskRules()) == (None, None)
    assert rated_on_references(other, context, RiskRules()) == (None, None)


# -- the read session ------------------------------------------------------------------------


def test_the_context_read_session_may_make_the_reference_calls_and_nothing_that_writes() -> None:
    """Given the spoke session policy the context reader asks STS for, then it allows the
    calls a prefix-list read makes, only reads, and fits STS's 2,048-character limit, as do
    the detector's other session policies."""
    policy = session_policy(READ_ACTIONS, ["*"])

    actions = set(json.loads(policy)["Statement"][0]["Action"])
    assert {
        "ec2:GetManagedPrefixListAssociations",
        "ec2:DescribeSecurityGroupRules",
        "ec2:DescribeSecurityGroups",
        "ec2:DescribeManagedPrefixLists",
    } <= actions
    assert all(a.split(":")[1].startswith(("Describe", "Get")) for a in actions)
    for packed in (policy, detect.LAKE_POLICY, detect.ACCOUNTS_POLICY):
        assert len(packed) <= 2048
