"""The changes the end-to-end tests make: real EC2 calls through the sandbox's trail."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sandbox.render import message_texts
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
    description: str | None = None,
) -> Made:
    """One Authorize call on a group; returns its CloudTrail event id and the new rule ids."""
    group = box.org.groups[group_key]
    ec2 = box.developer_ec2(group_key, who)
    before = len(box.trail.records)
    permission: dict[str, Any] = {
        "IpProtocol": "tcp",
        "FromPort": port,
        "ToPort": port,
        "IpRanges": [
            {"CidrIp": c, **({"Description": description} if description else {})}
            for c in (cidr, *extra_cidrs)
        ],
    }
    call = ec2.authorize_security_group_egress if egress else ec2.authorize_security_group_ingress
    answer = call(GroupId=group.group_id, IpPermissions=[permission])
    (record,) = box.trail.records[before:]
    return Made(
        event_id=record["eventID"],
        rule_ids=tuple(r["SecurityGroupRuleId"] for r in answer["SecurityGroupRules"]),
    )


def modify_rule(
    box: Sandbox,
    group_key: str,
    rule_id: str,
    cidr: str,
    port: int,
    *,
    who: str = "erin.dev@example.com",
    description: str | None = None,
) -> Made:
    """Edit one rule in place (ModifySecurityGroupRules, as the console's Edit does) to tcp
    `port` from `cidr`; returns its CloudTrail event id and the rule id."""
    group = box.org.groups[group_key]
    ec2 = box.developer_ec2(group_key, who)
    before = len(box.trail.records)
    new: dict[str, Any] = {"IpProtocol": "tcp", "FromPort": port, "ToPort": port}
    new["CidrIpv6" if ":" in cidr else "CidrIpv4"] = cidr
    if description is not None:
        new["Description"] = description
    ec2.modify_security_group_rules(
        GroupId=group.group_id,
        SecurityGroupRules=[{"SecurityGroupRuleId": rule_id, "SecurityGroupRule": new}],
    )
    (record,) = box.trail.records[before:]
    return Made(event_id=record["eventID"], rule_ids=(rule_id,))


def add_to_prefix_list(
    box: Sandbox,
    list_key: str,
    cidr: str,
    *,
    who: str = "dave.ops@example.com",
    description: str | None = None,
) -> Made:
    """Add one entry to a prefix list at its current version (ModifyManagedPrefixList);
    returns its CloudTrail event id."""
    listed = box.org.prefix_lists[list_key]
    group_key = next(iter(listed.referenced_by))  # a group in the list's account and region
    ec2 = box.developer_ec2(group_key, who)
    before = len(box.trail.records)
    entry = {"Cidr": cidr, **({"Description": description} if description else {})}
    ec2.modify_managed_prefix_list(
        PrefixListId=listed.list_id,
        CurrentVersion=prefix_list_version(box, list_key),
        AddEntries=[entry],
    )
    (record,) = box.trail.records[before:]
    return Made(event_id=record["eventID"], rule_ids=())


def prefix_list_version(box: Sandbox, list_key: str) -> int:
    listed = box.org.prefix_lists[list_key]
    ec2 = box.org.ec2(box.org.groups[next(iter(listed.referenced_by))])
    (found,) = ec2.describe_managed_prefix_lists(PrefixListIds=[listed.list_id])["PrefixLists"]
    return int(found["Version"])


def prefix_list_entries(box: Sandbox, list_key: str) -> set[str]:
    """The CIDRs the prefix list holds now."""
    listed = box.org.prefix_lists[list_key]
    ec2 = box.org.ec2(box.org.groups[next(iter(listed.referenced_by))])
    paginator = ec2.get_paginator("get_managed_prefix_list_entries")
    return {
        entry["Cidr"]
        for page in paginator.paginate(PrefixListId=listed.list_id)
        for entry in page["Entries"]
    }


def described_rule(box: Sandbox, group_key: str, rule_id: str) -> dict[str, Any]:
    """One rule as DescribeSecurityGroupRules reports it now."""
    ec2 = box.org.ec2(box.org.groups[group_key])
    (rule,) = ec2.describe_security_group_rules(SecurityGroupRuleIds=[rule_id])[
        "SecurityGroupRules"
    ]
    return dict(rule)


def shown(box: Sandbox, event_id: str) -> str:
    """Everything a change's message says, as raw text: its fallback and its blocks' texts."""
    message = box.posted(event_id).message
    return message_texts(message.blocks, message.text)


def rule_ids(box: Sandbox, group_key: str) -> set[str]:
    return {view.rule_id for view in box.rules(group_key)}


def buttons(blocks: list[dict[str, Any]] | None) -> list[str]:
    """The action ids of a message's buttons and menus, in order."""
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
