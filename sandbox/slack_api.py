"""A local Slack Web API: what slack_sdk's `WebClient(base_url=...)` talks to, recorded for tests.

Speaks `chat.postMessage` (with message metadata), `chat.update`, `chat.postEphemeral`,
`conversations.history`, `users.lookupByEmail` (members registered with `add_user`),
`usergroups.users.list` (groups set in `usergroups`) and `auth.test` (form-encoded or JSON
bodies, bearer token checked) and serves response URLs.
Answers as Slack does (`ok`, `error`, `ts`, `message`), stamps messages with the real time
(as Slack's `ts` is), checks Block Kit limits loosely (`invalid_blocks`), and can be told to
fail before or after carrying a call out, to answer late, to go down (`outage()`), to lack a
scope (`history_scope`, `users_email_scope`, `usergroups_scope`) or to rate-limit
`chat.postMessage` per channel with an honest `Retry-After`.
"""

from __future__ import annotations

import contextlib
import json
import math
import re
import secrets
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qsl

from sandbox.service import LOOPBACK, Service, ServingThread

API_PATH = "/api/"
RESPONSE_PATH = "/actions/"
RESPONSE_URL_USES = 5
RESPONSE_URL_TTL_SECONDS = 30 * 60
TEAM_ID, BOT_USER_ID, BOT_ID = "T0SANDBOX", "U0SGREVERT", "B0SGREVERT"

# Block Kit limits (https://api.slack.com/reference/block-kit): enough to catch oversize messages.
MAX_BLOCKS = 50
MAX_SECTION_TEXT = 3000
MAX_FIELDS = 10
MAX_FIELD_TEXT = 2000
MAX_HEADER_TEXT = 150
MAX_ACTION_ELEMENTS = 25
MAX_CONTEXT_ELEMENTS = 10
MAX_BUTTON_TEXT = 75
MAX_BUTTON_VALUE = 2000
MAX_ID = 255
MAX_MESSAGE_TEXT = 40000
# The bot scopes slack-app-manifest.yml asks for: what a missing_scope answer lists as
# `provided` (less any the test switched off).
MANIFEST_SCOPES = (
    "chat:write",
    "channels:history",
    "groups:history",
    "users:read",
    "users:read.email",
    "usergroups:read",
)
_CHANNEL_ID = re.compile(r"^(?:[CGD][A-Z0-9]+|#[\w.-]+)$")


@dataclass(frozen=True)
class PostedMessage:
    """A message in a channel; `message(channel, ts)` gives its current version."""

    channel: str
    ts: str
    text: str | None
    blocks: list[dict[str, Any]] | None
    thread_ts: str | None = None
    deleted: bool = False
    metadata: dict[str, Any] | None = None


@dataclass(frozen=True)
class Update:
    """One edit of a message: by `chat.update` or by a response URL with `replace_original`."""

    channel: str
    ts: str
    text: str | None
    blocks: list[dict[str, Any]] | None
    via: str  # "chat.update" or "response_url"


@dataclass(frozen=True)
class Ephemeral:
    channel: str
    user: str | None
    text: str | None
    blocks: list[dict[str, Any]] | None
    thread_ts: str | None = None
    via: str = "chat.postEphemeral"


@dataclass(frozen=True)
class ResponseUrlPost:
    """A POST to a response URL, accepted or not (`error` says why not)."""

    url: str
    channel: str
    ts: str
    payload: dict[str, Any]
    error: str | None = None


@dataclass(frozen=True)
class User:
    """A member of the workspace, as `add_user` registered them."""

    id: str
    email: str
    name: str
    real_name: str
    display_name: str
    deleted: bool = False


@dataclass
class _Fault:
    method: str | None
    times: int
    status: int
    error: str | None
    after: bool = False  # the call is carried out, then its answer is replaced
    retry_after: int | None = None
    hang: float = 0.0


@dataclass
class _ResponseUrl:
    channel: str
    ts: str
    created: float
    uses: int = 0


@dataclass
class _Reply:
    status: int
    payload: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)
    hang: float = 0.0  # seconds the handler waits before answering (outside the lock)


class SlackError(Exception):
    """An error answer: `{"ok": false, "error": error, **extra}` with HTTP `status`."""

    def __init__(
        self, error: str, status: int = 200, headers: dict[str, str] | None = None, **extra: Any
    ) -> None:
        super().__init__(error)
        self.error = error
        self.status = status
        self.headers = headers or {}
        self.extra = extra

    def reply(self) -> _Reply:
        return _Reply(self.status, {"ok": False, "error": self.error, **self.extra}, self.headers)


class SlackStandIn(Service):
    """The Slack Web API on 127.0.0.1, at `api_url` (ends with "/").

    `channels`: when given, only these channel ids exist (others answer `channel_not_found`);
    by default any id shaped like a channel (`C…`, `G…`, `D…`, `#name`) exists.
    """

    def __init__(
        self, bot_token: str = "xoxb-test-token", channels: Iterable[str] | None = None
    ) -> None:
        self.bot_token = bot_token
        self.channels: set[str] | None = set(channels) if channels is not None else None
        self.rate_limit_per_second: float | None = None
        self.response_url_ttl_seconds: float = RESPONSE_URL_TTL_SECONDS
        self.history_scope = True  # False: conversations.history answers missing_scope
        self.users_email_scope = True  # False: users.lookupByEmail answers missing_scope
        self.usergroups_scope = True  # False: usergroups.users.list answers missing_scope
        # user groups by id (`S…`) and their members' user ids, as usergroups.users.list
        # answers them; a test sets them directly: `slack.usergroups["S0ADMINS"] = ["U0ALICE"]`
        self.usergroups: dict[str, list[str]] = {}
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.rate_limited = 0
        self.posted: list[PostedMessage] = []
        self.updates: list[Update] = []
        self.ephemerals: list[Ephemeral] = []
        self.response_url_posts: list[ResponseUrlPost] = []
        self._lock = threading.RLock()
        self._messages: dict[tuple[str, str], PostedMessage] = {}
        self._users: dict[str, User] = {}  # by email
        self._faults: list[_Fault] = []
        self._outages = 0
        self._last_post: dict[str, float] = {}
        self._response_urls: dict[str, _ResponseUrl] = {}
        self._last_ts = 0.0
        self._http: ServingThread | None = None
        self._released = threading.Event()  # set by stop(): every injected hang ends then
        self.base_url = ""
        self.api_url = ""

    # lifecycle

    def start(self) -> Self:
        if self._http is None:
            self._released = threading.Event()
            server = _Server(LOOPBACK, _Handler)
            server.slack = self
            self._http = ServingThread(server, "slack")
            self.base_url = self._http.url
            self.api_url = self.base_url + API_PATH
        return self

    def stop(self) -> None:
        self._released.set()  # hung answers end now, so a long hang never outlives a test
        if self._http is not None:
            self._http.close()
            self._http = None

    # test controls

    def fail(
        self,
        method: str | None = None,
        times: int = 1,
        status: int = 500,
        error: str | None = None,
        *,
        after: bool = False,
        retry_after: int | None = None,
        hang: float = 0.0,
    ) -> None:
        """Fail the next `times` calls of `method` (None: any call, response URLs included).

        With `error`, Slack's application error: HTTP 200 `{"ok": false, "error": error}`.
        Without, an HTTP `status` error (500, 503, 429 with `retry_after`, ...); status 0 drops
        the connection unanswered. `after`: the call is carried out first (the message is
        posted) and only its answer fails, as when Slack's answer is lost on the way back.
        `hang`: wait that many seconds before answering, to outlast a client's timeout; the
        wait ends early when the stand-in stops, so a hang far longer than any timeout
        (no race with the client, however loaded the machine) costs nothing at teardown.
        Response-URL posts are the method "response_url".
        """
        with self._lock:
            self._faults.append(_Fault(method, times, status, error, after, retry_after, hang))

    def heal(self) -> None:
        """Forget every fault still waiting for a call."""
        with self._lock:
            self._faults.clear()

    @contextlib.contextmanager
    def outage(self) -> Iterator[None]:
        """Every call answers HTTP 503 while inside."""
        with self._lock:
            self._outages += 1
        try:
            yield
        finally:
            with self._lock:
                self._outages -= 1

    def add_user(
        self,
        user_id: str,
        email: str,
        name: str | None = None,
        *,
        real_name: str | None = None,
        display_name: str | None = None,
        deleted: bool = False,
    ) -> User:
        """A member `users.lookupByEmail` finds by `email`; `name` is the handle (default:
        the email's local part), `deleted` a deactivated account."""
        handle = name or email.split("@", 1)[0]
        user = User(
            id=user_id,
            email=email,
            name=handle,
            real_name=real_name if real_name is not None else handle,
            display_name=display_name if display_name is not None else handle,
            deleted=deleted,
        )
        with self._lock:
            self._users[email] = user
        return user

    def new_response_url(self, channel: str, ts: str) -> str:
        """A response URL for the message `ts` in `channel`, as an interaction payload carries."""
        token = secrets.token_urlsafe(12)
        with self._lock:
            self._response_urls[token] = _ResponseUrl(channel, ts, time.monotonic())
        return f"{self.base_url}{RESPONSE_PATH}{TEAM_ID}/{token}"

    def message(self, channel: str, ts: str) -> PostedMessage:
        """The message's current version (after any chat.update or replace_original)."""
        with self._lock:
            return self._messages[(channel, ts)]

    def messages(self, channel: str | None = None) -> list[PostedMessage]:
        """Current versions of the posted messages, in post order."""
        with self._lock:
            return [
                self._messages[(m.channel, m.ts)]
                for m in self.posted
                if channel is None or m.channel == channel
            ]

    # requests (called by the HTTP handler)

    def hang(self, seconds: float) -> None:
        """An injected slow answer: wait `seconds`, or less if the stand-in stops meanwhile."""
        self._released.wait(seconds)

    def handle_api(self, method: str, params: dict[str, Any], auth: str | None) -> _Reply:
        with self._lock:
            self.calls.append((method, params))
            fault = self._fault(method)
            if fault is not None and not fault.after:
                return _fault_reply(fault)
            try:
                self._authenticate(params, auth)
                handler = {
                    "chat.postMessage": self._post_message,
                    "chat.update": self._update,
                    "chat.postEphemeral": self._post_ephemeral,
                    "conversations.history": self._history,
                    "users.lookupByEmail": self._lookup_by_email,
                    "usergroups.users.list": self._usergroup_users,
                    "auth.test": self._auth_test,
                }.get(method)
                if handler is None:
                    raise SlackError("unknown_method", 404)
                reply = handler(params)
            except SlackError as error:
                reply = error.reply()
            return _fault_reply(fault) if fault is not None else reply

    def handle_response_url(self, token: str, url: str, payload: dict[str, Any]) -> _Reply:
        with self._lock:
            self.calls.append(("response_url", payload))
            fault = self._fault("response_url")
            if fault is not None:
                return _fault_reply(fault)
            target = self._response_urls.get(token)
            if target is None:
                return _Reply(404, {"ok": False, "error": "invalid_url"})
            try:
                self._use_response_url(target, payload)
            except SlackError as error:
                self.response_url_posts.append(
                    ResponseUrlPost(url, target.channel, target.ts, payload, error.error)
                )
                return error.reply()
            self.response_url_posts.append(ResponseUrlPost(url, target.channel, target.ts, payload))
            return _Reply(200, {"ok": True})

    def _fault(self, method: str) -> _Fault | None:
        """The fault this call meets, if any (an outage is a fault on every call)."""
        if self._outages:
            return _Fault(None, 1, 503, None)
        for fault in self._faults:
            if fault.method is None or fault.method == method:
                fault.times -= 1
                if fault.times <= 0:
                    self._faults.remove(fault)
                return fault
        return None

    def _authenticate(self, params: Mapping[str, Any], auth: str | None) -> None:
        token = None
        if auth and auth.startswith("Bearer "):
            token = auth.removeprefix("Bearer ").strip()
        token = token or params.get("token")
        if not token:
            raise SlackError("not_authed")
        if token != self.bot_token:
            raise SlackError("invalid_auth")

    def _channel(self, params: Mapping[str, Any]) -> str:
        channel = str(params.get("channel") or "")
        known = self.channels is not None and channel in self.channels
        if not known and (self.channels is not None or not _CHANNEL_ID.match(channel)):
            raise SlackError("channel_not_found")
        return channel

    def _next_ts(self) -> str:
        """Slack's ts: the post's Unix time to the microsecond, unique in the workspace."""
        self._last_ts = max(time.time(), self._last_ts + 1e-6)
        return f"{self._last_ts:.6f}"

    def _throttle(self, channel: str) -> None:
        """About `rate_limit_per_second` posts a second per channel; 429 with Retry-After beyond."""
        if not self.rate_limit_per_second:
            return
        now = time.monotonic()
        interval = 1.0 / self.rate_limit_per_second
        last = self._last_post.get(channel)
        if last is not None and now - last < interval:
            self.rate_limited += 1
            wait = max(1, math.ceil(interval - (now - last)))
            raise SlackError("ratelimited", 429, {"Retry-After": str(wait)})
        self._last_post[channel] = now

    def _post_message(self, params: dict[str, Any]) -> _Reply:
        channel = self._channel(params)
        text, blocks = _content(params)
        thread_ts = _opt_str(params.get("thread_ts"))
        metadata = _metadata(params.get("metadata"))
        self._throttle(channel)
        message = PostedMessage(channel, self._next_ts(), text, blocks, thread_ts, False, metadata)
        self.posted.append(message)
        self._messages[(channel, message.ts)] = message
        return _ok(channel=channel, ts=message.ts, message=_wire(message))

    def _update(self, params: dict[str, Any]) -> _Reply:
        channel = self._channel(params)
        ts = str(params.get("ts") or "")
        current = self._messages.get((channel, ts))
        if current is None or current.deleted:
            raise SlackError("message_not_found")
        text, blocks = _content(params)
        updated = replace(current, text=text, blocks=blocks)
        self._messages[(channel, ts)] = updated
        self.updates.append(Update(channel, ts, text, blocks, "chat.update"))
        return _ok(channel=channel, ts=ts, text=text or "", message=_wire(updated))

    def _post_ephemeral(self, params: dict[str, Any]) -> _Reply:
        channel = self._channel(params)
        user = _opt_str(params.get("user"))
        if not user:
            raise SlackError("user_not_in_channel")
        text, blocks = _content(params)
        self.ephemerals.append(
            Ephemeral(channel, user, text, blocks, _opt_str(params.get("thread_ts")))
        )
        return _ok(message_ts=self._next_ts())

    def _history(self, params: dict[str, Any]) -> _Reply:
        """A channel's top-level messages, newest first, between `oldest` and `latest`, in
        pages of `limit` with a cursor; metadata only with `include_all_metadata`."""
        if not self.history_scope:
            raise SlackError("missing_scope", needed="channels:history", provided=self._provided())
        channel = self._channel(params)
        try:
            oldest = float(params.get("oldest") or 0)
            latest = float(params.get("latest") or "inf")  # Slack: now; no message is later
            limit = min(max(int(params.get("limit") or 100), 1), 999)
            offset = int(params.get("cursor") or 0)
        except ValueError:
            raise SlackError("invalid_arguments") from None
        inclusive = _truthy(params.get("inclusive"))
        found = [
            m
            for m in reversed(self.messages(channel))
            if not m.deleted
            and m.thread_ts in (None, m.ts)
            and (oldest <= float(m.ts) <= latest if inclusive else oldest < float(m.ts) < latest)
        ]
        page = found[offset : offset + limit]
        with_metadata = _truthy(params.get("include_all_metadata"))
        more = offset + limit < len(found)
        return _ok(
            messages=[_wire(m, with_metadata) for m in page],
            has_more=more,
            response_metadata={"next_cursor": str(offset + limit) if more else ""},
        )

    def _lookup_by_email(self, params: dict[str, Any]) -> _Reply:
        """The member with this email (Slack's user object), `users_not_found` for none.
        Needs `users:read.email`; the scope is checked before the arguments, as Slack does."""
        if not self.users_email_scope:
            raise SlackError("missing_scope", needed="users:read.email", provided=self._provided())
        email = str(params.get("email") or "").strip()
        if not email:
            raise SlackError(
                "invalid_arguments",
                response_metadata={"messages": ["[ERROR] missing required field: email"]},
            )
        user = self._users.get(email)
        if user is None:
            raise SlackError("users_not_found")
        return _ok(user=_wire_user(user))

    def _usergroup_users(self, params: dict[str, Any]) -> _Reply:
        """The user ids of a user group's members, `no_such_subteam` for an unknown id.
        Needs `usergroups:read`, checked before the arguments. `include_disabled` and
        `team_id` (read only with an org-level token) are taken and change nothing here:
        the stand-in's groups are all enabled and its token is a workspace token."""
        if not self.usergroups_scope:
            raise SlackError("missing_scope", needed="usergroups:read", provided=self._provided())
        group = str(params.get("usergroup") or "").strip()
        if not group:
            raise SlackError(
                "invalid_arguments",
                response_metadata={"messages": ["[ERROR] missing required field: usergroup"]},
            )
        members = self.usergroups.get(group)
        if members is None:
            raise SlackError("no_such_subteam")
        return _ok(users=list(members))

    def _provided(self) -> str:
        """The token's scopes, as a missing_scope answer lists them (comma-separated)."""
        off: set[str] = set()
        if not self.history_scope:
            off |= {"channels:history", "groups:history"}
        if not self.users_email_scope:
            off.add("users:read.email")
        if not self.usergroups_scope:
            off.add("usergroups:read")
        return ",".join(s for s in MANIFEST_SCOPES if s not in off)

    def _auth_test(self, params: dict[str, Any]) -> _Reply:
        return _ok(
            url="https://sgrevert-sandbox.slack.com/",
            team="sgrevert sandbox",
            user="sgrevert",
            team_id=TEAM_ID,
            user_id=BOT_USER_ID,
            bot_id=BOT_ID,
            is_enterprise_install=False,
        )

    def _use_response_url(self, target: _ResponseUrl, payload: dict[str, Any]) -> None:
        """Slack's rules: 5 uses within 30 minutes; replace or delete the original, or reply."""
        if time.monotonic() - target.created > self.response_url_ttl_seconds:
            raise SlackError("expired_url", 404)
        if target.uses >= RESPONSE_URL_USES:
            raise SlackError("used_url", 404)
        key = (target.channel, target.ts)
        if _truthy(payload.get("delete_original")):
            target.uses += 1
            if key in self._messages:
                self._messages[key] = replace(self._messages[key], deleted=True)
            return
        text, blocks = _content(payload)
        target.uses += 1
        if _truthy(payload.get("replace_original")):
            current = self._messages.get(key)
            if current is None or current.deleted:
                raise SlackError("message_not_found", 404)
            self._messages[key] = replace(current, text=text, blocks=blocks)
            self.updates.append(Update(target.channel, target.ts, text, blocks, "response_url"))
        elif payload.get("response_type") == "in_channel":
            message = PostedMessage(
                target.channel, self._next_ts(), text, blocks, _opt_str(payload.get("thread_ts"))
            )
            self.posted.append(message)
            self._messages[(message.channel, message.ts)] = message
        else:  # Slack's default for a response is an ephemeral reply to the clicking user
            self.ephemerals.append(
                Ephemeral(target.channel, None, text, blocks, target.ts, "response_url")
            )


def _ok(**fields: Any) -> _Reply:
    return _Reply(200, {"ok": True, **fields})


def _opt_str(value: Any) -> str | None:
    return None if value in (None, "") else str(value)


def _truthy(value: Any) -> bool:
    return value is True or str(value).lower() in ("true", "1")  # slack_sdk sends 1 and 0


def _fault_reply(fault: _Fault) -> _Reply:
    if fault.error is not None:
        return _Reply(200, {"ok": False, "error": fault.error}, hang=fault.hang)
    headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
    error = "ratelimited" if fault.status == 429 else "internal_error"
    return _Reply(fault.status, {"ok": False, "error": error}, headers, fault.hang)


def _metadata(value: Any) -> dict[str, Any] | None:
    """Message metadata as Slack takes it: `event_type` and an `event_payload` object."""
    if value is None or value == "":
        return None
    if isinstance(value, str):  # form-encoded bodies carry it as JSON text
        try:
            value = json.loads(value)
        except ValueError:
            raise SlackError("invalid_metadata_format") from None
    if (
        not isinstance(value, dict)
        or not isinstance(value.get("event_type"), str)
        or not isinstance(value.get("event_payload"), dict)
    ):
        raise SlackError("invalid_metadata_schema")
    return {"event_type": value["event_type"], "event_payload": value["event_payload"]}


def _wire(message: PostedMessage, with_metadata: bool = False) -> dict[str, Any]:
    """The `message` object Slack returns with a post or an update."""
    wire: dict[str, Any] = {
        "type": "message",
        "user": BOT_USER_ID,
        "bot_id": BOT_ID,
        "team": TEAM_ID,
        "ts": message.ts,
        "text": message.text or "",
    }
    if message.blocks is not None:
        wire["blocks"] = message.blocks
    if message.thread_ts:
        wire["thread_ts"] = message.thread_ts
    if with_metadata and message.metadata is not None:
        wire["metadata"] = message.metadata
    return wire


def _wire_user(user: User) -> dict[str, Any]:
    """The `user` object of users.lookupByEmail (and users.info), its commonest fields."""
    return {
        "id": user.id,
        "team_id": TEAM_ID,
        "name": user.name,
        "deleted": user.deleted,
        "real_name": user.real_name,
        "is_admin": False,
        "is_owner": False,
        "is_bot": False,
        "is_app_user": False,
        "profile": {
            "real_name": user.real_name,
            "real_name_normalized": user.real_name,
            "display_name": user.display_name,
            "display_name_normalized": user.display_name,
            "email": user.email,
            "team": TEAM_ID,
        },
    }


def _content(params: Mapping[str, Any]) -> tuple[str | None, list[dict[str, Any]] | None]:
    """The text and blocks of a message, validated as Slack would."""
    text = _opt_str(params.get("text"))
    blocks = params.get("blocks")
    if isinstance(blocks, str):  # form-encoded bodies carry blocks as JSON text
        try:
            blocks = json.loads(blocks)
        except ValueError:
            raise SlackError("invalid_blocks_format") from None
    if blocks is not None and not isinstance(blocks, list):
        raise SlackError("invalid_blocks_format")
    if text is None and not blocks and not params.get("attachments"):
        raise SlackError("no_text")
    if text is not None and len(text) > MAX_MESSAGE_TEXT:
        raise SlackError("msg_too_long")
    if blocks:
        problems = _block_problems(blocks)
        if problems:
            raise SlackError(
                "invalid_blocks",
                errors=problems,
                response_metadata={"messages": [f"[ERROR] {p}" for p in problems]},
            )
    return text, blocks or None


def _text_length(obj: Any) -> int:
    return len(str(obj.get("text", ""))) if isinstance(obj, Mapping) else 0


def _block_problems(blocks: list[Any]) -> list[str]:
    """Loose Block Kit checks, phrased like Slack's errors (with a JSON pointer)."""
    problems: list[str] = []
    if len(blocks) > MAX_BLOCKS:
        problems.append(f"no more than {MAX_BLOCKS} items allowed [json-pointer:/blocks]")
    for i, block in enumerate(blocks):
        where = f"/blocks/{i}"
        if not isinstance(block, Mapping) or not block.get("type"):
            problems.append(f"missing required field: type [json-pointer:{where}]")
            continue
        if len(str(block.get("block_id", ""))) > MAX_ID:
            problems.append(f"must be less than {MAX_ID + 1} characters [json-pointer:{where}]")
        kind = block["type"]
        if kind == "section":
            fields = block.get("fields") or []
            if not block.get("text") and not fields:
                problems.append(f"must provide either text or fields [json-pointer:{where}]")
            if _text_length(block.get("text")) > MAX_SECTION_TEXT:
                problems.append(
                    f"must be less than {MAX_SECTION_TEXT + 1} characters "
                    f"[json-pointer:{where}/text/text]"
                )
            if block.get("text") is not None and _text_length(block["text"]) == 0:
                problems.append(f"must be more than 0 characters [json-pointer:{where}/text/text]")
            if len(fields) > MAX_FIELDS:
                problems.append(
                    f"no more than {MAX_FIELDS} items allowed [json-pointer:{where}/fields]"
                )
            for j, item in enumerate(fields):
                if _text_length(item) > MAX_FIELD_TEXT:
                    problems.append(
                        f"must be less than {MAX_FIELD_TEXT + 1} characters "
                        f"[json-pointer:{where}/fields/{j}/text]"
                    )
        elif kind == "header":
            if not 0 < _text_length(block.get("text")) <= MAX_HEADER_TEXT:
                problems.append(
                    f"must be 1 to {MAX_HEADER_TEXT} characters [json-pointer:{where}/text/text]"
                )
        elif kind == "context":
            elements = block.get("elements") or []
            if not elements or len(elements) > MAX_CONTEXT_ELEMENTS:
                problems.append(
                    f"must have 1 to {MAX_CONTEXT_ELEMENTS} items [json-pointer:{where}/elements]"
                )
        elif kind == "actions":
            elements = block.get("elements") or []
            if not elements or len(elements) > MAX_ACTION_ELEMENTS:
                problems.append(
                    f"must have 1 to {MAX_ACTION_ELEMENTS} items [json-pointer:{where}/elements]"
                )
            for j, element in enumerate(elements):
                problems.extend(_element_problems(element, f"{where}/elements/{j}"))
    return problems


def _element_problems(element: Any, where: str) -> list[str]:
    if not isinstance(element, Mapping) or not element.get("type"):
        return [f"missing required field: type [json-pointer:{where}]"]
    problems: list[str] = []
    if len(str(element.get("action_id", ""))) > MAX_ID:
        problems.append(
            f"must be less than {MAX_ID + 1} characters [json-pointer:{where}/action_id]"
        )
    if element["type"] == "button":
        if not 0 < _text_length(element.get("text")) <= MAX_BUTTON_TEXT:
            problems.append(
                f"must be 1 to {MAX_BUTTON_TEXT} characters [json-pointer:{where}/text/text]"
            )
        if len(str(element.get("value", ""))) > MAX_BUTTON_VALUE:
            problems.append(
                f"must be less than {MAX_BUTTON_VALUE + 1} characters [json-pointer:{where}/value]"
            )
    return problems


# --- HTTP ------------------------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    slack: SlackStandIn


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in separate writes

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        path, _, query = self.path.partition("?")
        params = dict(parse_qsl(query, keep_blank_values=True))
        try:
            params.update(self._body(raw))
        except ValueError:
            self._send(_Reply(200, {"ok": False, "error": "invalid_json"}))
            return
        slack = self.server.slack
        if path.startswith(API_PATH):
            method = path.removeprefix(API_PATH)
            reply = slack.handle_api(method, params, self.headers.get("Authorization"))
        elif path.startswith(RESPONSE_PATH):
            token = path.rstrip("/").rsplit("/", 1)[-1]
            reply = slack.handle_response_url(token, slack.base_url + path, params)
        else:
            reply = _Reply(404, {"ok": False, "error": "not_found"})
        self._send(reply)

    do_GET = do_POST  # Slack accepts GET with query parameters for most read methods

    def _body(self, raw: bytes) -> dict[str, Any]:
        if not raw:
            return {}
        content_type = self.headers.get("Content-Type", "")
        if "application/json" in content_type:
            body = json.loads(raw)
            if not isinstance(body, dict):
                raise ValueError("body is not a JSON object")
            return body
        return dict(parse_qsl(raw.decode(), keep_blank_values=True))

    def _send(self, reply: _Reply) -> None:
        if reply.hang:
            self.server.slack.hang(reply.hang)  # outside the stand-in's lock
        if reply.status == 0:  # a dropped connection, as a load balancer might do
            self.close_connection = True
            return
        data = json.dumps(reply.payload).encode()
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up waiting (a slow answer)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests and the demo print what matters themselves."""
