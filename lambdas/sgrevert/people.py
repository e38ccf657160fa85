"""Slack people adapter: who in the workspace a change's actor is, by their email.

`SlackPeople(client).user_for("alice@example.com")` is Alice's Slack user id (for a
`<@U…>` mention) or None, and never raises: the message is posted with the email alone.
It asks `users.lookupByEmail`, which needs the bot scope `users:read.email`
(slack-app-manifest.yml asks for it).

Answers are kept for the life of the process (a warm Lambda's many runs), found and not
found alike, in a memo shared by every SlackPeople on the same workspace URL and token;
pass `memo=PeopleMemo()` for one of its own. A failure is logged once a process:
`missing_scope` (the app was installed without `users:read.email`) once, and once any
other (a Slack error, a timeout, a refused connection). After `missing_scope` no more
lookups are made: every one would be refused the same way. Other failures are not kept,
so the next change asks again.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass, field
from urllib.error import URLError

from aws_lambda_powertools import Logger
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

logger = Logger(service="sgrevert-detect", child=True)

SCOPE = "users:read.email"
NOT_FOUND = "users_not_found"
MISSING_SCOPE = "missing_scope"
FAILURE = "failure"  # any other: a Slack error, a timeout, a refused connection
MAX_REMEMBERED = 10_000  # emails per workspace; far more actors than an organization has


@dataclass
class PeopleMemo:
    """What one workspace's lookups learnt: answers by email, and what was logged."""

    users: dict[str, str | None] = field(default_factory=dict)  # email -> user id or None
    stopped: bool = False  # missing_scope: no further lookup can succeed
    logged: set[str] = field(default_factory=set)  # MISSING_SCOPE, FAILURE once logged
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def remember(self, email: str, user_id: str | None) -> None:
        with self.lock:
            if len(self.users) >= MAX_REMEMBERED:
                self.users.clear()
            self.users[email] = user_id

    def first(self, kind: str) -> bool:
        """True the first time a failure of `kind` is seen: it is logged then, only then."""
        with self.lock:
            if kind in self.logged:
                return False
            self.logged.add(kind)
            return True


_MEMOS: dict[tuple[str, str], PeopleMemo] = {}
_MEMOS_LOCK = threading.Lock()


def process_memo(client: WebClient) -> PeopleMemo:
    """The process's memo for `client`'s workspace: by API URL and (a digest of) the token,
    so a new token (the app reinstalled with the scope) starts afresh."""
    token = hashlib.sha256((client.token or "").encode()).hexdigest()[:16]
    key = (client.base_url, token)
    with _MEMOS_LOCK:
        return _MEMOS.setdefault(key, PeopleMemo())


def reset() -> None:
    """Forget every process memo (for processes that switch workspaces between runs)."""
    with _MEMOS_LOCK:
        _MEMOS.clear()


class SlackPeople:
    """Slack user ids by email, through `users.lookupByEmail`; None when unknown or unknowable."""

    def __init__(self, client: WebClient, memo: PeopleMemo | None = None) -> None:
        self._client = client
        self._memo = memo if memo is not None else process_memo(client)

    @property
    def stopped(self) -> bool:
        """True once Slack said the token lacks `users:read.email`: lookups are skipped."""
        return self._memo.stopped

    def user_for(self, email: str) -> str | None:
        """The Slack user id of the member with this email, or None: not in the workspace,
        deactivated, not an email, or Slack could not be asked. Never raises."""
        email = (email or "").strip()
        if "@" not in email:
            return None  # not an email (an IAM user name, a role session): nothing to ask
        memo = self._memo
        with memo.lock:
            if email in memo.users:
                return memo.users[email]
            if memo.stopped:
                return None
        try:
            answer = self._client.users_lookupByEmail(email=email)
        except SlackApiError as error:
            self._refused(email, error)
            return None
        except (OSError, URLError) as error:  # timeouts, dropped and refused connections
            self._log_once(FAILURE, f"Slack did not answer: {error}")
            return None
        except Exception as error:  # a context lookup must never cost the change its post
            self._log_once(FAILURE, f"{type(error).__name__}: {error}")
            return None
        user = answer.get("user") or {}
        user_id = str(user.get("id") or "") or None
        if user.get("deleted"):
            user_id = None  # a deactivated account: a mention would reach nobody
        memo.remember(email, user_id)
        return user_id

    def _refused(self, email: str, error: SlackApiError) -> None:
        response = error.response
        code = str(response.get("error") or f"HTTP {response.status_code}")
        if code == NOT_FOUND:
            self._memo.remember(email, None)
            return
        if code == MISSING_SCOPE:
            with self._memo.lock:
                self._memo.stopped = True
            needed = response.get("needed") or SCOPE
            provided = response.get("provided") or "none"
            self._log_once(
                MISSING_SCOPE,
                f"the Slack app lacks the scope {needed} (it has: {provided}); add "
                f"{SCOPE} and users:read to its bot scopes and reinstall it",
            )
            return
        self._log_once(FAILURE, f"Slack answered {code} (HTTP {response.status_code})")

    def _log_once(self, kind: str, problem: str) -> None:
        if self._memo.first(kind):
            logger.warning(
                f"Slack users.lookupByEmail (scope {SCOPE}) failed: {problem}. Changes show "
                "the actor's email without a Slack mention; this is logged once a process",
                extra={"slack_lookup_failure": kind},
            )
