"""Click to acknowledgement: sgrevert's responder beside a Slack Bolt app doing the same work.

Run: .venv/bin/python -m bench.ack

One signed Approve click (an API Gateway REST proxy event, as API Gateway hands it to
Lambda) per sample, each on a fresh pending change whose message is posted, so every click
does the real work. Measured: the time from the handler being given the event to the proxy
response it returns, which is what API Gateway sends back to Slack (the acknowledgement);
Slack gives up after 3 seconds.

- cold: a fresh interpreter per sample. The clock starts before the handler's module is
  imported and stops when the first response is returned (the interpreter's own start-up,
  the same for both, is not counted). Both run in alternation, after one unrecorded run
  each so the file cache is equally warm.
- warm: one process, after a warm-up, clicks in alternation; p50 and p99.

What each does before it answers:

- sgrevert (`sgrevert.respond.handler`): read the Slack secret (Secrets Manager, cached),
  verify the signature, conditional DynamoDB write of the decision, chat.update of the
  message. The work is done when it answers.
- Slack Bolt (`bolt_handler` below: `App(process_before_response=True)` behind
  `slack_bolt.adapter.aws_lambda.SlackRequestHandler`, the setup Bolt documents for
  Lambda): at its cold start read the same secret and build the App (which calls
  auth.test); per click verify the signature, `ack()`, and start the lazy listener, which
  on Lambda is an asynchronous Lambda Invoke of the same function. The work (the same
  `ChangeStore.decide` write and the same chat.update) runs in that second invocation,
  after Slack has its answer; the DynamoDB table is opened there, on first use, so the
  ack path holds only what Bolt itself needs.

Stand-ins, all local: moto (DynamoDB, Secrets Manager), the sandbox's Slack Web API and
its Lambda Invoke API. The Invoke stand-in queues Bolt's lazy invocation, which this
process then runs through `bolt_handler`, as a warm Lambda would (Lambda's own delay in
delivering an asynchronous event is not modelled). "Message updated" is click to the
chat.update having landed. Every sample is checked: 200, the change APPROVED, one
chat.update. The stand-ins answer within milliseconds (moto runs in this process, so its
work shares the interpreter with the handlers); the real services are further away, and
each round trip adds to the implementation that makes it before answering (the round-trip
line printed at the end gives each stand-in's time and says who makes which call).

Only the standard library is imported at module level: a cold sample imports this module
before its clock starts, so everything either handler needs must still be unimported then.
"""

# ruff: noqa: PLC0415 -- imports are local by design (see the last paragraph above)

from __future__ import annotations

import contextlib
import copy
import functools
import importlib
import json
import logging
import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from slack_bolt import Ack
    from slack_sdk import WebClient

    from sandbox.lambda_api import LambdaStandIn
    from sandbox.slack_api import SlackStandIn
    from sgrevert.model import ChangeRecord
    from sgrevert.store import ChangeStore

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]

ROOT = Path(__file__).resolve().parent.parent
COLD_SAMPLES = 7
WARM_UP = 20
WARM_CLICKS = 300
ROUND_TRIPS = 50
BUDGET_SECONDS = 3.0  # Slack's wait for the answer to an interaction
CHANNEL = "C0SECURITY"
TABLE = "bench-ack"
FUNCTIONS = {"sgrevert": "revertsg-2", "bolt": "bolt-responder"}
LABELS = {"sgrevert": "sgrevert", "bolt": "Slack Bolt"}
BOLT_MODULES = (  # what `_bolt_app` imports
    "boto3",
    "slack_bolt",
    "slack_bolt.adapter.aws_lambda",
    "slack_sdk",
    "sgrevert.blocks",
    "sgrevert.model",
    "sgrevert.store",
)


# -- the Bolt app: what a Bolt for Python Lambda function would deploy -------------------------

_bolt: Handler | None = None
_bolt_lock = threading.Lock()


def bolt_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The Bolt app's Lambda entry point; the app is built on the first call (its cold start)."""
    global _bolt  # noqa: PLW0603 -- one app per process, as at a Lambda module's top level
    with _bolt_lock:
        if _bolt is None:
            _bolt = _bolt_app()
    return _bolt(event, context)


def _bolt_app() -> Handler:
    import boto3
    from slack_bolt import App
    from slack_bolt.adapter.aws_lambda import SlackRequestHandler
    from slack_sdk import WebClient

    from sgrevert import blocks
    from sgrevert.model import State
    from sgrevert.store import ChangeStore

    secret = json.loads(
        boto3.client("secretsmanager").get_secret_value(SecretId=os.environ["SLACK_SECRET_ARN"])[
            "SecretString"
        ]
    )
    app = App(
        client=WebClient(token=secret["bot_token"], base_url=os.environ["SLACK_API_URL"]),
        signing_secret=secret["signing_secret"],
        process_before_response=True,
    )

    @functools.cache
    def changes() -> ChangeStore:  # opened by the lazy listener: the ack never needs it
        return ChangeStore(boto3.resource("dynamodb").Table(os.environ["TABLE_NAME"]))

    def acknowledge(ack: Ack) -> None:
        ack()

    def approve(body: dict[str, Any], client: WebClient) -> None:
        action = body["actions"][0]
        record = changes().decide(
            action["value"], State.APPROVED, body["user"]["id"], datetime.now(UTC)
        )
        message = blocks.message(record)
        client.chat_update(
            channel=body["channel"]["id"],
            ts=body["container"]["message_ts"],
            text=message.text,
            blocks=message.blocks,
        )

    app.action(blocks.ACTION_APPROVE)(ack=acknowledge, lazy=[approve])
    handle: Handler = SlackRequestHandler(app).handle
    return handle


# -- one cold sample (a fresh interpreter) ------------------------------------------------------


def cold_sample(implementation: str) -> None:
    """Answer the click event on stdin once; print the seconds it took as JSON (last line)."""
    from tests.support import LambdaContext  # constants and a plain class: nothing shared

    event = json.load(sys.stdin)
    context: Any = LambdaContext(FUNCTIONS[implementation])
    started = time.perf_counter()
    handler: Handler
    if implementation == "sgrevert":
        from sgrevert import respond

        handler = respond.handler
    else:
        for module in BOLT_MODULES:  # what the app module imports, timed apart from the rest
            importlib.import_module(module)
        handler = bolt_handler
    imported = time.perf_counter()
    answer = handler(event, context)
    done = time.perf_counter()
    print(
        json.dumps(
            {
                "seconds": done - started,
                "import": imported - started,
                "status": answer["statusCode"],
            }
        )
    )


# -- the world both answer in -----------------------------------------------------------------


@dataclass
class World:
    changes: ChangeStore
    slack: SlackStandIn
    lam: LambdaStandIn
    poster: WebClient
    template: dict[str, Any]
    lazy: list[dict[str, Any]] = field(default_factory=list)  # Bolt's queued invocations

    def pending_click(self) -> tuple[ChangeRecord, dict[str, Any]]:
        """A fresh pending change with its message posted, and the signed Approve click on it."""
        from sandbox.clicks import SlackUser, block_actions_payload, signed_request
        from sgrevert import blocks
        from sgrevert.model import Direction, Rule, SourceKind
        from tests.integration.groups import MEMBER_ACCOUNT, make_change
        from tests.support import REGION, SIGNING_SECRET

        rule = Rule(Direction.INGRESS, "tcp", 22, 22, SourceKind.CIDR_IPV4, "203.0.113.0/24")
        change = make_change(MEMBER_ACCOUNT, REGION, "sg-0123456789abcdef0", [rule])
        now = datetime.now(UTC)
        self.changes.record_new(change, now)
        message = blocks.message(self.changes.require(change.event_id))
        posted = self.poster.chat_postMessage(
            channel=CHANNEL, text=message.text, blocks=message.blocks
        )
        ts = str(posted["ts"])
        self.changes.mark_posted(change.event_id, CHANNEL, ts, now)
        payload = block_actions_payload(
            user=SlackUser("U0ALICE", "alice"),
            channel=CHANNEL,
            ts=ts,
            text=message.text,
            blocks=message.blocks,
            action_id=blocks.ACTION_APPROVE,
            response_url=self.slack.new_response_url(CHANNEL, ts),
        )
        body, headers = signed_request(payload, SIGNING_SECRET)
        event = copy.deepcopy(self.template)
        for name, value in headers.items():
            event["headers"][name] = value
            event["multiValueHeaders"][name] = [value]
        event["body"] = body.decode()
        event["isBase64Encoded"] = False
        return self.changes.require(change.event_id), event

    def run_lazy(self) -> None:
        """Run Bolt's queued asynchronous invocations here, as the warm function would."""
        from tests.support import LambdaContext

        self.lam.wait_idle()
        while self.lazy:
            answer = bolt_handler(self.lazy.pop(0), LambdaContext(FUNCTIONS["bolt"]))
            if answer["statusCode"] != 200:
                raise RuntimeError(f"Bolt's lazy invocation answered {answer}")

    def check(self, record: ChangeRecord, updates_before: int) -> None:
        """The click's work was done: the change is APPROVED and its message edited once."""
        from sgrevert.model import State

        state = self.changes.require(record.change.event_id).state
        updates = len(self.slack.updates) - updates_before
        if state is not State.APPROVED or updates != 1:
            raise RuntimeError(f"click not done: state {state}, {updates} chat.update calls")


@dataclass
class Figures:
    cold: list[float] = field(default_factory=list)
    cold_import: list[float] = field(default_factory=list)
    warm: list[float] = field(default_factory=list)
    updated: list[float] = field(default_factory=list)  # click to the message edited


# -- measuring --------------------------------------------------------------------------------


def measure_cold(world: World, implementation: str, figures: Figures | None) -> None:
    record, event = world.pending_click()
    before = len(world.slack.updates)
    result = subprocess.run(
        [sys.executable, "-m", "bench.ack", "--cold", implementation],
        input=json.dumps(event),
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"cold {implementation} sample failed:\n{result.stderr}")
    sample = json.loads(result.stdout.strip().splitlines()[-1])
    if sample["status"] != 200:
        raise RuntimeError(f"cold {implementation} sample answered {sample['status']}")
    world.run_lazy()
    world.check(record, before)
    if figures is not None:
        figures.cold.append(float(sample["seconds"]))
        figures.cold_import.append(float(sample["import"]))


def measure_warm(
    world: World, implementation: str, handler: Handler, figures: Figures | None
) -> None:
    from tests.support import LambdaContext

    context = LambdaContext(FUNCTIONS[implementation])
    record, event = world.pending_click()
    before = len(world.slack.updates)
    started = time.perf_counter()
    answer = handler(event, context)
    acked = time.perf_counter()
    world.run_lazy()
    updated = time.perf_counter()
    if answer["statusCode"] != 200:
        raise RuntimeError(f"warm {implementation} click answered {answer}")
    world.check(record, before)
    if figures is not None:
        figures.warm.append(acked - started)
        figures.updated.append(updated - started)


def round_trips(world: World) -> dict[str, float]:
    """Median seconds of one call to each stand-in, as the handlers make them."""
    import boto3

    table = boto3.resource("dynamodb").Table(TABLE)
    invoker = boto3.client("lambda")
    world.lam.register("bench-noop", lambda event, context: None)
    record, _ = world.pending_click()
    calls: dict[str, Callable[[], object]] = {
        "DynamoDB UpdateItem": lambda: table.update_item(
            Key={"pk": f"change#{record.change.event_id}"},
            UpdateExpression="SET bench = :n",
            ExpressionAttributeValues={":n": 1},
        ),
        "Slack chat.update": lambda: world.poster.chat_update(
            channel=CHANNEL, ts=str(record.slack_ts), text="x"
        ),
        "Lambda Invoke (Event)": lambda: invoker.invoke(
            FunctionName="bench-noop", InvocationType="Event", Payload=b"{}"
        ),
    }
    medians: dict[str, float] = {}
    for name, call in calls.items():
        seconds = []
        for _ in range(ROUND_TRIPS):
            started = time.perf_counter()
            call()
            seconds.append(time.perf_counter() - started)
        medians[name] = statistics.median(seconds)
    world.lam.wait_idle()
    return medians


def run() -> tuple[dict[str, Figures], dict[str, float]]:
    import boto3
    from moto.server import ThreadedMotoServer
    from slack_sdk import WebClient

    from sandbox.lambda_api import LambdaStandIn
    from sandbox.slack_api import SlackStandIn
    from sgrevert import respond, store
    from tests.support import BOT_TOKEN, SIGNING_SECRET, load_event

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's request log
    server.start()
    host, port = server.get_host_and_port()
    os.environ.update(
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        AWS_REGION="eu-west-1",
        AWS_DEFAULT_REGION="eu-west-1",
        AWS_ENDPOINT_URL=f"http://{host}:{port}",
    )
    try:
        store.create_table(boto3.client("dynamodb"), TABLE)
        secret = json.dumps({"bot_token": BOT_TOKEN, "signing_secret": SIGNING_SECRET})
        arn = boto3.client("secretsmanager").create_secret(
            Name="sgrevert/slack", SecretString=secret
        )["ARN"]
        with SlackStandIn(bot_token=BOT_TOKEN) as slack, LambdaStandIn() as lam:
            os.environ.update(
                TABLE_NAME=TABLE,
                SLACK_SECRET_ARN=arn,
                SLACK_API_URL=slack.api_url,
                SPOKE_ROLE_NAME="spoke-001",
                AWS_ENDPOINT_URL_LAMBDA=lam.endpoint_url,
            )
            world = World(
                changes=store.ChangeStore(boto3.resource("dynamodb").Table(TABLE)),
                slack=slack,
                lam=lam,
                poster=WebClient(token=BOT_TOKEN, base_url=slack.api_url),
                template=load_event("apigw/slack_block_actions"),
            )
            lam.register(FUNCTIONS["bolt"], lambda event, context: world.lazy.append(event))
            figures = {name: Figures() for name in FUNCTIONS}

            for name in FUNCTIONS:  # unrecorded: the file cache warms for both alike
                measure_cold(world, name, None)
            for _ in range(COLD_SAMPLES):
                for name in FUNCTIONS:
                    measure_cold(world, name, figures[name])

            respond.reset()
            handlers: dict[str, Handler] = {"sgrevert": respond.handler, "bolt": bolt_handler}
            with _logs_discarded():
                for i in range(WARM_UP + WARM_CLICKS):
                    for name, handler in handlers.items():
                        measure_warm(world, name, handler, figures[name] if i >= WARM_UP else None)
            return figures, round_trips(world)
    finally:
        server.stop()


@contextlib.contextmanager
def _logs_discarded() -> Iterator[None]:
    """sgrevert's log lines are still formatted and written, to /dev/null instead of the
    terminal (in Lambda they go to stdout and on to CloudWatch)."""
    handlers = [
        h
        for h in logging.getLogger("sgrevert-respond").handlers
        if isinstance(h, logging.StreamHandler)
    ]
    with open(os.devnull, "w") as sink:
        streams = [h.setStream(sink) for h in handlers]
        try:
            yield
        finally:
            for handler, stream in zip(handlers, streams, strict=True):
                handler.setStream(stream)


# -- report -----------------------------------------------------------------------------------


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


def _p(samples: list[float], percentile: int) -> float:
    return statistics.quantiles(samples, n=100)[percentile - 1]


def report(figures: dict[str, Figures], trips: dict[str, float]) -> None:
    print(
        "Click to acknowledgement (the proxy response API Gateway returns to Slack), "
        "one signed Approve click on a fresh pending change per sample"
    )
    print(
        f"cold: {COLD_SAMPLES} fresh interpreters each (median, min-max); "
        f"warm: {WARM_CLICKS} clicks each after {WARM_UP} warm-up clicks; "
        "budget: Slack's 3 s"
    )
    print()
    header = (
        f"{'implementation':<17}{'cold median ms':>15}{'(min-max)':>16}{'warm p50 ms':>13}"
        f"{'warm p99 ms':>13}{'cold / 3 s':>12}{'warm p99 / 3 s':>16}"
    )
    print(header)
    print("-" * len(header))
    for name, fig in figures.items():
        cold = statistics.median(fig.cold)
        p99 = _p(fig.warm, 99)
        spread = f"({_ms(min(fig.cold))}-{_ms(max(fig.cold))})"
        print(
            f"{LABELS[name]:<17}{_ms(cold):>15}{spread:>16}{_ms(_p(fig.warm, 50)):>13}"
            f"{_ms(p99):>13}{cold / BUDGET_SECONDS:>12.1%}{p99 / BUDGET_SECONDS:>16.2%}"
        )
    ours, bolt = figures["sgrevert"], figures["bolt"]

    def ratio(a: float, b: float) -> str:
        return f"{a / b:.2f}x"

    print(
        f"{'Bolt / sgrevert':<17}"
        f"{ratio(statistics.median(bolt.cold), statistics.median(ours.cold)):>15}{'':>16}"
        f"{ratio(_p(bolt.warm, 50), _p(ours.warm, 50)):>13}"
        f"{ratio(_p(bolt.warm, 99), _p(ours.warm, 99)):>13}"
    )
    print()
    print("cold, of which importing the handler's modules (median):")
    for name, fig in figures.items():
        imported = statistics.median(fig.cold_import)
        rest = statistics.median(c - i for c, i in zip(fig.cold, fig.cold_import, strict=True))
        print(f"  {LABELS[name]:<15}import {_ms(imported)} ms, first click {_ms(rest)} ms")
    print("warm, click to the message updated (the work done), p50 / p99 ms:")
    for name, fig in figures.items():
        print(
            f"  {LABELS[name]:<15}{_ms(_p(fig.updated, 50))} / {_ms(_p(fig.updated, 99))}"
            + (
                "  (its ack)"
                if name == "sgrevert"
                else "  (ack, then the lazy invocation; Lambda's delivery delay not counted)"
            )
        )
    trips_text = ", ".join(f"{name} {_ms(seconds)} ms" for name, seconds in trips.items())
    print(f"stand-in round trips (median of {ROUND_TRIPS}): {trips_text}")
    print(
        "  inside the warm ack: sgrevert makes UpdateItem + chat.update, Bolt one Invoke; "
        "the real services are further away than these stand-ins"
    )


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--cold":
        cold_sample(sys.argv[2])
        return
    started = time.monotonic()
    figures, trips = run()
    report(figures, trips)
    print(f"(run time {time.monotonic() - started:.0f} s)")


if __name__ == "__main__":
    main()
