"""What a security group is and who looks after it, from a DescribeSecurityGroups item.

Pure. The owner tags are those the policy names (routes and the message read them), and
`managed_by` says when infrastructure as code owns the group, so a reviewer knows a
revert alone will not last.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from sgrevert.context import GroupInfo

DEFAULT_OWNER_TAG_KEYS = ("Name", "Owner", "Team", "Service", "Environment")
CLOUDFORMATION_STACK_TAG = "aws:cloudformation:stack-name"
_SEPARATORS = re.compile(r"[-_:\s]")


def group_info(
    group: Mapping[str, Any], owner_tag_keys: Sequence[str] = DEFAULT_OWNER_TAG_KEYS
) -> GroupInfo:
    tags = _tags(group.get("Tags"))
    return GroupInfo(
        name=_text(group.get("GroupName")),
        description=_text(group.get("Description")),
        vpc_id=_text(group.get("VpcId")),
        owner_tags=_owner_tags(tags, owner_tag_keys),
        managed_by=managed_by(tags),
    )


def managed_by(tags: Mapping[str, str]) -> str | None:
    """ "CloudFormation stack web-prod", "Terraform", the value of a managed-by tag; None."""
    stack = tags.get(CLOUDFORMATION_STACK_TAG)
    if stack:
        return f"CloudFormation stack {stack}"
    declared = None
    for key, value in tags.items():
        plain = _SEPARATORS.sub("", key.lower())
        if plain.startswith("terraform"):
            return "Terraform"
        if plain == "managedby" and value.strip():
            if "terraform" in value.lower():
                return "Terraform"
            declared = declared or value.strip()
    return declared


def _owner_tags(tags: Mapping[str, str], keys: Sequence[str]) -> dict[str, str]:
    """The tags the policy names, under the policy's spelling of the key: an exact match
    first, else one differing only in case ("owner" for "Owner")."""
    lowered = {key.lower(): value for key, value in tags.items()}
    found: dict[str, str] = {}
    for key in keys:
        value = tags.get(key, lowered.get(key.lower()))
        if value:
            found[key] = value
    return found


def _tags(raw: Any) -> dict[str, str]:
    found: dict[str, str] = {}
    for tag in raw or []:
        if isinstance(tag, Mapping) and tag.get("Key"):
            found[str(tag["Key"])] = str(tag.get("Value") or "")
    return found


def _text(value: Any) -> str | None:
    return str(value) if value else None
