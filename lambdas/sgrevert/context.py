"""Context for a decision: whose account, what the group protects, who made the change.

Pure data, read by the detector at post time (`context_read`) and stored on the change
record, so later steps read it instead of asking AWS again: the group's rules as they
were ("before" for a modified rule), its owner tags (routes), the actor's Slack user
(self-approval); for a prefix-list edit, the list and the rules that reference it (what
the added entries open). Every part is optional: what could not be read is a `Gap`
saying why. Records stored before context existed have none and keep working.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from sgrevert.model import Rule, iso, parse_time


class AttachmentKind(StrEnum):
    """What a network interface in the group belongs to."""

    INSTANCE = "ec2_instance"
    LOAD_BALANCER = "load_balancer"
    RDS = "rds"
    LAMBDA = "lambda"
    EKS = "eks"
    VPC_ENDPOINT = "vpc_endpoint"
    NAT_GATEWAY = "nat_gateway"
    OTHER = "other"


class Via(StrEnum):
    """How the call was made, from `userAgent` and `invokedBy`."""

    CONSOLE = "console"
    CLI = "cli"  # the AWS CLI, or an SDK
    CLOUDFORMATION = "cloudformation"
    TERRAFORM = "terraform"
    CDK = "cdk"
    AWS_SERVICE = "aws_service"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Gap:
    """A part of the context that could not be read, and why (shown to the reviewer)."""

    # "account", "group", "rules", "attachments", "actor"; for a prefix list "list",
    # "references" (the referencing rules are unknown or incomplete), "reference names"
    part: str
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"part": self.part, "reason": self.reason}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Gap:
        return cls(part=str(data["part"]), reason=str(data["reason"]))


@dataclass(frozen=True)
class GroupInfo:
    name: str | None = None
    description: str | None = None
    vpc_id: str | None = None
    owner_tags: Mapping[str, str] = field(default_factory=dict)  # the policy's owner tag keys
    managed_by: str | None = None  # "CloudFormation stack web-prod", "Terraform", ...

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "vpc_id": self.vpc_id,
            "owner_tags": dict(self.owner_tags),
            "managed_by": self.managed_by,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GroupInfo:
        return cls(
            name=data.get("name"),
            description=data.get("description"),
            vpc_id=data.get("vpc_id"),
            owner_tags={str(k): str(v) for k, v in (data.get("owner_tags") or {}).items()},
            managed_by=data.get("managed_by"),
        )


@dataclass(frozen=True)
class Attachment:
    """One network interface using the group, as a reviewer would name it."""

    kind: AttachmentKind
    interface_id: str
    resource_id: str | None = None  # i-..., the load balancer's name, ...
    name: str | None = None  # an instance's Name tag, ...
    public_ip: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "interface_id": self.interface_id,
            "resource_id": self.resource_id,
            "name": self.name,
            "public_ip": self.public_ip,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Attachment:
        return cls(
            kind=AttachmentKind(data["kind"]),
            interface_id=str(data["interface_id"]),
            resource_id=data.get("resource_id"),
            name=data.get("name"),
            public_ip=data.get("public_ip"),
        )


@dataclass(frozen=True)
class Attachments:
    """What the group is attached to: counts by kind, a few examples each, and the
    attachments reachable from the internet (a public IP), a few of them kept by name."""

    total: int = 0
    counts: Mapping[AttachmentKind, int] = field(default_factory=dict)
    examples: tuple[Attachment, ...] = ()  # a few of each kind
    public_count: int = 0
    public: tuple[Attachment, ...] = ()  # a few of those with a public IP

    @property
    def reachable_from_internet(self) -> bool:
        return self.public_count > 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "counts": {kind.value: count for kind, count in self.counts.items()},
            "examples": [a.to_dict() for a in self.examples],
            "public_count": self.public_count,
            "public": [a.to_dict() for a in self.public],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Attachments:
        return cls(
            total=int(data.get("total") or 0),
            counts={AttachmentKind(k): int(v) for k, v in (data.get("counts") or {}).items()},
            examples=tuple(Attachment.from_dict(a) for a in data.get("examples") or []),
            public_count=int(data.get("public_count") or 0),
            public=tuple(Attachment.from_dict(a) for a in data.get("public") or []),
        )


@dataclass(frozen=True)
class ActorInfo:
    """The actor as a person: their email when the identity carries one, the Slack user
    it maps to (None: unmapped), and how the call was made."""

    via: Via = Via.UNKNOWN
    email: str | None = None
    slack_user: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"via": self.via.value, "email": self.email, "slack_user": self.slack_user}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ActorInfo:
        return cls(
            via=Via(data.get("via") or Via.UNKNOWN),
            email=data.get("email"),
            slack_user=data.get("slack_user"),
        )


@dataclass(frozen=True)
class ListReference:
    """A security group of the list's account and region whose rules have the prefix
    list as their source: those rules, as DescribeSecurityGroupRules returned them."""

    group_id: str
    group_name: str | None
    rules: tuple[Rule, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "group_id": self.group_id,
            "group_name": self.group_name,
            "rules": [r.to_dict() for r in self.rules],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ListReference:
        return cls(
            group_id=str(data["group_id"]),
            group_name=data.get("group_name"),
            rules=tuple(Rule.from_dict(r) for r in data.get("rules") or []),
        )


@dataclass(frozen=True)
class ChangeContext:
    """Everything read about a change at post time; `read_at` says when."""

    read_at: datetime
    account_name: str | None = None
    group: GroupInfo | None = None  # for a prefix-list edit: the list (name, owner tags)
    # The group's rules as DescribeSecurityGroupRules returned them at `read_at`.
    rules: tuple[Rule, ...] | None = None
    attachments: Attachments | None = None
    actor: ActorInfo | None = None
    gaps: tuple[Gap, ...] = ()
    # A prefix-list edit: the groups whose rules reference the list (empty: none does);
    # None when not read, or for any other change.
    references: tuple[ListReference, ...] | None = None

    @property
    def references_complete(self) -> bool:
        """Every rule that references the list was read (none was cut or failed)."""
        return self.references is not None and not any(g.part == "references" for g in self.gaps)

    def to_dict(self) -> dict[str, Any]:
        return {
            "read_at": iso(self.read_at),
            "account_name": self.account_name,
            "group": self.group.to_dict() if self.group else None,
            "rules": [r.to_dict() for r in self.rules] if self.rules is not None else None,
            "attachments": self.attachments.to_dict() if self.attachments else None,
            "actor": self.actor.to_dict() if self.actor else None,
            "gaps": [g.to_dict() for g in self.gaps],
            "references": (
                [r.to_dict() for r in self.references] if self.references is not None else None
            ),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ChangeContext:
        rules = data.get("rules")
        references = data.get("references")
        return cls(
            read_at=parse_time(str(data["read_at"])),
            account_name=data.get("account_name"),
            group=GroupInfo.from_dict(data["group"]) if data.get("group") else None,
            rules=tuple(Rule.from_dict(r) for r in rules) if rules is not None else None,
            attachments=(
                Attachments.from_dict(data["attachments"]) if data.get("attachments") else None
            ),
            actor=ActorInfo.from_dict(data["actor"]) if data.get("actor") else None,
            gaps=tuple(Gap.from_dict(g) for g in data.get("gaps") or []),
            references=(
                tuple(ListReference.from_dict(r) for r in references)
                if references is not None
                else None
            ),
        )
