"""Names in the role chain: the spoke role ARN, and the session name and source identity
STS will accept, each saying who decided."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from sgrevert.roles import decider_parts, session_name, source_identity, spoke_role_arn

# STS's own patterns for RoleSessionName and SourceIdentity, spelled out in ASCII
STS_NAME = re.compile(r"[A-Za-z0-9_+=,.@-]{2,64}")
SSO_OPERATOR = (
    "cli:arn:aws:sts::222222222222:assumed-role/"
    "AWSReservedSSO_SecurityAdmin_0123456789abcdef/alice@example.com"
)


@pytest.mark.parametrize(
    ("who", "expected"),
    [
        ("U0ALICE", "sgrevert-denied-by-U0ALICE"),
        ("cli:arn:aws:iam::1:user/ops/bob smith", "sgrevert-denied-by-cli-bob-smith"),
        (SSO_OPERATOR, "sgrevert-denied-by-cli-alice@example.com"),
        ("policy:auto_revert_at_or_above", "sgrevert-denied-by-policy-auto_revert_at_or_above"),
        ("expiry:U0ALICE", "sgrevert-denied-by-expiry-U0ALICE"),
        ("", "sgrevert-denied-by-unknown"),
    ],
)
def test_given_who_denied_when_named_then_the_session_name_says_so(who: str, expected: str) -> None:
    assert session_name(who) == expected


@pytest.mark.parametrize(
    ("who", "expected"),
    [
        ("U0ALICE", "slack=U0ALICE"),
        (SSO_OPERATOR, "cli=alice@example.com"),
        ("cli:arn:aws:iam::222222222222:root", "cli=root"),
        ("policy:auto_revert_at_or_above", "policy=auto_revert_at_or_above"),
        ("expiry:U0ALICE", "expiry=U0ALICE"),
        ("", "slack=unknown"),
    ],
)
def test_given_who_denied_when_the_source_identity_is_made_then_it_names_the_kind_and_person(
    who: str, expected: str
) -> None:
    assert source_identity(who) == expected


@pytest.mark.parametrize("make", [session_name, source_identity])
def test_given_a_long_or_exotic_name_when_named_then_sts_accepts_it(
    make: Callable[[str], str],
) -> None:
    for who in ("ü" * 100 + "/:*?", "cli:arn:aws:iam::1:user/" + "é" * 80, "Ü", "x"):
        name = make(who)
        assert STS_NAME.fullmatch(name), name
        assert name.isascii()


def test_given_a_long_operator_name_when_named_then_the_person_comes_first_and_fits() -> None:
    name = session_name("cli:arn:aws:sts::1:assumed-role/Admin/" + "a" * 70)

    assert name.startswith("sgrevert-denied-by-cli-aaaa")
    assert len(name) == 64


def test_given_an_unknown_prefix_when_parsed_then_it_is_a_slack_user_id() -> None:
    assert decider_parts("U0ALICE") == ("slack", "U0ALICE")
    assert decider_parts("mystery:thing") == ("slack", "mystery:thing")


def test_given_a_role_name_with_a_path_when_the_arn_is_built_then_the_path_is_kept() -> None:
    assert spoke_role_arn("aws", "111122223333", "spoke-001") == (
        "arn:aws:iam::111122223333:role/spoke-001"
    )
    assert spoke_role_arn("aws-us-gov", "111122223333", "security/spoke-001") == (
        "arn:aws-us-gov:iam::111122223333:role/security/spoke-001"
    )
