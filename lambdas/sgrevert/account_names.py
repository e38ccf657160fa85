"""Account names from AWS Organizations `ListAccounts`, cached for the process.

One paginated call answers for the whole organization, so it is made at most once an
hour (accounts are renamed rarely), and a failure is remembered for a minute, so a
run with many changes asks once, not once per change. A failure is never an error for
the caller: it gets no name and the reason, shown as a gap in the message.
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


class AccountNames:
    def __init__(
        self,
        organizations: Callable[[], OrganizationsClient],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`organizations` builds the client on first use (a role may be assumed for it)."""
        self._organizations = organizations
        self._clock = clock
        self._lock = threading.Lock()
        self._names: dict[str, str] = {}
        self._read_at: float | None = None
        self._failure: tuple[float, str] | None = None

    def name(self, account: str) -> tuple[str | None, str | None]:
        """(the account's name, None), or (None, why it cannot be told)."""
        with self._lock:
            now = self._clock()
            fresh = self._read_at is not None and now - self._read_at < MAX_AGE_SECONDS
            failed_lately = (
                self._failure is not None and now - self._failure[0] < RETRY_AFTER_SECONDS
            )
            if not fresh and not failed_lately:
                self._refresh(now)
            if account in self._names:
                return self._names[account], None
            if self._failure is not None and not fresh:
                return None, self._failure[1]
            return None, f"{account} is not an account of this organization"

    def _refresh(self, now: float) -> None:
        try:
            names: dict[str, str] = {}
            pages = self._organizations().get_paginator("list_accounts").paginate()
            for page in pages:
                for account in page.get("Accounts", []):
                    names[account["Id"]] = account["Name"]
        except ClientError as error:
            details = error.response.get("Error", {})
            self._failure = (now, f"ListAccounts: {details.get('Code', 'ClientError')}")
            return
        except BotoCoreError as error:
            self._failure = (now, f"ListAccounts: {type(error).__name__}")
            return
        self._names, self._read_at, self._failure = names, now, None
