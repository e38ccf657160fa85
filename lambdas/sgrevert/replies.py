"""How the responder talks back to Slack: edit a change's message, tell one user privately,
reply in a message's thread.

Both are best effort. The decision is already recorded when they run, so a Slack
failure is logged and never undoes or blocks it; the next state change edits the
message again.

On the click path the replies carry the answer's `Deadline`: each call's timeout is the
time left (less what the caller still needs afterwards), and a call that no longer fits
is not made at all and reported as not done, so the caller can hand it to an
asynchronous invocation.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from urllib.error import URLError

from aws_lambda_powertools import Logger
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from sgrevert import blocks, metrics
from sgrevert.deadline import Deadline
from sgrevert.durations import DEFAULT_TEMPORARY_APPROVALS
from sgrevert.model import ChangeRecord

logger = Logger(service="sgrevert-respond", child=True)

MIN_CALL_SECONDS = 0.25  # a Slack call given less than this would only time out
EDIT_TRIES = 2  # an edit off the click's answer: once more after a 5xx or a lost connection


class SlackReplies:
    # the policy's `temporary_approvals`, which a message's Allow for… and Extend… offer
    durations: tuple[timedelta, ...] = DEFAULT_TEMPORARY_APPROVALS

    def __init__(
        self,
        client: WebClient,
        deadline: Deadline | None = None,
        *,
        durations: Sequence[timedelta] = DEFAULT_TEMPORARY_APPROVALS,
    ) -> None:
        self._client = client
        self._deadline = deadline
        self._max_timeout = client.timeout
        self.durations = tuple(durations)

    def update(
        self,
        record: ChangeRecord,
        channel: str | None = None,
        ts: str | None = None,
        *,
        reserve: float = 0.0,
    ) -> bool:
        """Show the record's current state in its message (the stored channel/ts first)."""
        channel = record.slack_channel or channel
        ts = record.slack_ts or ts
        if not channel or not ts:
            logger.warning("no Slack message to update", extra={"event_id": record.event_id})
            return False
        message = blocks.message(record, durations=self.durations)
        return self.show(message, channel, ts, record.event_id, reserve=reserve)

    def show(
        self, message: blocks.Message, channel: str, ts: str, about: str, *, reserve: float = 0.0
    ) -> bool:
        """Replace a message's content (`about` names the change or batch, for the log).
        `reserve`: seconds of the deadline the caller still needs after this call."""
        # Off a click's answer a failed edit is tried once more: an edit replaces the whole
        # content, so a second try never does harm, and the message is the audit's face.
        tries = 1 if self._deadline is not None else EDIT_TRIES
        for attempt in range(1, tries + 1):
            if not self._fits("chat.update", about, reserve):
                return False
            try:
                self._client.chat_update(
                    channel=channel, ts=ts, text=message.text, blocks=message.blocks
                )
            except (SlackApiError, SlackClientError, URLError, OSError) as error:
                log = {"about": about, "error": str(error), "attempt": attempt}
                logger.warning("chat.update failed", extra=log)
                metrics.slack_error()
                if not _worth_retrying(error):
                    return False
                continue
            return True
        return False

    def tell(self, channel: str, user: str, text: str) -> bool:
        """An ephemeral message only `user` sees, in `channel`."""
        notice = blocks.notice(text)
        if not self._fits("chat.postEphemeral", user, 0.0):
            return False
        try:
            self._client.chat_postEphemeral(
                channel=channel, user=user, text=notice.text, blocks=notice.blocks
            )
        except (SlackApiError, SlackClientError, URLError, OSError) as error:
            logger.warning("chat.postEphemeral failed", extra={"user": user, "error": str(error)})
            metrics.slack_error()
            return False
        return True

    def reply(
        self,
        message: blocks.Message,
        channel: str,
        thread_ts: str,
        about: str,
        *,
        reserve: float = 0.0,
    ) -> bool:
        """Post `message` as a reply in the thread of the message `thread_ts` (`about`, as
        for `show`)."""
        if not self._fits("chat.postMessage", about, reserve):
            return False
        try:
            self._client.chat_postMessage(
                channel=channel,
                thread_ts=thread_ts,
                text=message.text,
                blocks=message.blocks,
                unfurl_links=False,
                unfurl_media=False,
            )
        except (SlackApiError, SlackClientError, URLError, OSError) as error:
            logger.warning("thread reply failed", extra={"about": about, "error": str(error)})
            metrics.slack_error()
            return False
        return True

    def _fits(self, method: str, about: str, reserve: float) -> bool:
        """Set the next call's timeout to the time left; False when no useful time is left."""
        if self._deadline is None:
            return True
        left = self._deadline.remaining() - reserve
        if left < MIN_CALL_SECONDS:
            logger.warning(
                f"{method} skipped: no time left before the click's answer is due",
                extra={"about": about, "seconds_left": round(self._deadline.remaining(), 3)},
            )
            return False
        # urllib takes fractions of a second, whatever the annotation says
        self._client.timeout = min(self._max_timeout, left)  # type: ignore[assignment]
        return True


def _worth_retrying(error: Exception) -> bool:
    """A 5xx or a lost connection may pass; Slack refusing the edit (`ok: false`) will not."""
    if isinstance(error, SlackApiError):
        return int(error.response.status_code) >= 500
    return isinstance(error, URLError | OSError)
