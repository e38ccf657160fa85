"""Finding a modified rule's earlier value, and a newer change of it, in a group's history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sgrevert.context import ChangeContext
from sgrevert.model import (
    Actor,
    Change,
    ChangeRecord,
    Direction,
    Prior,
    Rule,
    SourceKind,
    State,
)
from sgrevert.prior import find_prior, newer_change

T0 = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
ACTOR = Actor(arn="arn:aws:iam::111122223333:user/alice", type="IAMUser")
GROUP = "sg-0a1b2c3d4e5f60718"


def rule(
    cidr: str,
    rule_id: str | None = "sgr-01a2b3c4d5e6f7082",
    port: int = 22,
    direction: Direction = Direction.INGRESS,
) -> Rule:
    return Rule(direction, "tcp", port, port, SourceKind.CIDR_IPV4, cidr, rule_id)


def id_only(rule_id: str) -> Rule:
    """A rule a Revoke by id recorded: its id and nothing else (cloudtrail.is_id_only)."""
    return Rule(Direction.INGRESS, "", None, None, SourceKind.CIDR_IPV4, "", rule_id)


def change(
    event_id: str,
    event_name: str,
    minute: int,
    *rules: Rule,
    prior: tuple[Prior, ...] = (),
) -> Change:
    return Change(
        event_id=event_id,
        event_name=event_name,
        event_time=T0 + timedelta(minutes=minute),
        account="111122223333",
        region="eu-west-1",
        group_id=GROUP,
        actor=ACTOR,
        rules=rules,
        prior=prior,
    )


def authorize(event_id: str, minute: int, *rules: Rule) -> Change:
    return change(event_id, "AuthorizeSecurityGroupIngress", minute, *rules)


def modify(event_id: str, minute: int, *rules: Rule, prior: tuple[Prior, ...] = ()) -> Change:
    return change(event_id, "ModifySecurityGroupRules", minute, *rules, prior=prior)


def revoke(event_id: str, minute: int, *rules: Rule) -> Change:
    return change(event_id, "RevokeSecurityGroupIngress", minute, *rules)


def recorded(of: Change, context: ChangeContext | None = None) -> ChangeRecord:
    return ChangeRecord(of, State.PENDING, of.event_time, context=context)


def snapshot(minute: int, *rules: Rule) -> ChangeContext:
    return ChangeContext(read_at=T0 + timedelta(minutes=minute), rules=rules)


# -- find_prior ------------------------------------------------------------------------


def test_the_authorize_that_created_the_rule_is_its_before() -> None:
    """Given the Authorize that created sgr-1 from 10.0.0.0/8, when sgr-1 is modified to
    0.0.0.0/0, then its before is the Authorize's rule, seen at the Authorize's time."""
    created = authorize("ev-auth", 0, rule("10.0.0.0/8"))
    edit = modify("ev-mod", 30, rule("0.0.0.0/0"))

    assert find_prior(edit, [recorded(created)]) == (
        Prior(rule("10.0.0.0/8"), created.event_time, "ev-auth"),
    )


def test_an_earlier_modification_is_the_before_with_the_direction_from_its_own_prior() -> None:
    """Given an egress rule's earlier modification whose prior said egress, when the rule is
    modified again, then the before is that modification's after value, egress, seen then."""
    egress_before = Prior(rule("10.0.0.0/8", direction=Direction.EGRESS), T0, "ev-auth")
    first = modify("ev-mod1", 10, rule("10.1.0.0/16"), prior=(egress_before,))
    second = modify("ev-mod2", 30, rule("0.0.0.0/0"))

    assert find_prior(second, [recorded(first)]) == (
        Prior(rule("10.1.0.0/16", direction=Direction.EGRESS), first.event_time, "ev-mod1"),
    )


def test_an_earlier_modification_without_a_prior_keeps_its_placeholder_direction() -> None:
    """Given an earlier modification with no prior, when the rule is modified again, then
    the before is its after value as recorded (ingress, CloudTrail's placeholder)."""
    first = modify("ev-mod1", 10, rule("10.1.0.0/16"))
    second = modify("ev-mod2", 30, rule("0.0.0.0/0"))

    [before] = find_prior(second, [recorded(first)])
    assert before.rule == rule("10.1.0.0/16")
    assert before.source == "ev-mod1"


def test_a_stored_snapshot_is_the_before_with_its_read_time_and_real_direction() -> None:
    """Given a record of another rule whose context snapshot holds sgr-1 (egress), when
    sgr-1 is modified after the read, then the snapshot's rule is the before."""
    other = authorize("ev-other", 0, rule("192.0.2.0/24", rule_id="sgr-other"))
    context = snapshot(
        5, rule("192.0.2.0/24", rule_id="sgr-other"), rule("10.0.0.0/8", direction=Direction.EGRESS)
    )
    edit = modify("ev-mod", 30, rule("0.0.0.0/0"))

    assert find_prior(edit, [recorded(other, context)]) == (
        Prior(
            rule("10.0.0.0/8", direction=Direction.EGRESS),
            context.read_at,
            "ev-other",
            from_snapshot=True,
        ),
    )


def test_the_newest_observation_wins() -> None:
    """Given the rule's Authorize, a later snapshot and a still later modification, when it
    is modified again, then the before is the newest of them: the modification."""
    created = authorize("ev-auth", 0, rule("10.0.0.0/8"))
    seen = recorded(
        authorize("ev-x", 1, rule("192.0.2.0/24", "sgr-x")), snapshot(5, rule("10.2.0.0/16"))
    )
    edited = modify("ev-mod1", 20, rule("10.3.0.0/16"))
    edit = modify("ev-mod2", 30, rule("0.0.0.0/0"))

    for history in (
        [recorded(created), seen, recorded(edited)],
        [recorded(edited), seen, recorded(created)],
    ):
        [before] = find_prior(edit, history)
        assert (before.rule.source, before.source) == ("10.3.0.0/16", "ev-mod1")


def test_observations_at_or_after_the_modification_are_ignored() -> None:
    """Given the Authorize, a modification in the same second and a later one, when the
    rule's before is looked for, then only the Authorize counts."""
    created = authorize("ev-auth", 0, rule("10.0.0.0/8"))
    edit = modify("ev-mod", 30, rule("0.0.0.0/0"))
    same_second = modify("ev-same", 30, rule("10.9.0.0/16"))
    later = modify("ev-later", 40, rule("10.8.0.0/16"))

    [before] = find_prior(edit, [recorded(created), recorded(same_second), recorded(later)])
    assert before.source == "ev-auth"


def test_a_snapshot_read_after_the_modification_is_ignored() -> None:
    """Given a record from before the modification whose snapshot was read after it (it
    shows the new value), when the before is looked for, then the Authorize is used."""
    created = authorize("ev-auth", 0, rule("10.0.0.0/8"))
    posted_late = recorded(
        authorize("ev-x", 20, rule("192.0.2.0/24", "sgr-x")), snapshot(31, rule("0.0.0.0/0"))
    )
    edit = modify("ev-mod", 30, rule("0.0.0.0/0"))

    [before] = find_prior(edit, [recorded(created), posted_late])
    assert (before.source, before.from_snapshot) == ("ev-auth", False)


def test_several_rules_each_find_their_own_before() -> None:
    """Given two rules created by different Authorizes and one with no record, when one
    call modifies all three, then each rule on record has its own before, the third none."""
    ssh = authorize("ev-ssh", 0, rule("10.0.0.0/8", "sgr-ssh"))
    https = authorize("ev-https", 5, rule("10.1.0.0/16", "sgr-https", port=443))
    edit = modify(
        "ev-mod",
        30,
        rule("0.0.0.0/0", "sgr-ssh"),
        rule("0.0.0.0/0", "sgr-https", port=443),
        rule("0.0.0.0/0", "sgr-unknown", port=80),
    )

    found = find_prior(edit, [recorded(https), recorded(ssh)])

    assert {p.rule.rule_id: p.source for p in found} == {
        "sgr-ssh": "ev-ssh",
        "sgr-https": "ev-https",
    }
    assert edit.prior_of(edit.rules[2]) is None


def test_no_history_means_no_before() -> None:
    """Given nothing on record, when a modification's before is looked for, then none."""
    assert find_prior(modify("ev-mod", 30, rule("0.0.0.0/0")), []) == ()


def test_a_rule_without_an_id_and_other_events_have_no_before() -> None:
    """Given the Authorize on record, when an Authorize (not a modification) or a
    modification naming no rule id is looked up, then neither has a before."""
    created = authorize("ev-auth", 0, rule("10.0.0.0/8"))
    history = [recorded(created)]

    assert find_prior(authorize("ev-2", 30, rule("0.0.0.0/0")), history) == ()
    assert find_prior(modify("ev-mod", 30, rule("0.0.0.0/0", rule_id=None)), history) == ()


def test_a_change_recorded_a_moment_ago_is_used_and_the_stored_record_preferred() -> None:
    """Given the Authorize only among the run's recent changes (not yet in the index), when
    the rule is modified, then it is the before; and when history holds the same event
    with a prior, the stored record (and its direction) is used instead."""
    created = authorize("ev-auth", 0, rule("10.0.0.0/8"))
    edit = modify("ev-mod2", 30, rule("0.0.0.0/0"))
    assert [p.source for p in find_prior(edit, [], recent=[created])] == ["ev-auth"]

    egress = Prior(rule("10.0.0.0/8", direction=Direction.EGRESS), T0, "ev-auth")
    first = modify("ev-mod1", 10, rule("10.1.0.0/16"), prior=(egress,))
    parsed_again = modify("ev-mod1", 10, rule("10.1.0.0/16"))
    [before] = find_prior(edit, [recorded(first)], recent=[parsed_again])
    assert before.rule.direction is Direction.EGRESS


# -- newer_change ----------------------------------------------------------------------


def test_the_oldest_later_modification_or_revoke_of_the_rule_is_the_newer_change() -> None:
    """Given, after a modification, an edit of another rule, then a Revoke by id of the
    rule, then another modification of it, when the newer change of the rule is asked for,
    then it is the Revoke."""
    edit = modify("ev-mod", 30, rule("0.0.0.0/0"))
    history = [
        recorded(modify("ev-later", 50, rule("10.0.0.0/8"))),
        recorded(revoke("ev-revoke", 40, id_only("sgr-01a2b3c4d5e6f7082"))),
        recorded(modify("ev-other", 35, rule("10.0.0.0/8", "sgr-other"))),
        recorded(authorize("ev-auth", 36, rule("10.0.0.0/8"))),  # not an edit of it
        recorded(modify("ev-before", 20, rule("10.0.0.0/8"))),
        recorded(edit),
    ]

    newer = newer_change(edit, "sgr-01a2b3c4d5e6f7082", history)

    assert newer is not None and newer.event_id == "ev-revoke"


def test_no_later_change_of_the_rule_means_no_newer_change() -> None:
    """Given only changes before it, of it in the same second, or of other rules, when the
    newer change is asked for, then there is none."""
    edit = modify("ev-mod", 30, rule("0.0.0.0/0"))
    history = [
        recorded(edit),
        recorded(modify("ev-before", 20, rule("10.0.0.0/8"))),
        recorded(modify("ev-same", 30, rule("10.0.0.0/8"))),
        recorded(modify("ev-other", 40, rule("10.0.0.0/8", "sgr-other"))),
    ]

    assert newer_change(edit, "sgr-01a2b3c4d5e6f7082", history) is None
    assert newer_change(edit, "sgr-01a2b3c4d5e6f7082", []) is None
