"""The changes the end-to-end tests make: real EC2 calls through the sandbox's trail."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sandbox.servers import Sandbox


@dataclass(frozen=True)
class Made:
    event_id: str
    rule_ids: tuple[str, ...]


def authorize(
    box: Sandbox,
    group_key: str,
    cidr: str,
    port: int,
    *,
    egress: bool = False,
    who: str = "erin.dev@example.com",
    extra_cidrs: tuple[str, ...] = (),
) -> Made:
    """One Authorize call on a group; returns its CloudTrail event id and the new rule ids."""
    group = box.org.groups[group_key]
    ec2 = box.developer_ec2(group_key, who)
    before = len(box.trail.records)
    permission: dict[str, Any] = {
        "IpProtocol": "tcp",
        "FromPort": port,
        "ToPort": port,
        "IpRanges": [{"CidrIp": c} for c in (cidr, *extra_cidrs)],
    }
    call = ec2.authorize_security_group_egress if egress else ec2.authorize_security_group_ingress
    answer = call(GroupId=group.group_id, IpPermissions=[permission])
    (record,) = box.trail.records[before:]
    return Made(
        event_id=record["eventID"],
        rule_ids=tuple(r["SecurityGroupRuleId"] for r in answer["SecurityGroupRules"]),
    )


def rule_ids(box: Sandbox, group_key: str) -> set[str]:
    return {view.rule_id for view in box.rules(group_key)}


def buttons(blocks: list[dict[str, Any]] | None) -> list[str]:
    """The action ids of a message's buttons."""
    return [
        element["action_id"]
        for block in blocks or []
        if block.get("type") == "actions"
        for element in block.get("elements", [])
    ]


def posted_event_ids(box: Sandbox) -> list[str]:
    """Which change each posted message is about, in post order (one entry per message)."""
    ids: list[str] = []
    for message in box.slack.posted:
        values = {
            element.get("value")
            for block in message.blocks or []
            if block.get("type") == "actions"
            for element in block.get("elements", [])
        }
        ids.extend(v for v in values if v)
    return ids
