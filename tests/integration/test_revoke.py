"""The revoke adapter against moto's EC2: exact rules, already-gone rules, throttling, refusals.

Faults moto cannot produce (throttling, a refused call) are injected at the HTTP layer with
a botocore `before-send` hook, so the client's own retry policy sees a real 503 response.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs

import pytest
from botocore.awsrequest import AWSResponse

from sgrevert import aws
from sgrevert.model import Direction, Rule, SourceKind
from sgrevert.revert import RevertFailed, RevokeTally, plan_revoke
from sgrevert.revoke import revoke
from tests.integration.groups import MEMBER_ACCOUNT, Group, account_session
from tests.support import REGION


class _Body:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body


def ec2_error(status: int, code: str) -> AWSResponse:
    body = (
        f"<Response><Errors><Error><Code>{code}</Code><Message>injected {code}</Message>"
        "</Error></Errors><RequestID>test</RequestID></Response>"
    ).encode()
    return AWSResponse("https://ec2.local/", status, {}, _Body(body))


class Faults:
    """Answers the next calls of one EC2 operation with errors, then lets calls through."""

    def __init__(self, operation: str, *responses: AWSResponse) -> None:
        self.operation = operation
        self.pending = list(responses)
        self.calls = 0

    def __call__(self, request: Any, **_: Any) -> AWSResponse | None:
        body = request.body.decode() if isinstance(request.body, bytes) else str(request.body)
        if parse_qs(body).get("Action") != [self.operation]:  # EC2 speaks the query protocol
            return None
        self.calls += 1
        return self.pending.pop(0) if self.pending else None


@pytest.fixture
def group(aws: str) -> Group:
    return Group.create()


@pytest.fixture
def ec2(group: Group) -> Any:
    """An EC2 client in the member account with sgrevert's retry policy."""
    return aws.client("ec2", account_session(MEMBER_ACCOUNT), region_name=REGION)


def test_given_three_rules_one_already_gone_when_revoked_then_the_other_two_still_go(
    group: Group, ec2: Any
) -> None:
    keep = group.authorize(Direction.INGRESS, 22, "10.0.0.0/8")
    added = group.authorize(
        Direction.INGRESS, 22, "203.0.113.0/24", "198.51.100.0/24", "192.0.2.0/24"
    )
    group.ec2.revoke_security_group_ingress(
        GroupId=group.group_id, SecurityGroupRuleIds=[added[1].rule_id]
    )

    tally = revoke(plan_revoke(group.change(added)), ec2)

    assert tally == RevokeTally(revoked=2, already_gone=1)
    assert group.rule_ids() - {keep[0].rule_id} == _default_egress(group)


def test_given_the_group_was_deleted_when_revoked_then_every_rule_counts_as_gone(
    group: Group, ec2: Any
) -> None:
    added = group.authorize(Direction.INGRESS, 22, "203.0.113.0/24", "198.51.100.0/24")
    group.ec2.delete_security_group(GroupId=group.group_id)

    assert revoke(plan_revoke(group.change(added)), ec2) == RevokeTally(already_gone=2)


def test_given_rules_recorded_without_ids_when_revoked_then_their_permissions_are_used(
    group: Group, ec2: Any
) -> None:
    group.authorize(Direction.INGRESS, 22, "10.0.0.0/8")
    added = group.authorize(Direction.INGRESS, 22, "203.0.113.0/24")
    without_id = Rule(Direction.INGRESS, "tcp", 22, 22, SourceKind.CIDR_IPV4, "203.0.113.0/24")
    before = group.rules()

    tally = revoke(plan_revoke(group.change([without_id])), ec2)

    assert tally == RevokeTally(revoked=1)
    assert group.rules() == before - {("ingress", "tcp", 22, "203.0.113.0/24")}
    assert added[0].rule_id not in group.rule_ids()


def test_given_ec2_throttles_when_revoking_then_the_call_is_retried(group: Group, ec2: Any) -> None:
    added = group.authorize(Direction.INGRESS, 22, "203.0.113.0/24")
    faults = Faults(
        "RevokeSecurityGroupIngress",
        ec2_error(503, "RequestLimitExceeded"),
        ec2_error(503, "RequestLimitExceeded"),
    )
    ec2.meta.events.register("before-send.ec2", faults)

    assert revoke(plan_revoke(group.change(added)), ec2) == RevokeTally(revoked=1)
    assert faults.calls == 3
    assert added[0].rule_id not in group.rule_ids()


def test_given_ec2_refuses_the_egress_call_when_revoking_then_it_fails_saying_what_was_done(
    group: Group, ec2: Any
) -> None:
    ingress = group.authorize(Direction.INGRESS, 22, "203.0.113.0/24")
    egress = group.authorize(Direction.EGRESS, 5432, "10.1.0.0/16")
    ec2.meta.events.register(
        "before-send.ec2",
        Faults("RevokeSecurityGroupEgress", ec2_error(403, "UnauthorizedOperation")),
    )

    with pytest.raises(RevertFailed) as failed:
        revoke(plan_revoke(group.change(ingress + egress)), ec2)

    assert failed.value.done == RevokeTally(revoked=1)
    assert "after 1 rule revoked" in failed.value.reason
    assert "UnauthorizedOperation" in failed.value.reason
    assert egress[0].rule_id in group.rule_ids()


def _default_egress(group: Group) -> set[str]:
    found = group.ec2.describe_security_group_rules(
        Filters=[{"Name": "group-id", "Values": [group.group_id]}]
    )["SecurityGroupRules"]
    return {str(rule["SecurityGroupRuleId"]) for rule in found if rule["IsEgress"]}
