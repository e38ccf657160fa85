"""A local stand-in for the Lambda Invoke API that runs registered Python handlers.

moto's Lambda runs functions in Docker; this speaks the real REST-JSON Invoke API
(`POST /2015-03-31/functions/{FunctionName}/invocations`) on 127.0.0.1 and calls a
Python callable instead, so boto3 reaches it through `AWS_ENDPOINT_URL_LAMBDA` exactly
as it reaches AWS:

- `X-Amz-Invocation-Type: Event` answers 202 at once and runs the handler in a
  background thread; a handler that raises is run again up to `async_retries` times
  (Lambda's default is 2), and `async_deliveries=2` delivers every event twice, as
  Lambda's at-least-once delivery sometimes does.
- `RequestResponse` (the default) runs the handler and answers 200 with its JSON
  result, or with `X-Amz-Function-Error: Unhandled` and the error when it raises.
- `DryRun` answers 204. An unregistered function answers 404
  `ResourceNotFoundException`; `fail()` makes the next calls answer an error.

    with LambdaStandIn() as lam:
        lam.register("arn:aws:lambda:eu-west-1:123456789012:function:revertsg-2", handler)
        os.environ["AWS_ENDPOINT_URL_LAMBDA"] = lam.endpoint_url
        ...
        lam.wait_idle()  # joins every background invocation
"""

from __future__ import annotations

import json
import os
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import unquote, urlsplit

from sandbox.service import LOOPBACK, Service, ServingThread

Handler = Callable[[Any, Any], Any]

INVOKE_PREFIX = "/2015-03-31/functions/"
INVOKE_SUFFIX = "/invocations"
DEFAULT_ACCOUNT = "123456789012"
LAMBDA_ASYNC_RETRIES = 2  # what Lambda does with a failed asynchronous invocation


@dataclass
class LambdaContext:
    """The attributes of Lambda's context object that handlers and Powertools read."""

    function_name: str
    invoked_function_arn: str
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 512
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = ""
    log_stream_name: str = "local/[$LATEST]standin"
    remaining_ms: int = 300_000

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


@dataclass
class Invocation:
    """One Invoke call as received, and what each run of the handler did."""

    function_name: str
    invocation_type: str
    payload: Any  # the decoded JSON event (raw text if it was not JSON)
    results: list[Any] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # "ErrorType: message" per failed run

    @property
    def runs(self) -> int:
        return len(self.results) + len(self.errors)


@dataclass(frozen=True)
class _Failure:
    status: int
    error_type: str
    message: str


@dataclass(frozen=True)
class _Function:
    arn: str
    handler: Handler


class LambdaStandIn(Service):
    def __init__(
        self,
        *,
        async_retries: int = LAMBDA_ASYNC_RETRIES,
        async_deliveries: int = 1,
        region: str | None = None,
        account: str = DEFAULT_ACCOUNT,
    ) -> None:
        self.async_retries = async_retries
        self.async_deliveries = async_deliveries
        self._region = region or os.environ.get("AWS_REGION") or "us-east-1"
        self._account = account
        self._functions: dict[str, _Function] = {}
        self._failures: list[_Failure] = []
        self._invocations: list[Invocation] = []
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._http: ServingThread | None = None

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> Self:
        if self._http is None:
            server = ThreadingHTTPServer(LOOPBACK, _request_handler(self))
            server.daemon_threads = True
            self._http = ServingThread(server, "lambda-standin")
        return self

    def stop(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None

    @property
    def endpoint_url(self) -> str:
        if self._http is None:
            raise RuntimeError("LambdaStandIn is not started")
        return self._http.url

    # -- configuration ------------------------------------------------------------------------

    def register(self, function_name_or_arn: str, handler: Handler) -> str:
        """Run `handler(event, context)` for this function; returns its ARN."""
        name = _function_name(function_name_or_arn)
        arn = (
            function_name_or_arn
            if function_name_or_arn.startswith("arn:")
            else f"arn:aws:lambda:{self._region}:{self._account}:function:{name}"
        )
        with self._lock:
            self._functions[name] = _Function(arn=_unqualified(arn), handler=handler)
        return arn

    def fail(
        self,
        status: int = 429,
        error_type: str = "TooManyRequestsException",
        message: str = "Rate exceeded",
        times: int = 1,
    ) -> None:
        """Answer the next `times` Invoke calls with this error instead of running anything."""
        with self._lock:
            self._failures.extend([_Failure(status, error_type, message)] * times)

    # -- observation --------------------------------------------------------------------------

    @property
    def invocations(self) -> list[Invocation]:
        with self._lock:
            return list(self._invocations)

    def wait_idle(self, timeout: float = 30.0) -> None:
        """Join every background invocation started so far (and any they started)."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                pending = [thread for thread in self._threads if thread.is_alive()]
            if not pending:
                return
            for thread in pending:
                thread.join(max(0.0, deadline - time.monotonic()))
                if thread.is_alive():
                    raise TimeoutError(f"invocations still running after {timeout}s")

    # -- invocation ---------------------------------------------------------------------------

    def _next_failure(self) -> _Failure | None:
        with self._lock:
            return self._failures.pop(0) if self._failures else None

    def _function(self, name: str) -> _Function | None:
        with self._lock:
            return self._functions.get(name)

    def _record(self, invocation: Invocation) -> None:
        with self._lock:
            self._invocations.append(invocation)

    def _run(self, function: _Function, invocation: Invocation, qualifier: str | None) -> bool:
        arn = f"{function.arn}:{qualifier}" if qualifier else function.arn
        context = LambdaContext(
            function_name=_function_name(function.arn),
            invoked_function_arn=arn,
            log_group_name=f"/aws/lambda/{_function_name(function.arn)}",
        )
        try:
            result = function.handler(invocation.payload, context)
        except Exception as error:  # a handler error is the function's outcome, not ours
            with self._lock:
                invocation.errors.append(f"{type(error).__name__}: {error}")
            traceback.print_exc()
            return False
        with self._lock:
            invocation.results.append(result)
        return True

    def _run_async(
        self, function: _Function, invocation: Invocation, qualifier: str | None
    ) -> None:
        for _ in range(1 + self.async_retries):
            if self._run(function, invocation, qualifier):
                return

    def _start_async(
        self, function: _Function, invocation: Invocation, qualifier: str | None
    ) -> None:
        threads = [
            threading.Thread(
                target=self._run_async,
                args=(function, invocation, qualifier),
                name=f"invoke-{invocation.function_name}",
                daemon=True,
            )
            for _ in range(self.async_deliveries)
        ]
        with self._lock:
            self._threads.extend(threads)
        for thread in threads:
            thread.start()


def _function_name(name_or_arn: str) -> str:
    """`revertsg-2` from a name, a partial ARN or a full (qualified) ARN."""
    parts = name_or_arn.split(":")
    if "function" in parts:  # arn:aws:lambda:...:function:name[:qualifier] or acct:function:name
        return parts[parts.index("function") + 1]
    return parts[0]


def _unqualified(arn: str) -> str:
    parts = arn.split(":")
    return ":".join(parts[:7]) if len(parts) > 7 else arn


def _qualifier(name_or_arn: str, query: str) -> str | None:
    for pair in query.split("&"):
        key, _, value = pair.partition("=")
        if key == "Qualifier" and value:
            return unquote(value)
    parts = name_or_arn.split(":")
    if "function" in parts and len(parts) > parts.index("function") + 2:
        return parts[parts.index("function") + 2]
    return None


def _request_handler(standin: LambdaStandIn) -> type[BaseHTTPRequestHandler]:
    class InvokeHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            return  # keep test output quiet

        def do_POST(self) -> None:
            url = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            if not (url.path.startswith(INVOKE_PREFIX) and url.path.endswith(INVOKE_SUFFIX)):
                self._error(404, "UnknownOperationException", f"no route for {url.path}")
                return
            raw_name = unquote(url.path[len(INVOKE_PREFIX) : -len(INVOKE_SUFFIX)])
            failure = standin._next_failure()
            if failure is not None:
                self._error(failure.status, failure.error_type, failure.message)
                return
            function = standin._function(_function_name(raw_name))
            if function is None:
                self._error(404, "ResourceNotFoundException", f"Function not found: {raw_name}")
                return
            invocation_type = self.headers.get("X-Amz-Invocation-Type") or "RequestResponse"
            if invocation_type not in ("Event", "RequestResponse", "DryRun"):
                self._error(
                    400,
                    "InvalidParameterValueException",
                    f"unsupported invocation type {invocation_type}",
                )
                return
            if invocation_type == "DryRun":
                self._send(HTTPStatus.NO_CONTENT, b"")
                return
            try:
                payload: Any = json.loads(body) if body else {}
            except ValueError:
                self._error(400, "InvalidRequestContentException", "Could not parse request body")
                return
            invocation = Invocation(
                function_name=function.arn, invocation_type=invocation_type, payload=payload
            )
            standin._record(invocation)
            qualifier = _qualifier(raw_name, url.query)
            if invocation_type == "Event":
                standin._start_async(function, invocation, qualifier)
                self._send(HTTPStatus.ACCEPTED, b"")
                return
            if standin._run(function, invocation, qualifier):
                self._send(HTTPStatus.OK, json.dumps(invocation.results[-1], default=str).encode())
            else:
                error_type, _, message = invocation.errors[-1].partition(": ")
                detail = {"errorMessage": message, "errorType": error_type, "stackTrace": []}
                self._send(
                    HTTPStatus.OK,
                    json.dumps(detail).encode(),
                    {"X-Amz-Function-Error": "Unhandled"},
                )

        def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("X-Amzn-RequestId", str(uuid.uuid4()))
            if status in (HTTPStatus.OK, HTTPStatus.ACCEPTED):
                self.send_header("X-Amz-Executed-Version", "$LATEST")
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def _error(self, status: int, error_type: str, message: str) -> None:
            body = json.dumps({"Type": "User", "Message": message, "message": message}).encode()
            self._send(status, body, {"X-Amzn-ErrorType": error_type})

    return InvokeHandler
