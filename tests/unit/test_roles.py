"""Names in the role chain: the spoke role ARN and the session name STS will accept."""

from __future__ import annotations

import re

import pytest

from sgrevert.roles import session_name, spoke_role_arn

STS_SESSION_NAME = re.compile(r"[\w+=,.@-]{2,64}")


@pytest.mark.parametrize(
    ("who", "expected"),
    [
        ("U0ALICE", "sgrevert-denied-by-U0ALICE"),
        (
            "cli:arn:aws:iam::1:user/bob smith",
            "sgrevert-denied-by-cli-arn-aws-iam--1-user-bob-smith",
        ),
        ("", "sgrevert-denied-by-unknown"),
    ],
)
def test_given_who_denied_when_named_then_the_session_name_says_so(who: str, expected: str) -> None:
    assert session_name(who) == expected


def test_given_a_long_or_exotic_name_when_named_then_sts_accepts_it() -> None:
    name = session_name("ü" * 100 + "/:*?")
    assert STS_SESSION_NAME.fullmatch(name)
    assert len(name) == 64


def test_given_a_role_name_with_a_path_when_the_arn_is_built_then_the_path_is_kept() -> None:
    assert spoke_role_arn("aws", "111122223333", "spoke-001") == (
        "arn:aws:iam::111122223333:role/spoke-001"
    )
    assert spoke_role_arn("aws-us-gov", "111122223333", "security/spoke-001") == (
        "arn:aws-us-gov:iam::111122223333:role/security/spoke-001"
    )
