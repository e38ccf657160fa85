"""The domain: a security-group change, the rules it touched and its review state.

Pure data, no AWS or Slack. Every adapter converts to and from these types.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sgrevert.context import ChangeContext

MODIFY_RULES_EVENT = "ModifySecurityGroupRules"
PREFIX_LIST_EVENT = "ModifyManagedPrefixList"
REVERTIBLE_EVENTS = frozenset({"AuthorizeSecurityGroupIngress", "AuthorizeSecurityGroupEgress"})
REMOVAL_EVENTS = frozenset({"RevokeSecurityGroupIngress", "RevokeSecurityGroupEgress"})
# Decidable or not depending on what they did: a widening edit or added entries are.
EDIT_EVENTS = frozenset({MODIFY_RULES_EVENT, PREFIX_LIST_EVENT})
INFO_EVENTS = REMOVAL_EVENTS | {MODIFY_RULES_EVENT}  # records without a response rule set
WATCHED_EVENTS = REVERTIBLE_EVENTS | REMOVAL_EVENTS | EDIT_EVENTS


class Direction(StrEnum):
    INGRESS = "ingress"
    EGRESS = "egress"


class SourceKind(StrEnum):
    CIDR_IPV4 = "cidr_ipv4"
    CIDR_IPV6 = "cidr_ipv6"
    PREFIX_LIST = "prefix_list"
    GROUP = "group"


class State(StrEnum):
    """Review state of a change; see ARCHITECTURE.md "State of a change"."""

    PENDING = "PENDING"  # revertible, waiting for a decision (allowed by default)
    INFO = "INFO"  # Revoke/Modify: posted for information, nothing to decide
    APPROVED = "APPROVED"
    DENIED = "DENIED"  # decided; the revert is in progress
    REVERTED = "REVERTED"
    REVERT_FAILED = "REVERT_FAILED"
    IGNORED = "IGNORED"  # matched a policy ignore rule: recorded with its reason, not posted


DECIDED_STATES = frozenset({State.APPROVED, State.DENIED, State.REVERTED})


EXPIRY_PREFIX = "expiry:"  # decided_by of a change reverted because its approval expired
# decided_by of a change the policy denied because nobody approved it in time.
DENY_UNDECIDED = "policy:deny_if_undecided_after"
REMIND_BY = "policy:remind"  # `by` of an undecided change's reminder


class Step(StrEnum):
    """A transition in a change's history (see `Transition`)."""

    POSTED = "posted"  # the detector posted it to Slack
    DECIDED = "decided"  # approved or denied, by a person, a policy or the CLI
    ALLOWED_UNTIL = "allowed_until"  # approved for a while: `until` is the deadline
    EXTENDED = "extended"  # a temporary approval's deadline moved to `until`
    MADE_PERMANENT = "made_permanent"  # a temporary approval kept for good
    REMINDED = "reminded"  # the approver was reminded that `until` is near
    EXPIRED = "expired"  # a temporary approval's deadline passed: it is being reverted
    REVERTED = "reverted"  # the undo finished
    FAILED = "failed"  # the undo failed; `why` says why
    APPROVAL = "approval"  # one approver's approval of several required; `why`: "1 of 2"
    NUDGED = "nudged"  # an undecided change's reminder; `to`: who it mentioned


@dataclass(frozen=True)
class Transition:
    """One step of a change's history: what happened, when, by whom, and why."""

    step: Step
    at: datetime
    by: str | None = None  # Slack user id, "cli:<principal>", "policy:<rule>", "expiry:<U…>"
    why: str | None = None  # in words: "approved", "for 1 h", the revert's outcome…
    until: datetime | None = None  # the deadline the step set (allowed until, extended)
    to: tuple[str, ...] = ()  # NUDGED: the Slack users (U…) and user groups (S…) mentioned

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"step": self.step.value, "at": iso(self.at)}
        if self.by is not None:
            data["by"] = self.by
        if self.why is not None:
            data["why"] = self.why
        if self.until is not None:
            data["until"] = iso(self.until)
        if self.to:
            data["to"] = list(self.to)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Transition:
        until = data.get("until")
        return cls(
            step=Step(str(data["step"])),
            at=parse_time(str(data["at"])),
            by=data.get("by"),
            why=data.get("why"),
            until=parse_time(str(until)) if until else None,
            to=tuple(str(t) for t in data.get("to") or ()),
        )


@dataclass(frozen=True)
class Approval:
    """One approver's approval of a change that needs several (`approvals_required`)."""

    user: str  # Slack user id
    at: datetime
    duration: timedelta | None = None  # Allow for…: the duration chosen; None: for good

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"user": self.user, "at": iso(self.at)}
        if self.duration is not None:
            data["seconds"] = int(self.duration.total_seconds())
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Approval:
        seconds = data.get("seconds")
        return cls(
            user=str(data["user"]),
            at=parse_time(str(data["at"])),
            duration=timedelta(seconds=int(seconds)) if seconds is not None else None,
        )


@dataclass(frozen=True)
class Rule:
    """One security-group rule: a single source for a single protocol/port range."""

    direction: Direction
    protocol: str  # "tcp", "udp", "icmp", "icmpv6", "-1" (all) or an IANA number
    from_port: int | None  # None when the protocol has no ports (-1); icmp: type
    to_port: int | None  # icmp: code
    source_kind: SourceKind
    source: str  # CIDR, prefix list id or group id
    rule_id: str | None = None  # sgr-...; None when CloudTrail did not return one
    source_account: str | None = None  # owner of a referenced group, when given
    description: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "direction": self.direction.value,
            "protocol": self.protocol,
            "from_port": self.from_port,
            "to_port": self.to_port,
            "source_kind": self.source_kind.value,
            "source": self.source,
            "rule_id": self.rule_id,
            "source_account": self.source_account,
            "description": self.description,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Rule:
        return cls(
            direction=Direction(data["direction"]),
            protocol=str(data["protocol"]),
            from_port=_opt_int(data.get("from_port")),
            to_port=_opt_int(data.get("to_port")),
            source_kind=SourceKind(data["source_kind"]),
            source=str(data["source"]),
            rule_id=data.get("rule_id"),
            source_account=data.get("source_account"),
            description=data.get("description"),
        )

    @property
    def ports(self) -> str:
        """Human form of the port range: "22", "8000-8100", "all"."""
        if self.protocol == "-1" or self.from_port is None:
            return "all"
        if self.protocol in ("icmp", "icmpv6"):
            if self.from_port == -1:
                return "all"
            return f"type {self.from_port}" + (
                f" code {self.to_port}" if self.to_port not in (None, -1) else ""
            )
        if self.from_port == self.to_port or self.to_port is None:
            return str(self.from_port)
        if self.from_port == 0 and self.to_port == 65535:
            return "all"
        return f"{self.from_port}-{self.to_port}"


@dataclass(frozen=True)
class Actor:
    """Who made the call, as CloudTrail saw it."""

    arn: str
    type: str  # IAMUser, AssumedRole, Root, AWSService, ...
    session_issuer: str | None = None  # role ARN behind an assumed-role session
    invoked_by: str | None = None  # AWS service acting on the caller's behalf
    source_ip: str | None = None
    user_agent: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "arn": self.arn,
            "type": self.type,
            "session_issuer": self.session_issuer,
            "invoked_by": self.invoked_by,
            "source_ip": self.source_ip,
            "user_agent": self.user_agent,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Actor:
        return cls(
            arn=str(data["arn"]),
            type=str(data["type"]),
            session_issuer=data.get("session_issuer"),
            invoked_by=data.get("invoked_by"),
            source_ip=data.get("source_ip"),
            user_agent=data.get("user_agent"),
        )


@dataclass(frozen=True)
class Prior:
    """A modified rule's last known value from before the modification: from the newest
    change record holding the rule (`from_snapshot` False: the Authorize that created it,
    an earlier Modify) or the newest stored snapshot of its group (`from_snapshot` True)
    that predates the modification. `source` is that record's event id."""

    rule: Rule  # carries the rule id; its direction is the real one when the source knew it
    seen_at: datetime  # the source's event time, or the snapshot's read time
    source: str
    from_snapshot: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule.to_dict(),
            "seen_at": iso(self.seen_at),
            "source": self.source,
            "from_snapshot": self.from_snapshot,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Prior:
        return cls(
            rule=Rule.from_dict(data["rule"]),
            seen_at=parse_time(str(data["seen_at"])),
            source=str(data["source"]),
            from_snapshot=bool(data.get("from_snapshot")),
        )


@dataclass(frozen=True)
class PrefixListEntry:
    cidr: str
    description: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"cidr": self.cidr, "description": self.description}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PrefixListEntry:
        return cls(cidr=str(data["cidr"]), description=data.get("description"))


@dataclass(frozen=True)
class PrefixListEdit:
    """What a ModifyManagedPrefixList call did to a customer-managed prefix list."""

    list_id: str  # pl-...
    name: str | None = None  # from the response, when it carries it
    version: int | None = None  # the CurrentVersion the call named
    added: tuple[PrefixListEntry, ...] = ()
    removed: tuple[PrefixListEntry, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "list_id": self.list_id,
            "name": self.name,
            "version": self.version,
            "added": [e.to_dict() for e in self.added],
            "removed": [e.to_dict() for e in self.removed],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PrefixListEdit:
        version = data.get("version")
        return cls(
            list_id=str(data["list_id"]),
            name=data.get("name"),
            version=int(version) if version is not None else None,
            added=tuple(PrefixListEntry.from_dict(e) for e in data.get("added") or []),
            removed=tuple(PrefixListEntry.from_dict(e) for e in data.get("removed") or []),
        )


@dataclass(frozen=True)
class Change:
    """One CloudTrail event: a call that changed one security group, or one prefix list.

    - Authorize*/Revoke*: `rules` are the rules added or removed.
    - ModifySecurityGroupRules: `rules` are the modified rules' new values (after), and
      `prior` what the detector found each of them to have been before (by rule id; a
      rule without a prior has no earlier value on record).
    - ModifyManagedPrefixList: `group_id` is the list's id, `rules` is empty and
      `prefix_list` says which entries were added and removed.
    """

    event_id: str
    event_name: str
    event_time: datetime  # timezone-aware, UTC
    account: str  # recipientAccountId: the account that owns the group
    region: str
    group_id: str
    actor: Actor
    rules: tuple[Rule, ...] = field(default_factory=tuple)
    group_name: str | None = None
    vpc_id: str | None = None
    partition: str = "aws"
    prior: tuple[Prior, ...] = ()
    prefix_list: PrefixListEdit | None = None

    def prior_of(self, rule: Rule) -> Prior | None:
        """The recorded earlier value of a modified rule, if any."""
        return next(
            (p for p in self.prior if rule.rule_id and p.rule.rule_id == rule.rule_id), None
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "event_name": self.event_name,
            "event_time": iso(self.event_time),
            "account": self.account,
            "region": self.region,
            "group_id": self.group_id,
            "group_name": self.group_name,
            "vpc_id": self.vpc_id,
            "partition": self.partition,
            "actor": self.actor.to_dict(),
            "rules": [r.to_dict() for r in self.rules],
            "prior": [p.to_dict() for p in self.prior],
            "prefix_list": self.prefix_list.to_dict() if self.prefix_list else None,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Change:
        return cls(
            event_id=str(data["event_id"]),
            event_name=str(data["event_name"]),
            event_time=parse_time(str(data["event_time"])),
            account=str(data["account"]),
            region=str(data["region"]),
            group_id=str(data["group_id"]),
            group_name=data.get("group_name"),
            vpc_id=data.get("vpc_id"),
            partition=str(data.get("partition") or "aws"),
            actor=Actor.from_dict(data["actor"]),
            rules=tuple(Rule.from_dict(r) for r in data.get("rules", [])),
            prior=tuple(Prior.from_dict(p) for p in data.get("prior") or []),
            prefix_list=(
                PrefixListEdit.from_dict(data["prefix_list"]) if data.get("prefix_list") else None
            ),
        )


@dataclass(frozen=True)
class PostedCopy:
    """A copy of a change's message, posted for information into another channel."""

    channel: str
    ts: str

    def to_dict(self) -> dict[str, str]:
        return {"channel": self.channel, "ts": self.ts}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PostedCopy:
        return cls(channel=str(data["channel"]), ts=str(data["ts"]))


@dataclass(frozen=True)
class ChangeRecord:
    """A change as stored: the change plus where it was posted and how it was decided."""

    change: Change
    state: State
    recorded_at: datetime
    slack_channel: str | None = None
    slack_ts: str | None = None
    decided_by: str | None = None  # Slack user id, or "cli:<principal>" / "policy:<rule>"
    decided_at: datetime | None = None
    outcome: str | None = None  # what the revert did, or why it failed
    risk: str | None = None  # risk level (sgrevert.risk.Risk label); None on older records
    note: str | None = None  # why the policy ignored, held back or reverted it
    batch: str | None = None  # the group message it was posted in, if any
    context: ChangeContext | None = None  # read at post time; None on older records
    # APPROVED for a while: when the approval expires (None: permanent, or not approved).
    approved_until: datetime | None = None
    reminded_for: datetime | None = None  # the deadline whose reminder was sent
    history: tuple[Transition, ...] = ()  # oldest first; empty on older records
    history_posted: int = 0  # how many of `history` are in the message's thread
    # PENDING, fail-closed (`deny_if_undecided_after`): denied at this time unless approved.
    deny_at: datetime | None = None
    nudges: int = 0  # undecided reminders (`remind`) sent so far
    approvals: tuple[Approval, ...] = ()  # counted toward `approvals_needed`, oldest first
    approvals_needed: int | None = None  # set with the first of several required approvals
    # The policy route it was posted by (None: the default route, or posted before routes),
    # and that route's approvers as they were then (None: the default approvers).
    route: str | None = None
    route_approvers: tuple[str, ...] | None = None
    copies: tuple[PostedCopy, ...] = ()  # the copies posted for information (`also_to`)

    @property
    def posted_at(self) -> datetime | None:
        """When its message was posted (the POSTED step); None when not posted, or on
        records older than the history."""
        return next((t.at for t in self.history if t.step is Step.POSTED), None)

    @property
    def approvers(self) -> tuple[str, ...]:
        """Who approved it so far (or in all, once approved by several), in order."""
        return tuple(a.user for a in self.approvals)

    @property
    def temporary(self) -> bool:
        """Approved for a while, not for good."""
        return self.state is State.APPROVED and self.approved_until is not None

    @property
    def event_id(self) -> str:
        return self.change.event_id

    @property
    def posted(self) -> bool:
        return self.slack_ts is not None


def _opt_int(value: Any) -> int | None:
    if value is None:
        return None
    return int(value)


def iso(moment: datetime) -> str:
    """UTC ISO-8601 with a Z, the form CloudTrail uses and that sorts as text."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str) -> datetime:
    """Parse CloudTrail's `2026-11-27T10:00:00Z` (and Lake's `2026-11-27 10:00:00.000`)."""
    cleaned = text.strip().replace("Z", "+00:00").replace(" ", "T", 1)
    moment = datetime.fromisoformat(cleaned)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)
