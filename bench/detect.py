"""Detection throughput: records parsed per second, and a full detector run over 10,000 Lake rows.

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
   records nothing new, and shows what idempotence costs.
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
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "lambdas"), str(ROOT)]

import boto3  # noqa: E402
from moto.server import ThreadedMotoServer  # noqa: E402

from sandbox.lake import LakeStandIn  # noqa: E402
from sandbox.slack_api import SlackStandIn  # noqa: E402
from sgrevert import detect, store  # noqa: E402
from sgrevert.cloudtrail import SkipRecord, parse_record  # noqa: E402
from sgrevert.detector import Detector  # noqa: E402
from sgrevert.lake import LakeQuery  # noqa: E402
from sgrevert.policy import Policy  # noqa: E402
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


@dataclass(frozen=True)
class Run:
    report: dict[str, Any]
    seconds: float
    phases: dict[str, Phase]
    posts: int  # chat.postMessage calls Slack accepted in this run


def full_run() -> None:
    timeout, period = lambda_timeout_seconds(), schedule_period_seconds()
    phases = Phases()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    saved = dict(os.environ)
    host, port = server.get_host_and_port()
    for name in ("AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        os.environ.pop(name, None)
    os.environ.update(
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        AWS_SESSION_TOKEN="bench",
        AWS_REGION=REGION,
        AWS_DEFAULT_REGION=REGION,
        AWS_ENDPOINT_URL=f"http://{host}:{port}",
    )
    try:
        with (
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
                with phases.timing():
                    started = time.perf_counter()
                    report = detect.handler({"source": "aws.events"}, context)
                    seconds = time.perf_counter() - started
                runs.append(Run(report, seconds, dict(phases.phases), len(slack.posted) - before))
            rate_limited = slack.rate_limited
    finally:
        server.stop()
        os.environ.clear()
        os.environ.update(saved)
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
    for name in ("POLICY", "LOOKBACK_MINUTES", "DETECTION", "LAKE_READ_ROLE_ARN"):
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
