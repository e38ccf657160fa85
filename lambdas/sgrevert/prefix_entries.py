"""Prefix-list adapter: removes the entries a ModifyManagedPrefixList change added (a
PrefixListPlan), and nothing else.

Each attempt reads the list (DescribeManagedPrefixLists: version, name, state) and its
current entries (GetManagedPrefixListEntries, paginated), then removes those of the
plan's CIDRs still there (compared as networks) with one ModifyManagedPrefixList naming
the version just read. Only CIDRs the change added are ever sent, spelled as the list
holds them. A list changed by someone else between the read and the write answers
PrefixListVersionMismatch, one still applying an earlier modification IncorrectState:
both are read again and retried, MAX_ATTEMPTS attempts in all. A list or entry already
gone counts as done. Throttling is retried by the client (`aws.RETRY_CONFIG`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from sgrevert.revert import (
    PrefixListPlan,
    RevokeTally,
    canonical_cidr,
    prefix_list_busy_failure,
    prefix_list_failure,
)

if TYPE_CHECKING:
    from mypy_boto3_ec2.client import EC2Client

MAX_ATTEMPTS = 4
LIST_GONE = frozenset({"InvalidPrefixListID.NotFound", "InvalidPrefixListId.NotFound"})
CONFLICTS = frozenset({"PrefixListVersionMismatch", "IncorrectState"})
_GONE_STATES = frozenset({"delete-in-progress", "delete-complete"})
# A list mid-modification refuses another until it settles (seconds): wait before retrying
# it, but not after a version conflict, whose re-read already has the new version.
_BUSY_WAIT_SECONDS = (1.0, 2.0, 4.0)


def remove_entries(
    plan: PrefixListPlan, ec2: EC2Client, *, sleep: Callable[[float], None] = time.sleep
) -> RevokeTally:
    """Remove the plan's CIDRs from its list. RevertFailed saying why when EC2 refuses, or
    when the list kept changing for MAX_ATTEMPTS attempts."""
    conflict = ""
    for attempt in range(MAX_ATTEMPTS):
        try:
            current = _read(ec2, plan.list_id)
            if current is None:
                return RevokeTally(already_gone=len(plan.cidrs))
            version, state, entries = current
            if state.endswith("-in-progress"):
                conflict = f"state {state}"
            else:
                remove = _still_there(plan.cidrs, entries)
                if not remove:
                    return RevokeTally(already_gone=len(plan.cidrs))
                _modify(ec2, plan.list_id, version, remove)
                return RevokeTally(revoked=len(remove), already_gone=len(plan.cidrs) - len(remove))
        except _Conflict as busy:
            conflict = busy.code
        except _Gone:
            return RevokeTally(already_gone=len(plan.cidrs))
        except _Refused as refused:
            raise prefix_list_failure(plan, refused.code, refused.message) from None
        if conflict != "PrefixListVersionMismatch" and attempt < MAX_ATTEMPTS - 1:
            sleep(_BUSY_WAIT_SECONDS[min(attempt, len(_BUSY_WAIT_SECONDS) - 1)])
    raise prefix_list_busy_failure(plan, MAX_ATTEMPTS, conflict)


class _Conflict(Exception):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


class _Gone(Exception):
    pass


class _Refused(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


def _read(ec2: EC2Client, list_id: str) -> tuple[int, str, dict[str, str]] | None:
    """The list's version, state and entries (canonical CIDR -> as the list spells it);
    None when the list is gone."""
    lists = _call(ec2.describe_managed_prefix_lists, PrefixListIds=[list_id])["PrefixLists"]
    found = next((item for item in lists if item.get("PrefixListId") == list_id), None)
    if found is None or str(found.get("State")) in _GONE_STATES:
        return None
    if found.get("Version") is None:  # AWS-managed lists have none, and cannot be edited
        raise _Refused("NoVersion", f"{list_id} has no version: it is not a list sgrevert edits")
    version = int(found["Version"])
    entries: dict[str, str] = {}
    token: str | None = None
    while True:
        # Pinned to the version read, so the entries and the version agree.
        page = _call(
            ec2.get_managed_prefix_list_entries,
            PrefixListId=list_id,
            TargetVersion=version,
            **({"NextToken": token} if token else {}),
        )
        for entry in page.get("Entries", []):
            cidr = str(entry.get("Cidr") or "")
            if cidr:
                entries[canonical_cidr(cidr)] = cidr
        token = page.get("NextToken")
        if not token:
            return version, str(found.get("State") or ""), entries


def _still_there(cidrs: tuple[str, ...], entries: Mapping[str, str]) -> list[str]:
    """The plan's CIDRs the list still holds, as the list spells them."""
    remove: list[str] = []
    for cidr in cidrs:
        held = entries.get(canonical_cidr(cidr))
        if held is not None and held not in remove:
            remove.append(held)
    return remove


def _modify(ec2: EC2Client, list_id: str, version: int, cidrs: list[str]) -> None:
    # At most 100 entries a call; a change adds at most 100, so one call removes them.
    _call(
        ec2.modify_managed_prefix_list,
        PrefixListId=list_id,
        CurrentVersion=version,
        RemoveEntries=[{"Cidr": cidr} for cidr in cidrs],
    )


def _call(method: Callable[..., Any], **kwargs: Any) -> Any:
    try:
        return method(**kwargs)
    except ClientError as error:
        details = error.response.get("Error", {})
        code = str(details.get("Code", "ClientError"))
        if code in LIST_GONE:
            raise _Gone() from error
        if code in CONFLICTS:
            raise _Conflict(code) from error
        raise _Refused(code, str(details.get("Message", error))) from error
    except BotoCoreError as error:
        raise _Refused(type(error).__name__, str(error)) from error
