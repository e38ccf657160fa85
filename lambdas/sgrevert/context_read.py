"""Reads a change's context at post time: account name, group, its rules and attachments,
and the actor as a Slack person; for a prefix-list edit, the list and the security-group
rules that reference it. The AWS adapter behind `sgrevert.context`.

Through the hub and spoke roles the responder uses, in a read-only session (each hop
narrowed by an STS session policy to `READ_ACTIONS`), so nothing the detector reads
with can revoke or authorize a rule. Best effort, with a budget: each account/region is
read once per run, places in parallel, each within `PLACE_SECONDS`, the whole run
within the caller's budget. Whatever fails becomes a `Gap` naming what and why; the
post never waits longer, and is never lost or doubled because of context.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from aws_lambda_powertools import Logger
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from sgrevert.account_names import AccountNames
from sgrevert.actor_identity import email_of, via
from sgrevert.attachments import attachment, summarize
from sgrevert.cloudtrail import SkipRecord, described_rule
from sgrevert.context import ActorInfo, Attachments, ChangeContext, Gap, GroupInfo, ListReference
from sgrevert.group_info import DEFAULT_OWNER_TAG_KEYS, group_info
from sgrevert.model import PREFIX_LIST_EVENT, Change, Rule, SourceKind
from sgrevert.revert import AssumeRoleFailed
from sgrevert.roles import RoleChain

if TYPE_CHECKING:
    from mypy_boto3_ec2.client import EC2Client

logger = Logger(service="sgrevert-detect", child=True)

# Exactly the calls made below: the session policy, the spoke role and the README list these.
READ_ACTIONS = (
    "ec2:DescribeSecurityGroups",
    "ec2:DescribeSecurityGroupRules",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeInstances",
    "ec2:DescribeManagedPrefixLists",
    "ec2:GetManagedPrefixListAssociations",
)
PLACE_SECONDS = 5.0  # what one account/region may hold a post back
WORKERS = 4  # places read at once
# Short timeouts and few retries: a slow EC2 endpoint costs the context, not the post.
READ_CONFIG = Config(
    connect_timeout=2,
    read_timeout=3,
    retries={"mode": "standard", "max_attempts": 3},
    user_agent_extra="sgrevert-context",
)
NAMED_INSTANCES = 50  # instance Name tags looked up per group, at most
REFERENCING_GROUPS = 50  # groups whose rules are read per prefix list, at most
GROUPS_PER_CALL = 20  # group ids in one group-id filter
ASSOCIATIONS_PAGE = 255  # GetManagedPrefixListAssociations' largest MaxResults


class People(Protocol):
    def user_for(self, email: str) -> str | None: ...


@dataclass(frozen=True)
class Place:
    account: str
    region: str
    partition: str


@dataclass
class _GroupRead:
    """What was read of one group (each part None where it could not be read)."""

    info: GroupInfo | None = None  # a prefix list's: its name and owner tags
    rules: tuple[Rule, ...] | None = None
    attachments: Attachments | None = None
    references: tuple[ListReference, ...] | None = None  # a prefix list's
    gaps: list[Gap] = field(default_factory=list)


class ContextReader:
    def __init__(
        self,
        chain: RoleChain,
        accounts: AccountNames | None,
        people: People | None,
        *,
        owner_tag_keys: Sequence[str] = DEFAULT_OWNER_TAG_KEYS,
        watch: Callable[[EC2Client], EC2Client] | None = None,
    ) -> None:
        """`watch` sees each EC2 client made (benchmarks count its calls)."""
        self._chain = chain
        self._accounts = accounts
        self._people = people
        self._owner_tag_keys = tuple(owner_tag_keys)
        self._watch = watch or (lambda client: client)

    def read(
        self, changes: Sequence[Change], now: datetime, budget_seconds: float
    ) -> dict[str, ChangeContext]:
        """Context for each change, by event id, read within `budget_seconds` in all."""
        places: dict[Place, _Targets] = {}
        for change in changes:
            targets = places.setdefault(
                Place(change.account, change.region, change.partition), _Targets()
            )
            is_list = change.event_name == PREFIX_LIST_EVENT
            (targets.lists if is_list else targets.groups).add(change.group_id)
        reads: dict[tuple[Place, str], _GroupRead] = {}
        pool = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="context")
        try:
            futures = {
                pool.submit(self._read_place, place, targets): place
                for place, targets in places.items()
            }
            done, late = wait(futures, timeout=max(0.0, min(budget_seconds, PLACE_SECONDS)))
            for future in done:
                place = futures[future]
                try:
                    found = future.result()
                except Exception as error:  # context must never cost the post
                    logger.exception("context read failed", extra={"account": place.account})
                    reason = f"context unavailable for {place.account}: {type(error).__name__}"
                    found = places[place].unavailable(reason)
                reads.update({(place, target): r for target, r in found.items()})
            for future in late:
                place = futures[future]
                reason = f"context unavailable for {place.account} / {place.region}: timed out"
                reads.update({(place, t): r for t, r in places[place].unavailable(reason).items()})
        finally:
            pool.shutdown(wait=False, cancel_futures=True)  # a late place costs nothing more
        contexts: dict[str, ChangeContext] = {}
        for change in changes:
            place = Place(change.account, change.region, change.partition)
            contexts[change.event_id] = self._context(change, reads[(place, change.group_id)], now)
        return contexts

    def _context(self, change: Change, read: _GroupRead, now: datetime) -> ChangeContext:
        gaps = list(read.gaps)
        name: str | None = None
        if self._accounts is not None:
            name, why = self._accounts.name(change.account)
            if why is not None:
                gaps.append(Gap("account", f"no account name: {why}"))
        return ChangeContext(
            read_at=now,
            account_name=name,
            group=read.info,
            rules=read.rules,
            attachments=read.attachments,
            actor=self._actor(change),
            gaps=tuple(gaps),
            references=read.references,
        )

    def _actor(self, change: Change) -> ActorInfo:
        email = email_of(change.actor)
        user = self._people.user_for(email) if email and self._people is not None else None
        return ActorInfo(via=via(change.actor), email=email, slack_user=user)

    # -- one account and region ------------------------------------------------------------

    def _read_place(self, place: Place, targets: _Targets) -> dict[str, _GroupRead]:
        """Every group and prefix list of one place, through one read-only session, by id.
        Never raises."""
        try:
            ec2: EC2Client = self._watch(
                self._chain.read_client(
                    place.account,
                    place.partition,
                    place.region,
                    READ_ACTIONS,
                    service="ec2",
                    config=READ_CONFIG,
                )
            )
        except AssumeRoleFailed as failure:
            role = failure.role_arn.rsplit("/", 1)[-1]
            reason = f"context unavailable for {place.account}: {failure.code} assuming {role}"
            logger.warning("context unavailable", extra={"account": place.account, "why": reason})
            return targets.unavailable(reason)
        reads = {g: _GroupRead() for g in sorted(targets.groups)}
        if reads:  # DescribeSecurityGroups without ids would describe every group
            self._describe_groups(ec2, reads)
            self._describe_rules(ec2, reads)
            for group_id, read in reads.items():
                self._describe_attachments(ec2, group_id, read)
        for list_id in sorted(targets.lists):
            reads[list_id] = self._read_list(ec2, place.account, list_id)
        return reads

    def _describe_groups(self, ec2: EC2Client, reads: dict[str, _GroupRead]) -> None:
        try:
            groups = ec2.describe_security_groups(GroupIds=list(reads))["SecurityGroups"]
        except (ClientError, BotoCoreError) as error:
            _gap_all(reads, "group", f"DescribeSecurityGroups: {_error(error)}")
            return
        for group in groups:
            read = reads.get(str(group.get("GroupId")))
            if read is not None:
                read.info = group_info(group, self._owner_tag_keys)

    def _describe_rules(self, ec2: EC2Client, reads: dict[str, _GroupRead]) -> None:
        found: dict[str, list[Rule]] = {g: [] for g in reads}
        try:
            pages = ec2.get_paginator("describe_security_group_rules").paginate(
                Filters=[{"Name": "group-id", "Values": list(reads)}]
            )
            for page in pages:
                for item in page.get("SecurityGroupRules", []):
                    rules = found.get(str(item.get("GroupId")))
                    rule = _rule(item)
                    if rules is not None and rule is not None:
                        rules.append(rule)
        except (ClientError, BotoCoreError) as error:
            _gap_all(reads, "rules", f"DescribeSecurityGroupRules: {_error(error)}")
            return
        for group_id, rules in found.items():
            reads[group_id].rules = tuple(rules)

    def _describe_attachments(self, ec2: EC2Client, group_id: str, read: _GroupRead) -> None:
        try:
            interfaces = [
                interface
                for page in ec2.get_paginator("describe_network_interfaces").paginate(
                    Filters=[{"Name": "group-id", "Values": [group_id]}]
                )
                for interface in page.get("NetworkInterfaces", [])
            ]
        except (ClientError, BotoCoreError) as error:
            read.gaps.append(Gap("attachments", f"DescribeNetworkInterfaces: {_error(error)}"))
            return
        names = self._instance_names(ec2, interfaces, read)
        read.attachments = summarize(attachment(i, names) for i in interfaces)

    def _instance_names(
        self, ec2: EC2Client, interfaces: Iterable[Mapping[str, Any]], read: _GroupRead
    ) -> dict[str, str]:
        ids = sorted(
            {
                str(i["Attachment"]["InstanceId"])
                for i in interfaces
                if (i.get("Attachment") or {}).get("InstanceId")
            }
        )[:NAMED_INSTANCES]
        if not ids:
            return {}
        try:
            reservations = ec2.describe_instances(InstanceIds=ids)["Reservations"]
        except (ClientError, BotoCoreError) as error:
            read.gaps.append(Gap("attachments", f"no instance names: {_error(error)}"))
            return {}
        return {
            str(instance["InstanceId"]): str(tag["Value"])
            for reservation in reservations
            for instance in reservation.get("Instances", [])
            for tag in instance.get("Tags") or []
            if tag.get("Key") == "Name"
        }

    # -- a prefix list: what its added entries open --------------------------------------

    def _read_list(self, ec2: EC2Client, account: str, list_id: str) -> _GroupRead:
        """The list's name and owner tags, and the rules of the account's security groups
        that reference it (not a group: there is no security group of that id)."""
        read = _GroupRead()
        try:
            found = ec2.describe_managed_prefix_lists(PrefixListIds=[list_id])["PrefixLists"]
        except (ClientError, BotoCoreError) as error:
            read.gaps.append(Gap("list", f"DescribeManagedPrefixLists: {_error(error)}"))
        else:
            for item in found:
                # Named and tagged as a group is: the same owner tags and IaC warning apply.
                fields = {"GroupName": item.get("PrefixListName"), "Tags": item.get("Tags")}
                read.info = group_info(fields, self._owner_tag_keys)
        read.references = self._references(ec2, account, list_id, read.gaps)
        return read

    def _references(
        self, ec2: EC2Client, account: str, list_id: str, gaps: list[Gap]
    ) -> tuple[ListReference, ...] | None:
        """The account's groups whose rules have the list as their source, with those
        rules; None when they could not be read (a `references` gap says why)."""
        try:
            group_ids = _referencing_groups(ec2, account, list_id)
        except (ClientError, BotoCoreError) as error:
            gaps.append(Gap("references", f"GetManagedPrefixListAssociations: {_error(error)}"))
            return None
        if len(group_ids) > REFERENCING_GROUPS:
            gaps.append(
                Gap(
                    "references",
                    f"more than {REFERENCING_GROUPS} security groups reference the list; "
                    f"the first {REFERENCING_GROUPS} were read",
                )
            )
            group_ids = group_ids[:REFERENCING_GROUPS]
        try:
            rules = _referencing_rules(ec2, group_ids, list_id)
        except (ClientError, BotoCoreError) as error:
            gaps.append(Gap("references", f"DescribeSecurityGroupRules: {_error(error)}"))
            return None
        names = _group_names(ec2, [g for g in group_ids if g in rules], gaps)
        # A group the associations named but whose rules no longer reference the list (a
        # rule revoked meanwhile) references nothing.
        return tuple(
            ListReference(group_id, names.get(group_id), tuple(rules[group_id]))
            for group_id in group_ids
            if group_id in rules
        )


@dataclass
class _Targets:
    """What to read in one place: security groups, and prefix lists (by id)."""

    groups: set[str] = field(default_factory=set)
    lists: set[str] = field(default_factory=set)

    def unavailable(self, reason: str) -> dict[str, _GroupRead]:
        """Nothing could be read there: a group misses its details, a list its references."""
        found = {g: _GroupRead(gaps=[Gap("group", reason)]) for g in self.groups}
        found.update({p: _GroupRead(gaps=[Gap("references", reason)]) for p in self.lists})
        return found


def _referencing_groups(ec2: EC2Client, account: str, list_id: str) -> list[str]:
    """The security groups of `account` that reference the list, in the order EC2 gives
    them; reading stops once there are more than `REFERENCING_GROUPS`."""
    found: list[str] = []
    pages = ec2.get_paginator("get_managed_prefix_list_associations").paginate(
        PrefixListId=list_id, PaginationConfig={"PageSize": ASSOCIATIONS_PAGE}
    )
    for page in pages:
        for association in page.get("PrefixListAssociations", []):
            resource = str(association.get("ResourceId") or "")
            owner = association.get("ResourceOwner")
            # Route tables reference lists too, and a shared list other accounts' groups.
            if resource.startswith("sg-") and owner in (None, account) and resource not in found:
                found.append(resource)
        if len(found) > REFERENCING_GROUPS:
            break
    return found


def _referencing_rules(
    ec2: EC2Client, group_ids: Sequence[str], list_id: str
) -> dict[str, list[Rule]]:
    """The groups' rules whose source is the list, by group id (groups without any left
    out). DescribeSecurityGroupRules cannot filter on a source, so every rule is read."""
    found: dict[str, list[Rule]] = {}
    for chunk in _chunks(group_ids):
        pages = ec2.get_paginator("describe_security_group_rules").paginate(
            Filters=[{"Name": "group-id", "Values": chunk}]
        )
        for page in pages:
            for item in page.get("SecurityGroupRules", []):
                rule = _rule(item)
                if rule and rule.source_kind is SourceKind.PREFIX_LIST and rule.source == list_id:
                    found.setdefault(str(item.get("GroupId")), []).append(rule)
    return found


def _group_names(ec2: EC2Client, group_ids: Sequence[str], gaps: list[Gap]) -> dict[str, str]:
    """Group names by id; a filter rather than GroupIds, so a group deleted meanwhile is
    left out instead of failing the call."""
    names: dict[str, str] = {}
    try:
        for chunk in _chunks(group_ids):
            pages = ec2.get_paginator("describe_security_groups").paginate(
                Filters=[{"Name": "group-id", "Values": chunk}]
            )
            for page in pages:
                for group in page.get("SecurityGroups", []):
                    if group.get("GroupName"):
                        names[str(group["GroupId"])] = str(group["GroupName"])
    except (ClientError, BotoCoreError) as error:
        gaps.append(Gap("reference names", f"DescribeSecurityGroups: {_error(error)}"))
    return names


def _chunks(ids: Sequence[str]) -> Iterator[list[str]]:
    for start in range(0, len(ids), GROUPS_PER_CALL):
        yield list(ids[start : start + GROUPS_PER_CALL])


def _rule(item: Mapping[str, Any]) -> Rule | None:
    try:
        return described_rule(item)
    except SkipRecord:
        return None  # a rule shape this reader does not know: the snapshot goes without it


def _gap_all(reads: dict[str, _GroupRead], part: str, reason: str) -> None:
    for read in reads.values():
        read.gaps.append(Gap(part, reason))


def _error(error: ClientError | BotoCoreError) -> str:
    if isinstance(error, ClientError):
        return str(error.response.get("Error", {}).get("Code", "ClientError"))
    return type(error).__name__
