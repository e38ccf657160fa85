"""Detection throughput: records parsed per second, a full detector run over 10,000 Lake rows,
and what reading each change's context costs.

Run: .venv/bin/python -m bench.detect   (`.venv/bin/python bench/detect.py` works too)

1. Parse: 10,000 real-shaped CloudTrail records, as Lake hands them over (`eventJson` text),
   through `json.loads` and `parse_record`.
2. Full run: the scheduled handler (`sgrevert.detect.handler`, invoked as the EventBridge
   schedule invokes it) over 10,000 distinct security-group changes from the last few
   minutes, against the CloudTrail Lake stand-in (DuckDB behind Lake's JSON API), moto
   server (DynamoDB and Secrets Manager) and the Slack stand-in with Slack's posting rate
   limit on (one message a second per channel, 429 and Retry-After beyond). Everything
   speaks HTTP on 127.0.0.1 and runs in this one process. The changes come from many
   actors across many groups, so bursts are grouped and the run's message cap applies as
   in production (the default policy). A second run over the same window follows: it
   records nothing new, and shows what idempotence costs. The handler reads each posted
   change's context too; this run's groups exist only in its records (not in moto), so
   that read ends in gaps, and the output says what it cost.
3. Context: 200 changes over 20 real moto groups (instances with and without public IPs,
   database and load-balancer interfaces, groups attached to nothing) in 4 account/regions
   of a moto organization, by 10 people who are Slack members. The detector records and
   posts them (`Detector.record` and `post_pending`, as the handler calls them) without
   context, then with the `ContextReader` built as `sgrevert.detect` builds it (through a
   hub role and describe-only spoke sessions; account names through a management-account
   role), first with cold caches (a cold Lambda's first run), then warm (the same process's
   next run: account names and Slack users are kept). Each variant has its own table and
   its own 200 new changes. AWS API calls are counted on the clients with botocore's
   `before-call` event (EC2 through `ContextReader`'s `ec2` factory, Organizations through
   `AccountNames`' factory, DynamoDB on the table's client), STS AssumeRole in moto's STS
   state (every hop, the hub's own sessions included) and Slack calls at the Slack
   stand-in. Slack's rate limit is off here, so the times are the detector's own work.
"""

from __future__ import annotations

import ast
import contextlib
import copy
import functools
import json
import logging
import os
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "lambdas"), str(ROOT)]

import boto3  # noqa: E402
import requests  # noqa: E402
from moto.server import ThreadedMotoServer  # noqa: E402
from moto.sts.models import sts_backends  # noqa: E402
from slack_sdk import WebClient  # noqa: E402

from sandbox.lake import LakeStandIn  # noqa: E402
from sandbox.slack_api import SlackStandIn  # noqa: E402
from sgrevert import aws, detect, store  # noqa: E402
from sgrevert.account_names import AccountNames  # noqa: E402
from sgrevert.cloudtrail import SkipRecord, parse_record  # noqa: E402
from sgrevert.context import ChangeContext  # noqa: E402
from sgrevert.context_read import ContextReader  # noqa: E402
from sgrevert.detector import Detector, RunReport  # noqa: E402
from sgrevert.lake import LakeQuery  # noqa: E402
from sgrevert.model import Change  # noqa: E402
from sgrevert.people import PeopleMemo, SlackPeople  # noqa: E402
from sgrevert.policy import Policy  # noqa: E402
from sgrevert.record_reads import ContextSource  # noqa: E402
from sgrevert.roles import READ_SESSION_NAME, RoleChain  # noqa: E402
from sgrevert.slack import ChannelPoster  # noqa: E402
from sgrevert.store import ChangeStore  # noqa: E402
from tests.support import BOT_TOKEN, REGION, SIGNING_SECRET, LambdaContext, load_event  # noqa: E402

EVENTS = ROOT / "tests" / "events"
ROWS = 10_000

# The full run's changes: ACTORS principals over GROUPS groups (each group changed by one
# actor, ROWS / GROUPS times), ports and sources varied so risk ratings vary too.
ACTORS = 50
GROUPS = 500
PORTS = (443, 22, 8080, 3389, 5432)
SPREAD = timedelta(minutes=8)  # eventTimes from 9 to 1 minute ago, inside the lookback
CHANNEL = "C0SECURITY"
PAGE_SIZE = 1000  # GetQueryResults' largest page


def main() -> None:
    parse_throughput()
    print()
    full_run()
    print()
    context_cost()


# -- 1. parse throughput -----------------------------------------------------------------------


def parse_throughput() -> None:
    fixtures = [json.loads(p.read_text()) for p in sorted(EVENTS.glob("*.json"))]
    records = []
    for n in range(ROWS):
        record = copy.deepcopy(fixtures[n % len(fixtures)])
        record["eventID"] = str(uuid.uuid4())
        records.append(record)
    texts = [json.dumps(r) for r in records]  # as Lake hands them over: eventJson text
    started = time.perf_counter()
    parsed = skipped = 0
    for text in texts:
        try:
            parse_record(json.loads(text))
            parsed += 1
        except SkipRecord:
            skipped += 1
    elapsed = time.perf_counter() - started
    print(f"records: {ROWS} ({parsed} changes, {skipped} skipped)")
    print(f"parse (json.loads + parse_record): {elapsed:.3f} s = {ROWS / elapsed:,.0f} records/s")
    print(
        f"per record: {elapsed / ROWS * 1e6:.1f} us; a 10-minute window of 10,000 changes "
        f"costs {elapsed / 600 * 100:.3f}% of the schedule period in parsing"
    )


# -- 2. the full scheduled run -----------------------------------------------------------------


@dataclass
class Phase:
    seconds: float = 0.0
    calls: int = 0


@dataclass
class Phases:
    """Wall time spent inside selected methods, accumulated while `timing()` is active."""

    phases: dict[str, Phase] = field(default_factory=dict)

    def __getitem__(self, name: str) -> Phase:
        return self.phases.setdefault(name, Phase())

    def reset(self) -> None:
        self.phases.clear()

    @contextlib.contextmanager
    def timing(self) -> Iterator[None]:
        wrapped = [
            (LakeQuery, "rows", "lake", True),
            (Detector, "record", "record", False),
            (ChangeStore, "recorded", "record: DynamoDB BatchGetItem (known)", False),
            (ChangeStore, "record_new", "record: DynamoDB put_item", False),
            (Detector, "post_pending", "post", False),
            (ChangeStore, "unposted_ids", "post: DynamoDB query (unposted)", False),
            (ChangeStore, "get_many", "post: DynamoDB BatchGetItem", False),
            (ContextReader, "read", "post: context read", False),
            (ChangeStore, "set_context", "post: DynamoDB set_context", False),
            (ChangeStore, "claim_post", "post: DynamoDB writes", False),
            (ChangeStore, "save_batch", "post: DynamoDB writes", False),
            (ChangeStore, "mark_posted", "post: DynamoDB writes", False),
            (ChannelPoster, "post", "post: Slack chat.postMessage", False),
        ]
        originals = [(owner, name, owner.__dict__[name]) for owner, name, _, _ in wrapped]
        for owner, name, phase, generator in wrapped:
            original = owner.__dict__[name]
            timed = self._generator(original, phase) if generator else self._call(original, phase)
            setattr(owner, name, timed)
        try:
            yield
        finally:
            for owner, name, original in originals:
                setattr(owner, name, original)

    def _call(self, original: Callable[..., Any], name: str) -> Callable[..., Any]:
        @functools.wraps(original)
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                phase = self[name]
                phase.seconds += time.perf_counter() - started
                phase.calls += 1

        return timed

    def _generator(self, original: Callable[..., Any], name: str) -> Callable[..., Any]:
        """Times each step of a generator (the Lake query and its pages), not the consumer."""

        @functools.wraps(original)
        def timed(*args: Any, **kwargs: Any) -> Iterator[Any]:
            phase = self[name]
            phase.calls += 1
            iterator = iter(original(*args, **kwargs))
            while True:
                started = time.perf_counter()
                try:
                    item = next(iterator)
                except StopIteration:
                    return
                finally:
                    phase.seconds += time.perf_counter() - started
                yield item

        return timed


@dataclass
class ContextSeen:
    """What the handler's context reads covered in one run, and what they could not read."""

    changes: int = 0
    groups: int = 0
    places: int = 0
    gaps: Counter[str] = field(default_factory=Counter)  # reason -> changes


@contextlib.contextmanager
def context_reads(seen: ContextSeen) -> Iterator[None]:
    """Notes what each `ContextReader.read` was asked and answered (it is called as usual)."""
    original = ContextReader.__dict__["read"]

    @functools.wraps(original)
    def read(self: ContextReader, changes: Sequence[Change], *args: Any) -> Any:
        contexts: dict[str, ChangeContext] = original(self, changes, *args)
        seen.changes += len(changes)
        seen.groups += len({(c.account, c.region, c.group_id) for c in changes})
        seen.places += len({(c.account, c.region) for c in changes})
        for context in contexts.values():
            seen.gaps.update({gap.reason for gap in context.gaps})
        return contexts

    setattr(ContextReader, "read", read)  # noqa: B010 (as Phases.timing wraps methods)
    try:
        yield
    finally:
        setattr(ContextReader, "read", original)  # noqa: B010


def assumed_roles(session_name: str | None = None) -> int:
    """AssumeRole calls moto has answered (every account's STS state), optionally only those
    of one session name: counted where they land, so the hub's own hop is counted too."""
    return sum(
        1
        for by_partition in list(sts_backends.values())
        for backend in list(by_partition.values())
        for role in list(backend.assumed_roles)
        if session_name is None or role.session_name == session_name
    )


@dataclass(frozen=True)
class Run:
    report: dict[str, Any]
    seconds: float
    phases: dict[str, Phase]
    posts: int  # chat.postMessage calls Slack accepted in this run
    context: ContextSeen
    assumed: int  # STS AssumeRole calls for context (session sgrevert-context)


@contextlib.contextmanager
def moto_server() -> Iterator[str]:
    """moto server on a free loopback port, with the environment pointing boto3 at it (and
    at nothing else: no profile or config file), restored on the way out."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    saved = dict(os.environ)
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    for name in ("AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        os.environ.pop(name, None)
    os.environ.update(
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        AWS_SESSION_TOKEN="bench",
        AWS_REGION=REGION,
        AWS_DEFAULT_REGION=REGION,
        AWS_ENDPOINT_URL=endpoint,
    )
    try:
        yield endpoint
    finally:
        server.stop()
        os.environ.clear()
        os.environ.update(saved)


def full_run() -> None:
    timeout, period = lambda_timeout_seconds(), schedule_period_seconds()
    phases = Phases()
    try:
        with (
            moto_server(),
            LakeStandIn(page_size=PAGE_SIZE, running_polls=1) as lake,
            SlackStandIn(bot_token=BOT_TOKEN) as slack,
            quiet(),
        ):
            slack.rate_limit_per_second = 1.0
            data_store = lake.create_event_data_store("org-trail")
            lake.put_records(data_store, changes(datetime.now(UTC)))
            configure(data_store, lake, slack)
            runs = []
            for _ in range(2):
                phases.reset()
                before = len(slack.posted)
                # Lambda's context, as the tests build it; its remaining time stays at the full
                # timeout (it does not count down), so wall time is compared with it below.
                context: Any = LambdaContext(remaining_ms=int(timeout * 1000))
                seen, assumed = ContextSeen(), assumed_roles(READ_SESSION_NAME)
                with phases.timing(), context_reads(seen):
                    started = time.perf_counter()
                    report = detect.handler({"source": "aws.events"}, context)
                    seconds = time.perf_counter() - started
                assumed = assumed_roles(READ_SESSION_NAME) - assumed
                posts = len(slack.posted) - before
                runs.append(Run(report, seconds, dict(phases.phases), posts, seen, assumed))
            rate_limited = slack.rate_limited
    finally:
        detect.reset()
    show(runs, timeout, period, rate_limited)


def configure(data_store: str, lake: LakeStandIn, slack: SlackStandIn) -> None:
    """The table, the Slack secret and the detector's environment, as the stack sets them."""
    store.create_table(boto3.client("dynamodb"), store.DEFAULT_TABLE_NAME)
    secret = {"bot_token": BOT_TOKEN, "signing_secret": SIGNING_SECRET}
    arn = boto3.client("secretsmanager").create_secret(
        Name="sgrevert/slack", SecretString=json.dumps(secret)
    )["ARN"]
    os.environ.update(
        TABLE_NAME=store.DEFAULT_TABLE_NAME,
        SLACK_SECRET_ARN=arn,
        SLACK_CHANNEL_ID=CHANNEL,
        SLACK_API_URL=slack.api_url,
        EVENT_DATA_STORE=data_store,
        AWS_ENDPOINT_URL_CLOUDTRAIL=lake.endpoint_url,
    )
    for name in (
        "POLICY",
        "LOOKBACK_MINUTES",
        "DETECTION",
        "LAKE_READ_ROLE_ARN",
        "HUB_ROLE_ARN",
        "ORG_READ_ROLE_ARN",
    ):
        os.environ.pop(name, None)
    detect.reset()


def changes(now: datetime) -> list[dict[str, Any]]:
    """ROWS distinct AuthorizeSecurityGroupIngress records, oldest SPREAD before the newest."""
    template = load_event("authorize_ingress_ipv4")
    records = []
    for n in range(ROWS):
        group = f"sg-{n % GROUPS:017x}"
        actor = f"deploy-{n % GROUPS % ACTORS}"
        cidr = f"10.{n % 250}.{n // 250}.0/24"
        port = PORTS[n % len(PORTS)]
        when = now - timedelta(minutes=1) - SPREAD * (ROWS - n) / ROWS
        record = copy.deepcopy(template)
        record["eventID"] = str(uuid.uuid4())
        record["eventTime"] = when.strftime("%Y-%m-%dT%H:%M:%SZ")
        identity = record["userIdentity"]
        identity["arn"] = f"arn:aws:sts::111122223333:assumed-role/{actor}/pipeline"
        identity["sessionContext"]["sessionIssuer"]["arn"] = (
            f"arn:aws:iam::111122223333:role/{actor}"
        )
        record["requestParameters"]["groupId"] = group
        permission = record["requestParameters"]["ipPermissions"]["items"][0]
        permission["ipRanges"] = {"items": [{"cidrIp": cidr}]}
        permission["fromPort"] = permission["toPort"] = port
        rule = record["responseElements"]["securityGroupRuleSet"]["items"][0]
        rule.update(groupId=group, securityGroupRuleId=f"sgr-{n:017x}", cidrIpv4=cidr)
        rule["fromPort"] = rule["toPort"] = port
        records.append(record)
    return records


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Every record logs a line: keep errors only, so the output is the figures. (The
    Powertools child loggers carry their own level, so the loggers' levels are not enough.)"""
    logging.disable(logging.WARNING)
    try:
        yield
    finally:
        logging.disable(logging.NOTSET)


def show(runs: list[Run], timeout: float, period: float, rate_limited: int) -> None:
    first, second = runs
    cap = Policy().max_messages_per_run
    print(
        f"full scheduled run: {ROWS:,} Lake rows, {ACTORS} actors over {GROUPS} groups, eventTimes "
        f"over {SPREAD.seconds // 60} min; default policy (at most {cap} messages a run)"
    )
    print(
        "Lake stand-in (DuckDB), moto server (DynamoDB, Secrets Manager), Slack stand-in "
        "(1 post/s per channel): HTTP on 127.0.0.1, all in this process"
    )
    _line("", "run 1 (new)", "run 2 (same window)")
    for label, key in REPORTED:
        _line(label, f"{first.report[key]:,}", f"{second.report[key]:,}")
    _line("chat.postMessage accepted", f"{first.posts:,}", f"{second.posts:,}")
    _line("wall time (s)", f"{first.seconds:.1f}", f"{second.seconds:.1f}")
    _line(
        "rows/s (rows / wall time)", f"{ROWS / first.seconds:,.0f}", f"{ROWS / second.seconds:,.0f}"
    )
    _line(
        "share of the schedule period",
        f"{first.seconds / period:.1%}",
        f"{second.seconds / period:.1%}",
    )
    _line(
        "share of the Lambda timeout",
        f"{first.seconds / timeout:.1%}",
        f"{second.seconds / timeout:.1%}",
    )
    print("where the time went, s (calls):")
    for label in BREAKDOWN:
        _line(f"  {label}", _phase(label, first), _phase(label, second))
    for label, run in (("run 1", first), ("run 2", second)):
        show_context_seen(label, run)
    left, per_run = second.report["left_unposted"], max(second.report["posted"], 1)
    runs_left = -(-left // per_run)
    print(
        f"left unposted after run 2: {left:,}; at {per_run:,} changes a run that is {runs_left} "
        f"more runs ({runs_left * period / 3600:.1f} h on the schedule)"
    )
    print(
        f"schedule period {period / 60:.0f} min (cdk.json schedule_minutes); Lambda timeout "
        f"{timeout / 60:.0f} min (infra/detector.py TIMEOUT); Slack 429s waited out: {rate_limited}"
    )
    print(
        "DynamoDB is moto over HTTP on localhost, in this process: the DynamoDB figures are "
        "local ones, not DynamoDB's. The Lake figure is DuckDB's, not Lake's query time."
    )


REPORTED = [
    ("rows read", "rows"),
    ("changes recorded", "recorded"),
    ("already recorded", "already_recorded"),
    ("changes posted", "posted"),
    ("Slack messages (bursts grouped)", "messages"),
    ("left for later runs (summary)", "summarized"),
]
BREAKDOWN = [
    "lake",
    "record",
    "record: DynamoDB BatchGetItem (known)",
    "record: DynamoDB put_item",
    "record: parse + policy",
    "post",
    "post: DynamoDB query (unposted)",
    "post: DynamoDB BatchGetItem",
    "post: DynamoDB writes",
    "post: Slack chat.postMessage",
    "handler setup and the rest",
]


def show_context_seen(label: str, run: Run) -> None:
    seen = run.context
    read = run.phases.get("post: context read", Phase())
    kept = run.phases.get("post: DynamoDB set_context", Phase())
    print(
        f"context, {label}: {seen.changes:,} changes in {seen.groups} groups at {seen.places} "
        f"account/region(s) read in {read.seconds:.2f} s ({read.seconds / run.seconds:.1%} of "
        f"the run), {run.assumed} STS AssumeRole; kept with {kept.calls:,} DynamoDB writes in "
        f"{kept.seconds:.1f} s"
    )
    for reason, changes in seen.gaps.most_common():
        print(f"  could not read (for {changes:,} changes): {reason}")
    if seen.gaps:
        print(
            "  (this run's groups and account exist only in its records, not in moto, so the "
            "reads end in gaps; section 3 reads real ones)"
        )


def _line(label: str, first: str, second: str) -> None:
    print(f"{label:36}{first:>16}{second:>22}")


def _phase(label: str, run: Run) -> str:
    phases = run.phases

    def seconds(name: str) -> float:
        return phases[name].seconds if name in phases else 0.0

    if label == "record: parse + policy":
        dynamodb = seconds("record: DynamoDB put_item") + seconds(
            "record: DynamoDB BatchGetItem (known)"
        )
        return f"{seconds('record') - dynamodb:.1f}"
    if label == "handler setup and the rest":
        return f"{run.seconds - seconds('lake') - seconds('record') - seconds('post'):.1f}"
    phase = phases.get(label, Phase())
    return f"{phase.seconds:.1f} ({phase.calls:,})"


# -- 3. what reading context costs ---------------------------------------------------------

CONTEXT_ACCOUNTS = ("prod-payments", "prod-web")
CONTEXT_REGIONS = ("eu-west-1", "us-east-1")
GROUPS_PER_PLACE = 5  # 4 account/regions: 20 groups
CHANGES_PER_GROUP = 10  # 200 changes, each group's by one person: 20 messages
CONTEXT_PEOPLE = 10  # each changes two groups
HUB_ROLE = "sgrevert-hub"
SPOKE_ROLE = "spoke-001"
ORG_READ_ROLE = "sgrevert-org-read"
ADMIN_ROLE = "OrganizationAccountAccessRole"  # moto's create_account makes it, as AWS does
AMI = "ami-760aaa0f"  # one of moto's default AMIs (Amazon Linux)
SSO_ROLE = "AWSReservedSSO_Developer_9a8b7c6d5e4f3a2b"
# What each of a place's five groups is attached to.
ATTACHMENTS = (
    "2 instances, 1 with a public IP",
    "1 private instance",
    "a database's interface (RDSNetworkInterface)",
    "a load balancer's interface (ELB app/...)",
    "nothing",
)


@dataclass(frozen=True)
class BenchGroup:
    account: str
    region: str
    group_id: str
    person: str  # the email the changer's SSO session is named after


@dataclass(frozen=True)
class World:
    security: str
    hub_role_arn: str
    org_read_role_arn: str
    groups: tuple[BenchGroup, ...]


class Calls:
    """API calls made through the clients it watches, by service and operation: botocore's
    `before-call` event fires once a call (a page is a call; retries are not)."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def watch(self, client: Any) -> Any:
        service = client.meta.service_model.service_id

        def count(model: Any, **_: Any) -> None:
            with self._lock:
                self.counts[f"{service} {model.name}"] += 1

        client.meta.events.register("before-call", count)
        return client

    def snapshot(self) -> Counter[str]:
        with self._lock:
            return Counter(self.counts)


class Stopwatch:
    """Seconds summed over calls from any thread (the reader's places run four at a time)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def timing(self) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            with self._lock:
                self.seconds += time.perf_counter() - started


class TimedChain(RoleChain):
    """The role chain, timing its read clients (the hub and spoke hops, and the client)."""

    def __init__(self, *args: Any, watch: Stopwatch) -> None:
        super().__init__(*args)
        self._watch = watch

    def read_client(self, *args: Any, **kwargs: Any) -> Any:
        with self._watch.timing():
            return super().read_client(*args, **kwargs)


class TimedContext:
    """The detector's context source, timed: `read` is the reader's, and how long it took."""

    def __init__(self, reader: ContextReader) -> None:
        self._reader = reader
        self.seconds = 0.0
        self.gaps: Counter[str] = Counter()

    def read(
        self, changes: Sequence[Change], now: datetime, budget_seconds: float
    ) -> dict[str, ChangeContext]:
        started = time.perf_counter()
        try:
            contexts = self._reader.read(changes, now, budget_seconds)
        finally:
            self.seconds += time.perf_counter() - started
        for context in contexts.values():
            self.gaps.update({gap.reason for gap in context.gaps})
        return contexts


@dataclass(frozen=True)
class Variant:
    label: str
    report: RunReport
    seconds: float
    context_seconds: float | None
    calls: Counter[str]  # "EC2 DescribeInstances", "DynamoDB PutItem", "STS AssumeRole", ...
    slack: Counter[str]  # Slack Web API method -> calls
    gaps: Counter[str]
    hops_seconds: float = 0.0  # in RoleChain.read_client, summed over places


def context_cost() -> None:
    with moto_server() as endpoint, SlackStandIn(bot_token=BOT_TOKEN) as slack, quiet():
        # moto's state is the process's: the full run's tables and roles go first
        requests.post(f"{endpoint}/moto-api/reset", timeout=30).raise_for_status()
        started = time.perf_counter()
        world = build_world(slack)
        built = time.perf_counter() - started
        calls = Calls()  # every watched client counts here; each variant takes its delta
        # A cold Lambda's first run builds these; a warm one's next run still has them.
        names, memo = account_names(world, calls), PeopleMemo()
        variants = [
            run_variant("without", world, slack, calls, None),
            run_variant("with, cold", world, slack, calls, (names, memo)),
            run_variant("with, warm", world, slack, calls, (names, memo)),
        ]
    show_context(variants, built)


def account_names(world: World, calls: Calls) -> AccountNames:
    """As `sgrevert.detect.account_names` builds it: ListAccounts through the org read role."""

    def organizations() -> Any:
        base = aws.assumed_session(world.org_read_role_arn, "sgrevert-accounts")
        return calls.watch(aws.client("organizations", base))

    return AccountNames(organizations)


def run_variant(
    label: str,
    world: World,
    slack: SlackStandIn,
    calls: Calls,
    caches: tuple[AccountNames, PeopleMemo] | None,
) -> Variant:
    """One detector run over 200 new changes, into a table of its own; without context when
    `caches` is None, else with a ContextReader over those account names and Slack memo."""
    table_name = f"sgrevert-bench-{label.replace(', ', '-')}"
    store.create_table(boto3.client("dynamodb"), table_name)
    table = boto3.resource("dynamodb", config=aws.RETRY_CONFIG).Table(table_name)
    calls.watch(table.meta.client)
    web = WebClient(token=BOT_TOKEN, base_url=slack.api_url)
    source: TimedContext | None = None
    hops = Stopwatch()
    if caches is not None:
        names, memo = caches

        reader = ContextReader(
            TimedChain(aws.client("sts"), world.hub_role_arn, SPOKE_ROLE, watch=hops),
            names,
            SlackPeople(web, memo=memo),
            owner_tag_keys=Policy().owner_tag_keys,
            watch=calls.watch,
        )
        source = TimedContext(reader)
    context: ContextSource | None = source
    detector = Detector(
        store=ChangeStore(table),
        poster=ChannelPoster(web, CHANNEL),
        clock=lambda: datetime.now(UTC),
        time_left=lambda: 900.0,
        policy=Policy(),
        context=context,
    )
    records = context_changes(world, datetime.now(UTC))
    before, slack_before, assumed = calls.snapshot(), len(slack.calls), assumed_roles()
    report = RunReport()
    started = time.perf_counter()
    detector.post_pending(detector.record(records, report), report)
    seconds = time.perf_counter() - started
    counted = calls.snapshot() - before
    counted["STS AssumeRole"] = assumed_roles() - assumed
    return Variant(
        label=label,
        report=report,
        seconds=seconds,
        context_seconds=source.seconds if source else None,
        calls=counted,
        slack=Counter(method for method, _ in slack.calls[slack_before:]),
        gaps=source.gaps if source else Counter(),
        hops_seconds=hops.seconds,
    )


def build_world(slack: SlackStandIn) -> World:
    """A moto organization: a security account with the hub role, two member accounts with
    spoke roles and, in each of their two regions, a VPC with five groups attached as
    `ATTACHMENTS` says; and the people who change them, as Slack members."""
    orgs = boto3.client("organizations")
    orgs.create_organization(FeatureSet="ALL")
    accounts = {
        name: str(
            orgs.create_account(AccountName=name, Email=f"aws+{name}@example.com")[
                "CreateAccountStatus"
            ]["AccountId"]
        )
        for name in ("security", *CONTEXT_ACCOUNTS)
    }
    management = str(orgs.describe_organization()["Organization"]["MasterAccountId"])
    security = accounts["security"]
    hub_role_arn = _role(security, HUB_ROLE, f"arn:aws:iam::{security}:root")
    org_read_role_arn = _role(management, ORG_READ_ROLE, f"arn:aws:iam::{security}:root")
    groups: list[BenchGroup] = []
    for name in CONTEXT_ACCOUNTS:
        account = accounts[name]
        _role(account, SPOKE_ROLE, hub_role_arn)
        for region in CONTEXT_REGIONS:
            groups += _place(account, region, first=len(groups))
    for n in range(CONTEXT_PEOPLE):
        slack.add_user(f"U0DEV{n:04d}", _person(n), f"dev{n}")
    return World(security, hub_role_arn, org_read_role_arn, tuple(groups))


def _admin(account: str, region: str = REGION) -> boto3.Session:
    if account == boto3.client("sts").get_caller_identity()["Account"]:
        return boto3.Session(region_name=region)
    credentials = boto3.client("sts").assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/{ADMIN_ROLE}", RoleSessionName="bench-builder"
    )["Credentials"]
    return boto3.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name=region,
    )


def _role(account: str, name: str, trusted: str) -> str:
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": trusted}, "Action": "sts:AssumeRole"}
        ],
    }
    iam = _admin(account).client("iam")
    role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))
    return str(role["Role"]["Arn"])


def _place(account: str, region: str, first: int) -> list[BenchGroup]:
    ec2 = _admin(account, region).client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    groups = []
    for index in range(GROUPS_PER_PLACE):
        n = first + index
        group_id = ec2.create_security_group(
            GroupName=f"app-{n}", Description=f"app {n}", VpcId=vpc
        )["GroupId"]
        ec2.create_tags(Resources=[group_id], Tags=[{"Key": "Team", "Value": f"team-{n % 4}"}])
        ec2.authorize_security_group_ingress(
            GroupId=group_id,
            IpPermissions=[
                {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": c}]}
                for c in ("10.0.0.0/8", "192.168.0.0/16")
            ],
        )
        if index == 0:
            _instance(ec2, subnet, group_id, f"app-{n}-a", public=True)
            _instance(ec2, subnet, group_id, f"app-{n}-b", public=False)
        elif index == 1:
            _instance(ec2, subnet, group_id, f"app-{n}", public=False)
        elif index in (2, 3):
            description = "RDSNetworkInterface" if index == 2 else f"ELB app/app-{n}/50dc6c495c0c"
            ec2.create_network_interface(
                SubnetId=subnet, Groups=[group_id], Description=description
            )
        groups.append(BenchGroup(account, region, group_id, _person(n % CONTEXT_PEOPLE)))
    return groups


def _instance(ec2: Any, subnet: str, group_id: str, name: str, *, public: bool) -> None:
    ec2.run_instances(
        ImageId=AMI,
        MinCount=1,
        MaxCount=1,
        NetworkInterfaces=[
            {
                "DeviceIndex": 0,
                "SubnetId": subnet,
                "Groups": [group_id],
                "AssociatePublicIpAddress": public,
            }
        ],
        TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": name}]}],
    )


def _person(n: int) -> str:
    return f"dev{n}@example.com"


def context_changes(world: World, now: datetime) -> list[dict[str, Any]]:
    """CHANGES_PER_GROUP AuthorizeSecurityGroupIngress records on each group, by its person
    through their SSO role, in the last few minutes."""
    template = load_event("authorize_ingress_ipv4")
    total = len(world.groups) * CHANGES_PER_GROUP
    records = []
    for n in range(total):
        group = world.groups[n % len(world.groups)]
        port = PORTS[n % len(PORTS)]
        cidr = f"10.{n % 250}.{n // 250}.0/24"
        record = copy.deepcopy(template)
        record["eventID"] = str(uuid.uuid4())
        when = now - timedelta(minutes=1) - timedelta(seconds=total - n)
        record["eventTime"] = when.strftime("%Y-%m-%dT%H:%M:%SZ")
        record["recipientAccountId"] = group.account
        record["awsRegion"] = group.region
        identity = record["userIdentity"]
        identity["accountId"] = group.account
        identity["arn"] = f"arn:aws:sts::{group.account}:assumed-role/{SSO_ROLE}/{group.person}"
        identity["sessionContext"]["sessionIssuer"]["arn"] = (
            f"arn:aws:iam::{group.account}:role/{SSO_ROLE}"
        )
        record["requestParameters"]["groupId"] = group.group_id
        permission = record["requestParameters"]["ipPermissions"]["items"][0]
        permission["ipRanges"] = {"items": [{"cidrIp": cidr}]}
        permission["fromPort"] = permission["toPort"] = port
        rule = record["responseElements"]["securityGroupRuleSet"]["items"][0]
        rule.update(
            groupId=group.group_id,
            groupOwnerId=group.account,
            securityGroupRuleId=f"sgr-{uuid.uuid4().hex[:17]}",
            cidrIpv4=cidr,
            fromPort=port,
            toPort=port,
        )
        records.append(record)
    return records


CONTEXT_ROWS = [
    "STS AssumeRole",
    "Organizations ListAccounts",
    "EC2 DescribeSecurityGroups",
    "EC2 DescribeSecurityGroupRules",
    "EC2 DescribeNetworkInterfaces",
    "EC2 DescribeInstances",
]


def show_context(variants: list[Variant], built: float) -> None:
    _, cold, warm = variants
    changes = cold.report.recorded
    places = len(CONTEXT_ACCOUNTS) * len(CONTEXT_REGIONS)
    groups = places * GROUPS_PER_PLACE
    print(
        f"context: {changes} changes over {groups} moto groups in {places} account/regions "
        f"({len(CONTEXT_ACCOUNTS)} accounts x {len(CONTEXT_REGIONS)} regions), by "
        f"{CONTEXT_PEOPLE} people who are Slack members; Slack's rate limit off"
    )
    print(f"each place's {GROUPS_PER_PLACE} groups are attached to: {'; '.join(ATTACHMENTS)}")
    print(f"(world built in {built:.1f} s, not counted)")
    print(f"{'':36}{'without':>10}{'with, cold':>13}{'ratio':>8}{'with, warm':>13}{'ratio':>8}")

    def row(label: str, values: list[float], fmt: str = "{:,.0f}", ratio: bool = True) -> None:
        base, *others = values
        cells = [f"{fmt.format(base):>10}"]
        for value in others:
            cells.append(f"{fmt.format(value):>13}")
            cells.append(f"{f'{value / base:.2f}x' if ratio and base else '-':>8}")
        print(f"{label:36}" + "".join(cells))

    def context_calls(v: Variant) -> int:
        return sum(v.calls[name] for name in CONTEXT_ROWS)

    def dynamodb(v: Variant) -> int:
        return sum(n for name, n in v.calls.items() if name.startswith("DynamoDB "))

    row("changes recorded", [v.report.recorded for v in variants], ratio=False)
    row("changes posted", [v.report.posted for v in variants], ratio=False)
    row("Slack messages", [v.report.messages for v in variants], ratio=False)
    row("wall time, record + post (s)", [v.seconds for v in variants], "{:.2f}")
    row("  of which reading context (s)", [v.context_seconds or 0.0 for v in variants], "{:.2f}")
    print("  reading context, summed over the places read in parallel:")
    row("    STS hops and the EC2 client (s)", [v.hops_seconds for v in variants], "{:.2f}", False)
    row("AWS API calls", [context_calls(v) + dynamodb(v) for v in variants])
    for name in CONTEXT_ROWS:
        row(f"  {name}", [v.calls[name] for v in variants], ratio=False)
    row("  DynamoDB (all operations)", [dynamodb(v) for v in variants])
    row("  DynamoDB UpdateItem", [v.calls["DynamoDB UpdateItem"] for v in variants])
    row("Slack chat.postMessage", [v.slack["chat.postMessage"] for v in variants], ratio=False)
    row(
        "Slack users.lookupByEmail", [v.slack["users.lookupByEmail"] for v in variants], ratio=False
    )
    for v in (cold, warm):
        total = context_calls(v)
        seconds = v.context_seconds or 0.0
        kept = dynamodb(v) - dynamodb(variants[0])
        print(
            f"context, {v.label}: {total} AWS reads = {total / changes:.2f} a change, "
            f"{total / groups:.2f} a group, {total / places:.1f} an account/region, and "
            f"{kept} more DynamoDB writes to keep it ({kept / changes:.0f} a change); "
            f"{seconds * 1000 / changes:.1f} ms of reading a change, {seconds / v.seconds:.0%} "
            f"of the run; {v.slack['users.lookupByEmail']} Slack lookups"
        )
    gaps = cold.gaps + warm.gaps
    print(
        "nothing left unread"
        if not gaps
        else "could not read: " + "; ".join(f"{r} ({n})" for r, n in gaps.most_common())
    )
    print(
        "EC2 calls are one DescribeSecurityGroups and one DescribeSecurityGroupRules page per "
        "account/region, one DescribeNetworkInterfaces per group and one DescribeInstances per "
        "group with instances; STS is the hub hop and the spoke hop per account/region (and, "
        "cold, the org read role); ListAccounts is once an hour per process"
    )
    print(
        "moto answers on localhost in this process: a real EC2, STS or Organizations call is "
        "tens of ms away, so in AWS the calls count for more than here, and they are made "
        "4 account/regions at a time"
    )


def lambda_timeout_seconds() -> float:
    """`TIMEOUT = cdk.Duration.<unit>(n)` in infra/detector.py, read without importing CDK."""
    tree = ast.parse((ROOT / "infra" / "detector.py").read_text())
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "TIMEOUT" for t in node.targets)
            and isinstance(node.value, ast.Call)
            and isinstance(node.value.func, ast.Attribute)
            and isinstance(node.value.args[0], ast.Constant)
            and isinstance(node.value.args[0].value, int | float)
        ):
            unit = {"seconds": 1, "minutes": 60, "hours": 3600}[node.value.func.attr]
            return float(node.value.args[0].value) * unit
    raise LookupError("no TIMEOUT = cdk.Duration...(n) in infra/detector.py")


def schedule_period_seconds() -> float:
    context = json.loads((ROOT / "cdk.json").read_text())["context"]
    return float(context.get("schedule_minutes", 10)) * 60


if __name__ == "__main__":
    main()
