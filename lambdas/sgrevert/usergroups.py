"""Slack user groups as approvers: who is in a group `S…`, and whether a clicker may decide.

Approvers are Slack users (`U…`, `W…`) and user groups (`S…`). `may_decide(user,
approvers, groups)` allows a user listed directly without asking Slack; otherwise it
asks `usergroups.users.list` (bot scope `usergroups:read`, which slack-app-manifest.yml
asks for) for the listed groups, through `UserGroups`.

`UserGroups` keeps each group's members for `max_age` seconds (5 minutes: someone taken
out of a group can still decide for that long) and a failure for 30 seconds (or a 429's
`Retry-After`, if longer), so a burst of clicks asks Slack once. A group that cannot be
read is never taken as empty, nor as its members from before: the click is refused with
the reason (`UserGroupUnreadable`), unless the user is allowed by another entry.

Lookups run on a click's 3-second path: the client (from `client_factory`, called only
when Slack must be asked) should have short timeouts and no retries; nothing here
retries or sleeps.
"""

from __future__ import annotations

import http.client
import threading
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from sgrevert.errors import SgrevertError
from sgrevert.slack_ids import is_group

SCOPE = "usergroups:read"
MAX_AGE_SECONDS = 300.0
RETRY_AFTER_SECONDS = 30.0


class UserGroupUnreadable(SgrevertError):
    """Slack would not say who is in the user group `group_id`; `reason` says why, in words
    for the clicker, `code` is Slack's error (or "timeout", "no_answer", "malformed")."""

    def __init__(self, group_id: str, reason: str, code: str) -> None:
        super().__init__(f"the user group {group_id} cannot be read: {reason}")
        self.group_id = group_id
        self.reason = reason
        self.code = code


@dataclass(frozen=True)
class _Entry:
    """What one lookup learnt, until `until` (on the resolver's clock)."""

    until: float
    members: frozenset[str] | None = None
    failure: tuple[str, str] | None = None  # (reason, code): a new error raised each time


class UserGroups:
    """Members of Slack user groups through `usergroups.users.list`, cached per group."""

    def __init__(
        self,
        client_factory: Callable[[], WebClient],
        clock: Callable[[], float] = time.monotonic,
        max_age: float = MAX_AGE_SECONDS,
        retry_after: float = RETRY_AFTER_SECONDS,
    ) -> None:
        self._client_factory = client_factory
        self._clock = clock
        self._max_age = max_age
        self._retry_after = retry_after
        self._entries: dict[str, _Entry] = {}
        self._lock = threading.Lock()

    def cached(self, group_id: str) -> frozenset[str] | None:
        """The group's members if a lookup still fresh knows them; None otherwise (never
        asks Slack)."""
        entry = self._fresh(group_id)
        return entry.members if entry is not None else None

    def members(self, group_id: str) -> frozenset[str]:
        """The user ids in the group. Raises UserGroupUnreadable when Slack cannot say (or
        could not say in the last 30 seconds)."""
        entry = self._fresh(group_id)
        if entry is None:
            entry = self._lookup(group_id)
            with self._lock:
                self._entries[group_id] = entry
        if entry.failure is not None:
            raise UserGroupUnreadable(group_id, *entry.failure)
        assert entry.members is not None
        return entry.members

    def _fresh(self, group_id: str) -> _Entry | None:
        with self._lock:
            entry = self._entries.get(group_id)
            return entry if entry is not None and self._clock() < entry.until else None

    def _lookup(self, group_id: str) -> _Entry:
        """Ask Slack once (outside the lock: one slow group does not hold up the others)."""
        try:
            answer = self._client_factory().usergroups_users_list(usergroup=group_id)
        except SlackApiError as error:
            return self._failed(error)
        except (OSError, http.client.HTTPException, SlackClientError) as error:
            # timeouts, refused or dropped connections, slack_sdk's own request errors
            if isinstance(error, TimeoutError) or isinstance(
                getattr(error, "reason", None),
                TimeoutError,  # urllib's URLError wraps it
            ):
                return self._failure("Slack did not answer in time", "timeout")
            return self._failure(
                f"Slack could not be reached ({type(error).__name__})", "no_answer"
            )
        users = answer.get("users")
        if not isinstance(users, list) or not all(isinstance(u, str) for u in users):
            return self._failure("Slack's answer had no list of users", "malformed")
        return _Entry(until=self._clock() + self._max_age, members=frozenset(users))

    def _failed(self, error: SlackApiError) -> _Entry:
        response = error.response
        code = str(response.get("error") or f"HTTP {response.status_code}")
        wait = self._retry_after
        if code == "missing_scope":
            reason = (
                f"the Slack app lacks the scope {SCOPE}; add it to the app's bot scopes and "
                "reinstall the app"
            )
        elif code == "no_such_subteam":
            reason = "Slack has no user group with this id (deleted, or a mistyped id)"
        elif code in ("invalid_auth", "not_authed", "account_inactive", "token_revoked"):
            reason = f"Slack refused the app's token ({code})"
        elif code == "plan_upgrade_required":
            reason = "this Slack workspace's plan has no user groups"
        elif response.status_code == 429 or code == "ratelimited":
            code = "ratelimited"
            wait = max(wait, _retry_after_header(response.headers))
            reason = "Slack is limiting how often the app may ask (ratelimited); try again shortly"
        else:
            reason = f"Slack answered {code}"
        return self._failure(reason, code, wait)

    def _failure(self, reason: str, code: str, wait: float | None = None) -> _Entry:
        until = self._clock() + (self._retry_after if wait is None else wait)
        return _Entry(until=until, failure=(reason, code))


def _retry_after_header(headers: Mapping[str, Any]) -> float:
    """Seconds from a 429's Retry-After (a string, or a list of one); 0 if none or garbled."""
    value = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
    if isinstance(value, list):
        value = value[0] if value else None
    try:
        return max(0.0, float(value)) if value is not None else 0.0
    except ValueError:
        return 0.0


def may_decide(user: str, approvers: Collection[str], groups: UserGroups) -> bool:
    """Whether `user` may approve or deny: anyone when no approvers are configured; else a
    user listed directly (no lookup), or a member of a listed group. Groups already known
    are tried before any is looked up. Raises UserGroupUnreadable, for the first group that
    could not be read, when no other entry allows the user: an unreadable group refuses, it
    never lets anyone through."""
    if not approvers or user in approvers:
        return True
    listed = list(dict.fromkeys(a for a in approvers if is_group(a)))  # in order, once each
    if any(user in (groups.cached(group) or ()) for group in listed):
        return True
    unreadable: UserGroupUnreadable | None = None
    for group in listed:
        try:
            if user in groups.members(group):
                return True
        except UserGroupUnreadable as failure:
            unreadable = unreadable or failure
    if unreadable is not None:
        raise unreadable
    return False
