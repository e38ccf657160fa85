"""What finding a modified rule's earlier value costs when the detector records it.

Run: .venv/bin/python -m bench.edits

An Authorize is recorded with one conditional write. A ModifySecurityGroupRules change
first reads its group's history (a query of the `by_group` index and one BatchGetItem)
to find each rule's earlier value, then is recorded. Side by side in one run, on moto
server (DynamoDB over HTTP on 127.0.0.1), each in a table of its own:

1. `authorize`: 300 Authorize changes over 30 groups, recorded by `Detector.record`.
2. `modify, short history`: the same 300 Authorizes recorded first; then 300 Modify
   changes, one per rule, recorded by a later `record` call (timed alone): each finds its
   rule's Authorize in a history of 10 records.
3. `modify, long history`: as 2 with 50 earlier changes per group (the read's limit), so
   each history read fills its page and its BatchGetItem.

It prints ms per change for each and the ratio to the Authorize, and checks every Modify
found its earlier value.
"""

from __future__ import annotations

import copy
import logging
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "lambdas"), str(ROOT)]

import boto3  # noqa: E402

from bench.detect import moto_server  # noqa: E402
from sgrevert import store  # noqa: E402
from sgrevert.detector import Detector, RunReport  # noqa: E402
from sgrevert.model import State  # noqa: E402
from tests.support import load_event  # noqa: E402

GROUPS = 30
CHANGES = 300
START = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Result:
    label: str
    seconds: float
    changes: int
    with_prior: int

    @property
    def ms_per_change(self) -> float:
        return 1000 * self.seconds / self.changes


class _NoPosts:
    """The detector's poster; `record` never posts."""

    def post(self, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError("record does not post")

    def update(self, *args: Any, **kwargs: Any) -> None:
        raise AssertionError("record does not post")

    def find_posted(self, *args: Any, **kwargs: Any) -> list[Any]:
        return []


def _group(n: int) -> str:
    return f"sg-{n:017x}"


def _authorize(group: str, rule_id: str, cidr: str, at: datetime) -> dict[str, Any]:
    record: dict[str, Any] = copy.deepcopy(load_event("authorize_ingress_ipv4"))
    record["eventID"] = str(uuid.uuid4())
    record["eventTime"] = at.strftime("%Y-%m-%dT%H:%M:%SZ")
    record["requestParameters"]["groupId"] = group
    record["requestParameters"]["ipPermissions"]["items"][0]["ipRanges"] = {
        "items": [{"cidrIp": cidr}]
    }
    item = record["responseElements"]["securityGroupRuleSet"]["items"][0]
    item.update(groupId=group, securityGroupRuleId=rule_id, cidrIpv4=cidr)
    return record


def _modify(group: str, rule_id: str, at: datetime) -> dict[str, Any]:
    record: dict[str, Any] = copy.deepcopy(load_event("modify_rule_ssh_from_anywhere"))
    record["eventID"] = str(uuid.uuid4())
    record["eventTime"] = at.strftime("%Y-%m-%dT%H:%M:%SZ")
    request = record["requestParameters"]["ModifySecurityGroupRulesRequest"]
    request["GroupId"] = group
    request["SecurityGroupRule"]["SecurityGroupRuleId"] = rule_id
    # The Authorize fixture's account: the modification is of the same groups.
    record["recipientAccountId"] = load_event("authorize_ingress_ipv4")["recipientAccountId"]
    record["awsRegion"] = load_event("authorize_ingress_ipv4")["awsRegion"]
    return record


def _detector(table: str) -> tuple[Detector, store.ChangeStore]:
    client = boto3.client("dynamodb")
    store.create_table(client, table)
    changes = store.ChangeStore(boto3.resource("dynamodb").Table(table))
    clock: Callable[[], datetime] = lambda: START + timedelta(hours=2)  # noqa: E731
    return Detector(changes, _NoPosts(), clock, lambda: 900.0), changes


def _timed(detector: Detector, records: list[dict[str, Any]]) -> float:
    report = RunReport()
    began = time.perf_counter()
    detector.record(records, report)
    seconds = time.perf_counter() - began
    assert report.recorded == len(records), report.as_dict()
    return seconds


def authorize_only() -> Result:
    detector, _ = _detector("bench-authorize")
    records = [
        _authorize(_group(n % GROUPS), f"sgr-a{n:016x}", f"10.{n % 250}.0.0/16", START)
        for n in range(CHANGES)
    ]
    return Result("authorize", _timed(detector, records), CHANGES, 0)


def modify_after(history: int, label: str) -> Result:
    """300 Modify changes of 300 recorded rules, each group holding `history` records."""
    detector, changes = _detector(f"bench-modify-{history}")
    per_group = CHANGES // GROUPS
    earlier = [
        _authorize(_group(n % GROUPS), f"sgr-a{n:016x}", f"10.{n % 250}.0.0/16", START)
        for n in range(CHANGES)
    ]
    # Other changes of each group, before the Authorizes, up to `history` records a group.
    filler = [
        _authorize(
            _group(g),
            f"sgr-f{g:04x}{k:012x}",
            f"172.16.{k}.0/24",
            START - timedelta(minutes=k + 1),
        )
        for g in range(GROUPS)
        for k in range(max(0, history - per_group))
    ]
    _timed(detector, filler + earlier)
    later = [
        _modify(_group(n % GROUPS), f"sgr-a{n:016x}", START + timedelta(minutes=30))
        for n in range(CHANGES)
    ]
    seconds = _timed(detector, later)
    found = sum(
        1
        for record in later
        if (stored := changes.require(record["eventID"])).change.prior
        and stored.state is State.PENDING
    )
    return Result(label, seconds, CHANGES, found)


def main() -> None:
    logging.disable(logging.WARNING)
    with moto_server():
        results = [
            authorize_only(),
            modify_after(CHANGES // GROUPS, "modify, short history (10 a group)"),
            modify_after(50, "modify, long history (50 a group)"),
        ]
    base = results[0].ms_per_change
    print(f"Detector.record over {CHANGES} changes in {GROUPS} groups (moto server, DynamoDB)")
    print(f"{'variant':40} {'ms/change':>10} {'x authorize':>12} {'prior found':>12}")
    for result in results:
        print(
            f"{result.label:40} {result.ms_per_change:10.1f} "
            f"{result.ms_per_change / base:12.2f} {result.with_prior:>7}/{result.changes}"
        )


if __name__ == "__main__":
    main()
