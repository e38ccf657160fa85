"""DynamoDB adapter: change records, their state transitions and the detector watermark.

Every transition is a conditional write, so two clicks, a retried Lambda or two
detector runs can never apply the same step twice. A lost condition becomes a
domain error (`AlreadyDecided`, `UnknownChange`, `NotDecidable`, `NotTemporary`). The
same write appends the step to the record's `history`, so the history holds exactly the
transitions that happened, in the order they happened.

Item layout (one table, partition key `pk`):
- `change#<eventID>`: one per CloudTrail event; `change` holds the Change as JSON,
  `state` the review state; `unposted` is present until the Slack post succeeded
  (a sparse index, so retrying failed posts is a cheap query); `post_attempts` holds the
  ids of posts whose outcome is unknown (Slack's answer was lost), until one is found;
  `group_key` (`<account>/<region>/<group id>`, a prefix list's id for a list edit) keys
  the group's history by `event_time` (index `by_group`; records written before it
  existed have none and are not in it). An approval for a while keeps its deadline in
  `approved_until` and the deadline whose reminder went out in `reminded_for`; `history`
  is the list of its transitions (`Transition.to_dict()`, oldest first) and
  `history_posted` how many of them are in the message's thread. Undecided, a
  fail-closed change keeps when it is denied in `deny_at` and the reminders sent in
  `nudges`; a change that needs several approvers keeps their `approvals` (a list of
  `Approval.to_dict()`) and how many it needs in `approvals_needed`. A change posted by a
  policy route keeps the route's name in `route_name` and its approvers then in
  `route_approvers`; the copies posted for information are listed in `copies`.
- `watermark#<name>`: how far a detection path has fully handled events.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, NoReturn

from botocore.exceptions import ClientError

from sgrevert.context import ChangeContext
from sgrevert.decidable import decidable
from sgrevert.durations import duration_words
from sgrevert.errors import (
    AlreadyApproved,
    AlreadyDecided,
    NotDecidable,
    NotTemporary,
    NotUndecided,
    SgrevertError,
    UnknownChange,
)
from sgrevert.model import (
    DENY_UNDECIDED,
    EXPIRY_PREFIX,
    REMIND_BY,
    Approval,
    Change,
    ChangeRecord,
    PostedCopy,
    State,
    Step,
    Transition,
    iso,
    parse_time,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

DEFAULT_TABLE_NAME = "secgrouprequests"
TTL_ATTRIBUTE = "expires_at"
UNPOSTED_INDEX = "unposted"
STATE_INDEX = "by_state"
GROUP_INDEX = "by_group"
DEFAULT_RETENTION = timedelta(days=90)
BATCH_PREFIX = "g:"  # a button value naming a batch rather than one change
BATCH_GET_KEYS = 100  # BatchGetItem's limit per call
BATCH_GET_ROUNDS = 8  # retries of UnprocessedKeys (throttling) before giving up
# The history grows in the same write as the step it records.
_APPEND_STEP = "history = list_append(if_not_exists(history, :no_history), :step)"
# APPROVED until the deadline named: what every step on an approval for a while requires.
_APPROVED_UNTIL = "#state = :approved AND approved_until = :deadline"


class ApprovalRaced(SgrevertError):
    """Another approval of the change was counted between the caller's read and its write:
    read it again and retry."""


class AlreadyReminded(NotTemporary):
    """The reminder for this deadline was sent already (a retried or duplicate job)."""

    def __init__(self, record: ChangeRecord) -> None:
        super().__init__(record)
        until = iso(record.reminded_for) if record.reminded_for else "?"
        self.args = (f"change {record.event_id} was already reminded of its deadline {until}",)


def table_definition(table_name: str = DEFAULT_TABLE_NAME) -> dict[str, Any]:
    """Keyword arguments for DynamoDB `create_table`: the single source of the table's shape.

    The TTL attribute is `TTL_ATTRIBUTE` (set with `update_time_to_live`, which
    `create_table` cannot do). The CDK construct is checked against this in tests.
    """
    return {
        "TableName": table_name,
        "BillingMode": "PAY_PER_REQUEST",
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
        "AttributeDefinitions": [
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "unposted", "AttributeType": "S"},
            {"AttributeName": "state", "AttributeType": "S"},
            {"AttributeName": "event_time", "AttributeType": "S"},
            {"AttributeName": "group_key", "AttributeType": "S"},
        ],
        "GlobalSecondaryIndexes": [
            {
                "IndexName": UNPOSTED_INDEX,
                "KeySchema": [
                    {"AttributeName": "unposted", "KeyType": "HASH"},
                    {"AttributeName": "event_time", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            },
            {
                "IndexName": STATE_INDEX,
                "KeySchema": [
                    {"AttributeName": "state", "KeyType": "HASH"},
                    {"AttributeName": "event_time", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            },
            {
                # Keys only: a history read batch-gets the records it keeps.
                "IndexName": GROUP_INDEX,
                "KeySchema": [
                    {"AttributeName": "group_key", "KeyType": "HASH"},
                    {"AttributeName": "event_time", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            },
        ],
    }


def create_table(dynamodb_client: Any, table_name: str = DEFAULT_TABLE_NAME) -> None:
    """Create the table as deployed (used by tests, the sandbox and the CLI's local mode)."""
    dynamodb_client.create_table(**table_definition(table_name))
    dynamodb_client.get_waiter("table_exists").wait(TableName=table_name)
    dynamodb_client.update_time_to_live(
        TableName=table_name,
        TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE},
    )


def group_key(account: str, region: str, group_id: str) -> str:
    """The `by_group` index key of a group's (or prefix list's) change records."""
    return f"{account}/{region}/{group_id}"


def _change_key(event_id: str) -> dict[str, str]:
    return {"pk": f"change#{event_id}"}


def _step_values(*transitions: Transition) -> dict[str, Any]:
    """The values `_APPEND_STEP` names."""
    return {":no_history": [], ":step": [t.to_dict() for t in transitions]}


def _until_values(deadline: datetime) -> dict[str, Any]:
    """The values `_APPROVED_UNTIL` names."""
    return {":approved": State.APPROVED.value, ":deadline": iso(deadline)}


def _is_conditional_failure(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


def record_from_item(item: dict[str, Any]) -> ChangeRecord:
    decided_at = item.get("decided_at")
    context = item.get("context")
    approved_until = item.get("approved_until")
    reminded_for = item.get("reminded_for")
    deny_at = item.get("deny_at")
    needed = item.get("approvals_needed")
    return ChangeRecord(
        change=Change.from_dict(json.loads(str(item["change"]))),
        state=State(str(item["state"])),
        recorded_at=parse_time(str(item["recorded_at"])),
        slack_channel=item.get("slack_channel"),
        slack_ts=item.get("slack_ts"),
        decided_by=item.get("decided_by"),
        decided_at=parse_time(str(decided_at)) if decided_at else None,
        outcome=item.get("outcome"),
        risk=item.get("risk"),
        note=item.get("note"),
        batch=item.get("message_batch"),
        context=ChangeContext.from_dict(json.loads(str(context))) if context else None,
        approved_until=parse_time(str(approved_until)) if approved_until else None,
        reminded_for=parse_time(str(reminded_for)) if reminded_for else None,
        history=tuple(Transition.from_dict(dict(step)) for step in item.get("history") or []),
        history_posted=int(item.get("history_posted") or 0),
        deny_at=parse_time(str(deny_at)) if deny_at else None,
        nudges=int(item.get("nudges") or 0),
        approvals=tuple(Approval.from_dict(dict(a)) for a in item.get("approvals") or []),
        approvals_needed=int(needed) if needed is not None else None,
        route=item.get("route_name"),
        route_approvers=(
            tuple(str(a) for a in item["route_approvers"])
            if item.get("route_approvers") is not None
            else None
        ),
        copies=tuple(PostedCopy.from_dict(dict(c)) for c in item.get("copies") or []),
    )


def _about(duration: timedelta) -> str:
    """A duration in words to the minute: a deadline kept to the second (as `iso` keeps
    it) must not make "1 h" read "59 min 59 s"."""
    return duration_words(timedelta(minutes=round(duration.total_seconds() / 60)))


def message_about(record: ChangeRecord) -> str:
    """What a record shows in: its own message (its event id) or its group's (`g:<batch>`)."""
    return f"{BATCH_PREFIX}{record.batch}" if record.batch else record.event_id


class ChangeStore:
    """Change records and watermarks in one DynamoDB table (boto3 resource `Table` injected)."""

    def __init__(self, table: Table, retention: timedelta = DEFAULT_RETENTION) -> None:
        self._table = table
        self._retention = retention

    # -- detection -------------------------------------------------------------------------

    def record_new(
        self,
        change: Change,
        now: datetime,
        *,
        risk: str | None = None,
        ignored: bool = False,
        post: bool = True,
        note: str | None = None,
    ) -> bool:
        """Record a change once. False when its eventID was already recorded.

        `ignored` records it IGNORED; `post=False` keeps it out of the posting queue (it
        stays listed by state); `note` says why, for operators.
        """
        state = State.IGNORED if ignored else State.PENDING if decidable(change) else State.INFO
        item: dict[str, Any] = {
            **_change_key(change.event_id),
            "event_id": change.event_id,
            "change": json.dumps(change.to_dict(), sort_keys=True),
            "state": state.value,
            "event_time": iso(change.event_time),
            "account": change.account,
            "region": change.region,
            "group_id": change.group_id,
            "group_key": group_key(change.account, change.region, change.group_id),
            "recorded_at": iso(now),
            "updated_at": iso(now),
            TTL_ATTRIBUTE: int((now + self._retention).timestamp()),
        }
        if post and not ignored:
            item["unposted"] = "1"
        if risk is not None:
            item["risk"] = risk
        if note is not None:
            item["note"] = note
        try:
            self._table.put_item(Item=item, ConditionExpression="attribute_not_exists(pk)")
        except ClientError as error:
            if _is_conditional_failure(error):
                return False
            raise
        return True

    def unposted_ids(self) -> list[str]:
        """Event ids of recorded changes whose Slack post has not succeeded yet, oldest first."""
        ids: list[str] = []
        kwargs: dict[str, Any] = {
            "IndexName": UNPOSTED_INDEX,
            "KeyConditionExpression": "unposted = :one",
            "ExpressionAttributeValues": {":one": "1"},
        }
        while True:
            page = self._table.query(**kwargs)
            ids.extend(str(item["pk"]).removeprefix("change#") for item in page["Items"])
            if "LastEvaluatedKey" not in page:
                return ids
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def claim_post(
        self, event_id: str, now: datetime, lease: timedelta, attempt: str
    ) -> frozenset[str] | None:
        """Take the right to post a change for `lease`, so concurrent runs never both post it,
        and note the post `attempt` before it is sent (so a post whose answer is lost, or a
        run that dies mid-post, can be found later). None when the change is posted or
        claimed; otherwise the earlier attempts whose outcome is unknown."""
        try:
            answer = self._table.update_item(
                Key=_change_key(event_id),
                UpdateExpression="SET post_claim_until = :until ADD post_attempts :attempt",
                ConditionExpression=(
                    "attribute_exists(unposted) AND "
                    "(attribute_not_exists(post_claim_until) OR post_claim_until < :now)"
                ),
                ExpressionAttributeValues={
                    ":until": iso(now + lease),
                    ":now": iso(now),
                    ":attempt": {attempt},
                },
                ReturnValues="UPDATED_OLD",
            )
        except ClientError as error:
            if _is_conditional_failure(error):
                return None
            raise
        earlier = answer.get("Attributes", {}).get("post_attempts") or set()
        return frozenset(str(a) for a in earlier)  # type: ignore[union-attr]

    def release_claim(self, event_id: str, attempt: str | None = None) -> None:
        """Give a claim back after a failed post so the next run retries at once. `attempt`:
        a post Slack certainly did not make (refused, rate-limited), so forget it."""
        if attempt is None:
            self._table.update_item(
                Key=_change_key(event_id),
                UpdateExpression="REMOVE post_claim_until",
                ConditionExpression="attribute_exists(pk)",
            )
            return
        self._table.update_item(
            Key=_change_key(event_id),
            UpdateExpression="REMOVE post_claim_until DELETE post_attempts :attempt",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeValues={":attempt": {attempt}},
        )

    def mark_posted(
        self,
        event_id: str,
        channel: str,
        ts: str,
        now: datetime,
        batch: str | None = None,
        *,
        found: bool = False,
        deny_at: datetime | None = None,
        route: str | None = None,
        route_approvers: tuple[str, ...] | None = None,
    ) -> bool:
        """Point the change at its message. `found`: the message was found in the channel
        (an earlier attempt went through), so only a change still unposted takes it.
        False when `found` and the change was already posted. `deny_at`: the fail-closed
        deadline the message shows (kept from the first post that set one).

        The first post appends POSTED; a change posted before (a post again after an
        earlier one was found) only points at the new message."""
        values: dict[str, Any] = {":c": channel, ":ts": ts, ":now": iso(now)}
        batch_set = ""
        if batch is not None:
            batch_set, values[":b"] = ", message_batch = :b", batch
        if deny_at is not None:
            batch_set += ", deny_at = if_not_exists(deny_at, :deny_at)"
            values[":deny_at"] = iso(deny_at)
        if route is not None:
            batch_set += ", route_name = :route, route_approvers = :route_approvers"
            values[":route"] = route
            values[":route_approvers"] = list(route_approvers or ())
        pointer = f"slack_channel = :c, slack_ts = :ts, updated_at = :now{batch_set}"
        remove = "REMOVE unposted, post_claim_until, post_attempts"
        first = "attribute_exists(unposted)" if found else "attribute_exists(pk)"
        try:
            self._table.update_item(
                Key=_change_key(event_id),
                UpdateExpression=f"SET {pointer}, {_APPEND_STEP} {remove}",
                ConditionExpression=f"{first} AND attribute_not_exists(slack_ts)",
                ExpressionAttributeValues={**values, **_step_values(Transition(Step.POSTED, now))},
            )
            return True
        except ClientError as error:
            if not _is_conditional_failure(error):
                raise
        try:  # posted before: no second POSTED
            self._table.update_item(
                Key=_change_key(event_id),
                UpdateExpression=f"SET {pointer} {remove}",
                ConditionExpression=first,
                ExpressionAttributeValues=values,
            )
        except ClientError as error:
            if found and _is_conditional_failure(error):
                return False
            raise
        return True

    def set_context(
        self,
        event_id: str,
        context: ChangeContext,
        *,
        risk: str | None = None,
        note: str | None = None,
    ) -> None:
        """Keep what was read about a change (as JSON, like the change itself), and the risk
        it changed, with why, when the policy lowers it for that context."""
        values: dict[str, Any] = {":context": json.dumps(context.to_dict(), sort_keys=True)}
        update = "SET #context = :context"
        if risk is not None:
            update += ", risk = :risk, note = :note"
            values[":risk"] = risk
            values[":note"] = note
        self._table.update_item(
            Key=_change_key(event_id),
            UpdateExpression=update,
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeNames={"#context": "context"},
            ExpressionAttributeValues=values,
        )

    # -- batches: changes posted together, decided with one click ---------------------------

    def save_batch(self, batch_id: str, event_ids: list[str], now: datetime) -> None:
        """The members of a group message, written before it is posted (its buttons name it)."""
        self._table.put_item(
            Item={
                "pk": f"batch#{batch_id}",
                "members": event_ids,
                "recorded_at": iso(now),
                TTL_ATTRIBUTE: int((now + self._retention).timestamp()),
            },
            ConditionExpression="attribute_not_exists(pk)",
        )

    def batch_members(self, batch_id: str) -> list[str]:
        """Event ids of a batch's changes; UnknownChange when there is no such batch."""
        item = self._table.get_item(Key={"pk": f"batch#{batch_id}"}, ConsistentRead=True).get(
            "Item"
        )
        if item is None:
            raise UnknownChange(f"{BATCH_PREFIX}{batch_id}")
        return [str(member) for member in item["members"]]  # type: ignore[union-attr]

    def batch_records(self, batch_id: str) -> list[ChangeRecord]:
        """A batch's changes in the order its message lists them (one batched read);
        UnknownChange when the batch or one of its changes is not on record."""
        members = self.batch_members(batch_id)
        found = self.get_many(members)
        missing = [m for m in members if m not in found]
        if missing:
            raise UnknownChange(missing[0])
        return [found[m] for m in members]

    def get_watermark(self, name: str) -> datetime | None:
        item = self._table.get_item(Key={"pk": f"watermark#{name}"}, ConsistentRead=True).get(
            "Item"
        )
        return parse_time(str(item["watermark"])) if item else None

    def set_watermark(self, name: str, moment: datetime) -> None:
        """Advance (never rewind) a watermark; a slower concurrent run cannot move it back."""
        try:
            self._table.put_item(
                Item={"pk": f"watermark#{name}", "watermark": iso(moment)},
                ConditionExpression="attribute_not_exists(pk) OR watermark < :new",
                ExpressionAttributeValues={":new": iso(moment)},
            )
        except ClientError as error:
            if not _is_conditional_failure(error):
                raise

    # -- review ----------------------------------------------------------------------------

    def get(self, event_id: str) -> ChangeRecord | None:
        item = self._table.get_item(Key=_change_key(event_id), ConsistentRead=True).get("Item")
        return record_from_item(item) if item else None

    def get_many(self, event_ids: Iterable[str]) -> dict[str, ChangeRecord]:
        """The recorded changes among `event_ids`, by event id (BatchGetItem, 100 a call)."""
        items = self._batch_get(event_ids, consistent=True)
        records = (record_from_item(item) for item in items)
        return {record.event_id: record for record in records}

    def recorded(self, event_ids: Iterable[str]) -> set[str]:
        """Which of `event_ids` are recorded already: lets a run skip the conditional write
        for the half of its window the previous run covered. Eventually consistent, so a
        change recorded a moment ago may be missed; the conditional write still catches it."""
        items = self._batch_get(event_ids, consistent=False, projection="pk")
        return {str(item["pk"]).removeprefix("change#") for item in items}

    def _batch_get(
        self, event_ids: Iterable[str], *, consistent: bool, projection: str | None = None
    ) -> list[dict[str, Any]]:
        # The resource's own client: it (de)serializes attribute values as the Table does.
        client, name = self._table.meta.client, self._table.name
        keys = [_change_key(e) for e in dict.fromkeys(event_ids)]
        found: list[dict[str, Any]] = []
        for start in range(0, len(keys), BATCH_GET_KEYS):
            request: Any = {"Keys": keys[start : start + BATCH_GET_KEYS]}
            request["ConsistentRead"] = consistent
            if projection:
                request["ProjectionExpression"] = projection
            for round_ in range(BATCH_GET_ROUNDS):
                answer = client.batch_get_item(RequestItems={name: request})
                found.extend(answer.get("Responses", {}).get(name, []))
                left = answer.get("UnprocessedKeys", {}).get(name)
                if not left:
                    break
                request = dict(left)
                time.sleep(min(0.05 * 2**round_, 2.0))  # DynamoDB's advice: back off, retry
            else:
                raise RuntimeError(f"DynamoDB left keys of {name} unprocessed after retries")
        return found

    def group_history(
        self,
        account: str,
        region: str,
        group_id: str,
        *,
        before: datetime | None = None,
        after: datetime | None = None,
        limit: int = 50,
        oldest_first: bool = False,
    ) -> list[ChangeRecord]:
        """The group's records with `after < event_time < before` (either bound optional,
        both to the second as event times are kept), newest first (or, with
        `oldest_first`, oldest first: the `limit` nearest `after`), at most `limit`.

        The index is eventually consistent: a record written a moment ago may be missing."""
        lower = iso(after) if after is not None else None
        upper = iso(before) if before is not None else None
        if limit <= 0 or (lower is not None and upper is not None and lower >= upper):
            return []  # nothing can match (and BETWEEN refuses bounds out of order)
        # A key condition takes one range test, and BETWEEN includes its ends: the ends
        # are dropped here (a filter expression cannot name a key attribute).
        key = "group_key = :g"
        values: dict[str, Any] = {":g": group_key(account, region, group_id)}
        if lower is not None and upper is not None:
            key += " AND event_time BETWEEN :after AND :before"
            values.update({":after": lower, ":before": upper})
        elif lower is not None:
            key += " AND event_time > :after"
            values[":after"] = lower
        elif upper is not None:
            key += " AND event_time < :before"
            values[":before"] = upper
        kwargs: dict[str, Any] = {
            "IndexName": GROUP_INDEX,
            "KeyConditionExpression": key,
            "ExpressionAttributeValues": values,
            "ScanIndexForward": oldest_first,
            "Limit": limit,
        }
        ids: list[str] = []
        while len(ids) < limit:
            page = self._table.query(**kwargs)
            ids.extend(
                str(item["pk"]).removeprefix("change#")
                for item in page["Items"]
                if item["event_time"] not in (lower, upper)
            )
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        found = self.get_many(ids[:limit])  # a record expired meanwhile is left out
        records = [found[event_id] for event_id in ids[:limit] if event_id in found]
        # Newest (or oldest) first, ties (same second) in a fixed order.
        return sorted(
            records, key=lambda r: (r.change.event_time, r.event_id), reverse=not oldest_first
        )

    def require(self, event_id: str) -> ChangeRecord:
        record = self.get(event_id)
        if record is None:
            raise UnknownChange(event_id)
        return record

    def decide(self, event_id: str, decision: State, user: str, now: datetime) -> ChangeRecord:
        """PENDING -> APPROVED/DENIED (and REVERT_FAILED -> DENIED, a retried Deny), for
        good: a deadline is dropped. Appends DECIDED ("approved"/"denied").

        Raises UnknownChange, NotDecidable (informational change) or AlreadyDecided.
        """
        if decision not in (State.APPROVED, State.DENIED):
            raise ValueError(f"not a decision: {decision}")
        allowed = [State.PENDING]
        if decision is State.DENIED:
            allowed.append(State.REVERT_FAILED)
        condition = "#state IN (" + ", ".join(f":from{i}" for i in range(len(allowed))) + ")"
        why = "approved" if decision is State.APPROVED else "denied"
        return self._step(
            event_id,
            Transition(Step.DECIDED, now, by=user, why=why),
            update="#state = :new, decided_by = :user, decided_at = :now",
            remove="outcome, approved_until, reminded_for",
            condition=condition,
            values={
                ":new": decision.value,
                ":user": user,
                **{f":from{i}": s.value for i, s in enumerate(allowed)},
            },
            lost=self._lost_decision,
        )

    # -- approvals for a while -------------------------------------------------------------

    def approve_for(self, event_id: str, user: str, until: datetime, now: datetime) -> ChangeRecord:
        """PENDING -> APPROVED until `until` (kept to the second). Appends ALLOWED_UNTIL.

        Raises UnknownChange, NotDecidable or AlreadyDecided, as `decide` does."""
        if until <= now:
            raise ValueError(f"an approval for a while must end after it starts ({iso(until)})")
        return self._step(
            event_id,
            Transition(
                Step.ALLOWED_UNTIL, now, by=user, why=f"for {_about(until - now)}", until=until
            ),
            update=(
                "#state = :new, decided_by = :user, decided_at = :now, approved_until = :until"
            ),
            remove="outcome, reminded_for",
            condition="#state = :pending",
            values={
                ":new": State.APPROVED.value,
                ":user": user,
                ":until": iso(until),
                ":pending": State.PENDING.value,
            },
            lost=self._lost_decision,
        )

    def extend(
        self, event_id: str, user: str, was: datetime, until: datetime, now: datetime
    ) -> ChangeRecord:
        """Move the deadline of a change APPROVED until `was` to `until`; `user` becomes the
        approver (their deadline is the one that expires). Appends EXTENDED.

        Raises UnknownChange, or NotTemporary when it is not APPROVED until `was`."""
        if until <= now:
            raise ValueError(f"an approval for a while must end after it starts ({iso(until)})")
        return self._step(
            event_id,
            Transition(Step.EXTENDED, now, by=user, why=f"was until {iso(was)}", until=until),
            update="decided_by = :user, decided_at = :now, approved_until = :until",
            remove="reminded_for",
            condition=_APPROVED_UNTIL,
            values=_until_values(was) | {":user": user, ":until": iso(until)},
            lost=self._lost_temporary,
        )

    def keep(self, event_id: str, user: str, was: datetime, now: datetime) -> ChangeRecord:
        """A change APPROVED until `was` stays APPROVED for good, by `user`. Appends
        MADE_PERMANENT. Raises UnknownChange, or NotTemporary (not APPROVED until `was`)."""
        return self._step(
            event_id,
            Transition(Step.MADE_PERMANENT, now, by=user, why=f"was until {iso(was)}"),
            update="decided_by = :user, decided_at = :now",
            remove="approved_until, reminded_for",
            condition=_APPROVED_UNTIL,
            values=_until_values(was) | {":user": user},
            lost=self._lost_temporary,
        )

    def revert_now(self, event_id: str, user: str, was: datetime, now: datetime) -> ChangeRecord:
        """A change APPROVED until `was` becomes DENIED by `user` (the revert follows, as
        after a Deny). Appends DECIDED ("denied"). Raises UnknownChange, or NotTemporary
        (not APPROVED until `was`: extended, kept, expired or reverted meanwhile)."""
        return self._step(
            event_id,
            Transition(Step.DECIDED, now, by=user, why="denied"),
            update="#state = :denied, decided_by = :user, decided_at = :now",
            remove="outcome, approved_until, reminded_for",
            condition=_APPROVED_UNTIL,
            values=_until_values(was) | {":user": user, ":denied": State.DENIED.value},
            lost=self._lost_temporary,
        )

    def expire(self, event_id: str, deadline: datetime, now: datetime) -> ChangeRecord:
        """A change APPROVED until `deadline` becomes DENIED by "expiry:<approver>": the
        approver decided this when they chose a while. Appends EXPIRED. Raises
        UnknownChange, or NotTemporary when it no longer has that deadline (extended,
        kept, reverted: a late or repeated firing does nothing)."""
        current = self.require(event_id)
        if current.approved_until is None or iso(current.approved_until) != iso(deadline):
            raise NotTemporary(current)
        approver = current.decided_by or "unknown"
        decider = f"{EXPIRY_PREFIX}{approver}"
        return self._step(
            event_id,
            Transition(Step.EXPIRED, now, by=decider, why=f"approval by {approver} expired"),
            update="#state = :denied, decided_by = :decider, decided_at = :now",
            remove="outcome, approved_until, reminded_for",
            # The approver read above is still the one: an extend by another moves the
            # deadline, so this holds whenever the deadline does.
            condition=f"{_APPROVED_UNTIL} AND decided_by = :approver",
            values=_until_values(deadline)
            | {":denied": State.DENIED.value, ":decider": decider, ":approver": approver},
            lost=self._lost_temporary,
        )

    def mark_reminded(self, event_id: str, deadline: datetime, now: datetime) -> ChangeRecord:
        """Note that the approver of a change APPROVED until `deadline` was reminded of it,
        once per deadline. Appends REMINDED. Raises UnknownChange, AlreadyReminded (a
        NotTemporary) when it was, NotTemporary when the deadline is no longer that."""

        def lost(event_id: str) -> NoReturn:
            current = self.require(event_id)
            if (
                current.temporary
                and current.reminded_for is not None
                and iso(current.reminded_for) == iso(deadline)
            ):
                raise AlreadyReminded(current) from None
            raise NotTemporary(current) from None

        return self._step(
            event_id,
            Transition(Step.REMINDED, now, until=deadline),
            update="reminded_for = :deadline",
            condition=(
                f"{_APPROVED_UNTIL} AND "
                "(attribute_not_exists(reminded_for) OR reminded_for <> :deadline)"
            ),
            values=_until_values(deadline),
            lost=lost,
        )

    def temporary_approvals(self) -> Iterator[ChangeRecord]:
        """Changes APPROVED for a while (with a deadline), oldest event first."""
        kwargs: dict[str, Any] = {
            "IndexName": STATE_INDEX,
            "KeyConditionExpression": "#state = :s",
            "FilterExpression": "attribute_exists(approved_until)",
            "ExpressionAttributeNames": {"#state": "state"},
            "ExpressionAttributeValues": {":s": State.APPROVED.value},
        }
        while True:
            page = self._table.query(**kwargs)
            yield from (record_from_item(item) for item in page["Items"])
            if "LastEvaluatedKey" not in page:
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    # -- several approvers, and undecided changes ------------------------------------------

    def add_approval(
        self,
        event_id: str,
        user: str,
        now: datetime,
        *,
        duration: timedelta | None,
        needed: int,
        was: tuple[Approval, ...],
    ) -> ChangeRecord:
        """Count `user`'s approval of a PENDING change that needs `needed` distinct approvers
        (Approve: `duration` None; Allow for…: the duration chosen), if `was` were the
        approvals counted when the caller read it. The one that makes `needed` makes it
        APPROVED: for good, or until now plus the shortest duration any approver chose.
        Appends APPROVAL ("1 of 2"), or the decision for the last one.

        Raises UnknownChange, NotDecidable, AlreadyDecided, AlreadyApproved (this user is
        counted already), or ApprovalRaced (another approval was counted meanwhile)."""
        if user in (a.user for a in was):
            current = self.require(event_id)
            if current.state is not State.PENDING:
                self._lost_decision(event_id)
            raise AlreadyApproved(current, user)
        approvals = (*was, Approval(user, now, duration))
        count = f"{len(approvals)} of {needed}"
        values: dict[str, Any] = {
            ":approvals": [a.to_dict() for a in approvals],
            ":needed": needed,
            ":pending": State.PENDING.value,
        }
        update = "approvals = :approvals, approvals_needed = :needed"
        condition = "#state = :pending AND "
        if was:
            condition += "size(approvals) = :was"
            values[":was"] = len(was)
        else:
            condition += "attribute_not_exists(approvals)"
        remove = ""
        if len(approvals) < needed:
            chose = f", for {_about(duration)}" if duration else ""
            step = Transition(Step.APPROVAL, now, by=user, why=f"{count}{chose}")
        else:
            chosen = [a.duration for a in approvals if a.duration is not None]
            update += ", #state = :approved, decided_by = :user, decided_at = :now"
            values |= {":approved": State.APPROVED.value, ":user": user}
            remove = "outcome, reminded_for"
            if chosen:
                until = now + min(chosen)
                update += ", approved_until = :until"
                values[":until"] = iso(until)
                why = f"for {_about(min(chosen))} ({count})"
                step = Transition(Step.ALLOWED_UNTIL, now, by=user, why=why, until=until)
            else:
                remove += ", approved_until"
                step = Transition(Step.DECIDED, now, by=user, why=f"approved ({count})")

        def lost(event_id: str) -> NoReturn:
            current = self.require(event_id)
            if current.state is not State.PENDING:
                self._lost_decision(event_id)
            if user in current.approvers:
                raise AlreadyApproved(current, user) from None
            raise ApprovalRaced(f"another approval of {event_id} was counted meanwhile")

        return self._step(
            event_id,
            step,
            update=update,
            condition=condition,
            values=values,
            lost=lost,
            remove=remove,
        )

    def mark_nudged(
        self, event_id: str, number: int, times: int, to: tuple[str, ...], now: datetime
    ) -> ChangeRecord:
        """Note undecided reminder `number` (of `times`) of a PENDING change, once: only
        when `number - 1` were sent. Appends NUDGED with who it mentions (`to`). Raises
        UnknownChange, or NotUndecided (decided meanwhile, or that reminder was sent)."""
        values: dict[str, Any] = {":pending": State.PENDING.value, ":number": number}
        sent = "nudges = :was"
        if number == 1:
            sent = "(attribute_not_exists(nudges) OR nudges = :was)"
        values[":was"] = number - 1

        def lost(event_id: str) -> NoReturn:
            current = self.require(event_id)
            why = (
                f"reminder {number} is not the next one ({current.nudges} sent)"
                if current.state is State.PENDING
                else "decided meanwhile"
            )
            raise NotUndecided(current, why) from None

        return self._step(
            event_id,
            Transition(Step.NUDGED, now, by=REMIND_BY, why=f"reminder {number} of {times}", to=to),
            update="nudges = :number",
            condition=f"#state = :pending AND {sent}",
            values=values,
            lost=lost,
        )

    def deny_undecided(
        self, event_id: str, deadline: datetime, after: timedelta, now: datetime
    ) -> ChangeRecord:
        """A change still PENDING at its fail-closed `deadline` becomes DENIED by
        `policy:deny_if_undecided_after` (`after`: the policy's time, in words in the
        history); the revert follows, as after a Deny. Raises UnknownChange, or
        NotUndecided (decided meanwhile, or its deadline is not `deadline`)."""

        def lost(event_id: str) -> NoReturn:
            current = self.require(event_id)
            why = (
                f"its deadline is not {iso(deadline)}"
                if current.state is State.PENDING
                else "decided before its deadline"
            )
            raise NotUndecided(current, why) from None

        return self._step(
            event_id,
            Transition(
                Step.DECIDED,
                now,
                by=DENY_UNDECIDED,
                why=f"denied: not approved within {_about(after)}",
            ),
            update="#state = :denied, decided_by = :decider, decided_at = :now",
            remove="outcome, approved_until, reminded_for",
            condition="#state = :pending AND deny_at = :deadline",
            values={
                ":pending": State.PENDING.value,
                ":denied": State.DENIED.value,
                ":decider": DENY_UNDECIDED,
                ":deadline": iso(deadline),
            },
            lost=lost,
        )

    # -- the revert's end, and the history in the thread -----------------------------------

    def finish_revert(
        self, event_id: str, succeeded: bool, outcome: str, now: datetime
    ) -> ChangeRecord:
        """DENIED -> REVERTED / REVERT_FAILED with what happened; appends REVERTED or
        FAILED with the outcome as why. AlreadyDecided if not DENIED."""
        new_state = State.REVERTED if succeeded else State.REVERT_FAILED
        step = Step.REVERTED if succeeded else Step.FAILED

        def lost(event_id: str) -> NoReturn:
            raise AlreadyDecided(self.require(event_id)) from None

        return self._step(
            event_id,
            Transition(step, now, why=outcome),
            update="#state = :new, outcome = :outcome",
            condition="#state = :denied",
            values={
                ":new": new_state.value,
                ":outcome": outcome,
                ":denied": State.DENIED.value,
            },
            lost=lost,
        )

    def add_copy(self, event_id: str, channel: str, ts: str) -> None:
        """Note a copy of the change's message posted for information, so the responder
        edits it with the outcome too."""
        self._table.update_item(
            Key=_change_key(event_id),
            UpdateExpression="SET copies = list_append(if_not_exists(copies, :none), :copy)",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeValues={
                ":none": [],
                ":copy": [PostedCopy(channel, ts).to_dict()],
            },
        )

    def mark_history_posted(self, event_id: str, was: int, count: int) -> bool:
        """Record that the first `count` steps of the history are in the message's thread,
        if `was` were when the poster looked (so two posters never both post a step).
        False when another poster moved it first (or the history has fewer steps)."""
        if count < was:
            raise ValueError(f"the posted history only grows (from {was} to {count})")
        matches = "history_posted = :was"
        if was == 0:
            matches = f"(attribute_not_exists(history_posted) OR {matches})"
        try:
            self._table.update_item(
                Key=_change_key(event_id),
                UpdateExpression="SET history_posted = :count",
                ConditionExpression=(
                    f"attribute_exists(pk) AND {matches} AND size(history) >= :count"
                ),
                ExpressionAttributeValues={":was": was, ":count": count},
            )
        except ClientError as error:
            if not _is_conditional_failure(error):
                raise
            self.require(event_id)  # UnknownChange rather than False for no record at all
            return False
        return True

    def _step(
        self,
        event_id: str,
        transition: Transition,
        *,
        update: str,
        condition: str,
        values: dict[str, Any],
        lost: Callable[[str], NoReturn],
        remove: str = "",
    ) -> ChangeRecord:
        """One conditional update that makes a transition and appends it to the history;
        the new record, or `lost`'s error when the condition fails."""
        expression = f"SET {update}, updated_at = :now, {_APPEND_STEP}"
        if remove:
            expression += f" REMOVE {remove}"
        request: dict[str, Any] = {
            "Key": _change_key(event_id),
            "UpdateExpression": expression,
            "ConditionExpression": f"attribute_exists(pk) AND {condition}",
            "ExpressionAttributeValues": {
                **values,
                ":now": iso(transition.at),
                **_step_values(transition),
            },
            "ReturnValues": "ALL_NEW",
        }
        if "#state" in expression + condition:  # DynamoDB refuses names left unused
            request["ExpressionAttributeNames"] = {"#state": "state"}
        try:
            result = self._table.update_item(**request)
        except ClientError as error:
            if not _is_conditional_failure(error):
                raise
            lost(event_id)
        return record_from_item(result["Attributes"])

    def _lost_decision(self, event_id: str) -> NoReturn:
        current = self.require(event_id)
        if current.state is State.INFO:
            raise NotDecidable(current) from None
        raise AlreadyDecided(current) from None

    def _lost_temporary(self, event_id: str) -> NoReturn:
        raise NotTemporary(self.require(event_id)) from None

    # -- listing (operators) ---------------------------------------------------------------

    def by_state(self, state: State, since: datetime | None = None) -> Iterator[ChangeRecord]:
        """Changes in one state, oldest first, optionally only events at or after `since`."""
        key = "#state = :s"
        values: dict[str, Any] = {":s": state.value}
        if since is not None:
            key += " AND event_time >= :since"
            values[":since"] = iso(since)
        kwargs: dict[str, Any] = {
            "IndexName": STATE_INDEX,
            "KeyConditionExpression": key,
            "ExpressionAttributeNames": {"#state": "state"},
            "ExpressionAttributeValues": values,
        }
        while True:
            page = self._table.query(**kwargs)
            yield from (record_from_item(item) for item in page["Items"])
            if "LastEvaluatedKey" not in page:
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
