"""Slack adapter: the bot token and signing secret, and a WebClient that survives rate limits."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, cast
from urllib.error import URLError

from aws_lambda_powertools.utilities import parameters
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

from sgrevert.errors import ConfigError, SlackOutcomeUnknown, SlackRejected, SlackUnavailable
from sgrevert.settings import SlackSettings

SECRET_MAX_AGE_SECONDS = 300  # rotate the secret and warm Lambdas pick it up within 5 minutes
HISTORY_PAGE = 200
HISTORY_MAX_PAGES = 25  # 5,000 messages back: far more than a review channel gets in an outage


@dataclass(frozen=True)
class SlackCredentials:
    bot_token: str
    signing_secret: str


def load_credentials(secret_arn: str) -> SlackCredentials:
    """Read the Slack secret through Powertools' cache (one Secrets Manager call per 5 minutes)."""
    value = parameters.get_secret(secret_arn, transform="json", max_age=SECRET_MAX_AGE_SECONDS)
    if not isinstance(value, dict):
        raise ConfigError(f"secret {secret_arn} must be a JSON object")
    missing = [k for k in ("bot_token", "signing_secret") if not str(value.get(k) or "").strip()]
    if missing:
        raise ConfigError(f"secret {secret_arn} is missing {', '.join(missing)}")
    return SlackCredentials(
        bot_token=str(value["bot_token"]), signing_secret=str(value["signing_secret"])
    )


def web_client(
    settings: SlackSettings,
    credentials: SlackCredentials,
    max_rate_limit_retries: int = 5,
    *,
    resend_on_connection_error: bool = True,
    timeout: float = 10,
) -> WebClient:
    """A WebClient on the configured base URL that waits out 429s (honouring Retry-After).

    `resend_on_connection_error=False` drops slack_sdk's default resend after a lost
    connection: for posts, where Slack may have posted before the connection broke, a blind
    resend makes a second message; the detector looks for the first one instead.
    `max_rate_limit_retries=0` never waits out a 429: the answer to a click cannot sleep
    for a `Retry-After` (see `click_client`).
    """
    # urllib takes fractions of a second, whatever the annotation says
    client = WebClient(
        token=credentials.bot_token, base_url=settings.api_url, timeout=cast(int, timeout)
    )
    if not resend_on_connection_error:
        client.retry_handlers.clear()
    if max_rate_limit_retries > 0:
        client.retry_handlers.append(
            RateLimitErrorRetryHandler(max_retry_count=max_rate_limit_retries)
        )
    return client


def click_client(settings: SlackSettings, credentials: SlackCredentials) -> WebClient:
    """For the answer to a click: one attempt per call, no resend and no sleeping on a 429.
    Anything that does not fit in Slack's 3 seconds is handed to an asynchronous
    invocation, whose client (`web_client`) does retry."""
    return web_client(
        settings, credentials, max_rate_limit_retries=0, resend_on_connection_error=False
    )


class ChannelPoster:
    """Posts messages to one channel; turns slack_sdk failures into the two domain errors."""

    def __init__(self, client: WebClient, channel: str) -> None:
        """`channel`: the default review channel; a route's message names its own."""
        self._client = client
        self._channel = channel

    @property
    def channel(self) -> str:
        return self._channel

    def post(
        self,
        text: str,
        blocks: list[dict[str, Any]],
        metadata: Mapping[str, Any] | None = None,
        *,
        channel: str | None = None,
    ) -> tuple[str, str]:
        """Post into `channel` (default: the review channel) and return (channel id, ts).
        SlackOutcomeUnknown when the message may have been posted all the same (no
        answer, or a 5xx); SlackUnavailable when it was not (rate-limited past the
        retries); SlackRejected when Slack refused it."""
        try:
            response = self._client.chat_postMessage(
                channel=channel or self._channel,
                text=text,
                blocks=blocks,
                metadata=dict(metadata) if metadata is not None else None,
                unfurl_links=False,
                unfurl_media=False,
            )
        except SlackApiError as error:
            raise _unavailable_or_rejected(error) from error
        except (OSError, URLError) as error:  # timeouts, dropped and refused connections
            raise SlackOutcomeUnknown(f"Slack did not answer: {error}") from error
        return str(response["channel"]), str(response["ts"])

    def find_posted(
        self, event_type: str, oldest: float, *, channel: str | None = None
    ) -> Iterator[tuple[str, str, Any]]:
        """(channel, ts, event_payload) of `channel`'s messages (default: the review
        channel's) since `oldest` (Unix time) carrying metadata of `event_type`, newest
        first. Needs `channels:history` (or `groups:history` for a private channel);
        without it, SlackRejected `missing_scope`."""
        channel = channel or self._channel
        cursor = None
        for _ in range(HISTORY_MAX_PAGES):
            try:
                page = self._client.conversations_history(
                    channel=channel,
                    oldest=f"{oldest:.6f}",
                    limit=HISTORY_PAGE,
                    include_all_metadata=True,
                    cursor=cursor,
                )
            except SlackApiError as error:
                raise _unavailable_or_rejected(error) from error
            except (OSError, URLError) as error:
                raise SlackUnavailable(f"Slack unreachable: {error}") from error
            for message in page.get("messages") or []:
                metadata = message.get("metadata") or {}
                if metadata.get("event_type") == event_type:
                    yield channel, str(message["ts"]), metadata.get("event_payload")
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not page.get("has_more") or not cursor:
                return

    def update(self, channel: str, ts: str, text: str, blocks: list[dict[str, Any]]) -> None:
        """Edit a message this poster posted."""
        try:
            self._client.chat_update(channel=channel, ts=ts, text=text, blocks=blocks)
        except SlackApiError as error:
            raise SlackRejected(str(error.response.get("error") or "chat.update failed")) from error
        except (OSError, URLError) as error:
            raise SlackUnavailable(f"Slack unreachable: {error}") from error


def _unavailable_or_rejected(error: SlackApiError) -> SlackUnavailable | SlackRejected:
    status = error.response.status_code
    if status >= 500:
        return SlackOutcomeUnknown(f"Slack answered HTTP {status}")
    if status == 429:
        return SlackUnavailable("Slack answered HTTP 429 past the retries")
    return SlackRejected(str(error.response.get("error") or f"HTTP {status}"))
