"""How the responder talks back to Slack: edit a change's message, tell one user privately.

Both are best effort. The decision is already recorded when they run, so a Slack
failure is logged and never undoes or blocks it; the next state change edits the
message again.
"""

from __future__ import annotations

from urllib.error import URLError

from aws_lambda_powertools import Logger
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from sgrevert import blocks
from sgrevert.model import ChangeRecord

logger = Logger(service="sgrevert-respond", child=True)


class SlackReplies:
    def __init__(self, client: WebClient) -> None:
        self._client = client

    def update(
        self, record: ChangeRecord, channel: str | None = None, ts: str | None = None
    ) -> bool:
        """Show the record's current state in its message (the stored channel/ts first)."""
        channel = record.slack_channel or channel
        ts = record.slack_ts or ts
        if not channel or not ts:
            logger.warning("no Slack message to update", extra={"event_id": record.event_id})
            return False
        return self.show(blocks.message(record), channel, ts, record.event_id)

    def show(self, message: blocks.Message, channel: str, ts: str, about: str) -> bool:
        """Replace a message's content (`about` names the change or batch, for the log)."""
        try:
            self._client.chat_update(
                channel=channel, ts=ts, text=message.text, blocks=message.blocks
            )
        except (SlackApiError, SlackClientError, URLError, OSError) as error:
            logger.warning("chat.update failed", extra={"about": about, "error": str(error)})
            return False
        return True

    def tell(self, channel: str, user: str, text: str) -> bool:
        """An ephemeral message only `user` sees, in `channel`."""
        notice = blocks.notice(text)
        try:
            self._client.chat_postEphemeral(
                channel=channel, user=user, text=notice.text, blocks=notice.blocks
            )
        except (SlackApiError, SlackClientError, URLError, OSError) as error:
            logger.warning("chat.postEphemeral failed", extra={"user": user, "error": str(error)})
            return False
        return True
