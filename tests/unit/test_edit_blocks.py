"""The Slack message of an edit: a modified rule as before → after, a prefix-list edit with
the groups whose rules reference the list, and what the Deny dialog says before the click."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from sgrevert.blocks import ACTION_APPROVE, ACTION_DENY, batch_message, message
from sgrevert.cloudtrail import parse_record
from sgrevert.context import ChangeContext, Gap, GroupInfo, ListReference
from sgrevert.decidable import decidable
from sgrevert.model import (
    Change,
    ChangeRecord,
    Direction,
    PrefixListEntry,
    Prior,
    Rule,
    SourceKind,
    State,
)
from tests.support import load_event
from tests.unit.test_blocks import (
    actions,
    all_text,
    assert_within_block_kit_limits,
    buttons,
    record_of,
)

READ_AT = datetime(2026, 11, 27, 10, 45, tzinfo=UTC)
SEEN_AT = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)  # when the earlier value was recorded
LIST_ID = "pl-0123456789abcdef0"


def change_from(name: str) -> Change:
    return parse_record(load_event(name))


def with_prior(change: Change, *befores: Rule) -> Change:
    """The change as the detector records it once it found each rule's earlier value (an
    Authorize record of the same rule id)."""
    return replace(
        change,
        prior=tuple(
            Prior(before, SEEN_AT, f"evt-authorize-{i}") for i, before in enumerate(befores)
        ),
    )


def earlier(rule: Rule, **values: object) -> Rule:
    """The value `rule` had before the modification, as an Authorize record holds it."""
    return replace(rule, **values)


def referencing(
    group_id: str, name: str | None, *ports: int, egress: bool = False
) -> ListReference:
    """A group whose tcp rules have the list as their source, as DescribeSecurityGroupRules
    gives them."""
    return ListReference(
        group_id,
        name,
        tuple(
            Rule(
                Direction.EGRESS if egress else Direction.INGRESS,
                "tcp",
                port,
                port,
                SourceKind.PREFIX_LIST,
                LIST_ID,
                f"sgr-{port:05d}{group_id[-12:]}",
            )
            for port in ports
        ),
    )


def list_context(
    references: tuple[ListReference, ...] | None, *gaps: Gap, account_name: str = "prod-network"
) -> ChangeContext:
    return ChangeContext(
        read_at=READ_AT,
        account_name=account_name,
        group=GroupInfo(name="corp-ranges"),
        references=references,
        gaps=gaps,
    )


def deny_dialog(record: ChangeRecord) -> str:
    return str(buttons(message(record))[ACTION_DENY]["confirm"]["text"]["text"])


# -- modified rules --------------------------------------------------------------------------


def test_a_modified_rule_shows_its_recorded_value_before_and_its_new_value_after() -> None:
    """Given a modification of tcp 22 from 10.0.0.0/8 into tcp 22 from 0.0.0.0/0, with the
    earlier value on record, when rendered, then the rule's line reads before → after on one
    line, with its id, and Deny offers to restore it."""
    change = change_from("modify_rule_ssh_from_anywhere")
    change = with_prior(change, earlier(change.rules[0], source="10.0.0.0/8"))

    msg = message(record_of(change))

    lines = all_text(msg).splitlines()
    [line] = [x for x in lines if "sgr-01a2b3c4d5e6f7086" in x and "→" in x]
    assert "`tcp 22` from `10.0.0.0/8` → `tcp 22` from `0.0.0.0/0`" in line
    assert "not on record" not in all_text(msg)
    assert set(buttons(msg)) == {ACTION_APPROVE, ACTION_DENY}
    assert "*Deny* restores each rule to its previous value" in all_text(msg)


def test_a_modified_rule_without_a_recorded_value_says_so() -> None:
    """Given a modification whose earlier value is not on record, when rendered, then the
    line shows the new value and says the previous one is not on record."""
    change = change_from("modify_rule_ssh_from_anywhere")

    text = all_text(message(record_of(change)))

    assert "`tcp 22` from `0.0.0.0/0` (previous value not on record)" in text
    assert "→" not in text


def test_a_modified_egress_rule_says_to_where_its_earlier_value_says_egress() -> None:
    """Given a modified rule whose earlier value is an egress rule (CloudTrail's modify
    record does not say), then both sides read "to"."""
    change = change_from("modify_rule_ipv6_source")
    rule = change.rules[0]
    change = with_prior(change, earlier(rule, direction=Direction.EGRESS, source="2001:db8::/32"))

    text = all_text(message(record_of(change)))

    assert "`udp 51820` to `2001:db8::/32` → `udp 51820` to `2001:db8:1234:5600::/56`" in text


def test_a_narrowing_modification_is_posted_for_information_without_buttons() -> None:
    """Given a modification that narrows tcp 22 from 198.51.100.0/24 to 198.51.100.0/25,
    then it is not decidable, so it is recorded INFO, and its message has no buttons, shows
    before → after, notes the narrowing and says why there is nothing to revert."""
    change = change_from("modify_rules")
    change = with_prior(change, earlier(change.rules[0], source="198.51.100.0/24"))
    assert not decidable(change)

    msg = message(record_of(change))  # the state the store gives it: INFO

    assert actions(msg) == []
    text = all_text(msg)
    assert "`tcp 22` from `198.51.100.0/24` → `tcp 22` from `198.51.100.0/25`" in text
    assert "↳ narrows: lets in no more than before" in text
    assert "only narrows what the rules allow" in text
    assert "for information" in msg.text


def test_the_deny_dialog_says_before_the_click_that_a_rule_without_a_previous_value_is_removed() -> (
    None
):
    """Given a one-rule modification without its earlier value on record, then the Deny
    confirmation says Deny removes the rule."""
    change = change_from("modify_rule_ssh_from_anywhere")

    dialog = deny_dialog(record_of(change))

    assert dialog.startswith("Previous value unknown: Deny removes this rule from ")
    assert "sg-0a1b2c3d4e5f60718 in account 111122223333 (eu-west-1)" in dialog


def test_the_deny_dialog_uses_the_plural_when_several_previous_values_are_unknown() -> None:
    """Given a modification of two rules, neither with its earlier value on record, then the
    dialog says both are removed."""
    change = change_from("modify_rules_several")

    dialog = deny_dialog(record_of(change))

    assert dialog.startswith("Previous values unknown: Deny removes these 2 rules from ")


def test_the_deny_dialog_names_the_rule_it_removes_when_others_are_restored() -> None:
    """Given two modified rules, one with its earlier value on record, then the dialog first
    names the other, which Deny removes, then says the one is restored."""
    change = change_from("modify_rules_several")
    known, unknown = change.rules
    change = with_prior(change, earlier(known, source="10.0.0.0/16"))

    dialog = deny_dialog(record_of(change))

    assert dialog == (
        f"Previous value unknown for {unknown.rule_id}: Deny removes this rule. This restores "
        "1 rule to its previous value on sg-0d4c3b2a1f0e9d8c7 in account 444455556666 "
        "(us-east-1)."
    )


def test_the_deny_dialog_of_a_modification_with_every_previous_value_says_it_restores() -> None:
    """Given two modified rules, both with their earlier values, then the dialog says both
    are restored and warns of nothing."""
    change = change_from("modify_rules_several")
    change = with_prior(change, *(earlier(r, source="10.1.0.0/16") for r in change.rules))

    dialog = deny_dialog(record_of(change))

    assert dialog == (
        "This restores 2 rules to their previous values on sg-0d4c3b2a1f0e9d8c7 in account "
        "444455556666 (us-east-1)."
    )


def test_a_modification_that_widens_one_rule_and_narrows_another_restores_only_the_widened() -> (
    None
):
    """Given two modified rules, one widened from a narrower source and one narrowed from
    0.0.0.0/0, both earlier values on record, then Deny is offered, its dialog counts one
    rule restored, and the message says the narrowed rule keeps its value."""
    change = change_from("modify_rules_several")
    first, second = change.rules
    change = with_prior(
        change, earlier(first, source="10.1.0.0/16"), earlier(second, source="0.0.0.0/0")
    )
    assert decidable(change)

    msg = message(record_of(change))

    assert deny_dialog(record_of(change)).startswith("This restores 1 rule to its previous value")
    assert "keeps a rule this change narrowed as it is" in all_text(msg)


def test_a_failed_revert_of_a_modification_says_a_newer_change_is_decided_first() -> None:
    """Given a modification whose revert failed, then the message says that a rule changed
    again since is decided first, and offers Deny again."""
    change = change_from("modify_rule_ssh_from_anywhere")

    msg = message(record_of(change, State.REVERT_FAILED, outcome="sgr-1 was changed again"))

    assert "If a rule was changed again since, decide that change first; otherwise check" in (
        all_text(msg)
    )
    assert set(buttons(msg)) == {ACTION_DENY}


def test_a_group_message_of_modifications_shows_before_and_after_and_warns_in_its_dialog() -> None:
    """Given two modifications of one group by one actor, one with its earlier value and one
    without, when posted together, then each member line shows its rule before → after (or
    not on record), and the Deny-all dialog warns of the rule it removes."""
    first = change_from("modify_rule_ssh_from_anywhere")
    first = with_prior(first, earlier(first.rules[0], source="10.0.0.0/8"))
    second = replace(
        change_from("modify_rule_ssh_from_anywhere"),
        event_id="b3f0c1d2-5e6a-4b7c-8d9e-0f1a2b3c4d99",
        rules=(
            replace(first.rules[0], rule_id="sgr-0aaaabbbbccccdddd", from_port=3389, to_port=3389),
        ),
    )

    msg = batch_message("batch-1", [record_of(first), record_of(second)])

    text = all_text(msg)
    assert "`tcp 22` from `10.0.0.0/8` → `tcp 22` from `0.0.0.0/0`" in text
    assert "`tcp 3389` from `0.0.0.0/0` (previous value not on record)" in text
    dialog = buttons(msg)[ACTION_DENY]["confirm"]["text"]["text"]
    assert dialog.startswith("Previous value unknown for sgr-0aaaabbbbccccdddd: Deny removes ")
    assert "This restores 1 rule to its previous value" in dialog
    assert_within_block_kit_limits(msg)


# -- prefix lists ----------------------------------------------------------------------------


def test_a_prefix_list_edit_names_the_list_its_entries_and_the_groups_that_reference_it() -> None:
    """Given an edit that added two entries and removed one, read with two referencing
    groups, when rendered, then the message names the list (name and id), the added CIDRs,
    the removed one as information, and each group with its rules' ports."""
    change = change_from("modify_prefix_list_add_and_remove")
    context = list_context(
        (
            referencing("sg-0aaa1111bbbb2222c", "web", 443),
            referencing("sg-0ddd3333eeee4444f", None, 22, 5432),
        )
    )

    msg = message(replace(record_of(change), context=context, risk="critical"))

    text = all_text(msg)
    assert "in prefix list `pl-0123456789abcdef0` (corp-ranges) in account prod-network" in text
    assert msg.blocks[0]["text"]["text"] == (
        ":rotating_light: CRITICAL · 2 entries added, 1 removed in prefix list "
        "pl-0123456789abcdef0 (corp-ranges)"
    )
    assert (
        "*Added* (2 entries):\n• `203.0.113.0/24` (new office)\n• `198.51.100.64/26` (DR site)"
        in text
    )
    assert "*Removed*, for information (1 entry):\n• `198.51.100.0/24`" in text
    assert "*Referenced by* 2 security groups:" in text
    assert "• `sg-0aaa1111bbbb2222c` (web): `tcp 443`" in text
    assert "• `sg-0ddd3333eeee4444f`: `tcp 22`, `tcp 5432`" in text
    assert msg.text.startswith(
        "[CRITICAL] 2 entries added, 1 removed in prefix list pl-0123456789abcdef0"
    )
    dialog = buttons(msg)[ACTION_DENY]["confirm"]["text"]["text"]
    assert dialog == (
        "This removes 2 entries it added (203.0.113.0/24, 198.51.100.64/26) from prefix list "
        "pl-0123456789abcdef0 in account 444455556666 (us-east-1). Other entries stay."
    )
    assert_within_block_kit_limits(msg)


def test_a_prefix_list_edit_whose_references_could_not_be_read_says_why_once() -> None:
    """Given an edit whose referencing groups could not be read (the read role may not call
    GetManagedPrefixListAssociations), then the message says so where the groups would be,
    that it is rated at worst, and does not repeat it among the other gaps; Deny is still
    offered."""
    change = change_from("modify_prefix_list_add")
    reason = "GetManagedPrefixListAssociations: UnauthorizedOperation"
    context = list_context(
        None, Gap("references", reason), Gap("actor", "users:read.email missing")
    )

    msg = message(replace(record_of(change), context=context))

    text = all_text(msg)
    assert (
        f"*Referenced by*: unknown ({reason}), so rated as if the added entries reached all traffic"
        in text
    )
    assert text.count(reason) == 1
    assert "users:read.email missing" in text  # the other gaps are still said
    assert "`0.0.0.0/0` (anywhere) (vendor access (temporary))" in text
    assert set(buttons(msg)) == {ACTION_APPROVE, ACTION_DENY}


def test_a_prefix_list_edit_that_no_group_references_says_so() -> None:
    """Given an edit of a list no security group of its account and region references, then
    the message says so."""
    change = change_from("modify_prefix_list_add")

    text = all_text(message(replace(record_of(change), context=list_context(()))))

    assert "*Referenced by*: no security group references this list" in text


def test_a_prefix_list_edit_read_only_in_part_lists_what_was_read_and_says_it_was_cut() -> None:
    """Given more referencing groups than are read, then the groups read are listed and a
    line says the rest were not, so the worst case stands."""
    change = change_from("modify_prefix_list_add")
    cut = "more than 50 security groups reference the list; the first 50 were read"
    context = list_context(
        (referencing("sg-0aaa1111bbbb2222c", "web", 443),), Gap("references", cut)
    )

    text = all_text(message(replace(record_of(change), context=context)))

    assert "• `sg-0aaa1111bbbb2222c` (web): `tcp 443`" in text
    assert f"{cut}, so rated as if the added entries reached all traffic" in text


def test_a_prefix_list_edit_that_only_removed_entries_is_informational() -> None:
    """Given an edit that only removed an entry, then it is recorded INFO: the removed entry
    is shown, no buttons, and the message says why there is nothing to revert."""
    change = change_from("modify_prefix_list_remove")
    assert not decidable(change)

    msg = message(replace(record_of(change), context=list_context(())))

    assert actions(msg) == []
    text = all_text(msg)
    assert "*Removed*, for information (1 entry):\n• `192.0.2.0/24`" in text
    assert "Entries were only removed" in text
    assert "rated as if" not in text
    assert msg.text.endswith("for information")


def test_a_prefix_list_edit_without_context_still_names_the_list_and_its_entries() -> None:
    """Given a record whose context was never read, then the list and entries are shown and
    nothing is said about references."""
    change = change_from("modify_prefix_list_add")

    text = all_text(message(record_of(change)))

    assert "prefix list `pl-0123456789abcdef0` (corp-ranges)" in text
    assert "`0.0.0.0/0` (anywhere)" in text
    assert "Referenced by" not in text


def test_a_failed_prefix_list_revert_says_the_entries_may_still_be_there() -> None:
    """Given a prefix-list edit whose revert failed, then the message says the added entries
    may still be in the list and which permission the spoke role needs, and offers Deny."""
    change = change_from("modify_prefix_list_add")

    msg = message(record_of(change, State.REVERT_FAILED, outcome="AccessDenied"))

    text = all_text(msg)
    assert "The added entries may still be in the list." in text
    assert "may modify prefix lists in `us-east-1`" in text
    assert set(buttons(msg)) == {ACTION_DENY}


def test_a_group_message_of_prefix_list_edits_shows_the_references_once_and_each_edit() -> None:
    """Given two edits of one list by one actor posted together, then the referencing groups
    are shown once and each member line names its entries."""
    first = change_from("modify_prefix_list_add")
    second = replace(
        change_from("modify_prefix_list_add_and_remove"),
        actor=first.actor,
        account=first.account,
        region=first.region,
    )
    context = list_context((referencing("sg-0aaa1111bbbb2222c", "web", 443),))
    records = [replace(record_of(c), context=context) for c in (first, second)]

    msg = batch_message("batch-2", records)

    text = all_text(msg)
    assert text.count("`sg-0aaa1111bbbb2222c` (web): `tcp 443`") == 1
    assert "added `0.0.0.0/0` (anywhere) (vendor access (temporary))" in text
    assert (
        "added `203.0.113.0/24` (new office), `198.51.100.64/26` (DR site); removed `198.51.100.0/24`"
        in text
    )
    assert msg.blocks[0]["text"]["text"].endswith(
        "2 changes in prefix list pl-0123456789abcdef0 (corp-ranges)"
    )
    dialog = buttons(msg)[ACTION_DENY]["confirm"]["text"]["text"]
    assert dialog.startswith(
        "This removes 3 entries they added (0.0.0.0/0, 203.0.113.0/24, 198.51.100.64/26)"
    )
    assert_within_block_kit_limits(msg)


@pytest.mark.parametrize("state", list(State))
def test_a_huge_prefix_list_edit_with_many_references_stays_within_the_limits(state: State) -> None:
    """Given an edit that added 100 entries (the most one call may) with long descriptions,
    read with 50 referencing groups of long names and many rules, then the message stays
    within Block Kit limits in every state and says what it could not show."""
    base = change_from("modify_prefix_list_add")
    edit = base.prefix_list
    assert edit is not None
    long = "x<&>" * 60
    entries = tuple(PrefixListEntry(f"10.{i}.0.0/16", long) for i in range(100))
    change = replace(
        base, prefix_list=replace(edit, added=entries, removed=entries[:20], name=long)
    )
    groups = tuple(
        referencing(f"sg-{i:017x}", long, *range(8000, 8012), egress=i % 2 == 1) for i in range(50)
    )
    record = replace(record_of(change, state, outcome=long), context=list_context(groups))

    msg = message(record)

    assert_within_block_kit_limits(msg)
    assert "more lines. The full list is in the change record" in all_text(msg)
    if state in (State.PENDING, State.REVERT_FAILED):
        assert ACTION_DENY in buttons(msg)
    batch = batch_message(
        "batch-3", [record, replace(record, change=replace(change, event_id="e2"))]
    )
    assert_within_block_kit_limits(batch)
    if state is State.PENDING:
        assert set(buttons(batch)) == {ACTION_APPROVE, ACTION_DENY}
