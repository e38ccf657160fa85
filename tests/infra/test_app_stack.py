"""The application stack: every resource and the properties the issue asks for."""

from __future__ import annotations

import json
import re
from typing import Any

from aws_cdk.assertions import Match, Template

from sgrevert import store
from sgrevert.detector import STUCK_REVERT_AFTER
from sgrevert.settings import Detection, DetectSettings, RespondSettings
from tests.infra.conftest import (
    EXTERNAL_HUB,
    Synthesized,
    function,
    named_role,
    only,
    resources,
    under,
)

EXPECTED_TYPES = {
    "AWS::DynamoDB::Table": 1,
    "AWS::SecretsManager::Secret": 1,
    "AWS::Lambda::Function": 2,
    "AWS::Lambda::EventInvokeConfig": 2,
    "AWS::Lambda::EventSourceMapping": 1,  # the event queue -> detector
    "AWS::IAM::Role": 5,  # two functions, API Gateway's logging role, the hub, the scheduler
    "AWS::IAM::Policy": 4,  # the hub role's and the scheduler role's among them
    "AWS::Logs::LogGroup": 3,  # two functions, API access logs
    "AWS::Events::Rule": 2,  # the detector's schedule, the central bus -> event queue
    "AWS::Events::EventBus": 1,
    "AWS::Events::EventBusPolicy": 1,
    "AWS::CloudFormation::StackSet": 1,  # the forwarding rule in member accounts
    "AWS::SQS::Queue": 3,  # failed reverts, the event queue and its dead letters
    "AWS::SQS::QueuePolicy": 3,
    "AWS::ApiGateway::RestApi": 1,
    "AWS::ApiGateway::Account": 1,
    "AWS::ApiGateway::Deployment": 1,
    "AWS::ApiGateway::Stage": 1,
    "AWS::ApiGateway::Resource": 2,
    "AWS::ApiGateway::Method": 1,
    "AWS::ApiGateway::RequestValidator": 1,
    "AWS::Lambda::Permission": 2,  # EventBridge -> detector, API Gateway -> responder
    "AWS::CloudWatch::Alarm": 14,  # failed schedules and the five on sgrevert's metrics among them
    "AWS::CloudWatch::Dashboard": 1,
    "AWS::Scheduler::ScheduleGroup": 1,  # the expiry schedules' group
    "AWS::Logs::MetricFilter": 1,  # failed schedules in the responder's logs
}


def test_the_stack_holds_exactly_the_expected_resources(app_template: dict[str, Any]) -> None:
    counts: dict[str, int] = {}
    for resource in app_template["Resources"].values():
        if resource["Type"] == "AWS::CDK::Metadata":  # version reporting, CLI-dependent
            continue
        counts[resource["Type"]] = counts.get(resource["Type"], 0) + 1

    assert counts == EXPECTED_TYPES


# -- table -------------------------------------------------------------------------------


def test_the_table_matches_the_store_definition(app_template: dict[str, Any]) -> None:
    # Given the single source of the table's shape
    definition = store.table_definition(store.DEFAULT_TABLE_NAME)

    # Then the deployed table has exactly its keys, attributes and indexes
    _, table = only(app_template, "AWS::DynamoDB::Table")
    props = table["Properties"]
    assert props["TableName"] == definition["TableName"]
    assert props["BillingMode"] == definition["BillingMode"]
    assert props["KeySchema"] == definition["KeySchema"]
    assert sorted(props["AttributeDefinitions"], key=str) == sorted(
        definition["AttributeDefinitions"], key=str
    )
    assert {i["IndexName"]: i for i in props["GlobalSecondaryIndexes"]} == {
        i["IndexName"]: i for i in definition["GlobalSecondaryIndexes"]
    }
    assert "LocalSecondaryIndexes" not in props


def test_the_table_is_on_demand_recoverable_expiring_and_encrypted(
    app_template: dict[str, Any],
) -> None:
    _, table = only(app_template, "AWS::DynamoDB::Table")

    assert table["Properties"]["BillingMode"] == "PAY_PER_REQUEST"
    assert table["Properties"]["PointInTimeRecoverySpecification"] == {
        "PointInTimeRecoveryEnabled": True
    }
    assert table["Properties"]["TimeToLiveSpecification"] == {
        "AttributeName": store.TTL_ATTRIBUTE,
        "Enabled": True,
    }
    assert table["Properties"]["SSESpecification"] == {"SSEEnabled": True}
    assert table["Properties"]["DeletionProtectionEnabled"] is True
    assert table["DeletionPolicy"] == "Retain"


def test_the_table_name_is_a_setting(direct_template: dict[str, Any]) -> None:
    table_id, table = only(direct_template, "AWS::DynamoDB::Table")

    assert table["Properties"]["TableName"] == "sgrevert-changes"
    for fn in resources(direct_template, "AWS::Lambda::Function").values():
        assert fn["Properties"]["Environment"]["Variables"]["TABLE_NAME"] == {"Ref": table_id}


# -- secret ------------------------------------------------------------------------------


def test_the_secret_is_generated_without_real_values(app_template: dict[str, Any]) -> None:
    secret_id, secret = only(app_template, "AWS::SecretsManager::Secret")

    props = secret["Properties"]
    assert "SecretString" not in props
    assert props["GenerateSecretString"]["SecretStringTemplate"] == '{"bot_token": ""}'
    assert props["GenerateSecretString"]["GenerateStringKey"] == "signing_secret"
    assert app_template["Outputs"]["SlackSecretArn"]["Value"] == {"Ref": secret_id}


def test_no_secret_reaches_an_environment_variable(app_template: dict[str, Any]) -> None:
    secret_id, _ = only(app_template, "AWS::SecretsManager::Secret")
    for logical_id, fn in resources(app_template, "AWS::Lambda::Function").items():
        variables = fn["Properties"]["Environment"]["Variables"]
        # The ARN of the secret, never its value or a token-like variable
        assert variables["SLACK_SECRET_ARN"] == {"Ref": secret_id}, logical_id
        assert not [k for k in variables if re.search("TOKEN|SIGNING|PASSWORD", k)], logical_id
        assert not [v for v in variables.values() if isinstance(v, str) and v.startswith("xox")], (
            logical_id
        )
        # the only attributes an environment takes are the hub's and the scheduler role's
        # ARNs, never a secret's
        attributes = {
            name for name, value in variables.items() if "Fn::GetAtt" in json.dumps(value)
        }
        assert attributes <= {"HUB_ROLE_ARN", "SCHEDULER_ROLE_ARN"}, "no dynamic secret in env"


# -- functions ---------------------------------------------------------------------------


def _runtime_env(variables: dict[str, Any]) -> dict[str, str]:
    """Environment as Lambda will see it: references replaced by plausible values."""
    placeholders = {
        "TABLE_NAME": "secgrouprequests",
        "SLACK_SECRET_ARN": "arn:aws:secretsmanager:eu-west-1:222222222222:secret:sgrevert/slack-AbC123",
        "REVERT_FUNCTION_ARN": "arn:aws:lambda:eu-west-1:222222222222:function:revertsg-2",
        "HUB_ROLE_ARN": "arn:aws:iam::222222222222:role/sgrevert-hub",
        "SCHEDULER_ROLE_ARN": "arn:aws:iam::222222222222:role/sgrevert-SchedulerRole-AbC123",
    }
    return {k: v if isinstance(v, str) else placeholders[k] for k, v in variables.items()}


def test_the_functions_share_one_python_asset(app_template: dict[str, Any]) -> None:
    functions = resources(app_template, "AWS::Lambda::Function").values()

    assert {f["Properties"]["Runtime"] for f in functions} == {"python3.13"}
    assert {f["Properties"]["Architectures"][0] for f in functions} == {"arm64"}
    assert len({f["Properties"]["Code"]["S3Key"] for f in functions}) == 1


def test_the_detector_function(app_template: dict[str, Any]) -> None:
    _, fn = function(app_template, "revertsg-1")

    props = fn["Properties"]
    assert props["Handler"] == "sgrevert.detect.handler"
    assert props["Timeout"] == 300
    # No reservation by default: it needs an account quota of 100 + the reservation
    assert "ReservedConcurrentExecutions" not in props
    # What the detector itself will accept at cold start
    settings = DetectSettings.from_env(_runtime_env(props["Environment"]["Variables"]))
    assert settings.channel_id == "C0123ABCDEF"
    assert settings.detection is Detection.BOTH
    assert settings.lake is not None
    assert settings.lake.event_data_store_id == "EXAMPLE-f852-4e8f-8bd1-bcf6cEXAMPLE"
    assert settings.lake.read_role_arn == "arn:aws:iam::111111111111:role/sgrevert-lake-read"
    assert settings.lake.lookback_minutes == 20
    # it reads a changed group through the hub the stack creates, and names accounts
    # through the organization read role
    hub_id, _ = named_role(app_template, "sgrevert-hub")
    assert props["Environment"]["Variables"]["HUB_ROLE_ARN"] == {"Fn::GetAtt": [hub_id, "Arn"]}
    assert settings.hub_role_arn == "arn:aws:iam::222222222222:role/sgrevert-hub"
    assert settings.spoke_role_name == "spoke-001"
    assert settings.org_read_role_arn == "arn:aws:iam::111111111111:role/sgrevert-org-read"


def test_the_responder_function(app_template: dict[str, Any]) -> None:
    _, fn = function(app_template, "revertsg-2")

    props = fn["Properties"]
    assert props["Handler"] == "sgrevert.respond.handler"
    assert 3 < props["Timeout"] <= 60  # ack path well under API Gateway's 29 s; async revert
    assert "ReservedConcurrentExecutions" not in props
    variables = props["Environment"]["Variables"]
    # the hub role the stack creates
    hub_id, _ = named_role(app_template, "sgrevert-hub")
    assert variables["HUB_ROLE_ARN"] == {"Fn::GetAtt": [hub_id, "Arn"]}
    settings = RespondSettings.from_env(_runtime_env(variables))
    assert settings.hub_role_arn == "arn:aws:iam::222222222222:role/sgrevert-hub"
    assert settings.spoke_role_name == "spoke-001"
    assert settings.approvers == frozenset()


def test_the_other_branch_of_each_setting(direct_template: dict[str, Any]) -> None:
    _, detector = function(direct_template, "revertsg-1")
    _, responder = function(direct_template, "revertsg-2")

    detect = DetectSettings.from_env(
        _runtime_env(detector["Properties"]["Environment"]["Variables"])
    )
    respond = RespondSettings.from_env(
        _runtime_env(responder["Properties"]["Environment"]["Variables"])
    )
    assert detect.detection is Detection.LAKE
    assert detect.lake is not None
    assert detect.lake.read_role_arn is None
    assert detect.lake.event_data_store_id == "EXAMPLE-abc"
    assert respond.hub_role_arn is None
    assert respond.spoke_role_name == "security/spoke-001"
    assert (detect.hub_role_arn, detect.spoke_role_name) == (None, "security/spoke-001")
    assert detect.org_read_role_arn is None
    assert not {"HUB_ROLE_ARN", "ORG_READ_ROLE_ARN"} & set(
        detector["Properties"]["Environment"]["Variables"]
    )
    assert respond.approvers == frozenset({"U0123ABCD", "U0456EFGH"})
    assert detect.policy.max_messages_per_run == 20
    assert detect.policy.auto_revert_at_or_above is not None
    assert detect.revert_function_arn is not None
    assert "ReservedConcurrentExecutions" not in detector["Properties"]
    assert "ReservedConcurrentExecutions" not in responder["Properties"]


def test_an_external_hub_is_in_both_functions_environments(
    eventbridge_template: dict[str, Any],
) -> None:
    for name in ("revertsg-1", "revertsg-2"):
        _, fn = function(eventbridge_template, name)
        variables = fn["Properties"]["Environment"]["Variables"]
        assert variables["HUB_ROLE_ARN"] == EXTERNAL_HUB, name
        assert variables["SPOKE_ROLE_NAME"] == "spoke-001", name
        assert "ORG_READ_ROLE_ARN" not in variables, name


def test_each_function_logs_to_its_own_retained_log_group(app_template: dict[str, Any]) -> None:
    groups = resources(app_template, "AWS::Logs::LogGroup")
    for name in ("revertsg-1", "revertsg-2"):
        _, fn = function(app_template, name)
        logging = fn["Properties"]["LoggingConfig"]
        assert logging["LogFormat"] == "JSON"
        group = groups[logging["LogGroup"]["Ref"]]
        assert group["Properties"]["RetentionInDays"] == 365
        assert group["DeletionPolicy"] == "Retain"


def test_log_retention_is_a_setting(direct_template: dict[str, Any]) -> None:
    groups = resources(direct_template, "AWS::Logs::LogGroup").values()

    assert {g["Properties"]["RetentionInDays"] for g in groups} == {30}


def test_failed_asynchronous_reverts_go_to_a_queue(app_template: dict[str, Any]) -> None:
    template = Template.from_json(app_template)
    queue_id, queue = only(under(app_template, "Responder"), "AWS::SQS::Queue")
    responder_id, _ = function(app_template, "revertsg-2")

    assert queue["Properties"]["SqsManagedSseEnabled"] is True
    template.has_resource_properties(
        "AWS::Lambda::EventInvokeConfig",
        {
            "FunctionName": {"Ref": responder_id},
            "MaximumRetryAttempts": 2,
            "DestinationConfig": {"OnFailure": {"Destination": {"Fn::GetAtt": [queue_id, "Arn"]}}},
        },
    )
    # The queue only accepts TLS
    template.has_resource_properties(
        "AWS::SQS::QueuePolicy",
        {
            "Queues": [{"Ref": queue_id}],
            "PolicyDocument": {
                "Statement": [
                    Match.object_like(
                        {"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}}
                    )
                ]
            },
        },
    )


def test_a_revert_event_expires_before_the_detector_calls_its_revert_stuck(
    app_template: dict[str, Any],
) -> None:
    """Otherwise a late revert could land on a change already shown as failed (harmless,
    as it acts only on DENIED, but the message would have said the wrong thing)."""
    responder_id, _ = function(app_template, "revertsg-2")
    [config] = [
        c
        for c in resources(app_template, "AWS::Lambda::EventInvokeConfig").values()
        if c["Properties"]["FunctionName"] == {"Ref": responder_id}
    ]

    max_age = config["Properties"]["MaximumEventAgeInSeconds"]
    assert max_age < STUCK_REVERT_AFTER.total_seconds()


def test_a_failed_detector_run_is_not_retried_at_once(app_template: dict[str, Any]) -> None:
    detector_id, _ = function(app_template, "revertsg-1")

    Template.from_json(app_template).has_resource_properties(
        "AWS::Lambda::EventInvokeConfig",
        {"FunctionName": {"Ref": detector_id}, "MaximumRetryAttempts": 0},
    )


# -- schedule ----------------------------------------------------------------------------


def test_the_schedule_runs_the_detector(app_template: dict[str, Any]) -> None:
    detector_id, _ = function(app_template, "revertsg-1")
    (rule,) = [
        r
        for r in resources(app_template, "AWS::Events::Rule").values()
        if "ScheduleExpression" in r["Properties"]
    ]

    assert rule["Properties"]["ScheduleExpression"] == "rate(10 minutes)"
    assert rule["Properties"]["State"] == "ENABLED"
    assert [t["Arn"] for t in rule["Properties"]["Targets"]] == [
        {"Fn::GetAtt": [detector_id, "Arn"]}
    ]
    Template.from_json(app_template).has_resource_properties(
        "AWS::Lambda::Permission",
        {
            "Action": "lambda:InvokeFunction",
            "Principal": "events.amazonaws.com",
            "FunctionName": {"Fn::GetAtt": [detector_id, "Arn"]},
        },
    )


def test_the_schedule_is_a_setting(direct_template: dict[str, Any]) -> None:
    _, rule = only(direct_template, "AWS::Events::Rule")

    assert rule["Properties"]["ScheduleExpression"] == "rate(5 minutes)"


# -- API ---------------------------------------------------------------------------------


def test_slack_posts_reach_the_responder(app_template: dict[str, Any]) -> None:
    responder_id, _ = function(app_template, "revertsg-2")
    template = Template.from_json(app_template)

    paths = {
        r["Properties"]["PathPart"]
        for r in resources(app_template, "AWS::ApiGateway::Resource").values()
    }
    assert paths == {"slack", "actions"}
    _, method = only(app_template, "AWS::ApiGateway::Method")
    props = method["Properties"]
    assert props["HttpMethod"] == "POST"
    assert props["Integration"]["Type"] == "AWS_PROXY"
    assert {"Fn::GetAtt": [responder_id, "Arn"]} in props["Integration"]["Uri"]["Fn::Join"][1]
    # API Gateway turns away requests without Slack's signature headers
    assert props["RequestParameters"] == {
        "method.request.header.X-Slack-Signature": True,
        "method.request.header.X-Slack-Request-Timestamp": True,
    }
    validator_id, validator = only(app_template, "AWS::ApiGateway::RequestValidator")
    assert props["RequestValidatorId"] == {"Ref": validator_id}
    assert validator["Properties"]["ValidateRequestParameters"] is True
    template.has_resource_properties(
        "AWS::Lambda::Permission",
        {
            "Principal": "apigateway.amazonaws.com",
            "FunctionName": {"Fn::GetAtt": [responder_id, "Arn"]},
        },
    )
    url = app_template["Outputs"]["SlackInteractivityUrl"]["Value"]["Fn::Join"][1]
    assert url[-1] == "/slack/actions"


def test_the_api_stage_is_throttled_and_logged(app_template: dict[str, Any]) -> None:
    _, stage = only(app_template, "AWS::ApiGateway::Stage")
    groups = resources(app_template, "AWS::Logs::LogGroup")

    props = stage["Properties"]
    (settings,) = props["MethodSettings"]
    assert settings["ThrottlingRateLimit"] == 10
    assert settings["ThrottlingBurstLimit"] == 20
    assert settings["LoggingLevel"] == "ERROR"
    assert settings["DataTraceEnabled"] is False
    access_group = props["AccessLogSetting"]["DestinationArn"]["Fn::Join"][1][-1]["Ref"]
    assert groups[access_group]["Properties"]["RetentionInDays"] == 365
    assert '"status"' in props["AccessLogSetting"]["Format"]
    # API Gateway needs its account-level logging role for execution and access logs
    _, account = only(app_template, "AWS::ApiGateway::Account")
    assert "CloudWatchRoleArn" in account["Properties"]


# -- alarms ------------------------------------------------------------------------------


def test_alarms_watch_errors_throttles_failed_reverts_and_the_api(
    app_template: dict[str, Any],
) -> None:
    alarms = resources(app_template, "AWS::CloudWatch::Alarm").values()

    watched = sorted((a["Properties"]["Namespace"], a["Properties"]["MetricName"]) for a in alarms)
    assert watched == [
        ("AWS/ApiGateway", "5XXError"),
        ("AWS/Lambda", "Errors"),
        ("AWS/Lambda", "Errors"),
        ("AWS/Lambda", "Throttles"),
        ("AWS/Lambda", "Throttles"),
        ("AWS/SQS", "ApproximateAgeOfOldestMessage"),  # the event queue falls behind
        ("AWS/SQS", "ApproximateNumberOfMessagesVisible"),  # failed reverts
        ("AWS/SQS", "ApproximateNumberOfMessagesVisible"),  # events dead-lettered
        ("sgrevert", "DetectionLagSeconds"),  # the Lake path
        ("sgrevert", "DetectionLagSeconds"),  # the EventBridge path
        ("sgrevert", "LateExpiries"),
        ("sgrevert", "OldestUndecidedSeconds"),  # a critical change undecided
        ("sgrevert", "RevertsFailed"),
        ("sgrevert/sgrevert", "ExpiryScheduleFailures"),
    ]
    for alarm in alarms:
        if alarm["Properties"]["Namespace"] in ("AWS/Lambda", "AWS/ApiGateway"):
            assert alarm["Properties"]["Threshold"] == 1
        assert alarm["Properties"]["TreatMissingData"] == "notBreaching"
        assert "AlarmActions" not in alarm["Properties"]  # no topic configured


def test_alarms_notify_the_configured_topic(direct_template: dict[str, Any]) -> None:
    topic = "arn:aws:sns:eu-west-1:222222222222:security-alarms"
    for alarm in resources(direct_template, "AWS::CloudWatch::Alarm").values():
        assert alarm["Properties"]["AlarmActions"] == [topic]
        assert alarm["Properties"]["OKActions"] == [topic]


# -- outputs -----------------------------------------------------------------------------


def test_outputs_for_setting_up_slack(app_template: dict[str, Any]) -> None:
    assert {"SlackInteractivityUrl", "SlackSecretArn"} <= set(app_template["Outputs"])


def test_the_direct_app_has_no_pipeline(direct: Synthesized) -> None:
    names = sorted(stack.stack_name for stack in direct.assembly.stacks_recursively)

    assert names == ["sgrevert"]
