"""The real-time path's landing point in the security account: the central event bus, the
rule that queues security-group calls from it, the queue the detector consumes, and the
dead-letter queue for what cannot be delivered or processed.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra import nag
from sgrevert import eventbridge

# A message the detector failed this often is set aside: its record cannot be read or
# recorded, and retrying it further only delays the rest.
MAX_RECEIVE_COUNT = 5
DEAD_LETTER_RETENTION = cdk.Duration.days(14)
# Lambda's guidance for an SQS source: six times the function timeout, so a batch whose
# invocation is throttled and retried is not handed out again meanwhile.
VISIBILITY_TIMEOUT_FACTOR = 6


class EventIntake(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        bus_name: str,
        organization_id: str,
        consumer_timeout: cdk.Duration,
    ) -> None:
        super().__init__(scope, construct_id)
        self.bus = events.EventBus(
            self,
            "Bus",
            event_bus_name=bus_name,
            description="sgrevert: security-group API calls forwarded from the organization",
        )
        # Any principal of the organization (the forwarding rules' roles), and no one else.
        self.bus.add_to_resource_policy(
            iam.PolicyStatement(
                sid="OrganizationPutsEvents",
                principals=[iam.OrganizationPrincipal(organization_id)],
                actions=["events:PutEvents"],
                resources=[self.bus.event_bus_arn],
            )
        )

        self.dead_letters = sqs.Queue(
            self,
            "DeadLetters",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=DEAD_LETTER_RETENTION,
        )
        nag.acknowledge(
            self.dead_letters,
            "AwsSolutions-SQS3",
            None,
            "this queue is itself the dead-letter queue of the event queue and its rule",
        )
        self.queue = sqs.Queue(
            self,
            "Queue",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            visibility_timeout=cdk.Duration.seconds(
                consumer_timeout.to_seconds() * VISIBILITY_TIMEOUT_FACTOR
            ),
            dead_letter_queue=sqs.DeadLetterQueue(
                queue=self.dead_letters, max_receive_count=MAX_RECEIVE_COUNT
            ),
        )
        pattern = eventbridge.event_pattern()
        self.rule = events.Rule(
            self,
            "Rule",
            event_bus=self.bus,
            description="Security-group calls from the organization to the detector's queue",
            event_pattern=events.EventPattern(
                source=pattern["source"],
                detail_type=pattern["detail-type"],
                detail=pattern["detail"],
            ),
            # Events EventBridge cannot put on the queue are dead-lettered too, not dropped.
            targets=[targets.SqsQueue(self.queue, dead_letter_queue=self.dead_letters)],
        )
