"""A burst of 2,000 changes through the real detector, against the sandbox stand-ins.

Run: `.venv/bin/python -m bench.burst`. moto (DynamoDB) and the Slack stand-in run over
HTTP with Slack's rate limit on (one message a second per channel). Printed side by side:
the detector as shipped (bursts grouped, messages capped, a summary for the rest) and one
message per change, the latter measured on a sample and extrapolated to 2,000.
"""

from __future__ import annotations

import os
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import boto3
from moto.server import ThreadedMotoServer

from sandbox.slack_api import SlackStandIn
from sgrevert import blocks, store
from sgrevert.detector import Detector, RunReport
from sgrevert.policy import Policy
from sgrevert.settings import SlackSettings
from sgrevert.slack import ChannelPoster, SlackCredentials, web_client
from tests.integration.test_noise_control import trail_record

CHANGES = 2000
ACTORS = 20  # a deploy or an incident: a few principals touching many groups
GROUPS = 100
SAMPLE = 15  # one-message-per-change baseline: measured on this many, then extrapolated
CHANNEL = "C0SECURITY"
TOKEN = "xoxb-bench"


def main() -> None:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    os.environ.update(
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        AWS_DEFAULT_REGION="eu-west-1",
        AWS_ENDPOINT_URL=f"http://{host}:{port}",
    )
    try:
        with SlackStandIn(bot_token=TOKEN) as slack:
            slack.rate_limit_per_second = 1.0
            grouped, seconds, report = _detector_run(slack)
            per_message = _baseline(slack)
    finally:
        server.stop()
    print(f"burst of {CHANGES} changes, Slack rate limit 1 message/s per channel")
    print(f"{'':28}{'messages':>10}{'run time (s)':>14}")
    print(f"{'sgrevert (grouped, capped)':28}{grouped:>10}{seconds:>14.1f}")
    print(
        f"{'one message per change':28}{CHANGES:>10}{per_message * CHANGES:>14.1f}  "
        f"(extrapolated from {SAMPLE} posts at {per_message:.2f} s each)"
    )
    print(
        f"recorded {report.recorded}, posted in messages {report.posted}, "
        f"left for later runs (summary) {report.summarized}, Slack 429s {slack.rate_limited}"
    )


def _detector_run(slack: SlackStandIn) -> tuple[int, float, RunReport]:
    store.create_table(boto3.client("dynamodb"), "bench")
    changes = store.ChangeStore(boto3.resource("dynamodb").Table("bench"))
    records = [
        trail_record(
            f"sg-{i % GROUPS:017x}",
            f"sgr-{i:017x}",
            f"10.{i % 200}.{i // 200}.0/24",
            443,
            actor=f"arn:aws:sts::111122223333:assumed-role/deploy-{i % ACTORS}/run",
        )
        for i in range(CHANGES)
    ]
    detector = Detector(
        changes, _poster(slack), lambda: datetime.now(UTC), _budget(900.0), policy=Policy()
    )
    started = time.monotonic()
    report = RunReport()
    detector.post_pending(detector.record(records, report), report)
    return report.messages, time.monotonic() - started, report


def _baseline(slack: SlackStandIn) -> float:
    poster = _poster(slack)
    sample: list[Any] = []
    for _ in range(SAMPLE):
        sample.append(blocks.notice(f"change {uuid.uuid4()}"))
    started = time.monotonic()
    for message in sample:
        poster.post(message.text, message.blocks)
    return (time.monotonic() - started) / SAMPLE


def _poster(slack: SlackStandIn) -> ChannelPoster:
    client = web_client(SlackSettings("bench", slack.api_url), SlackCredentials(TOKEN, "-"), 50)
    return ChannelPoster(client, CHANNEL)


def _budget(seconds: float) -> Any:
    started = time.monotonic()
    return lambda: seconds - (time.monotonic() - started)


if __name__ == "__main__":
    main()
