"""Slack adapter: the bot token and signing secret, and a WebClient that survives rate limits."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.error import URLError

from aws_lambda_powertools.utilities import parameters
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

from sgrevert.errors import ConfigError, SlackRejected, SlackUnavailable
from sgrevert.settings import SlackSettings

SECRET_MAX_AGE_SECONDS = 300  # rotate the secret and warm Lambdas pick it up within 5 minutes


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
    settings: SlackSettings, credentials: SlackCredentials, max_rate_limit_retries: int = 5
) -> WebClient:
    """A WebClient on the configured base URL that waits out 429s (honouring Retry-After)."""
    client = WebClient(token=credentials.bot_token, base_url=settings.api_url, timeout=10)
    client.retry_handlers.append(RateLimitErrorRetryHandler(max_retry_count=max_rate_limit_retries))
    return client


class ChannelPoster:
    """Posts messages to one channel; turns slack_sdk failures into the two domain errors."""

    def __init__(self, client: WebClient, channel: str) -> None:
        self._client = client
        self._channel = channel

    def post(self, text: str, blocks: list[dict[str, Any]]) -> tuple[str, str]:
        """Post and return (channel id, ts)."""
        try:
            response = self._client.chat_postMessage(
                channel=self._channel,
                text=text,
                blocks=blocks,
                unfurl_links=False,
                unfurl_media=False,
            )
        except SlackApiError as error:
            status = error.response.status_code
            if status == 429 or status >= 500:
                raise SlackUnavailable(f"Slack answered HTTP {status}") from error
            raise SlackRejected(str(error.response.get("error") or f"HTTP {status}")) from error
        except (OSError, URLError) as error:  # timeouts and refused connections
            raise SlackUnavailable(f"Slack unreachable: {error}") from error
        return str(response["channel"]), str(response["ts"])

    def update(self, channel: str, ts: str, text: str, blocks: list[dict[str, Any]]) -> None:
        """Edit a message this poster posted."""
        try:
            self._client.chat_update(channel=channel, ts=ts, text=text, blocks=blocks)
        except SlackApiError as error:
            raise SlackRejected(str(error.response.get("error") or "chat.update failed")) from error
        except (OSError, URLError) as error:
            raise SlackUnavailable(f"Slack unreachable: {error}") from error
