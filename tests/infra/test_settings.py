"""Settings from CDK context: defaults, parsing of `-c` strings, errors naming the key."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import aws_cdk as cdk
import pytest

from infra.app import build
from infra.settings import KEYS, REQUIRED, Settings, SettingsError
from sgrevert.settings import Detection
from tests.infra.conftest import CDK_CONTEXT, ROOT

LAKE = {
    "organization_account_id": "111111111111",
    "event_data_store": "EXAMPLE-f852-4e8f-8bd1-bcf6cEXAMPLE",
}
EVENTBRIDGE = {
    "organization_id": "o-a1b2c3d4e5",
    "target_ous": "r-abcd",
    "target_regions": "eu-west-1",
}
# What the default detection (both, with an event data store) needs
MINIMAL = {"slack_channel_id": "C0123ABCDEF", **LAKE, **EVENTBRIDGE}


def settings(**context: Any) -> Settings:
    return Settings.from_context({**MINIMAL, **context})


def test_defaults_fill_everything_but_the_required_keys() -> None:
    # Given only the three required keys
    result = settings()

    # Then every other setting has its documented default
    assert result.detection is Detection.BOTH
    assert result.stack_set_call_as == "DELEGATED_ADMIN"
    assert result.table_name == "secgrouprequests"
    assert result.detector_function_name == "revertsg-1"
    assert result.responder_function_name == "revertsg-2"
    assert result.schedule_minutes == 10
    assert result.lookback_minutes == 20
    assert result.spoke_role_name == "spoke-001"
    assert result.repository_name == "sgrevert"
    assert result.branch == "main"
    assert result.stack_name == "sgrevert"
    assert result.approvers == ()
    assert result.hub_role_arn is None
    assert result.hub_role_name is None
    assert result.operator_role_arns == ()
    assert result.lake_read_role_arn is None
    assert result.org_read_role_arn is None  # ListAccounts with the detector's own role
    assert result.reserve_concurrency is False
    assert result.log_retention_days == 365
    assert result.direct is False
    assert result.expiry_schedule_group == "sgrevert"
    assert result.env is None  # environment-agnostic: synth needs no credentials


def test_the_shipped_cdk_json_is_valid() -> None:
    result = Settings.from_context(CDK_CONTEXT)

    assert result.hub_role_name == "sgrevert-hub" and result.creates_hub
    assert result.hub_role_arn is None
    assert result.operator_role_arns and result.lake_read_role_arn
    assert result.org_read_role_arn == "arn:aws:iam::111111111111:role/sgrevert-org-read"
    assert result.direct is False


@pytest.mark.parametrize("key", [k.name for k in KEYS if k.default is REQUIRED])
def test_a_missing_required_key_is_named(key: str) -> None:
    context = {k: v for k, v in MINIMAL.items() if k != key}

    with pytest.raises(SettingsError, match=rf"{key}: is required"):
        Settings.from_context(context)


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(SettingsError) as raised:
        Settings.from_context({"schedule_minutes": "0", "approvers": "bob"})

    message = str(raised.value)
    # Without an event data store, detection is EventBridge alone: its keys are required
    for key in ("slack_channel_id", "organization_id", "target_ous", "target_regions"):
        assert f"{key}: is required" in message
    assert "event_data_store" not in message
    assert "schedule_minutes: '0' is malformed" in message
    assert "approvers: bob malformed" in message


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("organization_account_id", "1234"),
        ("event_data_store", "not a store!"),
        ("detection", "cloudtrail"),
        ("organization_id", "123456789012"),
        ("target_ous", "ou-short"),
        ("target_ous", {"r-abcd": True}),
        ("target_regions", "eu-west-1,Europe"),
        ("stack_set_call_as", "MANAGEMENT"),
        ("slack_channel_id", "#security"),
        ("lake_read_role_arn", "arn:aws:iam::111111111111:user/alice"),
        ("org_read_role_arn", "sgrevert-org-read"),
        ("org_read_role_arn", ["arn:aws:iam::111111111111:role/sgrevert-org-read"]),
        ("hub_role_arn", "sgrevert-hub"),
        ("hub_role_name", "security/sgrevert hub"),
        ("operator_role_arns", "arn:aws:iam::222222222222:user/alice"),
        ("operator_role_arns", ["arn:aws:iam::2222:role/Admin"]),
        ("spoke_role_name", "bad role"),
        ("schedule_minutes", "ten"),
        ("schedule_minutes", 0),
        ("lookback_minutes", True),
        ("slack_api_url", "http://slack.com/api/"),
        ("table_name", "x"),
        ("detector_function_name", "revert sg"),
        ("reserve_concurrency", "maybe"),
        ("log_retention_days", 42),
        ("alarm_topic_arn", "security-alarms"),
        ("account", "12345"),
        ("region", "Europe"),
        ("direct", "sometimes"),
        ("approvers", {"U0123ABCD": True}),
        ("expiry_schedule_group", "sgrevert/prod"),
        ("expiry_schedule_group", "g" * 65),
    ],
)
def test_a_malformed_value_is_named(key: str, value: Any) -> None:
    with pytest.raises(SettingsError, match=rf"{key}: .* is malformed"):
        settings(**{key: value})


def test_the_expiry_schedule_group_takes_any_scheduler_group_name() -> None:
    """Given a name the Scheduler accepts (letters, digits, dot, dash, underscore), then it
    is the group the stack creates and the responder uses."""
    assert settings(expiry_schedule_group="sgrevert-prod_1.eu").expiry_schedule_group == (
        "sgrevert-prod_1.eu"
    )
    assert Settings.from_context(CDK_CONTEXT).expiry_schedule_group == "sgrevert"


def test_a_created_and_an_external_hub_role_exclude_each_other() -> None:
    with pytest.raises(SettingsError, match=r"hub_role_arn: set hub_role_name .* not both"):
        settings(
            hub_role_name="sgrevert-hub",
            hub_role_arn="arn:aws:iam::222222222222:role/sgrevert-hub",
        )


def test_operator_roles_may_use_wildcards_for_identity_center_roles() -> None:
    result = settings(
        hub_role_name="sgrevert-hub",
        operator_role_arns="arn:aws:iam::222222222222:role/aws-reserved/sso.amazonaws.com/*/"
        "AWSReservedSSO_SecurityAdmin_*, arn:aws:iam::333333333333:role/BreakGlass",
    )

    assert result.creates_hub
    assert result.operator_role_arns == (
        "arn:aws:iam::222222222222:role/aws-reserved/sso.amazonaws.com/*/"
        "AWSReservedSSO_SecurityAdmin_*",
        "arn:aws:iam::333333333333:role/BreakGlass",
    )


def test_the_organization_read_role_is_named_with_its_meaning() -> None:
    with pytest.raises(SettingsError) as raised:
        settings(org_read_role_arn="arn:aws:iam::111111111111:user/alice")

    message = str(raised.value)
    assert "org_read_role_arn: 'arn:aws:iam::111111111111:user/alice' is malformed" in message
    assert "organizations:ListAccounts" in message  # the key's documented meaning
    assert settings(org_read_role_arn="arn:aws:iam::111111111111:role/org/reader").org_read_role_arn


def test_function_names_must_differ() -> None:
    with pytest.raises(SettingsError, match="responder_function_name: must differ"):
        settings(detector_function_name="revertsg", responder_function_name="revertsg")


def test_command_line_strings_are_parsed() -> None:
    # Given values as `-c key=value` delivers them: all strings
    result = settings(
        schedule_minutes="15",
        direct="true",
        reserve_concurrency="false",
        approvers=" U0123ABCD, U0456EFGH ,,U0123ABCD",
        log_retention_days="30",
        account="222222222222",
        region="eu-west-1",
    )

    assert result.schedule_minutes == 15
    assert result.direct is True
    assert result.reserve_concurrency is False
    assert result.approvers == ("U0123ABCD", "U0456EFGH")
    assert result.log_retention_days == 30
    assert result.env is not None
    assert (result.env.account, result.env.region) == ("222222222222", "eu-west-1")


def test_json_values_from_cdk_json_are_accepted() -> None:
    result = settings(approvers=["U0123ABCD"], schedule_minutes=30, direct=False)

    assert result.approvers == ("U0123ABCD",)
    assert result.schedule_minutes == 30


def test_blank_optional_values_mean_unset() -> None:
    # `-c hub_role_arn=` turns the cdk.json value off
    result = settings(hub_role_arn="", lake_read_role_arn="  ", org_read_role_arn="")

    assert result.hub_role_arn is None
    assert result.lake_read_role_arn is None
    assert result.org_read_role_arn is None


def test_synth_fails_naming_a_missing_key() -> None:
    context = {k: v for k, v in CDK_CONTEXT.items() if k != "slack_channel_id"}

    with pytest.raises(SettingsError, match="slack_channel_id: is required"):
        build(cdk.App(context=context))


def test_app_py_exits_with_the_message(tmp_path: Any) -> None:
    # Given the CDK CLI's way of handing context to the app, without the required keys
    env = {
        **os.environ,
        "CDK_CONTEXT_JSON": json.dumps({"schedule_minutes": "0"}),
        "CDK_OUTDIR": str(tmp_path),
    }

    # When app.py runs
    result = subprocess.run(
        [sys.executable, "app.py"], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )

    # Then it exits non-zero, naming each problem, without a traceback
    assert result.returncode == 1
    assert "organization_id: is required" in result.stderr
    assert "schedule_minutes: '0' is malformed" in result.stderr
    assert "Traceback" not in result.stderr


# -- detection ----------------------------------------------------------------------------


def test_eventbridge_alone_needs_no_lake_setting() -> None:
    # Given no event data store: the default is EventBridge alone
    result = Settings.from_context({"slack_channel_id": "C0123ABCDEF", **EVENTBRIDGE})

    assert result.detection is Detection.EVENTBRIDGE
    assert result.event_data_store is None
    assert result.organization_account_id is None
    assert result.target_ous == ("r-abcd",)
    assert result.target_regions == ("eu-west-1",)


def test_lake_alone_needs_no_eventbridge_setting() -> None:
    result = Settings.from_context({"slack_channel_id": "C0123ABCDEF", "detection": "lake", **LAKE})

    assert result.detection is Detection.LAKE
    assert result.organization_id is None
    assert result.target_ous == ()


@pytest.mark.parametrize(
    ("detection", "missing"),
    [
        ("lake", "event_data_store"),
        ("lake", "organization_account_id"),
        ("both", "event_data_store"),
        ("both", "organization_id"),
        ("both", "target_ous"),
        ("eventbridge", "target_regions"),
        ("eventbridge", "organization_id"),
    ],
)
def test_each_path_names_the_key_it_needs(detection: str, missing: str) -> None:
    context = {k: v for k, v in MINIMAL.items() if k != missing}

    with pytest.raises(SettingsError, match=rf"{missing}: is required: detection={detection}"):
        Settings.from_context({**context, "detection": detection})


def test_an_empty_list_is_missing() -> None:
    with pytest.raises(SettingsError, match="target_regions: is required"):
        settings(target_regions=[])


def test_organization_lists_and_call_as_from_the_command_line() -> None:
    result = settings(
        detection="EventBridge",
        target_ous=" ou-ab12-cdef3456, r-abcd ,ou-ab12-cdef3456",
        target_regions="eu-west-1,us-east-1",
        stack_set_call_as="self",
    )

    assert result.detection is Detection.EVENTBRIDGE
    assert result.target_ous == ("ou-ab12-cdef3456", "r-abcd")
    assert result.target_regions == ("eu-west-1", "us-east-1")
    assert result.stack_set_call_as == "SELF"


def test_default_approvers_too_few_for_approvals_required_are_refused() -> None:
    """Given approvals_required of 2 for critical changes and one default approver, then
    synth names the problem: no critical change of the default route could be approved."""
    policy = json.dumps({"approvals_required": {"critical": 2}})
    with pytest.raises(SettingsError, match=r"approvers: lists 1 user\(s\) and no user group"):
        settings(policy=policy, approvers=["U0ALICE"])
    # Two users, a user group (whose size is not known), or nobody listed (anyone) pass.
    assert settings(policy=policy, approvers=["U0ALICE", "U0BOB"]).approvers
    assert settings(policy=policy, approvers=["S0SECURITY"]).approvers == ("S0SECURITY",)
    assert settings(policy=policy).approvers == ()


def test_user_groups_and_the_workspace_id_are_read() -> None:
    result = settings(approvers="U0ALICE, S0SECURITY", slack_team_id="T0ACME")
    assert (result.approvers, result.slack_team_id) == (("U0ALICE", "S0SECURITY"), "T0ACME")
    with pytest.raises(SettingsError, match="slack_team_id: 'acme' is malformed"):
        settings(slack_team_id="acme")
