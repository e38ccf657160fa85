"""Settings fail at cold start with an error that names the variable."""

from __future__ import annotations

import pytest

from sgrevert.errors import ConfigError
from sgrevert.settings import Detection, DetectSettings, RespondSettings

DETECT = {
    "TABLE_NAME": "secgrouprequests",
    "SLACK_SECRET_ARN": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:sgrevert/slack-AbCdEf",
    "SLACK_CHANNEL_ID": "C0123ABCD",
    "EVENT_DATA_STORE": "arn:aws:cloudtrail:eu-west-1:999988887777:eventdatastore/EXAMPLE-f852-4e8f",
}


def test_detector_defaults_apply_and_an_arn_store_becomes_its_id() -> None:
    settings = DetectSettings.from_env(DETECT)
    assert settings.detection is Detection.BOTH  # a store is configured
    assert settings.slack.api_url == "https://slack.com/api/"
    assert settings.lake is not None
    assert settings.lake.lookback_minutes == 20
    assert settings.lake.read_role_arn is None
    assert settings.lake.event_data_store_id == "EXAMPLE-f852-4e8f"
    assert settings.lake.event_data_store_region == "eu-west-1"
    bare = DetectSettings.from_env({**DETECT, "EVENT_DATA_STORE": "abc-123"})
    assert bare.lake is not None
    assert bare.lake.event_data_store_region is None


@pytest.mark.parametrize("missing", sorted(DETECT))
def test_each_missing_detector_setting_is_named(missing: str) -> None:
    env = {k: v for k, v in DETECT.items() if k != missing}
    with pytest.raises(ConfigError, match=missing):
        DetectSettings.from_env({**env, "DETECTION": "both"})


def test_eventbridge_alone_needs_no_lake_setting() -> None:
    # Given no event data store, and Lake settings left over
    env = {k: v for k, v in DETECT.items() if k != "EVENT_DATA_STORE"}
    settings = DetectSettings.from_env({**env, "LOOKBACK_MINUTES": "oops"})

    # Then detection is EventBridge alone and no Lake setting is read
    assert settings.detection is Detection.EVENTBRIDGE
    assert settings.lake is None
    # and EventBridge alone, asked for by name, ignores a configured store
    named = DetectSettings.from_env({**DETECT, "DETECTION": "eventbridge"})
    assert (named.detection, named.lake) == (Detection.EVENTBRIDGE, None)


@pytest.mark.parametrize("detection", ["lake", "both", "LAKE"])
def test_lake_detection_requires_the_store(detection: str) -> None:
    env = {k: v for k, v in DETECT.items() if k != "EVENT_DATA_STORE"}
    with pytest.raises(ConfigError, match=r"EVENT_DATA_STORE is not set: .*polls Lake"):
        DetectSettings.from_env({**env, "DETECTION": detection})


def test_the_paths_each_detection_runs() -> None:
    assert [(d.polls_lake, d.takes_events) for d in Detection] == [
        (True, False),  # lake
        (False, True),  # eventbridge
        (True, True),  # both
    ]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("LOOKBACK_MINUTES", "0"),
        ("LOOKBACK_MINUTES", "twenty"),
        ("LAKE_READ_ROLE_ARN", "not-an-arn"),
        ("SLACK_API_URL", "slack.com/api"),
        ("SLACK_CHANNEL_ID", "#security"),
        ("EVENT_DATA_STORE", "store with spaces"),
        ("DETECTION", "cloudtrail"),
    ],
)
def test_a_malformed_detector_setting_is_named(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        DetectSettings.from_env({**DETECT, name: value})


def test_the_detector_reads_context_through_no_extra_role_by_default() -> None:
    settings = DetectSettings.from_env(DETECT)

    assert settings.hub_role_arn is None  # the spoke roles directly
    assert settings.spoke_role_name == "spoke-001"  # as the responder's default
    assert settings.org_read_role_arn is None  # ListAccounts with its own role


def test_the_detector_reads_its_context_roles() -> None:
    settings = DetectSettings.from_env(
        {
            **DETECT,
            "HUB_ROLE_ARN": "arn:aws:iam::222222222222:role/sgrevert-hub",
            "SPOKE_ROLE_NAME": " security/spoke-001 ",
            "ORG_READ_ROLE_ARN": "arn:aws:iam::111111111111:role/sgrevert-org-read",
        }
    )

    assert settings.hub_role_arn == "arn:aws:iam::222222222222:role/sgrevert-hub"
    assert settings.spoke_role_name == "security/spoke-001"
    assert settings.org_read_role_arn == "arn:aws:iam::111111111111:role/sgrevert-org-read"
    # blank means unset, as for every optional variable
    blank = DetectSettings.from_env({**DETECT, "HUB_ROLE_ARN": " ", "ORG_READ_ROLE_ARN": ""})
    assert (blank.hub_role_arn, blank.org_read_role_arn) == (None, None)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("HUB_ROLE_ARN", "sgrevert-hub", "must be an IAM role ARN"),
        ("SPOKE_ROLE_NAME", "spoke 001", "must be an IAM role name"),
        ("ORG_READ_ROLE_ARN", "arn:aws:iam::111111111111:user/alice", "organizations:ListAccounts"),
        (
            "ORG_READ_ROLE_ARN",
            "arn:aws:iam::1111:role/sgrevert-org-read",
            "must be an IAM role ARN",
        ),
    ],
)
def test_a_malformed_context_role_is_named(name: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=rf"^{name}='.*' is malformed: .*{message}"):
        DetectSettings.from_env({**DETECT, name: value})


def test_responder_settings_parse_approvers_and_a_spoke_role_with_a_path() -> None:
    settings = RespondSettings.from_env(
        {
            "TABLE_NAME": "t",
            "SLACK_SECRET_ARN": "s",
            "SPOKE_ROLE_NAME": "security/spoke-001",
            "APPROVERS": "U012AB3CD, W0ABCDEF1",
            "SLACK_API_URL": "http://127.0.0.1:9999/api",
        }
    )
    assert settings.spoke_role_name == "security/spoke-001"
    assert settings.approvers == frozenset({"U012AB3CD", "W0ABCDEF1"})
    assert settings.slack.api_url == "http://127.0.0.1:9999/api/"
    assert settings.hub_role_arn is None


def test_responder_spoke_role_defaults_and_bad_approvers_are_named() -> None:
    base = {"TABLE_NAME": "t", "SLACK_SECRET_ARN": "s"}
    assert RespondSettings.from_env(base).spoke_role_name == "spoke-001"
    with pytest.raises(ConfigError, match="APPROVERS"):
        RespondSettings.from_env({**base, "APPROVERS": "alice"})


RESPOND = {"TABLE_NAME": "t", "SLACK_SECRET_ARN": "s"}
SCHEDULER_ROLE = "arn:aws:iam::222222222222:role/sgrevert-scheduler"


def test_responder_temporary_approval_settings_default_to_off_in_group_sgrevert() -> None:
    """Given only the required variables, then the schedule group is "sgrevert", there is no
    scheduler role (an Allow for… click is refused) and the policy is the default one."""
    settings = RespondSettings.from_env(RESPOND)

    assert settings.expiry_schedule_group == "sgrevert"
    assert settings.scheduler_role_arn is None
    assert settings.policy == DetectSettings.from_env(DETECT).policy


def test_responder_reads_its_schedule_group_scheduler_role_and_policy() -> None:
    """Given the group, the role and a policy, then each is read as given: the policy with
    the detector's own parser."""
    settings = RespondSettings.from_env(
        {
            **RESPOND,
            "EXPIRY_SCHEDULE_GROUP": "sgrevert-prod_1.x",
            "SCHEDULER_ROLE_ARN": SCHEDULER_ROLE,
            "POLICY": '{"max_messages_per_run": 7}',
        }
    )

    assert settings.expiry_schedule_group == "sgrevert-prod_1.x"
    assert settings.scheduler_role_arn == SCHEDULER_ROLE
    assert settings.policy.max_messages_per_run == 7


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("EXPIRY_SCHEDULE_GROUP", "sgrevert/prod", "schedule group name"),
        ("EXPIRY_SCHEDULE_GROUP", "g" * 65, "schedule group name"),
        ("SCHEDULER_ROLE_ARN", "sgrevert-scheduler", "must be an IAM role ARN"),
        ("SCHEDULER_ROLE_ARN", "arn:aws:iam::222222222222:user/x", "must be an IAM role ARN"),
        ("POLICY", '{"min_risk_to_post": "loud"}', "min_risk_to_post"),
    ],
)
def test_a_malformed_responder_expiry_setting_is_named(name: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=rf"{name}.*{message}"):
        RespondSettings.from_env({**RESPOND, name: value})


def test_the_responder_arn_is_optional_without_auto_revert_and_read_when_set() -> None:
    """Given no auto-revert, the detector starts without REVERT_FUNCTION_ARN (its sweep then
    says so when something is overdue) and reads it when set, for the sweep."""
    arn = "arn:aws:lambda:eu-west-1:123456789012:function:revertsg-2"

    assert DetectSettings.from_env(DETECT).revert_function_arn is None
    assert (
        DetectSettings.from_env({**DETECT, "REVERT_FUNCTION_ARN": arn}).revert_function_arn == arn
    )
    with pytest.raises(ConfigError, match=r"REVERT_FUNCTION_ARN.*sweep"):
        DetectSettings.from_env({**DETECT, "REVERT_FUNCTION_ARN": "revertsg-2"})
