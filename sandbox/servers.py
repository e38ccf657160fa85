"""The whole sandbox as one context manager: every server, the organization and the stack.

`with Sandbox() as box:` starts, on 127.0.0.1 and random ports,
- moto (ThreadedMotoServer) for STS, IAM, Organizations, EC2, DynamoDB, Secrets Manager,
- the CloudTrail Lake stand-in (`AWS_ENDPOINT_URL_CLOUDTRAIL`),
- the Slack Web API stand-in (`SLACK_API_URL`),
- the Lambda Invoke stand-in running the real responder (`AWS_ENDPOINT_URL_LAMBDA`),
- the API Gateway stand-in in front of the real responder (Slack's Request URL),
then builds the organization (sandbox.org), creates the org event data store in the
management account and, in the security account, the table (`store.create_table`), the
Slack secret, the expiry schedule group and the scheduler role, and sets the environment
the handlers read. The developers whose changes the story reviews are members of the Slack
workspace too (`DEVELOPERS`, found by the email their AWS session is named after), so their
changes mention them. On exit it stops every server, resets moto and restores the
environment exactly.

Changes reach the detector on either path: through Lake (`deliver_trail`, then
`run_detector`) or as EventBridge events in an SQS batch (`deliver_events`).

Time: the responder and the detector keep the sandbox's clock (`clock`, sandbox.clock),
which runs with real time until `advance(timedelta)` moves it ahead. moto keeps the
EventBridge Scheduler's schedules but never fires them; `advance` fires what comes due on
the way, in time order, through `sandbox.scheduler` (the Scheduler's documented one-time
behaviour), and returns once every invocation it started has finished.

Both functions run in this process, so they share one set of credentials: a session in
the security account. moto enforces no IAM policy, so the split into the execution roles
that `sandbox.org` creates (and infra/ grants) is documentation here, not a boundary.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Self

import boto3
import requests
from aws_lambda_powertools.utilities import parameters
from botocore.config import Config
from moto.server import ThreadedMotoServer

from sandbox import clicks, eventbridge, moto_ec2, moto_scheduler
from sandbox.apigw import FORM, ApiGatewayStandIn
from sandbox.clock import SandboxClock
from sandbox.context import function_arn
from sandbox.lake import LakeStandIn
from sandbox.lambda_api import LambdaStandIn
from sandbox.org import DEVELOPER_ROLE, HOME_REGION, Organization, RuleView, build_organization
from sandbox.org import describe_rules as _describe_rules
from sandbox.scheduler import Firing, OneTime, ScheduleFirer
from sandbox.service import Service
from sandbox.slack_api import PostedMessage, SlackStandIn
from sandbox.trail import Trail
from sgrevert import detect, people, respond, store
from sgrevert.model import ChangeRecord, parse_time
from sgrevert.responder import Responder

CHANNEL = "C0SECCHANGES"
BOT_TOKEN = "xoxb-sandbox-bot-token"
SIGNING_SECRET = "sandbox-signing-secret-0123456789abcdef"
SECRET_NAME = "sgrevert/slack"
DETECT_FUNCTION = "revertsg-1"
RESPOND_FUNCTION = "revertsg-2"
DETECT_TIMEOUT_SECONDS = 300.0
RESPOND_TIMEOUT_SECONDS = 60.0
SCHEDULE_GROUP = "sgrevert"  # EXPIRY_SCHEDULE_GROUP, as infra/ names it by default
SCHEDULER_ROLE = "sgrevert-scheduler"

ALICE = clicks.SlackUser("U0ALICE", "alice")  # security engineer, an approver
BOB = clicks.SlackUser("U0BOB", "bob")  # security engineer, an approver
MALLORY = clicks.SlackUser("U0MALLORY", "mallory")  # in the channel, not an approver


@dataclass(frozen=True)
class Developer:
    """Someone who changes security groups: their AWS session is named after their email
    (as IAM Identity Center names it), and that email finds them in Slack."""

    email: str
    slack: clicks.SlackUser


ERIN = Developer("erin.dev@example.com", clicks.SlackUser("U0ERIN", "erin"))
CAROL = Developer("carol.data@example.com", clicks.SlackUser("U0CAROL", "carol"))
DAVE = Developer("dave.ops@example.com", clicks.SlackUser("U0DAVE", "dave"))
FRANK = Developer("frank.jobs@example.com", clicks.SlackUser("U0FRANK", "frank"))
DEVELOPERS = (ERIN, CAROL, DAVE, FRANK)
USERS = {u.id: u.username for u in (ALICE, BOB, MALLORY, *(d.slack for d in DEVELOPERS))}

# Variables the sandbox sets; anything else of the caller's environment is left alone
# except the AWS profile settings, which must not leak real credentials in.
_CLEARED = ("AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_DEFAULT_PROFILE")


class SandboxError(RuntimeError):
    """A sandbox step failed; the message names the step."""


@dataclass(frozen=True)
class Posted:
    """A change's Slack message as the channel shows it now."""

    event_id: str
    message: PostedMessage


class Sandbox(Service):
    def __init__(
        self,
        *,
        approvers: Sequence[str] = (ALICE.id, BOB.id),
        lake_page_size: int = 1000,
        lake_running_polls: int = 1,
        binary_media_types: Sequence[str] = (FORM,),
        lookback_minutes: int = 20,
        log_path: Path | None = None,
        policy: Mapping[str, Any] | None = None,
        emit_metrics: bool = True,
    ) -> None:
        """`policy`: the POLICY document the functions read (None: the defaults, which
        offer Allow for… 1 h, 8 h, 24 h and 7 d). `emit_metrics` False sets
        POWERTOOLS_METRICS_DISABLED: Powertools prints its EMF lines to stdout, which a
        caller telling a story there keeps for itself (the log file cannot take them)."""
        self.approvers = tuple(approvers)
        self.policy = dict(policy) if policy is not None else None
        self.emit_metrics = emit_metrics
        self.clock = SandboxClock()  # the functions' time; `advance` moves it
        self.lookback_minutes = lookback_minutes
        self.log_path = log_path
        self._binary_media_types = tuple(binary_media_types)
        self._lake_options = (lake_page_size, lake_running_polls)
        self._stack = contextlib.ExitStack()
        self._saved_env: dict[str, str] | None = None
        # set by start()
        self.moto_url = ""
        self.lake: LakeStandIn
        self.slack: SlackStandIn
        self.lambdas: LambdaStandIn
        self.gateway: ApiGatewayStandIn
        self.org: Organization
        self.trail: Trail
        self.event_data_store = ""
        self.table_name = store.DEFAULT_TABLE_NAME
        self.secret_arn = ""
        self.channel = CHANNEL
        self.signing_secret = SIGNING_SECRET
        self.detect_arn = ""
        self.respond_arn = ""
        self.schedule_group = SCHEDULE_GROUP
        self.scheduler_role_arn = ""
        self.scheduler: ScheduleFirer
        self._security: boto3.Session

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> Self:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        self._saved_env = dict(os.environ)
        if self.log_path is not None:
            self._stack.enter_context(_logs_to_file(self.log_path))
        _quiet_servers()

        moto_ec2.install()  # what moto's EC2 lacks, as the EC2 API documents it
        moto_scheduler.install()  # and its EventBridge Scheduler, as its API documents it
        moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        moto.start()
        self._stack.callback(moto.stop)
        host, port = moto.get_host_and_port()
        self.moto_url = f"http://{host}:{port}"
        # moto's state is per process, shared by every server in it: start from nothing.
        self._stack.callback(self._reset_moto)
        self._reset_moto()

        page_size, running_polls = self._lake_options
        self.lake = self._stack.enter_context(LakeStandIn(page_size, running_polls))
        self.slack = self._stack.enter_context(SlackStandIn(BOT_TOKEN, channels=[CHANNEL]))
        for developer in DEVELOPERS:
            self.slack.add_user(developer.slack.id, developer.email, developer.slack.username)
        self.lambdas = self._stack.enter_context(LambdaStandIn())

        _set_env(
            AWS_ENDPOINT_URL=self.moto_url,
            AWS_ENDPOINT_URL_CLOUDTRAIL=self.lake.endpoint_url,
            AWS_ENDPOINT_URL_LAMBDA=self.lambdas.endpoint_url,
            AWS_ACCESS_KEY_ID="testing",
            AWS_SECRET_ACCESS_KEY="testing",
            AWS_SESSION_TOKEN="testing",
            AWS_REGION=HOME_REGION,
            AWS_DEFAULT_REGION=HOME_REGION,
        )
        for name in _CLEARED:
            os.environ.pop(name, None)

        self.org = build_organization(self.moto_url)
        self.event_data_store = self.lake.create_event_data_store(
            "org-trail", self.org.management, HOME_REGION
        )
        self.trail = Trail(self.moto_url)
        self._deploy_stack()
        self._stack.callback(self._cold_start, None)
        self._cold_start(self.clock)
        # First on the way out: let reverts still running finish before their servers go.
        self._stack.callback(self._finish_invocations)

    def _deploy_stack(self) -> None:
        """What the CDK app deploys in the security account, and the functions' environment."""
        org = self.org
        self._security = org.session(org.security, session_name="sgrevert-functions")
        store.create_table(
            self._security.client("dynamodb", endpoint_url=self.moto_url), self.table_name
        )
        self.secret_arn = self._security.client(
            "secretsmanager", endpoint_url=self.moto_url
        ).create_secret(
            Name=SECRET_NAME,
            SecretString=(f'{{"bot_token": "{BOT_TOKEN}", "signing_secret": "{SIGNING_SECRET}"}}'),
        )["ARN"]
        self.detect_arn = function_arn(org.security, HOME_REGION, DETECT_FUNCTION)
        self.respond_arn = function_arn(org.security, HOME_REGION, RESPOND_FUNCTION)
        self._deploy_expiry()
        credentials = self._security.get_credentials()
        assert credentials is not None
        frozen = credentials.get_frozen_credentials()
        assert frozen.access_key and frozen.secret_key
        _set_env(
            AWS_ACCESS_KEY_ID=frozen.access_key,
            AWS_SECRET_ACCESS_KEY=frozen.secret_key,
            AWS_SESSION_TOKEN=frozen.token or "",
            TABLE_NAME=self.table_name,
            SLACK_SECRET_ARN=self.secret_arn,
            SLACK_CHANNEL_ID=CHANNEL,
            SLACK_API_URL=self.slack.api_url,
            EVENT_DATA_STORE=self.event_data_store,
            LAKE_READ_ROLE_ARN=org.lake_read_role_arn,
            # ListAccounts answers in the management account only: names come through it.
            ORG_READ_ROLE_ARN=org.org_read_role_arn,
            LOOKBACK_MINUTES=str(self.lookback_minutes),
            HUB_ROLE_ARN=org.hub_role_arn,
            SPOKE_ROLE_NAME=org.spoke_role_name,
            APPROVERS=",".join(self.approvers),
            EXPIRY_SCHEDULE_GROUP=self.schedule_group,
            SCHEDULER_ROLE_ARN=self.scheduler_role_arn,
            # The responder: where the detector's sweep sends overdue expiries and missed
            # reminders (and policy reverts), as the schedules do.
            REVERT_FUNCTION_ARN=self.respond_arn,
        )
        if self.policy is not None:
            _set_env(POLICY=json.dumps(self.policy))
        if not self.emit_metrics:
            _set_env(POWERTOOLS_METRICS_DISABLED="true")
        self.lambdas.register(self.respond_arn, respond.handler)
        self.lambdas.register(self.detect_arn, detect.handler)
        self.gateway = self._stack.enter_context(
            ApiGatewayStandIn(
                respond.handler,
                self.respond_arn,
                binary_media_types=self._binary_media_types,
                account=org.security,
                function_timeout_seconds=RESPOND_TIMEOUT_SECONDS,
            )
        )

    def _deploy_expiry(self) -> None:
        """As infra/expiry.py deploys it: the schedule group, and the role the Scheduler
        invokes the responder with (only schedules of this account may use it, and it may
        only invoke revertsg-2). moto enforces neither policy; the firer assumes the role."""
        security = self.org.security
        self._security.client("scheduler", endpoint_url=self.moto_url).create_schedule_group(
            Name=self.schedule_group
        )
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "scheduler.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                    "Condition": {"StringEquals": {"aws:SourceAccount": security}},
                }
            ],
        }
        invoke = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "InvokeResponder",
                    "Effect": "Allow",
                    "Action": "lambda:InvokeFunction",
                    "Resource": self.respond_arn,
                }
            ],
        }
        iam = self._security.client("iam", endpoint_url=self.moto_url)
        self.scheduler_role_arn = iam.create_role(
            RoleName=SCHEDULER_ROLE,
            AssumeRolePolicyDocument=json.dumps(trust),
            Description="EventBridge Scheduler: invokes revertsg-2 when an approval for a "
            "while ends, or its reminder is due",
        )["Role"]["Arn"]
        iam.put_role_policy(
            RoleName=SCHEDULER_ROLE,
            PolicyName="InvokeResponder",
            PolicyDocument=json.dumps(invoke),
        )
        self.scheduler = ScheduleFirer(
            self._security,
            self.schedule_group,
            aws_url=self.moto_url,
            lambda_url=self.lambdas.endpoint_url,
        )

    def stop(self) -> None:
        try:
            self._stack.close()
        finally:
            if self._saved_env is not None:
                os.environ.clear()
                os.environ.update(self._saved_env)
                self._saved_env = None

    def _reset_moto(self) -> None:
        requests.post(f"{self.moto_url}/moto-api/reset", timeout=10).raise_for_status()

    def _finish_invocations(self) -> None:
        with contextlib.suppress(TimeoutError):  # daemon threads; stopping must not hang
            self.lambdas.wait_idle()

    @staticmethod
    def _cold_start(clock: SandboxClock | None) -> None:
        """Handlers keep settings and clients per process: a new sandbox is a new cold start,
        on the sandbox's `clock` (None, on the way out: real time again)."""
        detect.reset(clock)
        respond.reset(Responder.from_env(clock=clock) if clock is not None else None)
        people.reset()  # Slack users found by email, kept per workspace URL for the process
        parameters.clear_caches()  # type: ignore[no-untyped-call]

    # -- the story's verbs ---------------------------------------------------------------

    def developer_ec2(self, group_key: str, who: str = ERIN.email) -> Any:
        """An EC2 client in the group's account, signed by a developer session named `who`,
        whose security-group calls the trail records."""
        group = self.org.groups[group_key]
        session = self.org.session(group.account, DEVELOPER_ROLE, who, group.region)
        return self.trail.ec2(session, group.region)

    def deliver_trail(self) -> int:
        """Deliver the trail's new records to the org event data store, as CloudTrail does.

        Returns once the newest record's second is over: CloudTrail stamps whole seconds and
        the detector's window ends before the current second, and real Lake delivers minutes
        late anyway, so a record is never queried in the second it was made.
        """
        records = self.trail.drain()
        self.lake.put_records(self.event_data_store, records)
        if records:
            _wait_until_past(max(parse_time(str(r["eventTime"])) for r in records))
        return len(records)

    def run_detector(self) -> dict[str, Any]:
        """One scheduled run of revertsg-1: the EventBridge event, through Lambda Invoke."""
        now = datetime.now(UTC)
        event = {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": self.org.security,
            "time": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": HOME_REGION,
            "resources": [f"arn:aws:events:{HOME_REGION}:{self.org.security}:rule/sgrevert-detect"],
            "detail": {},
        }
        return self._invoke_detector(event)

    def deliver_events(self, records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        """The real-time path: EventBridge's copy of each CloudTrail record, forwarded to the
        central bus, queued, and handed to revertsg-1 in one batch as its SQS event source
        mapping does. Returns the detector's partial batch response."""
        event = eventbridge.sqs_event(
            [eventbridge.envelope(record) for record in records],
            eventbridge.queue_arn(self.org.security, HOME_REGION),
        )
        return self._invoke_detector(event)

    def _invoke_detector(self, event: Mapping[str, Any]) -> dict[str, Any]:
        client = self._security.client(
            "lambda",
            endpoint_url=self.lambdas.endpoint_url,
            config=Config(read_timeout=DETECT_TIMEOUT_SECONDS, retries={"max_attempts": 0}),
        )
        answer = client.invoke(FunctionName=self.detect_arn, Payload=json.dumps(event).encode())
        result = json.loads(answer["Payload"].read() or b"null")
        if answer.get("FunctionError"):
            raise SandboxError(
                f"the detector failed: {result.get('errorType')}: {result.get('errorMessage')}"
            )
        if not isinstance(result, dict):
            raise SandboxError(f"the detector answered {result!r}, not a mapping")
        return result

    def changes(self) -> store.ChangeStore:
        table = self._security.resource("dynamodb", endpoint_url=self.moto_url).Table(
            self.table_name
        )
        return store.ChangeStore(table)

    def record(self, event_id: str) -> ChangeRecord:
        return self.changes().require(event_id)

    def posted(self, event_id: str) -> Posted:
        """The Slack message of a recorded change, as it reads now."""
        record = self.record(event_id)
        if record.slack_channel is None or record.slack_ts is None:
            raise SandboxError(f"change {event_id} has not been posted to Slack")
        return Posted(event_id, self.slack.message(record.slack_channel, record.slack_ts))

    def click(
        self,
        event_id: str,
        action_id: str,
        user: clicks.SlackUser,
        *,
        signing_secret: str | None = None,
        timestamp: int | None = None,
        option: str | None = None,
        reply: PostedMessage | None = None,
    ) -> requests.Response:
        """`user` clicks `action_id` on the change's message (choosing `option` of a menu,
        by its text), or on `reply`, one of the replies in its thread (a reminder): a
        signed POST to the gateway."""
        message = reply or self.posted(event_id).message
        payload = clicks.block_actions_payload(
            user=user,
            channel=message.channel,
            ts=message.ts,
            text=message.text,
            blocks=message.blocks,
            action_id=action_id,
            response_url=self.slack.new_response_url(message.channel, message.ts),
            option=option,
            thread_ts=message.thread_ts,
        )
        body, headers = clicks.signed_request(
            payload, signing_secret or self.signing_secret, timestamp
        )
        return clicks.post(self.gateway.url, body, headers)

    def wait_for_reverts(self) -> None:
        """Until every asynchronous invocation the responder started has finished."""
        self.lambdas.wait_idle()

    def thread(self, event_id: str) -> list[PostedMessage]:
        """The replies in the thread of a change's message, oldest first."""
        record = self.record(event_id)
        if record.slack_channel is None or record.slack_ts is None:
            raise SandboxError(f"change {event_id} has not been posted to Slack")
        return [
            m
            for m in self.slack.messages(record.slack_channel)
            if m.thread_ts == record.slack_ts and m.ts != record.slack_ts
        ]

    # -- time ------------------------------------------------------------------------------

    def schedules(self) -> list[OneTime]:
        """The expiry group's one-time schedules still to fire, earliest first."""
        return self.scheduler.pending()

    def advance(self, by: timedelta) -> list[Firing]:
        """Let `by` pass: the clock moves ahead, each schedule due on the way fires at its
        time (earliest first), and this returns once every invocation is finished (a wait
        for work to end, not for time to pass). Returns the firings, in order."""
        self.lambdas.wait_idle()  # what is under way finishes at the time it started
        until = self.clock() + by
        return self.scheduler.run_until(until, self.clock, self.lambdas.wait_idle)

    def rules(self, group_key: str) -> list[RuleView]:
        return _describe_rules(self.org, self.org.groups[group_key])


# -- logging -------------------------------------------------------------------------------


def _wait_until_past(second: datetime) -> None:
    remaining = (second + timedelta(seconds=1) - datetime.now(UTC)).total_seconds()
    if remaining > 0:
        time.sleep(remaining)


def _set_env(**values: str) -> None:
    os.environ.update(values)


def _quiet_servers() -> None:
    """Request lines from moto's werkzeug and friends are noise next to the story."""
    for name in ("werkzeug", "moto", "botocore.credentials"):
        logging.getLogger(name).setLevel(logging.ERROR)


_lock = threading.Lock()


@contextlib.contextmanager
def _logs_to_file(path: Path) -> Iterator[None]:
    """Send every log record (the handlers' JSON lines included) to `path` instead of the
    terminal, restoring the loggers afterwards."""
    path.parent.mkdir(parents=True, exist_ok=True)
    target = logging.FileHandler(path, mode="w", encoding="utf-8")
    target.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    target.addFilter(_not_sdk_chatter)
    swapped: list[tuple[logging.Logger, logging.Handler, logging.Handler, bool]] = []
    root = logging.getLogger()
    with _lock:
        # Powertools gives each service logger its own stdout handler: point it at the file.
        # The root's handlers are left alone (a test runner may have its own there).
        for logger in _known_loggers():
            for handler in list(logger.handlers):
                if type(handler) is logging.StreamHandler:
                    replacement = logging.FileHandler(path, mode="a", encoding="utf-8")
                    replacement.setFormatter(handler.formatter)
                    logger.removeHandler(handler)
                    logger.addHandler(replacement)
                    swapped.append((logger, handler, replacement, logger.propagate))
                    logger.propagate = False  # the root copy would duplicate it
        # Loggers without handlers of their own propagate to the root: catch them too.
        root.addHandler(target)
        level = root.level
        root.setLevel(min(level, logging.INFO))
    try:
        yield
    finally:
        with _lock:
            root.removeHandler(target)
            root.setLevel(level)
            target.close()
            for logger, original, file_handler, propagate in swapped:
                logger.removeHandler(file_handler)
                file_handler.close()
                logger.addHandler(original)
                logger.propagate = propagate


def _not_sdk_chatter(record: logging.LogRecord) -> bool:
    """botocore's "Found endpoint for ..." and the like say nothing about sgrevert."""
    sdk = record.name.split(".", 1)[0] in ("botocore", "boto3", "urllib3", "s3transfer")
    return not sdk or record.levelno >= logging.WARNING


def _known_loggers() -> list[logging.Logger]:
    return [
        logger
        for logger in logging.root.manager.loggerDict.values()
        if isinstance(logger, logging.Logger)
    ]
