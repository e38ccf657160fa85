"""An account's place in AWS Organizations (its OU, that OU's parents, up to the root),
from `ListParents`, cached for the process.

Each child (account or OU) has one parent, so the chain is read one `ListParents` a level,
and each answer is kept for an hour (OUs move rarely); accounts in one OU share the reads
above it. A failure is remembered for a minute, so a run with many changes in an account
asks once, not once per change. A failure is never an error for the caller: it gets no
chain and the reason.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

if TYPE_CHECKING:
    from mypy_boto3_organizations.client import OrganizationsClient

MAX_AGE_SECONDS = 3600.0
RETRY_AFTER_SECONDS = 60.0
# A client may hold assumed-role credentials, which last 15 minutes at the least: it is
# built again well before they can expire.
CLIENT_MAX_AGE_SECONDS = 600.0
ROOT = "ROOT"


class OrgUnits:
    def __init__(
        self,
        organizations: Callable[[], OrganizationsClient],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`organizations` builds the client on first use (a role may be assumed for it)."""
        self._organizations = organizations
        self._clock = clock
        self._lock = threading.Lock()
        self._client: tuple[float, OrganizationsClient] | None = None
        # child id -> (read at, parent id, parent type)
        self._parents: dict[str, tuple[float, str, str]] = {}
        # child id -> (failed at, why)
        self._failures: dict[str, tuple[float, str]] = {}

    def chain(self, account: str) -> tuple[tuple[str, ...] | None, str | None]:
        """(the account's parent ids from its OU up to the root `r-…`, None), or (None, why
        they cannot be read)."""
        with self._lock:
            now = self._clock()
            chain: list[str] = []
            child = account
            while True:
                parent, why = self._parent(child, now)
                if parent is None:
                    return None, why
                parent_id, parent_type = parent
                chain.append(parent_id)
                if parent_type == ROOT:
                    return tuple(chain), None
                child = parent_id

    def _parent(self, child: str, now: float) -> tuple[tuple[str, str] | None, str | None]:
        cached = self._parents.get(child)
        if cached is not None and now - cached[0] < MAX_AGE_SECONDS:
            return (cached[1], cached[2]), None
        failure = self._failures.get(child)
        if failure is not None and now - failure[0] < RETRY_AFTER_SECONDS:
            return None, failure[1]
        try:
            pages = self._client_at(now).get_paginator("list_parents").paginate(ChildId=child)
            parents = [parent for page in pages for parent in page.get("Parents", [])]
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "ClientError")
            return None, self._failed(child, now, f"ListParents {child}: {code}")
        except BotoCoreError as error:
            return None, self._failed(child, now, f"ListParents {child}: {type(error).__name__}")
        if not parents:
            return None, self._failed(child, now, f"ListParents {child}: no parent")
        parent_id, parent_type = parents[0]["Id"], parents[0]["Type"]
        self._parents[child] = (now, parent_id, parent_type)
        self._failures.pop(child, None)
        return (parent_id, parent_type), None

    def _client_at(self, now: float) -> OrganizationsClient:
        if self._client is None or now - self._client[0] >= CLIENT_MAX_AGE_SECONDS:
            self._client = (now, self._organizations())
        return self._client[1]

    def _failed(self, child: str, now: float, why: str) -> str:
        self._failures[child] = (now, why)
        return why
