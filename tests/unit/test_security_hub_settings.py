"""SECURITY_HUB and SECURITY_HUB_AT_OR_ABOVE, read alike by the detector and the responder."""

from __future__ import annotations

import re

import pytest

from sgrevert.errors import ConfigError
from sgrevert.risk import Risk
from sgrevert.settings import DetectSettings, RespondSettings

DETECTOR = {
    "TABLE_NAME": "t",
    "SLACK_SECRET_ARN": "sgrevert/slack",
    "SLACK_CHANNEL_ID": "C0123ABCD",
    "DETECTION": "eventbridge",
}
RESPONDER = {"TABLE_NAME": "t", "SLACK_SECRET_ARN": "sgrevert/slack"}


def test_off_by_default_at_high() -> None:
    for settings in (DetectSettings.from_env(DETECTOR), RespondSettings.from_env(RESPONDER)):
        assert settings.security_hub is False
        assert settings.security_hub_at_or_above is Risk.HIGH


@pytest.mark.parametrize(("value", "expected"), [("true", True), ("1", True), ("off", False)])
def test_the_switch_takes_the_usual_spellings(value: str, expected: bool) -> None:
    settings = RespondSettings.from_env({**RESPONDER, "SECURITY_HUB": value})

    assert settings.security_hub is expected


def test_the_threshold_is_a_risk_level_in_any_case() -> None:
    settings = DetectSettings.from_env(
        {**DETECTOR, "SECURITY_HUB": "true", "SECURITY_HUB_AT_OR_ABOVE": "Critical"}
    )

    assert (settings.security_hub, settings.security_hub_at_or_above) == (True, Risk.CRITICAL)


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("SECURITY_HUB", "maybe", "must be true or false"),
        ("SECURITY_HUB_AT_OR_ABOVE", "severe", "is not a risk level (low, medium, high, critical)"),
    ],
)
def test_a_malformed_value_is_named(name: str, value: str, says: str) -> None:
    with pytest.raises(ConfigError, match=rf"^{name}='{value}' is malformed: .*{re.escape(says)}"):
        RespondSettings.from_env({**RESPONDER, name: value})
