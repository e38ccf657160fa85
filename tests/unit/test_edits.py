"""Which edits can be denied: whether a modified rule's new value lets in only what its
recorded earlier value did (`allows_no_more`, `narrows`), and `decidable` for every kind of
change."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from sgrevert.decidable import decidable, narrows
from sgrevert.model import (
    MODIFY_RULES_EVENT,
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
from sgrevert.rule_cover import allows_no_more

EARLIER = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
NOW = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
ACCOUNT = "111122223333"


def rule(
    source: str,
    ports: tuple[int | None, int | None] = (22, 22),
    protocol: str = "tcp",
    kind: SourceKind | None = None,
    rule_id: str = "sgr-0aaa1111bbbb22223",
) -> Rule:
    if kind is None:
        kind = SourceKind.CIDR_IPV6 if ":" in source else SourceKind.CIDR_IPV4
    return Rule(Direction.INGRESS, protocol, ports[0], ports[1], kind, source, rule_id=rule_id)


def modify(*pairs: tuple[Rule, Rule | None]) -> Change:
    """A ModifySecurityGroupRules change of (after, before) pairs; before None: not on record."""
    return Change(
        event_id="e-modify",
        event_name=MODIFY_RULES_EVENT,
        event_time=NOW,
        account=ACCOUNT,
        region="eu-west-1",
        group_id="sg-0a1b2c3d4e5f60718",
        actor=Actor(arn=f"arn:aws:iam::{ACCOUNT}:user/ops", type="IAMUser"),
        rules=tuple(after for after, _ in pairs),
        prior=tuple(
            Prior(rule=before, seen_at=EARLIER, source="e-authorize")
            for _, before in pairs
            if before is not None
        ),
    )


GROUP = SourceKind.GROUP
LIST = SourceKind.PREFIX_LIST


# -- allows_no_more: after against before ----------------------------------------------------


@pytest.mark.parametrize(
    ("after", "before", "narrowing"),
    [
        # ports
        (rule("10.0.0.0/8", (22, 22)), rule("10.0.0.0/8", (20, 30)), True),
        (rule("10.0.0.0/8", (20, 30)), rule("10.0.0.0/8", (22, 22)), False),
        (rule("10.0.0.0/8", (22, 22)), rule("10.0.0.0/8", (22, 22)), True),
        (rule("10.0.0.0/8", (0, 65535)), rule("10.0.0.0/8", (1, 65535)), False),
        # CIDRs
        (rule("10.1.0.0/16"), rule("10.0.0.0/8"), True),
        (rule("0.0.0.0/0"), rule("10.0.0.0/8"), False),
        (rule("10.0.0.0/8"), rule("10.1.0.0/16"), False),
        (rule("192.168.0.0/16"), rule("10.0.0.0/8"), False),
        (rule("2001:db8:1234:5600::/56"), rule("2001:db8:1234::/48"), True),
        (rule("::/0"), rule("2001:db8:1234::/48"), False),
        # IPv4 and IPv6 never cover each other, not even the whole internet
        (rule("::/0"), rule("0.0.0.0/0"), False),
        (rule("10.0.0.0/8"), rule("::/0"), False),
        # protocols: all traffic before, tcp after narrows; the reverse widens
        (rule("10.0.0.0/8", (22, 22)), rule("10.0.0.0/8", (None, None), "-1"), True),
        (rule("10.0.0.0/8", (None, None), "-1"), rule("10.0.0.0/8", (22, 22)), False),
        (rule("10.0.0.0/8", (53, 53), "udp"), rule("10.0.0.0/8", (53, 53), "tcp"), False),
        (rule("10.0.0.0/8", (22, 22), "6"), rule("10.0.0.0/8", (0, 65535), "tcp"), True),
        # icmp: type 8 of every type narrows, every type of type 8 widens, codes likewise
        (rule("10.0.0.0/8", (8, -1), "icmp"), rule("10.0.0.0/8", (-1, -1), "icmp"), True),
        (rule("10.0.0.0/8", (-1, -1), "icmp"), rule("10.0.0.0/8", (8, -1), "icmp"), False),
        (rule("10.0.0.0/8", (3, 4), "icmp"), rule("10.0.0.0/8", (3, -1), "icmp"), True),
        (rule("10.0.0.0/8", (3, -1), "icmp"), rule("10.0.0.0/8", (3, 4), "icmp"), False),
        (rule("10.0.0.0/8", (0, -1), "icmp"), rule("10.0.0.0/8", (8, -1), "icmp"), False),
        (rule("fd00::/8", (128, -1), "icmpv6"), rule("fd00::/8", (8, -1), "icmp"), False),
        # groups and prefix lists: only the same one narrows
        (rule("sg-0c3d5e7f9a1b2c4d6", kind=GROUP), rule("sg-0c3d5e7f9a1b2c4d6", kind=GROUP), True),
        (rule("sg-0c3d5e7f9a1b2c4d6", kind=GROUP), rule("sg-0123abcd4567ef890", kind=GROUP), False),
        (rule("pl-0123456789abcdef0", kind=LIST), rule("pl-0123456789abcdef0", kind=LIST), True),
        (rule("pl-0123456789abcdef0", kind=LIST), rule("pl-0aaaabbbbccccdddd", kind=LIST), False),
        # another kind of source is never a subset: a list may hold any CIDR
        (rule("10.1.0.0/16"), rule("pl-0123456789abcdef0", kind=LIST), False),
        (rule("pl-0123456789abcdef0", kind=LIST), rule("0.0.0.0/0"), False),
        (rule("sg-0c3d5e7f9a1b2c4d6", kind=GROUP), rule("0.0.0.0/0"), False),
    ],
)
def test_a_modification_narrows_only_when_the_after_state_is_within_the_before(
    after: Rule, before: Rule, narrowing: bool
) -> None:
    """Given a rule's value before and after a modification, then it narrows (or keeps)
    access exactly when the after-state's protocol, ports and source are within the
    before-state's."""
    assert allows_no_more(after, before) is narrowing


def test_a_narrowed_port_range_with_a_wider_source_still_widens() -> None:
    """Given tcp 20-30 from 10.0.0.0/8 edited to tcp 22 from 0.0.0.0/0, then it widens:
    both protocol-and-ports and source must be within the before-state."""
    assert not allows_no_more(rule("0.0.0.0/0", (22, 22)), rule("10.0.0.0/8", (20, 30)))


# -- narrows and decidable on a Modify --------------------------------------------------------


def test_a_modification_to_a_narrower_cidr_is_informational() -> None:
    """Given tcp 22 from 10.0.0.0/8 edited to tcp 22 from 10.1.0.0/16, then the rule
    narrows and the change is not decidable."""
    change = modify((rule("10.1.0.0/16"), rule("10.0.0.0/8")))

    assert narrows(change, 0)
    assert not decidable(change)


def test_a_modification_from_a_private_range_to_the_internet_is_decidable() -> None:
    """Given tcp 22 from 10.0.0.0/8 edited to tcp 22 from 0.0.0.0/0, then it is decidable."""
    change = modify((rule("0.0.0.0/0"), rule("10.0.0.0/8")))

    assert not narrows(change, 0)
    assert decidable(change)


def test_a_rule_without_a_recorded_prior_does_not_narrow() -> None:
    """Given a modified rule whose earlier value is not on record, then nobody can tell it
    narrowed: it does not narrow and the change is decidable."""
    change = modify((rule("10.1.0.0/32"), None))

    assert change.prior_of(change.rules[0]) is None
    assert not narrows(change, 0)
    assert decidable(change)


def test_one_widening_rule_among_several_makes_the_change_decidable() -> None:
    """Given a call modifying three rules, two narrowing and one widening, then the change
    is decidable and only the widening rule fails to narrow."""
    change = modify(
        (rule("10.1.0.0/16", rule_id="sgr-01"), rule("10.0.0.0/8", rule_id="sgr-01")),
        (rule("0.0.0.0/0", (443, 443), rule_id="sgr-02"), rule("10.0.0.0/8", rule_id="sgr-02")),
        (
            rule("10.0.0.0/8", (22, 22), rule_id="sgr-03"),
            rule("10.0.0.0/8", (None, None), "-1", rule_id="sgr-03"),
        ),
    )

    assert [narrows(change, i) for i in range(3)] == [True, False, True]
    assert decidable(change)


def test_several_rules_that_all_narrow_are_informational() -> None:
    """Given a call modifying two rules, both narrowing, then the change is informational."""
    change = modify(
        (rule("10.1.0.0/16", rule_id="sgr-01"), rule("10.0.0.0/8", rule_id="sgr-01")),
        (rule("10.2.0.0/16", rule_id="sgr-02"), rule("10.0.0.0/8", rule_id="sgr-02")),
    )

    assert not decidable(change)


def test_a_rule_without_prior_among_narrowing_ones_makes_the_change_decidable() -> None:
    """Given one narrowing rule and one whose earlier value is not on record, then the
    change is decidable."""
    change = modify(
        (rule("10.1.0.0/16", rule_id="sgr-01"), rule("10.0.0.0/8", rule_id="sgr-01")),
        (rule("10.2.0.0/16", rule_id="sgr-02"), None),
    )

    assert [narrows(change, 0), narrows(change, 1)] == [True, False]
    assert decidable(change)


def test_priors_are_matched_to_rules_by_rule_id() -> None:
    """Given priors listed in another order than the rules, then each rule is judged
    against the prior with its own id."""
    change = modify(
        (rule("10.1.0.0/16", rule_id="sgr-01"), rule("10.0.0.0/8", rule_id="sgr-01")),
        (rule("0.0.0.0/0", rule_id="sgr-02"), rule("0.0.0.0/0", rule_id="sgr-02")),
    )
    change = replace(change, prior=tuple(reversed(change.prior)))

    assert [narrows(change, 0), narrows(change, 1)] == [True, True]
    assert not decidable(change)


# -- decidable on the other calls -------------------------------------------------------------


def _call(event: str, *rules: Rule, prefix_list: PrefixListEdit | None = None) -> Change:
    return Change(
        event_id=f"e-{event}",
        event_name=event,
        event_time=NOW,
        account=ACCOUNT,
        region="eu-west-1",
        group_id=prefix_list.list_id if prefix_list else "sg-0a1b2c3d4e5f60718",
        actor=Actor(arn=f"arn:aws:iam::{ACCOUNT}:user/ops", type="IAMUser"),
        rules=rules,
        prefix_list=prefix_list,
    )


@pytest.mark.parametrize(
    ("added", "removed", "expected"),
    [
        ((PrefixListEntry("0.0.0.0/0"),), (), True),
        ((PrefixListEntry("203.0.113.0/24"),), (PrefixListEntry("198.51.100.0/24"),), True),
        ((), (PrefixListEntry("198.51.100.0/24"),), False),
    ],
)
def test_a_prefix_list_edit_is_decidable_when_it_added_entries(
    added: tuple[PrefixListEntry, ...], removed: tuple[PrefixListEntry, ...], expected: bool
) -> None:
    """Given a prefix-list edit, then it is decidable iff it added entries: removing
    entries only narrows every rule that references the list."""
    edit = PrefixListEdit("pl-0123456789abcdef0", "corp-ranges", 3, added, removed)

    assert decidable(_call(PREFIX_LIST_EVENT, prefix_list=edit)) is expected


def test_authorizes_are_decidable_and_revokes_are_not() -> None:
    """Given an Authorize and a Revoke of the same rule, then only the Authorize is."""
    opened = rule("0.0.0.0/0")

    assert decidable(_call("AuthorizeSecurityGroupIngress", opened))
    assert not decidable(_call("RevokeSecurityGroupIngress", opened))
