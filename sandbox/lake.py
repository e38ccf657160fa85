"""A local CloudTrail Lake: the CloudTrail JSON 1.1 API over HTTP, executing the SQL it receives.

boto3 reaches it through `AWS_ENDPOINT_URL_CLOUDTRAIL` (or `endpoint_url=`) exactly as it reaches
AWS. Queries are Trino SQL, transpiled with sqlglot and run in DuckDB over one table per event data
store whose columns have CloudTrail Lake's types: `eventTime` a timestamp, `requestParameters` and
`responseElements` maps of strings (nested values as JSON text), `userIdentity` a struct with
Lake's lower-case field names, `eventJson` the whole record as text. Answers have Lake's shapes:
every cell a one-key map with a string value, unaliased expressions named `_colN`, NULL cells left
out, pages with `NextToken`, and a QUEUED/RUNNING phase before FINISHED.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import threading
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

import duckdb
import sqlglot
from sqlglot import exp

from sandbox.service import LOOPBACK, Service, ServingThread

TARGET_PREFIX = "CloudTrail_20131101"
JSON_CONTENT_TYPE = "application/x-amz-json-1.1"
MAX_PAGE = 1000  # MaxQueryResults' upper bound in the service model

TERMINAL_STATES = frozenset({"FINISHED", "FAILED", "CANCELLED", "TIMED_OUT"})
FORCED_STATES = frozenset({"FAILED", "TIMED_OUT", "CANCELLED"})


class LakeError(Exception):
    """An API error, answered as `{"__type": code, "message": ...}` with HTTP 400."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


# --- the table schema ------------------------------------------------------------------------
# Lake's documented schema for CloudTrail events. Top-level names keep CloudTrail's spelling (SQL
# identifiers are case-insensitive either way); struct fields are Lake's lower-case names.


@dataclass(frozen=True)
class _Struct:
    fields: tuple[tuple[str, _Type], ...]


@dataclass(frozen=True)
class _List:
    item: _Type


_Type = str | _Struct | _List  # a str is a scalar DuckDB type name
VARCHAR, TIMESTAMP, BOOLEAN, MAP = "VARCHAR", "TIMESTAMP", "BOOLEAN", "MAP(VARCHAR, VARCHAR)"


def _struct(**fields: _Type) -> _Struct:
    return _Struct(tuple(fields.items()))


USER_IDENTITY = _struct(
    type=VARCHAR,
    principalid=VARCHAR,
    arn=VARCHAR,
    accountid=VARCHAR,
    accesskeyid=VARCHAR,
    username=VARCHAR,
    sessioncontext=_struct(
        attributes=_struct(creationdate=TIMESTAMP, mfaauthenticated=VARCHAR),
        sessionissuer=_struct(
            type=VARCHAR, principalid=VARCHAR, arn=VARCHAR, accountid=VARCHAR, username=VARCHAR
        ),
        webidfederationdata=_struct(federatedprovider=VARCHAR, attributes=MAP),
        sourceidentity=VARCHAR,
        ec2roledelivery=VARCHAR,
        ec2issuedinvpc=VARCHAR,
    ),
    onbehalfof=_struct(userid=VARCHAR, identitystorearn=VARCHAR),
    inscopeof=_struct(
        sourcearn=VARCHAR, sourceaccount=VARCHAR, issuertype=VARCHAR, credentialsissuedto=VARCHAR
    ),
    invokedby=VARCHAR,
    identityprovider=VARCHAR,
)

COLUMNS: tuple[tuple[str, _Type], ...] = (
    ("eventVersion", VARCHAR),
    ("userIdentity", USER_IDENTITY),
    ("eventTime", TIMESTAMP),
    ("eventSource", VARCHAR),
    ("eventName", VARCHAR),
    ("awsRegion", VARCHAR),
    ("sourceIPAddress", VARCHAR),
    ("userAgent", VARCHAR),
    ("errorCode", VARCHAR),
    ("errorMessage", VARCHAR),
    ("requestParameters", MAP),
    ("responseElements", MAP),
    ("additionalEventData", MAP),
    ("requestID", VARCHAR),
    ("eventID", VARCHAR),
    ("readOnly", BOOLEAN),
    ("resources", _List(_struct(accountid=VARCHAR, type=VARCHAR, arn=VARCHAR, arnprefix=VARCHAR))),
    ("eventType", VARCHAR),
    ("apiVersion", VARCHAR),
    ("managementEvent", BOOLEAN),
    ("recipientAccountId", VARCHAR),
    ("sharedEventID", VARCHAR),
    ("annotation", VARCHAR),
    ("vpcEndpointId", VARCHAR),
    ("vpcEndpointAccountId", VARCHAR),
    ("serviceEventDetails", MAP),
    ("addendum", MAP),
    ("edgeDeviceDetails", MAP),
    ("insightDetails", MAP),
    ("eventCategory", VARCHAR),
    (
        "tlsDetails",
        _struct(tlsversion=VARCHAR, ciphersuite=VARCHAR, clientprovidedhostheader=VARCHAR),
    ),
    ("sessionCredentialFromConsole", VARCHAR),
    ("eventJson", VARCHAR),
)


def _duck_type(t: _Type) -> str:
    if isinstance(t, _Struct):
        return "STRUCT(" + ", ".join(f'"{n}" {_duck_type(ft)}' for n, ft in t.fields) + ")"
    if isinstance(t, _List):
        return f"{_duck_type(t.item)}[]"
    return t


ROW_TYPE = _duck_type(_Struct(COLUMNS))


def _text(value: Any) -> str | None:
    """A value as Lake stores it in a string column or map: nested values become JSON text."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"))


def _timestamp(value: Any) -> str | None:
    """ISO-8601 (CloudTrail's `2026-11-27T10:00:00Z`) to a naive UTC timestamp DuckDB can cast."""
    if value is None:
        return None
    if isinstance(value, datetime):
        moment = value
    else:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.isoformat(sep=" ")


def _normalise(value: Any, t: _Type) -> Any:
    """Fit a record's value to a column type (JSON-serialisable, ready for DuckDB's JSON cast)."""
    if value is None:
        return None
    if isinstance(t, _Struct):
        if not isinstance(value, Mapping):
            return None
        by_lower = {str(k).lower(): v for k, v in value.items()}
        return {name: _normalise(by_lower.get(name.lower()), ft) for name, ft in t.fields}
    if isinstance(t, _List):
        items = value if isinstance(value, list) else [value]
        return [_normalise(item, t.item) for item in items]
    if t == MAP:
        if not isinstance(value, Mapping):
            return None
        return {str(k): _text(v) for k, v in value.items()}
    if t == TIMESTAMP:
        return _timestamp(value)
    if t == BOOLEAN:
        if isinstance(value, str):
            return value.lower() == "true"
        return bool(value)
    return _text(value)


def _row(record: Mapping[str, Any]) -> dict[str, Any]:
    by_lower = {str(k).lower(): v for k, v in record.items()}
    row = {name: _normalise(by_lower.get(name.lower()), t) for name, t in COLUMNS}
    row["eventJson"] = json.dumps(record, separators=(",", ":"), default=str)
    return row


# --- result cells ----------------------------------------------------------------------------


def _cell(value: Any) -> str:
    """A DuckDB value printed the way Lake (Trino) prints it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC)
            return f"{value:%Y-%m-%d %H:%M:%S}.{value.microsecond // 1000:03d} UTC"
        return f"{value:%Y-%m-%d %H:%M:%S}.{value.microsecond // 1000:03d}"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float | Decimal | int):
        return str(value)
    if isinstance(value, Mapping):  # maps and structs print Java-style: {k=v, k2=v2}
        return "{" + ", ".join(f"{k}={_nested(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_nested(v) for v in value) + "]"
    return str(value)


def _nested(value: Any) -> str:
    return "null" if value is None else _cell(value)


# --- SQL -------------------------------------------------------------------------------------

# Trino functions that sqlglot passes through unchanged and DuckDB lacks.
TRINO_MACROS = (
    "CREATE MACRO to_iso8601(t) AS strftime(CAST(t AS TIMESTAMP), '%Y-%m-%dT%H:%M:%S.%g')",
)

_STRING_LITERAL = re.compile(r"'(?:[^']|'')*'")
# An unquoted FROM/JOIN target that is an ARN or an id with dashes: not a valid SQL identifier,
# so it is swapped for a quoted placeholder before parsing.
_FROM_TARGET = re.compile(
    r"(?i)\b(FROM|JOIN)(\s+)(arn:[\w\-]+:cloudtrail:[^\s,()]+|[\w]+(?:-[\w]+)+)"
)
_PLACEHOLDER = "__eds__"
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _store_key(reference: str) -> str:
    """The event data store id inside an id or an ARN, lower-cased for lookups."""
    return reference.rsplit("/", 1)[-1].lower()


def _quote_targets(statement: str) -> str:
    def swap(match: re.Match[str]) -> str:
        return f'{match[1]}{match[2]}"{_PLACEHOLDER}{match[3]}"'

    parts: list[str] = []
    last = 0
    for literal in _STRING_LITERAL.finditer(statement):  # never touch text inside literals
        parts.append(_FROM_TARGET.sub(swap, statement[last : literal.start()]))
        parts.append(literal.group())
        last = literal.end()
    parts.append(_FROM_TARGET.sub(swap, statement[last:]))
    return "".join(parts)


def _output_names(tree: exp.Expression, duck_names: list[str]) -> list[str]:
    """Trino's column names: the alias, the column (or last field) name, else `_col<position>`."""
    select: exp.Expression = tree
    while isinstance(select, exp.SetOperation):
        select = select.this
    if not isinstance(select, exp.Select):
        return duck_names
    projections = select.expressions
    stars = [
        p
        for p in projections
        if isinstance(p, exp.Star) or (isinstance(p, exp.Column) and isinstance(p.this, exp.Star))
    ]
    if len(stars) > 1:
        return duck_names
    star_width = len(duck_names) - (len(projections) - 1) if stars else 0
    names: list[str] = []
    for projection in projections:
        if projection in stars:
            names.extend(duck_names[len(names) : len(names) + star_width])
        elif isinstance(projection, exp.Alias):
            names.append(projection.alias)
        elif isinstance(projection, exp.Column | exp.Dot):
            names.append(projection.name)
        else:
            names.append(f"_col{len(names)}")
    return names if len(names) == len(duck_names) else duck_names


# --- state -----------------------------------------------------------------------------------


@dataclass
class _Store:
    id: str
    arn: str
    name: str
    table: str
    created: float
    events: int = 0
    bytes: int = 0


@dataclass
class _Query:
    id: str
    statement: str
    created: float
    running_polls: int
    rows: list[list[dict[str, str]]] = field(default_factory=list)
    error: str | None = None
    forced: tuple[str, str] | None = None  # (state, message) from fail_next_query
    polls: int = 0
    cancelled: bool = False
    events_scanned: int = 0
    bytes_scanned: int = 0
    millis: int = 0


class LakeStandIn(Service):
    """CloudTrail Lake on 127.0.0.1: start it, create a store, put records, point boto3 at it.

    Test controls: `page_size` (rows per page unless MaxQueryResults says otherwise),
    `running_polls` (DescribeQuery/GetQueryResults calls answered QUEUED/RUNNING before a query
    ends), `stall_queries` (stay RUNNING until cancelled), `fail_next_query(...)`,
    `max_concurrent_queries` (None: unlimited; Lake allows 10), `null_value` (None: a NULL cell is
    left out of its row; a string: the NULL is printed as that string). `statements` and
    `cancelled` record what the stand-in received.
    """

    def __init__(self, page_size: int = 1000, running_polls: int = 1) -> None:
        self.page_size = page_size
        self.running_polls = running_polls
        self.stall_queries = False
        self.max_concurrent_queries: int | None = None
        self.null_value: str | None = None
        self.statements: list[str] = []
        self.cancelled: list[str] = []
        self.access_keys: list[str] = []  # the SigV4 access key of each request, in order
        self._lock = threading.RLock()
        self._db = duckdb.connect(":memory:")
        self._db.execute("SET TimeZone = 'UTC'")  # Lake's timestamps are UTC
        for macro in TRINO_MACROS:
            self._db.execute(macro)
        self._stores: dict[str, _Store] = {}
        self._queries: dict[str, _Query] = {}
        self._next_failure: tuple[str, str] | None = None
        self._http: ServingThread | None = None
        self.endpoint_url = ""

    # lifecycle

    def start(self) -> Self:
        if self._http is None:
            server = _Server(LOOPBACK, _Handler)
            server.lake = self
            self._http = ServingThread(server, "lake")
            self.endpoint_url = self._http.url
        return self

    def stop(self) -> None:
        if self._http is None:
            return
        self._http.close()
        self._http = None
        with self._lock:
            self._db.close()

    # data

    def create_event_data_store(
        self, name: str = "org-trail", account: str = "123456789012", region: str = "eu-west-1"
    ) -> str:
        """Create an empty store; returns its ARN (the id is the last path part)."""
        store_id = str(uuid.uuid4())
        arn = f"arn:aws:cloudtrail:{region}:{account}:eventdatastore/{store_id}"
        table = "eds_" + store_id.replace("-", "")
        with self._lock:
            self._db.execute(
                f"CREATE TABLE {table} ("
                + ", ".join(f'"{n}" {_duck_type(t)}' for n, t in COLUMNS)
                + ")"
            )
            self._stores[store_id] = _Store(store_id, arn, name, table, time.time())
        return arn

    def put_records(self, event_data_store: str, records: Iterable[Mapping[str, Any]]) -> None:
        """Ingest full CloudTrail events (dicts, as in a trail's `Records`) into a store."""
        rows = [json.dumps(_row(record)) for record in records]
        with self._lock:
            store = self._store(event_data_store)
            if not rows:
                return
            self._db.execute(
                f"INSERT INTO {store.table} "
                f"SELECT unnest(CAST(CAST(j AS JSON) AS {ROW_TYPE})) "
                "FROM (SELECT unnest(?::VARCHAR[]) AS j)",
                [rows],
            )
            store.events += len(rows)
            store.bytes += sum(len(r) for r in rows)

    def fail_next_query(self, state: str = "FAILED", message: str = "Query failed.") -> None:
        """The next query started ends in `state` (FAILED, TIMED_OUT or CANCELLED) after running."""
        if state not in FORCED_STATES:
            raise ValueError(f"state must be one of {sorted(FORCED_STATES)}")
        with self._lock:
            self._next_failure = (state, message)

    # API operations (called by the HTTP handler under the lock)

    def _store(self, reference: str) -> _Store:
        store = self._stores.get(_store_key(reference))
        if store is None:
            raise LakeError(
                "EventDataStoreNotFoundException",
                f"The specified event data store {reference} was not found.",
            )
        return store

    def start_query(self, body: Mapping[str, Any]) -> dict[str, Any]:
        statement = body.get("QueryStatement")
        if not isinstance(statement, str) or not statement.strip():
            raise LakeError("InvalidParameterException", "QueryStatement is required.")
        self.statements.append(statement)
        if self.max_concurrent_queries is not None:
            active = sum(1 for q in self._queries.values() if not self._is_terminal(q))
            if active >= self.max_concurrent_queries:
                raise LakeError(
                    "MaxConcurrentQueriesException",
                    "You are already running the maximum number of concurrent queries.",
                )
        tree, stores = self._compile(statement)
        query = _Query(str(uuid.uuid4()), statement, time.time(), self.running_polls)
        query.forced, self._next_failure = self._next_failure, None
        query.events_scanned = sum(s.events for s in stores)
        query.bytes_scanned = sum(s.bytes for s in stores)
        self._execute(query, tree)
        self._queries[query.id] = query
        return {"QueryId": query.id}

    def _compile(self, statement: str) -> tuple[exp.Expression, list[_Store]]:
        """Parse Trino SQL, check it is one SELECT, point its tables at the stores' tables."""
        try:
            trees = [t for t in sqlglot.parse(_quote_targets(statement), read="trino") if t]
        except sqlglot.errors.SqlglotError as error:
            message = _ANSI.sub("", str(error)).splitlines()[0]
            raise LakeError("InvalidQueryStatementException", f"Invalid query: {message}") from None
        if len(trees) != 1:
            raise LakeError("InvalidQueryStatementException", "Submit exactly one statement.")
        tree = trees[0]
        if not isinstance(tree, exp.Select | exp.SetOperation):
            raise LakeError("InvalidQueryStatementException", "Only SELECT statements are allowed.")
        ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
        stores: list[_Store] = []
        for table in list(tree.find_all(exp.Table)):
            name = table.name
            if not name or (name.lower() in ctes and not table.args.get("db")):
                continue
            store = self._store(name.removeprefix(_PLACEHOLDER))
            stores.append(store)
            table.set("this", exp.to_identifier(store.table))
            table.set("db", None)
            table.set("catalog", None)
        if not stores:
            raise LakeError(
                "InvalidQueryStatementException", "The query must select from an event data store."
            )
        return tree, stores

    def _execute(self, query: _Query, tree: exp.Expression) -> None:
        began = time.perf_counter()
        try:
            cursor = self._db.execute(tree.sql(dialect="duckdb"))
            duck_names = [d[0] for d in cursor.description or []]
            values = cursor.fetchall()
        except (duckdb.Error, sqlglot.errors.SqlglotError) as error:
            # The first line names the problem; the rest is DuckDB's caret display.
            query.error = _ANSI.sub("", str(error)).strip().splitlines()[0][:1000]
            return
        finally:
            query.millis = int((time.perf_counter() - began) * 1000)
        names = _output_names(tree, duck_names)
        query.rows = [self._result_row(names, row) for row in values]

    def _result_row(self, names: list[str], values: tuple[Any, ...]) -> list[dict[str, str]]:
        cells: list[dict[str, str]] = []
        for name, value in zip(names, values, strict=True):
            if value is not None:
                cells.append({name: _cell(value)})
            elif self.null_value is not None:
                cells.append({name: self.null_value})
        return cells

    def _query(self, body: Mapping[str, Any]) -> _Query:
        query_id = body.get("QueryId")
        if not query_id:
            raise LakeError("InvalidParameterException", "QueryId is required.")
        query = self._queries.get(str(query_id))
        if query is None:
            raise LakeError("QueryIdNotFoundException", f"The query ID {query_id} does not exist.")
        return query

    def _is_terminal(self, query: _Query) -> bool:
        return self._state(query, advance=False) in TERMINAL_STATES

    def _state(self, query: _Query, advance: bool) -> str:
        """The query's state now; `advance` counts this as one poll of the running phase."""
        if query.cancelled:
            return "CANCELLED"
        if query.polls < query.running_polls or self.stall_queries:
            state = "QUEUED" if query.polls == 0 and query.running_polls > 1 else "RUNNING"
            if advance:
                query.polls += 1
            return state
        if query.forced is not None:
            return query.forced[0]
        return "FAILED" if query.error is not None else "FINISHED"

    def _error_message(self, query: _Query, state: str) -> str | None:
        if state == "FAILED" or (query.forced is not None and state == query.forced[0]):
            return query.forced[1] if query.forced is not None else query.error
        return None

    def describe_query(self, body: Mapping[str, Any]) -> dict[str, Any]:
        query = self._query(body)
        state = self._state(query, advance=True)
        done = state == "FINISHED"
        answer: dict[str, Any] = {
            "QueryId": query.id,
            "QueryString": query.statement,
            "QueryStatus": state,
            "QueryStatistics": {
                "EventsMatched": len(query.rows) if done else 0,
                "EventsScanned": query.events_scanned if done else 0,
                "BytesScanned": query.bytes_scanned if done else 0,
                "ExecutionTimeInMillis": query.millis if done else 0,
                "CreationTime": query.created,
            },
        }
        message = self._error_message(query, state)
        if message:
            answer["ErrorMessage"] = message
        return answer

    def get_query_results(self, body: Mapping[str, Any]) -> dict[str, Any]:
        query = self._query(body)
        size = body.get("MaxQueryResults") or self.page_size
        if not isinstance(size, int) or not 1 <= size <= MAX_PAGE:
            raise LakeError("InvalidMaxResultsException", "MaxQueryResults must be 1 to 1000.")
        offset = _token_offset(body.get("NextToken"), query.id)
        state = self._state(query, advance=True)
        answer: dict[str, Any] = {"QueryStatus": state}
        if state == "FINISHED":
            page = query.rows[offset : offset + size]
            answer["QueryResultRows"] = page
            answer["QueryStatistics"] = {
                "ResultsCount": len(page),
                "TotalResultsCount": len(query.rows),
                "BytesScanned": query.bytes_scanned,
            }
            if offset + size < len(query.rows):
                answer["NextToken"] = _token(query.id, offset + size)
        else:
            answer["QueryStatistics"] = {"ResultsCount": 0, "TotalResultsCount": 0}
        message = self._error_message(query, state)
        if message:
            answer["ErrorMessage"] = message
        return answer

    def cancel_query(self, body: Mapping[str, Any]) -> dict[str, Any]:
        query = self._query(body)
        state = self._state(query, advance=False)
        if state in TERMINAL_STATES:
            raise LakeError(
                "InactiveQueryException",
                f"The query {query.id} is {state} and cannot be cancelled.",
            )
        query.cancelled = True
        self.cancelled.append(query.id)
        return {"QueryId": query.id, "QueryStatus": "CANCELLED"}

    def _store_answer(self, store: _Store) -> dict[str, Any]:
        return {
            "EventDataStoreArn": store.arn,
            "Name": store.name,
            "Status": "ENABLED",
            "MultiRegionEnabled": True,
            "OrganizationEnabled": True,
            "RetentionPeriod": 366,
            "TerminationProtectionEnabled": True,
            "CreatedTimestamp": store.created,
            "UpdatedTimestamp": store.created,
        }

    def list_event_data_stores(self, body: Mapping[str, Any]) -> dict[str, Any]:
        stores = sorted(self._stores.values(), key=lambda s: (s.created, s.id))
        size = body.get("MaxResults") or MAX_PAGE
        if not isinstance(size, int) or not 1 <= size <= MAX_PAGE:
            raise LakeError("InvalidMaxResultsException", "MaxResults must be 1 to 1000.")
        offset = _token_offset(body.get("NextToken"), "stores")
        answer: dict[str, Any] = {
            "EventDataStores": [self._store_answer(s) for s in stores[offset : offset + size]]
        }
        if offset + size < len(stores):
            answer["NextToken"] = _token("stores", offset + size)
        return answer

    def get_event_data_store(self, body: Mapping[str, Any]) -> dict[str, Any]:
        reference = body.get("EventDataStore")
        if not reference:
            raise LakeError("InvalidParameterException", "EventDataStore is required.")
        return self._store_answer(self._store(str(reference)))

    def dispatch(self, operation: str, body: Mapping[str, Any]) -> dict[str, Any]:
        handler = {
            "StartQuery": self.start_query,
            "DescribeQuery": self.describe_query,
            "GetQueryResults": self.get_query_results,
            "CancelQuery": self.cancel_query,
            "ListEventDataStores": self.list_event_data_stores,
            "GetEventDataStore": self.get_event_data_store,
        }.get(operation)
        if handler is None:
            raise LakeError("UnknownOperationException", f"Unsupported operation {operation}.")
        with self._lock:
            return handler(body)


def _token(scope: str, offset: int) -> str:
    return base64.urlsafe_b64encode(f"{scope}:{offset}".encode()).decode()


def _token_offset(token: Any, scope: str) -> int:
    if not token:
        return 0
    try:
        token_scope, offset = base64.urlsafe_b64decode(str(token)).decode().rsplit(":", 1)
        if token_scope == scope and int(offset) >= 0:
            return int(offset)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        pass
    raise LakeError("InvalidNextTokenException", "The NextToken is not valid.")


# --- HTTP ------------------------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    lake: LakeStandIn


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"  # keep-alive, as botocore's connection pool expects
    disable_nagle_algorithm = True  # headers and body go out in separate writes

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        target = self.headers.get("X-Amz-Target", "")
        credential = re.search(r"Credential=([^/]+)/", self.headers.get("Authorization", ""))
        self.server.lake.access_keys.append(credential.group(1) if credential else "")
        prefix, _, operation = target.rpartition(".")
        try:
            if self.path.split("?")[0] != "/" or not prefix.endswith(TARGET_PREFIX):
                raise LakeError("UnknownOperationException", f"Unknown target {target!r}.")
            try:
                request = json.loads(body or b"{}")
            except ValueError:
                raise LakeError("SerializationException", "The body is not JSON.") from None
            if not isinstance(request, dict):
                raise LakeError("SerializationException", "The body must be a JSON object.")
            self._answer(200, self.server.lake.dispatch(operation, request))
        except LakeError as error:
            self._answer(400, {"__type": error.code, "message": error.message})

    def _answer(self, status: int, payload: Mapping[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", JSON_CONTENT_TYPE)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests and the demo print what matters themselves."""
