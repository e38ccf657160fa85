"""Shared fixtures: a moto server per test session, reset before every test.

Handlers reach moto over HTTP through `AWS_ENDPOINT_URL`, exactly as they reach AWS,
so no test patches our own code. Services moto lacks get their own endpoint
variables (`AWS_ENDPOINT_URL_CLOUDTRAIL`, ...) pointing at the sandbox stand-ins.
"""

from __future__ import annotations

import base64
import functools
import json
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import boto3
import pytest
import requests
from aws_lambda_powertools.utilities import parameters
from moto.dynamodb.models import DynamoDBBackend
from moto.moto_api import recorder
from moto.server import ThreadedMotoServer

from sandbox import moto_ec2, moto_scheduler, moto_securityhub
from sgrevert import store
from tests.support import BOT_TOKEN, REGION, SIGNING_SECRET


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    moto_ec2.install()  # what moto's EC2 lacks, as the EC2 API documents it
    moto_scheduler.install()  # and its EventBridge Scheduler, as its API documents it
    moto_securityhub.install()  # and Security Hub's BatchUpdateFindings and import rules
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    saved = dict(os.environ)
    os.environ.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_SESSION_TOKEN="testing",
        AWS_REGION=REGION,
        AWS_DEFAULT_REGION=REGION,
        AWS_ENDPOINT_URL=url,
    )
    for name in ("AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        os.environ.pop(name, None)
    try:
        yield url
    finally:
        server.stop()
        os.environ.clear()
        os.environ.update(saved)


@pytest.fixture
def aws(moto_url: str) -> Iterator[str]:
    """A clean moto (all accounts, all regions) and cold secret caches for each test."""
    requests.post(f"{moto_url}/moto-api/reset", timeout=10).raise_for_status()
    parameters.clear_caches()
    yield moto_url
    parameters.clear_caches()


@pytest.fixture
def table_name(aws: str) -> str:
    store.create_table(boto3.client("dynamodb"), store.DEFAULT_TABLE_NAME)
    return store.DEFAULT_TABLE_NAME


@pytest.fixture
def change_store(table_name: str) -> store.ChangeStore:
    return store.ChangeStore(boto3.resource("dynamodb").Table(table_name))


@pytest.fixture
def slack_secret_arn(aws: str) -> str:
    secret: dict[str, Any] = {"bot_token": BOT_TOKEN, "signing_secret": SIGNING_SECRET}
    return boto3.client("secretsmanager").create_secret(
        Name="sgrevert/slack", SecretString=json.dumps(secret)
    )["ARN"]


@pytest.fixture
def atomic_writes(monkeypatch: pytest.MonkeyPatch) -> None:
    """DynamoDB applies a conditional write atomically; moto's server checks the condition
    and writes without a lock, so two racing requests can both pass (about one race in a
    hundred with eight clickers). Serialize moto's writes, as DynamoDB does for an item,
    so race tests exercise our conditions rather than the emulator's gap. moto runs in
    this process (ThreadedMotoServer), so its backend can be wrapped here."""
    lock = threading.RLock()

    def serialized(original: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(original)
        def write(*args: Any, **kwargs: Any) -> Any:
            with lock:
                return original(*args, **kwargs)

        return write

    for name in ("put_item", "update_item", "delete_item", "transact_write_items"):
        monkeypatch.setattr(DynamoDBBackend, name, serialized(getattr(DynamoDBBackend, name)))


@pytest.fixture
def assume_role_requests(
    aws: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[[], list[dict[str, str]]]]:
    """The AssumeRole requests moto received during the test, field by field as sent.

    moto answers `SourceIdentity` without keeping it, so the requests are read from moto's
    own request recorder (in this process, like the server): what the client really sent."""
    monkeypatch.setattr(recorder, "_location", str(tmp_path / "moto-recording.jsonl"))
    recorder.reset_recording()
    recorder.start_recording()

    def read() -> list[dict[str, str]]:
        requests_seen = []
        for line in Path(recorder._location).read_text().splitlines():
            entry = json.loads(line)
            body = entry.get("body") or ""
            if entry.get("body_encoded"):
                body = base64.b64decode(body).decode()
            fields = dict(parse_qsl(body))
            if fields.get("Action") == "AssumeRole":
                requests_seen.append(fields)
        return requests_seen

    try:
        yield read
    finally:
        recorder.stop_recording()


@pytest.fixture
def ec2_writes(
    aws: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[[], list[dict[str, str]]]]:
    """The EC2 calls that change something (every action but Describe*/Get*) moto received
    since the test began, in order, each with its parameters as sent (EC2's query form:
    `{"Action": "ModifySecurityGroupRules", "GroupId": ..., "SecurityGroupRule.1.…": ...}`).

    Read from moto's request recorder, as `assume_role_requests` does (the same file, so
    a test may use both): what the clients really sent, whoever sent them."""
    monkeypatch.setattr(recorder, "_location", str(tmp_path / "moto-recording.jsonl"))
    recorder.reset_recording()
    recorder.start_recording()

    def read() -> list[dict[str, str]]:
        writes = []
        for line in Path(recorder._location).read_text().splitlines():
            entry = json.loads(line)
            authorization = str((entry.get("headers") or {}).get("Authorization", ""))
            if "/ec2/aws4_request" not in authorization:  # SigV4's scope names the service
                continue
            body = entry.get("body") or ""
            if entry.get("body_encoded"):
                body = base64.b64decode(body).decode()
            fields = dict(parse_qsl(body))
            action = fields.get("Action", "")
            if action and not action.startswith(("Describe", "Get")):
                fields.pop("Version", None)
                writes.append(fields)
        return writes

    try:
        yield read
    finally:
        recorder.stop_recording()
