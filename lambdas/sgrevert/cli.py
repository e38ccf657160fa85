"""`sgrevert`: the operator CLI over the code the Lambdas run.

    sgrevert scan --since 2h      what the detector's Lake query finds (reads only)
    sgrevert changes              recorded changes, who decided them, when approvals expire
    sgrevert show EVENT_ID        one change: what it did, its context, state and history
    sgrevert revert EVENT_ID      break-glass Deny: revoke a change's rules from here
    sgrevert replay FILE          what each CloudTrail record would become (no AWS calls)

Settings come from the same environment variables as the Lambdas, or from flags, which
win. Exit codes (scripts may rely on them):

    0  done
    1  failed (AWS refused, the Lake query failed, the revoke failed)
    2  usage or configuration error (bad flag, missing setting, unreadable file)
    3  refused, nothing done on purpose (already decided, informational, not on record,
       confirmation declined)
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext, suppress
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from itertools import chain
from typing import IO, Any, TextIO

from botocore.exceptions import BotoCoreError, ClientError

from sgrevert import aws, blocks
from sgrevert.account_names import AccountNames
from sgrevert.cli_render import (
    STATE_COLOURS,
    Cell,
    QueryStatus,
    Style,
    expiry_text,
    fields,
    table,
    time_left,
    utc_minute,
    wants_colour,
)
from sgrevert.cloudtrail import SkipRecord, is_id_only, parse_record
from sgrevert.context import ChangeContext
from sgrevert.context_read import ContextReader
from sgrevert.context_text import (
    PLAIN,
    account_label,
    context_lines,
    entry_words,
    exposure_word,
    gap_lines,
    modified_rule_words,
    reference_lines,
)
from sgrevert.deadline import Deadline
from sgrevert.decidable import decidable
from sgrevert.errors import (
    AlreadyDecided,
    ConfigError,
    LakeQueryError,
    NotDecidable,
    NotTemporary,
    UnknownChange,
)
from sgrevert.expiry_schedule import ExpirySchedules, ScheduleFailed
from sgrevert.history_text import approvals_words, deadline_words
from sgrevert.lake import LakeQuery
from sgrevert.model import (
    MODIFY_RULES_EVENT,
    WATCHED_EVENTS,
    Change,
    ChangeRecord,
    Rule,
    State,
    Transition,
    iso,
)
from sgrevert.query import ACCOUNT_ID, REGION_NAME, security_group_changes
from sgrevert.replies import SlackReplies
from sgrevert.responder import Responder, SlackFactory
from sgrevert.revert import Plan, plan_revert
from sgrevert.reverter import SpokeReverter
from sgrevert.risk import Assessment, Risk, assess
from sgrevert.roles import RoleChain
from sgrevert.selfinvoke import RevertJob, SelfInvoker
from sgrevert.settings import (
    DEFAULT_EXPIRY_SCHEDULE_GROUP,
    DEFAULT_SLACK_API_URL,
    ROLE_ARN_PATTERN,
    STORE_PATTERN,
    Env,
    LakeSettings,
    SlackSettings,
    expiry_schedule_group,
    hub_role_arn,
    spoke_role_name,
)
from sgrevert.slack import SlackCredentials, load_credentials, web_client
from sgrevert.store import BATCH_PREFIX, ChangeStore
from sgrevert.trail_file import UnreadableInput, iter_records

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_REFUSED = 3

DEFAULT_QUERY_TIMEOUT_SECONDS = 600.0
CLI_CONTEXT_SECONDS = 60.0  # a person waits; the detector's budget is for a schedule
REVERTIBLE_STATES = (State.PENDING, State.REVERT_FAILED)
_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}

# Which flag stands for which environment variable, so an error can name both.
FLAGS = {
    "EVENT_DATA_STORE": "--event-data-store",
    "LAKE_READ_ROLE_ARN": "--role-arn",
    "TABLE_NAME": "--table",
    "HUB_ROLE_ARN": "--hub-role-arn",
    "SPOKE_ROLE_NAME": "--spoke-role-name",
    "SLACK_SECRET_ARN": "--slack-secret-arn",
    "SLACK_API_URL": "--slack-api-url",
    "EXPIRY_SCHEDULE_GROUP": "--schedule-group",
}


class CliError(Exception):
    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass
class Io:
    out: TextIO
    err: TextIO
    stdin: TextIO
    style: Style

    def say(self, text: str = "") -> None:
        self.out.write(text + "\n")

    def note(self, text: str) -> None:
        self.err.write(text + "\n")


# -- arguments -------------------------------------------------------------------------------


def duration(text: str) -> timedelta:
    """`30m`, `2h`, `7d`, `1w`, `90s` -> timedelta (argparse type)."""
    found = _DURATION.match(text)
    if not found or int(found.group(1)) == 0:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a duration: use a positive number and a unit, "
            "such as 30m, 2h, 7d (units: s, m, h, d, w)"
        )
    return timedelta(**{_UNITS[found.group(2)]: int(found.group(1))})


def _matching(pattern: re.Pattern[str], meaning: str) -> Callable[[str], str]:
    def check(text: str) -> str:
        if not pattern.match(text):
            raise argparse.ArgumentTypeError(f"{text!r} is not {meaning}")
        return text

    return check


def _state(text: str) -> State:
    try:
        return State(text.upper())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a state: choose from {', '.join(s.value for s in State)}"
        ) from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sgrevert",
        description="Security-group change review for AWS Organizations, from a terminal.",
        epilog="exit codes: 0 done, 1 failed, 2 usage or configuration error, "
        "3 refused or nothing done on purpose",
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="show the library's JSON logs on stdout"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    scan = commands.add_parser(
        "scan",
        help="find security-group changes in CloudTrail Lake (reads only)",
        description="Run the detector's query over CloudTrail Lake with your credentials and "
        "print the changes it finds. Writes nothing and posts nothing.",
    )
    scan.add_argument("--since", type=duration, default=duration("2h"), help="window (2h)")
    scan.add_argument(
        "--account", type=_matching(ACCOUNT_ID, "a 12-digit account id"), help="one account only"
    )
    scan.add_argument(
        "--region", type=_matching(REGION_NAME, "a region name"), help="one region only"
    )
    scan.add_argument(
        "--event-data-store", help="event data store id or ARN (env EVENT_DATA_STORE)"
    )
    scan.add_argument("--role-arn", help="role to assume to query Lake (env LAKE_READ_ROLE_ARN)")
    scan.add_argument(
        "--timeout",
        type=duration,
        default=timedelta(seconds=DEFAULT_QUERY_TIMEOUT_SECONDS),
        help="give up on the query after this long (10m)",
    )
    scan.add_argument(
        "--context",
        action="store_true",
        help="also read each change's context with your credentials, as the detector does: "
        "account names, the group, what it is attached to (through HUB_ROLE_ARN or "
        "--hub-role-arn, then SPOKE_ROLE_NAME, read-only)",
    )
    scan.add_argument("--hub-role-arn", help="hub role for --context (env HUB_ROLE_ARN)")
    scan.add_argument("--spoke-role-name", help="spoke role for --context (env SPOKE_ROLE_NAME)")
    scan.add_argument("--json", action="store_true", help="print JSON instead of a table")
    scan.set_defaults(run=_scan)

    changes = commands.add_parser(
        "changes",
        help="list recorded changes and who decided them",
        description="List recorded changes from the table, with who decided what and when, "
        "the account's name and the group's exposure where context was read.",
    )
    changes.add_argument("--state", type=_state, help="only this state (PENDING, DENIED, ...)")
    changes.add_argument("--since", type=duration, default=duration("7d"), help="window (7d)")
    changes.add_argument("--table", help="DynamoDB table name (env TABLE_NAME)")
    changes.add_argument("--json", action="store_true", help="print JSON instead of a table")
    changes.set_defaults(run=_changes)

    show = commands.add_parser(
        "show",
        help="show one change: what it did, its context, its state and its history",
        description="Print one recorded change: the call, its account, region, group, actor "
        "and rules, the context read when it was posted, its state, who decided it, when an "
        "approval for a while expires, the revert's outcome, and every step of its history.",
    )
    show.add_argument("event_id", metavar="EVENT_ID", help="the change's CloudTrail eventID")
    show.add_argument("--table", help="DynamoDB table name (env TABLE_NAME)")
    show.add_argument("--json", action="store_true", help="print the record as JSON")
    show.set_defaults(run=_show)

    revert = commands.add_parser(
        "revert",
        help="break-glass Deny: revoke a change's rules from here",
        description="Show what a change's revert would revoke, ask, then deny and revert it "
        "through the same code as a Deny in Slack, recording you as the decider. A change "
        "approved for a while is reverted now (its expiry schedules are deleted).",
    )
    revert.add_argument("event_id", metavar="EVENT_ID", help="the change's CloudTrail eventID")
    revert.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    revert.add_argument("--table", help="DynamoDB table name (env TABLE_NAME)")
    revert.add_argument("--hub-role-arn", help="hub role to assume first (env HUB_ROLE_ARN)")
    revert.add_argument("--spoke-role-name", help="spoke role name (env SPOKE_ROLE_NAME)")
    revert.add_argument(
        "--slack-secret-arn", help="Slack secret, to update the message (env SLACK_SECRET_ARN)"
    )
    revert.add_argument("--slack-api-url", help="Slack Web API base URL (env SLACK_API_URL)")
    revert.add_argument(
        "--schedule-group",
        help="schedule group of approvals for a while, whose expiry a revert deletes "
        f"(env EXPIRY_SCHEDULE_GROUP, default {DEFAULT_EXPIRY_SCHEDULE_GROUP})",
    )
    revert.set_defaults(run=_revert)

    replay = commands.add_parser(
        "replay",
        help="show what CloudTrail records would become (no AWS calls)",
        description="Read CloudTrail records and print each change and the exact revoke a "
        "Deny would perform, and why other records are skipped. Reads one record, a list, "
        'JSON lines, trail log files ({"Records": [...]}, or a list of them), EventBridge '
        "events, `aws cloudtrail lookup-events` output and CloudTrail Lake "
        "`get-query-results` output; several of them concatenated, gzipped (one member or "
        "many) or not. The input is read as a stream, so its size does not matter. A "
        "security-group call seen twice (same eventID) is replayed once; the summary counts "
        "the duplicates. Touches nothing.",
    )
    replay.add_argument(
        "file", metavar="FILE", help="the file to read (gzipped or not), or - for stdin"
    )
    replay.add_argument("--json", action="store_true", help="print JSON instead of text")
    replay.set_defaults(run=_replay)
    return parser


# -- entry point -----------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:  # --help (0) or a usage error (2), already printed
        return stop.code if isinstance(stop.code, int) else EXIT_USAGE
    io = Io(sys.stdout, sys.stderr, sys.stdin, Style(wants_colour(sys.stdout)))
    run: Callable[[argparse.Namespace, Io], int] = args.run
    try:
        with _quiet_logs(not args.verbose):
            return run(args, io)
    except CliError as error:
        _fail(io, str(error))
        return error.exit_code
    except ConfigError as error:
        _fail(io, _with_flags(str(error)))
        return EXIT_USAGE
    except (ClientError, BotoCoreError) as error:
        _fail(io, f"AWS: {error}")
        return EXIT_FAILURE
    except KeyboardInterrupt:
        _fail(io, "interrupted")
        return EXIT_FAILURE


def _fail(io: Io, message: str) -> None:
    io.note(f"{io.style('red', 'sgrevert: error:')} {message}")


def _with_flags(message: str) -> str:
    named = [flag for name, flag in FLAGS.items() if re.search(rf"\b{name}\b", message)]
    return message + (f" (or pass {', '.join(named)})" if named else "")


@contextmanager
def _quiet_logs(quiet: bool) -> Iterator[None]:
    """The shared code logs JSON for CloudWatch; in a terminal that would drown the output,
    and what matters reaches the operator through the command's own messages."""
    previous = logging.root.manager.disable
    if quiet:
        logging.disable(logging.CRITICAL)
    try:
        yield
    finally:
        logging.disable(previous)


def _environ(args: argparse.Namespace, flags: Mapping[str, str]) -> Env:
    """The process environment with the given flags (attribute -> variable) laid over it."""
    environ = dict(os.environ)
    for attribute, name in flags.items():
        value = getattr(args, attribute, None)
        if value:
            environ[name] = str(value)
    return Env(environ)


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _print_json(io: Io, value: Any) -> None:
    io.say(json.dumps(value, indent=2, sort_keys=True))


# -- scan ------------------------------------------------------------------------------------


def _scan(args: argparse.Namespace, io: Io) -> int:
    env = _environ(args, {"event_data_store": "EVENT_DATA_STORE", "role_arn": "LAKE_READ_ROLE_ARN"})
    lake = LakeSettings(
        event_data_store=str(
            env.matching(
                "EVENT_DATA_STORE",
                STORE_PATTERN,
                "a CloudTrail Lake event data store id or ARN",
                required=True,
            )
        ),
        read_role_arn=env.matching(
            "LAKE_READ_ROLE_ARN", ROLE_ARN_PATTERN, "an IAM role ARN", required=False
        ),
        lookback_minutes=1,  # unused here: the window is --since
    )
    end = datetime.now(UTC)
    start = end - args.since
    statement = security_group_changes(
        lake.event_data_store_id, start, end, account=args.account, region=args.region
    )
    base = aws.session()
    session = (
        aws.assumed_session(lake.read_role_arn, "sgrevert-cli-scan", base)
        if lake.read_role_arn
        else base
    )
    region = lake.event_data_store_region
    cloudtrail = aws.client("cloudtrail", session, **({"region_name": region} if region else {}))
    io.note(f"scanning {iso(start)} .. {iso(end)} in {lake.event_data_store_id}")
    status = QueryStatus(io.err, live=_isatty(io.err))
    changes: list[Change] = []
    skipped: list[dict[str, str | None]] = []
    try:
        for row in LakeQuery(cloudtrail, progress=status).rows(
            statement, args.timeout.total_seconds()
        ):
            try:
                changes.append(parse_record(_row_record(row)))
            except SkipRecord as skipping:
                skipped.append({"event_id": row.get("event_id"), "reason": skipping.reason})
    except LakeQueryError as error:
        raise CliError(str(error), EXIT_FAILURE) from None
    finally:
        status.done()

    risks = [assess(change) for change in changes]
    contexts = _read_contexts(args, base, changes, end, io) if args.context else {}
    if args.json:
        _print_json(
            io,
            {
                "window": {"start": iso(start), "end": iso(end)},
                "changes": [
                    {
                        **change.to_dict(),
                        "risk": risk.risk.label,
                        "risk_reason": risk.reason,
                        **(
                            {"context": _context_dict(contexts.get(change.event_id))}
                            if args.context
                            else {}
                        ),
                    }
                    for change, risk in zip(changes, risks, strict=True)
                ],
                "skipped": skipped,
            },
        )
    elif changes:
        headers = ["TIME", "EVENT ID", "ACCOUNT", "REGION", "GROUP", "EVENT", "ACTOR", "RULES"]
        headers.append("RISK")
        if args.context:
            headers.append("EXPOSURE")
        rows: list[list[Cell]] = []
        for change, risk in zip(changes, risks, strict=True):
            context = contexts.get(change.event_id)
            cells: list[Cell] = [
                iso(change.event_time),
                change.event_id,
                account_label(change, context, PLAIN),
                change.region,
                change.group_id,
                change.event_name,
                change.actor.arn,
                change_text(change),
                _risk_cell(risk),
            ]
            if args.context:
                word = exposure_word(context)
                cells.append(("red", word) if word.startswith("internet") else word)
            rows.append(cells)
        io.say(table(headers, rows, io.style))
    for skipped_row in skipped:
        io.note(f"skipped {skipped_row['event_id']}: {skipped_row['reason']}")
    io.note(f"{len(changes)} changes, {len(skipped)} skipped")
    return EXIT_OK


def _read_contexts(
    args: argparse.Namespace,
    base: Any,
    changes: Sequence[Change],
    now: datetime,
    io: Io,
) -> dict[str, ChangeContext]:
    """The detector's context reader, with the operator's credentials and no Slack: each
    account/region through the read-only hub and spoke sessions; gaps say what failed."""
    flags = _environ(args, {"hub_role_arn": "HUB_ROLE_ARN", "spoke_role_name": "SPOKE_ROLE_NAME"})
    hub, spoke = hub_role_arn(flags), spoke_role_name(flags)
    io.note(f"reading context through {hub or 'the spoke roles directly'} ({spoke})")
    reader = ContextReader(
        RoleChain(aws.client("sts", base), hub, spoke),
        AccountNames(lambda: aws.client("organizations", base)),
        None,
    )
    return reader.read(changes, now, CLI_CONTEXT_SECONDS)


def _context_dict(context: ChangeContext | None) -> dict[str, Any] | None:
    return context.to_dict() if context is not None else None


def _row_record(row: Mapping[str, str]) -> Any:
    """The CloudTrail record in a Lake row; an unreadable one becomes a record the parser
    skips with a reason."""
    try:
        return json.loads(row.get("event_json", ""))
    except (TypeError, ValueError):
        return {"eventID": row.get("event_id")}


_RISK_COLOURS = {Risk.CRITICAL: "red", Risk.HIGH: "red", Risk.MEDIUM: "yellow", Risk.LOW: "dim"}


def _risk_cell(assessment: Assessment) -> Cell:
    return (_RISK_COLOURS[assessment.risk], assessment.risk.label)


def rule_text(rule: Rule) -> str:
    """E.g. `ingress tcp/22 203.0.113.0/24` (protocol `all` for -1)."""
    if is_id_only(rule):
        return f"{rule.direction.value} rule {rule.rule_id}"
    protocol = "all" if rule.protocol == "-1" else rule.protocol
    ports = "" if rule.protocol == "-1" else f"/{rule.ports}"
    return f"{rule.direction.value} {protocol}{ports} {rule.source}"


def change_text(change: Change) -> str:
    """The scan's RULES cell: the rules, or a prefix-list edit's entries (+added -removed)."""
    edit = change.prefix_list
    if edit is None:
        return rules_text(change.rules)
    return " ".join([f"+{e.cidr}" for e in edit.added] + [f"-{e.cidr}" for e in edit.removed])


def rules_text(rules: Sequence[Rule], shown: int = 2) -> str:
    text = ", ".join(rule_text(rule) for rule in rules[:shown])
    return text + (f" (+{len(rules) - shown} more)" if len(rules) > shown else "")


# -- changes ---------------------------------------------------------------------------------


def _changes(args: argparse.Namespace, io: Io) -> int:
    env = _environ(args, {"table": "TABLE_NAME"})
    store = ChangeStore(aws.table(env.required("TABLE_NAME", "the DynamoDB table name")))
    now = datetime.now(UTC)
    since = now - args.since
    states = [args.state] if args.state else list(State)
    records = sorted(
        chain.from_iterable(store.by_state(state, since) for state in states),
        key=lambda r: (r.change.event_time, r.event_id),
    )
    if args.json:
        _print_json(io, [record_dict(record) for record in records])
    elif records:
        io.say(changes_table(records, io.style, now))
    io.note(f"{len(records)} changes since {iso(since)}")
    return EXIT_OK


CHANGES_HEADERS = (
    "TIME",
    "EVENT ID",
    "ACCOUNT",
    "REGION",
    "GROUP",
    "EVENT",
    "EXPOSURE",
    "STATE",
    "DECIDED BY",
    "DECIDED AT",
    "EXPIRES",
    "OUTCOME",
)


def changes_table(
    records: Sequence[ChangeRecord], style: Style, now: datetime | None = None
) -> str:
    """The `changes` table: the account by name where known, the group's exposure as
    read when the change was posted (- for records without context), and when an
    approval for a while expires, with the time left from `now` (- for the others)."""
    moment = now or datetime.now(UTC)
    rows: list[list[Cell]] = [
        [
            iso(record.change.event_time),
            record.event_id,
            account_label(record.change, record.context, PLAIN),
            record.change.region,
            record.change.group_id,
            record.change.event_name,
            _exposure_cell(record),
            (_state_style(record.state), record.state.value),
            record.decided_by or "-",
            iso(record.decided_at) if record.decided_at else "-",
            _expires_cell(record, moment),
            record.outcome or "",
        ]
        for record in records
    ]
    return table(CHANGES_HEADERS, rows, style)


def _expires_cell(record: ChangeRecord, now: datetime) -> Cell:
    """ "2026-12-01T14:32:00Z (1 h left)" for an approval for a while."""
    until = record.approved_until if record.temporary else None
    if until is None:
        return "-"
    left = time_left(until, now)
    return ("yellow" if until <= now else "", f"{iso(until)} ({left})")


def _exposure_cell(record: ChangeRecord) -> Cell:
    word = exposure_word(record.context)
    return ("red", word) if word.startswith("internet") else word


def _state_style(state: State) -> str:
    return STATE_COLOURS.get(state.value, "")


def record_dict(record: ChangeRecord) -> dict[str, Any]:
    """A record as `changes --json` prints it."""
    return {
        "change": record.change.to_dict(),
        "state": record.state.value,
        "recorded_at": iso(record.recorded_at),
        "decided_by": record.decided_by,
        "decided_at": iso(record.decided_at) if record.decided_at else None,
        "outcome": record.outcome,
        "approved_until": iso(record.approved_until) if record.approved_until else None,
        "slack_channel": record.slack_channel,
        "slack_ts": record.slack_ts,
        "context": record.context.to_dict() if record.context else None,
    }


# -- show ------------------------------------------------------------------------------------


def _show(args: argparse.Namespace, io: Io) -> int:
    env = _environ(args, {"table": "TABLE_NAME"})
    store = ChangeStore(aws.table(env.required("TABLE_NAME", "the DynamoDB table name")))
    try:
        record = store.require(args.event_id)
    except UnknownChange as error:
        raise CliError(str(error), EXIT_REFUSED) from None
    if args.json:
        _print_json(io, show_dict(record))
    else:
        io.say(show_text(record, datetime.now(UTC), io.style))
    return EXIT_OK


def show_dict(record: ChangeRecord) -> dict[str, Any]:
    """A record as `show --json` prints it: `changes --json`'s fields and the rest."""
    return {
        **record_dict(record),
        "risk": record.risk,
        "note": record.note,
        "batch": record.batch,
        "reminded_for": iso(record.reminded_for) if record.reminded_for else None,
        "history": [step.to_dict() for step in record.history],
        "history_posted": record.history_posted,
        "deny_at": iso(record.deny_at) if record.deny_at else None,
        "nudges": record.nudges,
        "approvals": [a.to_dict() for a in record.approvals],
        "approvals_needed": record.approvals_needed,
        "route": record.route,
        "route_approvers": list(record.route_approvers) if record.route_approvers else None,
        "copies": [c.to_dict() for c in record.copies],
    }


HISTORY_HEADERS = ("TIME", "STEP", "BY", "DETAIL")


def show_text(record: ChangeRecord, now: datetime, style: Style) -> str:
    """One change for `sgrevert show`: what it did, where and by whom, its context as read
    when it was posted, its state (an approval for a while's time left counted from
    `now`), and its history, one line a step."""
    change, context = record.change, record.context
    decision = None
    if record.decided_by:
        when = f" at {iso(record.decided_at)}" if record.decided_at else ""
        decision = f"{record.decided_by}{when}"
    posted = None
    if record.slack_ts:
        batch = f" (group message {record.batch})" if record.batch else ""
        posted = f"{record.slack_channel} {record.slack_ts}{batch}"
    summary: list[str] = []
    if context is not None:
        exposure = exposure_word(context)  # the `changes` table's cell, said
        summary += [f"exposure {exposure}"] if exposure != "-" else []
        summary += context_lines(change, context, PLAIN) + gap_lines(change, context, PLAIN)
    pending = record.state is State.PENDING
    approvals = approvals_words(record, PLAIN) if pending else None
    pairs: list[tuple[str, list[str]]] = [
        ("event", [f"{change.event_name} at {iso(change.event_time)}"]),
        ("account", [account_label(change, context, PLAIN)]),
        ("region", [change.region]),
        ("group", [_group_text(change)]),
        ("actor", [change.actor.arn]),
        ("rules" if change.prefix_list is None else "entries", _rule_lines(change)),
        ("references", reference_lines(change, context, PLAIN)),
        ("risk", [record.risk] if record.risk else []),
        ("state", [style.state(record.state.value)]),
        ("decided", [decision] if decision else []),
        ("expiry", [_expiry_line(record, now)] if record.state is State.APPROVED else []),
        ("deadline", [deadline_words(record.deny_at, PLAIN)] if pending and record.deny_at else []),
        ("approvals", [approvals] if approvals else []),
        ("route", [_route_line(record)] if record.route else []),
        ("copies", [f"{c.channel} {c.ts}" for c in record.copies]),
        ("outcome", [record.outcome] if record.outcome else []),
        ("note", [record.note] if record.note else []),
        ("message", [posted or "not posted"]),
        ("context", summary or ["not read"]),
    ]
    text = f"{style('bold', record.event_id)}\n{fields(pairs, style)}\n\n"
    if not record.history:
        return text + "history: no steps recorded"
    rows: list[list[Cell]] = [_history_row(step) for step in record.history]
    lines = table(HISTORY_HEADERS, rows, style).splitlines()
    return text + "history:\n" + "\n".join(f"  {line}".rstrip() for line in lines)


def _group_text(change: Change) -> str:
    """ "sg-0abc (web) in vpc-0def", or a prefix list's id and name."""
    name = change.group_name or (change.prefix_list.name if change.prefix_list else None)
    vpc = f" in {change.vpc_id}" if change.vpc_id else ""
    return f"{change.group_id}{f' ({name})' if name else ''}{vpc}"


def _rule_lines(change: Change) -> list[str]:
    """Each rule (a modification's before → after), or a list edit's entries."""
    edit = change.prefix_list
    if edit is not None:
        return [f"+{entry_words(e, PLAIN)}" for e in edit.added] + [
            f"-{entry_words(e, PLAIN)}" for e in edit.removed
        ] or ["none"]
    lines = []
    for rule in change.rules:
        if change.event_name == MODIFY_RULES_EVENT:
            text = f"{rule.rule_id}: {modified_rule_words(change, rule, PLAIN)}"
        else:
            recorded = f" ({rule.rule_id})" if rule.rule_id and not is_id_only(rule) else ""
            text = f"{rule_text(rule)}{recorded}"
        lines.append(text)
    return lines or ["none"]


def _expiry_line(record: ChangeRecord, now: datetime) -> str:
    if record.approved_until is None:
        return "none: approved permanently"
    return expiry_text(record.approved_until, now)


def _route_line(record: ChangeRecord) -> str:
    approvers = ", ".join(record.route_approvers or ()) or "anyone"
    return f"{record.route} (decided by {approvers})"


def _history_row(step: Transition) -> list[Cell]:
    detail = [f"until {utc_minute(step.until)}"] if step.until else []
    detail += [step.why] if step.why else []
    detail += [f"to {', '.join(step.to)}"] if step.to else []
    return [iso(step.at), step.step.value, step.by or "-", "; ".join(detail)]


# -- revert ----------------------------------------------------------------------------------


def _revert(args: argparse.Namespace, io: Io) -> int:
    env = _environ(
        args,
        {
            "table": "TABLE_NAME",
            "hub_role_arn": "HUB_ROLE_ARN",
            "spoke_role_name": "SPOKE_ROLE_NAME",
            "slack_secret_arn": "SLACK_SECRET_ARN",
            "slack_api_url": "SLACK_API_URL",
            "schedule_group": "EXPIRY_SCHEDULE_GROUP",
        },
    )
    table_name = env.required("TABLE_NAME", "the DynamoDB table name")
    schedule_group = expiry_schedule_group(env)
    hub, spoke = hub_role_arn(env), spoke_role_name(env)
    secret_arn = env.raw("SLACK_SECRET_ARN")
    slack = (
        SlackSettings(secret_arn, env.url("SLACK_API_URL", DEFAULT_SLACK_API_URL))
        if secret_arn
        else None
    )

    base = aws.session()
    store = ChangeStore(aws.table(table_name, base))
    try:
        record = store.require(args.event_id)
    except UnknownChange as error:
        raise CliError(str(error), EXIT_REFUSED) from None
    if record.state is State.INFO:
        raise CliError(
            f"change {record.event_id} ({record.change.event_name}) is informational: "
            "there is nothing to revert",
            EXIT_REFUSED,
        )
    if record.state not in REVERTIBLE_STATES and not record.temporary:
        raise CliError(_decided_text(record), EXIT_REFUSED)

    plan = plan_revert(record.change)
    allowed = (
        f", {expiry_text(record.approved_until, datetime.now(UTC))} by {record.decided_by}"
        if record.temporary and record.approved_until
        else ""
    )
    io.say(
        f"{record.change.event_name} by {record.change.actor.arn} at "
        f"{iso(record.change.event_time)} ({record.state.value}{allowed})"
    )
    for line in plan.lines():
        io.say(line)
    if not args.yes:
        if not _isatty(io.stdin):
            raise CliError("not a terminal, so not asking: pass --yes to revert", EXIT_USAGE)
        io.err.write(f"{plan.question()} [y/N] ")
        io.err.flush()
        if io.stdin.readline().strip().lower() not in ("y", "yes"):
            raise CliError("not confirmed; nothing was changed", EXIT_REFUSED)

    sts = aws.client("sts", base)
    decider = f"cli:{sts.get_caller_identity()['Arn']}"
    try:
        if record.temporary and record.approved_until is not None:
            store.revert_now(record.event_id, decider, record.approved_until, datetime.now(UTC))
        else:
            store.decide(record.event_id, State.DENIED, decider, datetime.now(UTC))
    except (AlreadyDecided, NotDecidable, NotTemporary) as lost:
        raise CliError(_changed_text(record, lost.record), EXIT_REFUSED) from None

    reverter = SpokeReverter(RoleChain(sts, hub, spoke), aws.client("organizations", base))
    credentials, replies = _slack_replies(slack, io)
    responder = Responder(
        store=store,
        approvers=(),
        credentials=credentials,
        slack=replies,
        invoker=_no_invoker,
        reverter=lambda: reverter,
    )
    result = responder.revert(RevertJob(record.event_id, decider))
    if record.temporary:
        # Deleting needs no role: the role is the one a schedule is created with.
        role = env.raw("SCHEDULER_ROLE_ARN") or ""
        schedules = ExpirySchedules(aws.client("scheduler", base), schedule_group, role)
        _delete_expiry(store, record, schedules, io)
    outcome = str(result.get("outcome") or "")
    if result.get("reverted"):
        io.say(f"{io.style('green', 'REVERTED')}: {outcome} (decided by {decider})")
        return EXIT_OK
    io.say(f"{io.style('red', str(result.get('state') or 'NOT REVERTED'))}: {outcome}")
    return EXIT_FAILURE


def _delete_expiry(
    store: ChangeStore, record: ChangeRecord, schedules: ExpirySchedules, io: Io
) -> None:
    """Delete the expiry (and reminder) schedules of an approval for a while the operator
    reverted. A group message's schedule is the group's: it stays while another of its
    changes is still approved until then. A failure is only a warning: the expiry, when it
    fires, finds the change no longer approved until then and does nothing."""
    about = record.event_id
    if record.batch:
        about = f"{BATCH_PREFIX}{record.batch}"
        try:
            others = [
                member.event_id
                for member in store.batch_records(record.batch)
                if member.event_id != record.event_id
                and member.temporary
                and member.approved_until == record.approved_until
            ]
        except UnknownChange as error:
            io.note(f"warning: cannot read the group message's changes ({error})")
            others = []
        if others:
            io.note(
                f"the group's expiry schedule stays for its {len(others)} other change(s) "
                "approved until then"
            )
            return
    try:
        schedules.delete(about)
    except ScheduleFailed as error:
        io.note(
            f"{io.style('yellow', 'warning:')} the expiry schedule of {about} was not "
            f"deleted ({error}); when it fires it finds nothing to do"
        )
        return
    io.note(f"deleted the expiry schedules of {about}")


def _changed_text(seen: ChangeRecord, now: ChangeRecord) -> str:
    """Why the decision was refused: decided by someone else, or an approval for a while
    that was extended, kept or ended meanwhile."""
    if seen.temporary and now.temporary and now.approved_until != seen.approved_until:
        until = iso(now.approved_until) if now.approved_until else "?"
        return (
            f"change {now.event_id} was extended meanwhile (now approved until {until} by "
            f"{now.decided_by or 'nobody'}); nothing was changed: run revert again to revert it"
        )
    if seen.temporary and now.state is State.APPROVED and now.approved_until is None:
        return (
            f"change {now.event_id} was kept permanently meanwhile (by "
            f"{now.decided_by or 'nobody'}); nothing was changed: run revert again to revert it"
        )
    return _decided_text(now)


def _decided_text(record: ChangeRecord) -> str:
    who = record.decided_by or "nobody"
    when = f" at {iso(record.decided_at)}" if record.decided_at else ""
    return f"change {record.event_id} is already {record.state.value} (by {who}{when})"


def plan_json(plan: Plan) -> dict[str, Any]:
    """The plan as data, with its kind (`revoke`, `restore`, `prefix_list`)."""
    return {"kind": plan.kind, **asdict(plan)}


def _no_invoker() -> SelfInvoker:
    raise RuntimeError("the CLI reverts in this process; it never invokes the Lambda")


class _NoSlack(SlackReplies):
    """Without Slack settings (or when Slack cannot be reached) the message is left as is."""

    def __init__(self) -> None:
        pass

    def update(
        self,
        record: ChangeRecord,
        channel: str | None = None,
        ts: str | None = None,
        *,
        reserve: float = 0.0,
    ) -> bool:
        return False

    def show(
        self, message: blocks.Message, channel: str, ts: str, about: str, *, reserve: float = 0.0
    ) -> bool:
        return False  # a group member's revert edits the group message through this

    def reply(
        self,
        message: blocks.Message,
        channel: str,
        thread_ts: str,
        about: str,
        *,
        reserve: float = 0.0,
    ) -> bool:
        return False

    def tell(self, channel: str, user: str, text: str) -> bool:
        return False


_NO_CREDENTIALS = SlackCredentials(bot_token="", signing_secret="")


def _slack_replies(
    slack: SlackSettings | None, io: Io
) -> tuple[Callable[[], SlackCredentials], SlackFactory]:
    """Best-effort Slack for the responder: the revoke is done by the time these are used, so
    a missing or unreadable secret must only cost the message edit, never the outcome."""

    def credentials() -> SlackCredentials:
        if slack is None:
            return _NO_CREDENTIALS
        try:
            return load_credentials(slack.secret_arn)
        except Exception as error:  # any failure only costs the message edit
            io.note(f"Slack message not updated: {error}")
            return _NO_CREDENTIALS

    def replies(found: SlackCredentials, _deadline: Deadline | None) -> SlackReplies:
        if slack is None or found is _NO_CREDENTIALS:
            return _NoSlack()
        return SlackReplies(web_client(slack, found))

    return credentials, replies


# -- replay ----------------------------------------------------------------------------------


def _replay(args: argparse.Namespace, io: Io) -> int:
    """Read the input as a stream: each change is printed as it is read, the skips after
    them, so memory stays flat over a day of an organization's trail files. Duplicates of
    a security-group call (the same eventID) are dropped and counted; only those calls'
    eventIDs are kept for that, not every record's."""
    try:
        return _replay_stream(args, io)
    except BrokenPipeError:  # the reader went away (`| head`): stop, as a pipe's writer does
        with suppress(OSError):  # so the interpreter's last flush does not fail
            os.dup2(os.open(os.devnull, os.O_WRONLY), io.out.fileno())
        return EXIT_FAILURE


def _replay_stream(args: argparse.Namespace, io: Io) -> int:
    seen: set[str] = set()
    duplicates = 0
    with tempfile.SpooledTemporaryFile(max_size=1 << 20, mode="w+", encoding="utf-8") as skips:
        output = _ReplayOutput(io, args.json, skips)
        try:
            with _replay_input(args.file, io) as stream:
                for entry in iter_records(stream):
                    if entry.problem is not None:
                        output.skip(entry.where, entry.event_id, entry.problem)
                        continue
                    if entry.event_id and _watched(entry.record):
                        if entry.event_id in seen:
                            duplicates += 1
                            continue
                        seen.add(entry.event_id)
                    try:
                        change = parse_record(entry.record)
                    except SkipRecord as skipping:
                        output.skip(entry.where, entry.event_id, skipping.reason)
                        continue
                    plan = plan_revert(change) if decidable(change) else None
                    output.change(entry.where, change, plan)
        except BrokenPipeError:
            raise
        except (OSError, UnreadableInput) as error:
            if output.changes:  # finish what is printed: a JSON document stays whole
                output.finish(duplicates)
                io.note(_replay_summary(output, duplicates))
            if isinstance(error, OSError):
                problem = f"cannot read {args.file}: {error.strerror or error}"
            else:
                problem = f"{args.file}: {error}"
            raise CliError(problem, EXIT_USAGE) from None
        output.finish(duplicates)
    io.note(_replay_summary(output, duplicates))
    return EXIT_OK


def _replay_input(name: str, io: Io) -> AbstractContextManager[IO[bytes] | IO[str]]:
    if name == "-":  # stdin's bytes when there are any, so gzip works there too
        return nullcontext(getattr(io.stdin, "buffer", io.stdin))
    return open(name, "rb")


def _watched(record: Any) -> bool:
    return isinstance(record, Mapping) and record.get("eventName") in WATCHED_EVENTS


def _replay_summary(output: _ReplayOutput, duplicates: int) -> str:
    return f"{output.changes} changes, {output.skipped} skipped, {duplicates} duplicates dropped"


class _ReplayOutput:
    """Replay's output, written as it goes. Changes are written at once; skips are kept in
    a temporary file (on disk past 1 MiB) and written after them, as before streaming.
    `--json` writes, piece by piece, exactly what `_print_json` would write for the whole
    document ({"changes": [...], "duplicates": N, "skipped": [...]})."""

    def __init__(self, io: Io, as_json: bool, skips: IO[str]) -> None:
        self._io = io
        self._json = as_json
        self._skips = skips
        self.changes = 0
        self.skipped = 0

    def change(self, where: str, change: Change, plan: Plan | None) -> None:
        if self._json:
            item = {
                "where": where,
                "change": change.to_dict(),
                "revert": plan_json(plan) if plan else None,
            }
            self._io.out.write('{\n  "changes": [\n' if not self.changes else ",\n")
            self._io.out.write(_json_item(item))
        else:
            _replay_change(self._io, where, change, plan)
        self.changes += 1

    def skip(self, where: str, event_id: str | None, reason: str) -> None:
        if self._json:
            item = {"where": where, "event_id": event_id, "reason": reason}
            self._skips.write(("" if not self.skipped else ",\n") + _json_item(item))
        else:
            self._skips.write(
                f"{self._io.style('dim', 'skipped')} {where}"
                + (f" ({event_id})" if event_id else "")
                + f": {reason}\n"
            )
        self.skipped += 1

    def finish(self, duplicates: int) -> None:
        out = self._io.out
        if self._json:
            out.write("\n  ],\n" if self.changes else '{\n  "changes": [],\n')
            out.write(f'  "duplicates": {duplicates},\n')
            out.write('  "skipped": [\n' if self.skipped else '  "skipped": []\n}\n')
        self._skips.seek(0)
        shutil.copyfileobj(self._skips, out)
        if self._json and self.skipped:
            out.write("\n  ]\n}\n")


def _json_item(value: Any) -> str:
    """`value` as `_print_json` writes an item of a list in a top-level object."""
    return "    " + json.dumps(value, indent=2, sort_keys=True).replace("\n", "\n    ")


def _replay_change(io: Io, where: str, change: Change, plan: Plan | None) -> None:
    io.say(
        f"{io.style('bold', change.event_id)} {where}: {change.event_name} on {change.group_id} "
        f"in {change.account} / {change.region} at {iso(change.event_time)}"
    )
    io.say(f"  by {change.actor.arn}")
    for rule in change.rules:
        recorded_id = f" ({rule.rule_id})" if rule.rule_id and not is_id_only(rule) else ""
        io.say(f"  {rule_text(rule)}{recorded_id}")
    if plan is None:
        io.say(f"  {change.event_name} is posted for information: a Deny revokes nothing")
    else:
        for line in plan.lines():
            io.say(f"  {line}")
    io.say()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
