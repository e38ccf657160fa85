"""The real-time path: the central bus, the StackSet that forwards the organization's calls to
it, the event queue the detector consumes, and the `detection` choices."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

from infra.detector import TIMEOUT
from infra.event_intake import MAX_RECEIVE_COUNT
from sgrevert import eventbridge
from sgrevert.settings import Detection, DetectSettings
from tests.infra.conftest import (
    EXTERNAL_HUB,
    ROOT,
    actions,
    cfn_yaml,
    function,
    function_role,
    only,
    resources,
    role_statements,
    under,
)

ORGANIZATION = "o-a1b2c3d4e5"
LAKE_VARIABLES = {"EVENT_DATA_STORE", "LOOKBACK_MINUTES", "LAKE_READ_ROLE_ARN"}


def _get_att(logical_id: str) -> dict[str, Any]:
    return {"Fn::GetAtt": [logical_id, "Arn"]}


def _queues(template: dict[str, Any]) -> tuple[str, str]:
    """The event queue's and its dead-letter queue's logical ids."""
    queue_id, _ = only(under(template, "EventIntake/Queue"), "AWS::SQS::Queue")
    dead_id, _ = only(under(template, "EventIntake/DeadLetters"), "AWS::SQS::Queue")
    return queue_id, dead_id


# -- the central bus -----------------------------------------------------------------------


def test_the_central_bus_accepts_events_only_from_the_organization(
    app_template: dict[str, Any],
) -> None:
    bus_id, bus = only(app_template, "AWS::Events::EventBus")
    _, policy = only(app_template, "AWS::Events::EventBusPolicy")

    assert bus["Properties"]["Name"] == "sgrevert"
    props = policy["Properties"]
    assert props["EventBusName"] == {"Ref": bus_id}
    statement = props["Statement"]
    # Any principal, as long as it belongs to the organization; PutEvents on this bus only
    assert statement["Effect"] == "Allow"
    assert statement["Principal"] == {"AWS": "*"}
    assert statement["Condition"] == {"StringEquals": {"aws:PrincipalOrgID": ORGANIZATION}}
    assert statement["Action"] == "events:PutEvents"
    assert statement["Resource"] == _get_att(bus_id)
    assert app_template["Outputs"]["CentralEventBusArn"]["Value"] == _get_att(bus_id)


def test_the_bus_rule_queues_exactly_the_watched_calls(app_template: dict[str, Any]) -> None:
    bus_id, _ = only(app_template, "AWS::Events::EventBus")
    queue_id, dead_id = _queues(app_template)
    rule_id, rule = only(under(app_template, "EventIntake/Rule"), "AWS::Events::Rule")

    props = rule["Properties"]
    assert props["EventBusName"] == {"Ref": bus_id}
    assert props["EventPattern"] == eventbridge.event_pattern()
    assert sorted(props["EventPattern"]["detail"]["eventName"]) == [
        "AuthorizeSecurityGroupEgress",
        "AuthorizeSecurityGroupIngress",
        "ModifyManagedPrefixList",
        "ModifySecurityGroupRules",
        "RevokeSecurityGroupEgress",
        "RevokeSecurityGroupIngress",
    ]
    (target,) = props["Targets"]
    assert target["Arn"] == _get_att(queue_id)
    # What EventBridge cannot put on the queue is dead-lettered, not dropped
    assert target["DeadLetterConfig"] == {"Arn": _get_att(dead_id)}
    # Only this rule may send to the queue
    Template.from_json(app_template).has_resource_properties(
        "AWS::SQS::QueuePolicy",
        {
            "Queues": [{"Ref": queue_id}],
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Effect": "Allow",
                                "Principal": {"Service": "events.amazonaws.com"},
                                "Condition": {"ArnEquals": {"aws:SourceArn": _get_att(rule_id)}},
                            }
                        )
                    ]
                )
            },
        },
    )


# -- the queue -----------------------------------------------------------------------------


def test_the_event_queue_is_encrypted_and_dead_letters_what_keeps_failing(
    app_template: dict[str, Any],
) -> None:
    queue_id, dead_id = _queues(app_template)
    queue = app_template["Resources"][queue_id]["Properties"]
    dead = app_template["Resources"][dead_id]["Properties"]

    assert queue["SqsManagedSseEnabled"] is True
    assert dead["SqsManagedSseEnabled"] is True
    assert queue["RedrivePolicy"] == {
        "deadLetterTargetArn": _get_att(dead_id),
        "maxReceiveCount": MAX_RECEIVE_COUNT,
    }
    assert 1 < MAX_RECEIVE_COUNT <= 10
    # Lambda's guidance for an SQS source: six times the function timeout
    assert queue["VisibilityTimeout"] == 6 * TIMEOUT.to_seconds()
    assert dead["MessageRetentionPeriod"] == 14 * 24 * 3600


@pytest.mark.parametrize("queue", ["EventIntake/Queue", "EventIntake/DeadLetters"])
def test_both_queues_accept_only_tls(app_template: dict[str, Any], queue: str) -> None:
    queue_id, _ = only(under(app_template, queue), "AWS::SQS::Queue")

    Template.from_json(app_template).has_resource_properties(
        "AWS::SQS::QueuePolicy",
        {
            "Queues": [{"Ref": queue_id}],
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Effect": "Deny",
                                "Action": "sqs:*",
                                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                            }
                        )
                    ]
                )
            },
        },
    )


def test_the_detector_consumes_the_queue_in_batches_with_partial_failures(
    app_template: dict[str, Any],
) -> None:
    detector_id, detector = function(app_template, "revertsg-1")
    queue_id, _ = _queues(app_template)
    _, mapping = only(app_template, "AWS::Lambda::EventSourceMapping")

    props = mapping["Properties"]
    assert props["EventSourceArn"] == _get_att(queue_id)
    assert props["FunctionName"] == {"Ref": detector_id}
    assert props["BatchSize"] == 10
    assert props["MaximumBatchingWindowInSeconds"] == 5
    assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    concurrency = props["ScalingConfig"]["MaximumConcurrency"]
    assert concurrency == 2
    assert "ReservedConcurrentExecutions" not in detector["Properties"]  # off by default


def test_with_reserved_concurrency_the_queue_never_takes_the_scheduled_runs_slot(
    eventbridge_template: dict[str, Any],
) -> None:
    _, detector = function(eventbridge_template, "revertsg-1")
    _, responder = function(eventbridge_template, "revertsg-2")
    _, mapping = only(eventbridge_template, "AWS::Lambda::EventSourceMapping")

    concurrency = mapping["Properties"]["ScalingConfig"]["MaximumConcurrency"]
    assert detector["Properties"]["ReservedConcurrentExecutions"] == concurrency + 1
    assert responder["Properties"]["ReservedConcurrentExecutions"] == 10


def test_alarms_on_dead_letters_and_on_a_queue_falling_behind(
    app_template: dict[str, Any],
) -> None:
    queue_id, dead_id = _queues(app_template)
    alarms = resources(app_template, "AWS::CloudWatch::Alarm").values()

    def watching(queue_id: str, metric: str) -> dict[str, Any]:
        (alarm,) = [
            a["Properties"]
            for a in alarms
            if a["Properties"]["MetricName"] == metric
            and a["Properties"]["Dimensions"]
            == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [queue_id, "QueueName"]}}]
        ]
        return alarm

    dead_letters = watching(dead_id, "ApproximateNumberOfMessagesVisible")
    assert dead_letters["Threshold"] == 1
    assert dead_letters["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    behind = watching(queue_id, "ApproximateAgeOfOldestMessage")
    assert behind["Threshold"] == 600  # longer than a Lake run would take to see it
    assert behind["Statistic"] == "Maximum"


# -- the StackSet ----------------------------------------------------------------------------


def test_the_stack_set_deploys_the_forwarder_across_the_organization(
    app_template: dict[str, Any],
) -> None:
    bus_id, _ = only(app_template, "AWS::Events::EventBus")
    policy_id, _ = only(app_template, "AWS::Events::EventBusPolicy")
    rule_id, _ = only(under(app_template, "EventIntake/Rule"), "AWS::Events::Rule")
    _, stack_set = only(app_template, "AWS::CloudFormation::StackSet")

    props = stack_set["Properties"]
    assert props["StackSetName"] == "sgrevert-event-forwarders"
    assert props["PermissionModel"] == "SERVICE_MANAGED"
    assert props["AutoDeployment"] == {"Enabled": True, "RetainStacksOnAccountRemoval": False}
    assert props["CallAs"] == "DELEGATED_ADMIN"
    assert props["Capabilities"] == ["CAPABILITY_IAM"]
    assert props["StackInstancesGroup"] == [
        {
            "DeploymentTargets": {"OrganizationalUnitIds": ["r-abcd"]},
            "Regions": ["eu-west-1", "us-east-1"],
        }
    ]
    assert props["Parameters"] == [
        {"ParameterKey": "CentralEventBusArn", "ParameterValue": _get_att(bus_id)}
    ]
    # Forwarders start only once the bus takes their events and queues them
    assert {bus_id, policy_id, rule_id} <= set(stack_set["DependsOn"])


def test_the_stack_set_template_forwards_the_watched_calls_with_put_events_only(
    app_template: dict[str, Any],
) -> None:
    _, stack_set = only(app_template, "AWS::CloudFormation::StackSet")
    body = stack_set["Properties"]["TemplateBody"]

    # The template in the repository, which the management account deploys by hand too
    assert body == (ROOT / "infra" / "event-forwarder.yaml").read_text()
    template = cfn_yaml(body)
    assert set(template["Parameters"]) == {"CentralEventBusArn"}
    _, rule = only(template, "AWS::Events::Rule")
    props = rule["Properties"]
    assert props["EventBusName"] == "default"
    assert props["State"] == "ENABLED"
    assert props["EventPattern"] == eventbridge.event_pattern()
    (target,) = props["Targets"]
    assert target["Arn"] == {"Ref": "CentralEventBusArn"}
    assert target["RoleArn"] == {"GetAtt": "ForwardRole.Arn"}

    role_id, role = only(template, "AWS::IAM::Role")
    assert role_id == "ForwardRole"
    (trust,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "events.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
    (policy,) = role["Properties"]["Policies"]
    (statement,) = policy["PolicyDocument"]["Statement"]
    assert statement == {
        "Sid": "PutEventsOnTheCentralBus",
        "Effect": "Allow",
        "Action": "events:PutEvents",
        "Resource": {"Ref": "CentralEventBusArn"},
    }
    assert "RoleName" not in role["Properties"]  # one stack per region, IAM names are global


# -- detection: EventBridge alone, Lake alone ------------------------------------------------


def test_eventbridge_alone_needs_no_lake_setting(eventbridge_template: dict[str, Any]) -> None:
    detector_id, detector = function(eventbridge_template, "revertsg-1")
    variables = detector["Properties"]["Environment"]["Variables"]

    assert variables["DETECTION"] == "eventbridge"
    assert not LAKE_VARIABLES & set(variables)
    placeholders = {
        "TABLE_NAME": "t",
        "SLACK_SECRET_ARN": "s",
        "REVERT_FUNCTION_ARN": "arn:aws:lambda:eu-central-1:222222222222:function:revertsg-2",
    }
    settings = DetectSettings.from_env(
        {k: v if isinstance(v, str) else placeholders[k] for k, v in variables.items()}
    )
    assert settings.detection is Detection.EVENTBRIDGE
    assert settings.lake is None
    # No Lake permission of any kind (no Lake read role: the one role it assumes is the hub,
    # to read a changed group)
    statements = role_statements(
        eventbridge_template, function_role(eventbridge_template, "revertsg-1")
    )
    granted = {a for s in statements for a in actions(s)}
    assert not {a for a in granted if a.startswith("cloudtrail:")}
    assume = [s["Resource"] for s in statements if "sts:AssumeRole" in actions(s)]
    assert assume == [EXTERNAL_HUB]
    # The schedule stays: it posts what a Slack outage left unposted
    (schedule,) = [
        r["Properties"]
        for r in resources(eventbridge_template, "AWS::Events::Rule").values()
        if "ScheduleExpression" in r["Properties"]
    ]
    assert schedule["ScheduleExpression"] == "rate(10 minutes)"
    assert schedule["Targets"][0]["Arn"] == _get_att(detector_id)


def test_eventbridge_alone_from_the_management_account(
    eventbridge_template: dict[str, Any],
) -> None:
    _, bus = only(eventbridge_template, "AWS::Events::EventBus")
    _, stack_set = only(eventbridge_template, "AWS::CloudFormation::StackSet")

    assert bus["Properties"]["Name"] == "sgrevert-realtime"
    props = stack_set["Properties"]
    assert props["StackSetName"] == "sgrevert-realtime-event-forwarders"
    assert props["CallAs"] == "SELF"
    assert props["StackInstancesGroup"] == [
        {
            "DeploymentTargets": {
                "OrganizationalUnitIds": ["ou-ab12-cdef3456", "ou-ab12-0123abcd"]
            },
            "Regions": ["eu-central-1"],
        }
    ]


def test_lake_alone_has_no_real_time_path(direct_template: dict[str, Any]) -> None:
    _, detector = function(direct_template, "revertsg-1")

    assert detector["Properties"]["Environment"]["Variables"]["DETECTION"] == "lake"
    for resource_type in (
        "AWS::Events::EventBus",
        "AWS::Events::EventBusPolicy",
        "AWS::CloudFormation::StackSet",
        "AWS::Lambda::EventSourceMapping",
    ):
        assert resources(direct_template, resource_type) == {}, resource_type
    assert "CentralEventBusArn" not in direct_template["Outputs"]
    # Only the responder's failed-revert queue
    assert len(resources(direct_template, "AWS::SQS::Queue")) == 1
