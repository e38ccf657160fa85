"""An API Gateway REST API stand-in: one resource, Lambda proxy integration, over real HTTP.

A POST to `{endpoint_url}/{stage}{resource}` becomes the version 1.0 proxy event API Gateway
would send (`resource`, `path`, `httpMethod`, `headers`, `multiValueHeaders`, query strings,
`requestContext` with `requestId`/`stage`/`identity.sourceIp`, `body`, `isBase64Encoded`);
the handler's `statusCode`/`headers`/`multiValueHeaders`/`body` are written back. As API
Gateway does:
- a body whose Content-Type matches one of `binary_media_types` (wildcards allowed) is
  base64-encoded with `isBase64Encoded: true`; any other body is passed as text;
- another path or method answers 403 `Missing Authentication Token`;
- a handler that raises or answers malformed output answers 502 `Internal server error`.
"""

from __future__ import annotations

import base64
import fnmatch
import json
import secrets
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qsl, urlsplit

from sandbox.context import InvocationContext
from sandbox.service import LOOPBACK, Service, ServingThread

Handler = Callable[[dict[str, Any], Any], Any]
FORM = "application/x-www-form-urlencoded"


@dataclass(frozen=True)
class Exchange:
    """One request through the gateway: the event the handler saw and what went back."""

    event: dict[str, Any]
    status: int
    body: str
    seconds: float  # handler time, what Slack's 3-second limit is measured against
    error: str | None = None  # traceback when the handler failed (the client saw a 502)


class ApiGatewayStandIn(Service):
    def __init__(
        self,
        handler: Handler,
        function_arn: str,
        *,
        resource: str = "/slack/actions",
        stage: str = "prod",
        binary_media_types: Sequence[str] = (FORM,),
        account: str = "123456789012",
        function_timeout_seconds: float = 30.0,
    ) -> None:
        self.handler = handler
        self.function_arn = function_arn
        self.resource = resource
        self.stage = stage
        self.binary_media_types = tuple(binary_media_types)
        self.account = account
        self.function_timeout_seconds = function_timeout_seconds
        self.api_id = secrets.token_hex(5)
        self.exchanges: list[Exchange] = []
        self._lock = threading.Lock()
        self._http: ServingThread | None = None
        self.endpoint_url = ""

    @property
    def url(self) -> str:
        """Where Slack's interactivity Request URL would point."""
        return f"{self.endpoint_url}/{self.stage}{self.resource}"

    # lifecycle

    def start(self) -> Self:
        if self._http is None:
            server = _Server(LOOPBACK, _Handler)
            server.gateway = self
            self._http = ServingThread(server, "apigw")
            self.endpoint_url = self._http.url
        return self

    def stop(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None

    # the proxy integration

    def is_binary(self, content_type: str | None) -> bool:
        media_type = (content_type or "").split(";", 1)[0].strip().lower()
        return any(
            fnmatch.fnmatch(media_type, pattern.lower()) for pattern in self.binary_media_types
        )

    def event(
        self,
        method: str,
        target: str,
        headers: Sequence[tuple[str, str]],
        body: bytes,
        source_ip: str,
    ) -> dict[str, Any]:
        """The REST API (v1.0) proxy event for one request."""
        split = urlsplit(target)
        path = split.path.removeprefix(f"/{self.stage}") or "/"
        single: dict[str, str] = {}
        multi: dict[str, list[str]] = {}
        for name, value in headers:
            single[name] = value  # API Gateway keeps the last of repeated headers here
            multi.setdefault(name, []).append(value)
        query = parse_qsl(split.query, keep_blank_values=True)
        query_single = {k: v for k, v in query} or None
        query_multi: dict[str, list[str]] = {}
        for key, value in query:
            query_multi.setdefault(key, []).append(value)
        content_type = next((v for k, v in headers if k.lower() == "content-type"), None)
        binary = self.is_binary(content_type)
        now = datetime.now(UTC)
        request_id = str(uuid.uuid4())
        user_agent = next((v for k, v in headers if k.lower() == "user-agent"), None)
        return {
            "resource": self.resource,
            "path": path,
            "httpMethod": method,
            "headers": single or None,
            "multiValueHeaders": multi or None,
            "queryStringParameters": query_single,
            "multiValueQueryStringParameters": query_multi or None,
            "pathParameters": None,
            "stageVariables": None,
            "requestContext": {
                "resourceId": self.api_id[:6],
                "resourcePath": self.resource,
                "httpMethod": method,
                "extendedRequestId": base64.b64encode(uuid.uuid4().bytes)[:16].decode(),
                "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
                "path": f"/{self.stage}{path}",
                "accountId": self.account,
                "protocol": "HTTP/1.1",
                "stage": self.stage,
                "domainPrefix": self.api_id,
                "requestTimeEpoch": int(now.timestamp() * 1000),
                "requestId": request_id,
                "identity": {
                    "cognitoIdentityPoolId": None,
                    "accountId": None,
                    "cognitoIdentityId": None,
                    "caller": None,
                    "sourceIp": source_ip,
                    "principalOrgId": None,
                    "accessKey": None,
                    "cognitoAuthenticationType": None,
                    "cognitoAuthenticationProvider": None,
                    "userArn": None,
                    "userAgent": user_agent,
                    "user": None,
                },
                "domainName": f"{self.api_id}.execute-api.local",
                "apiId": self.api_id,
            },
            "body": (base64.b64encode(body).decode() if binary else body.decode("utf-8"))
            if body
            else None,
            "isBase64Encoded": bool(body) and binary,
        }

    def invoke(self, event: dict[str, Any]) -> tuple[int, dict[str, list[str]], bytes]:
        """Run the handler on `event`; (status, headers, body) as API Gateway would answer."""
        context = InvocationContext(
            invoked_function_arn=self.function_arn, timeout_seconds=self.function_timeout_seconds
        )
        started = time.monotonic()
        error: str | None = None
        try:
            result = self.handler(event, context)
            status, headers, body = _proxy_answer(result)
        except Exception:
            error = traceback.format_exc()
            status, headers, body = 502, {}, b'{"message": "Internal server error"}'
        seconds = time.monotonic() - started
        with self._lock:
            self.exchanges.append(
                Exchange(event, status, body.decode("utf-8", "replace"), seconds, error)
            )
        headers.setdefault("Content-Type", ["application/json"])
        headers["x-amzn-RequestId"] = [event["requestContext"]["requestId"]]
        return status, headers, body


class MalformedProxyResponse(Exception):
    pass


def _proxy_answer(result: Any) -> tuple[int, dict[str, list[str]], bytes]:
    if not isinstance(result, Mapping) or not isinstance(result.get("statusCode"), int):
        raise MalformedProxyResponse(f"not a proxy response: {result!r}")
    headers: dict[str, list[str]] = {}
    for name, value in (result.get("headers") or {}).items():
        headers[name] = [str(value)]
    for name, values in (result.get("multiValueHeaders") or {}).items():
        headers.setdefault(name, []).extend(str(v) for v in values)
    raw = result.get("body")
    if raw is None:
        body = b""
    elif result.get("isBase64Encoded"):
        body = base64.b64decode(raw)
    elif isinstance(raw, str):
        body = raw.encode()
    else:
        raise MalformedProxyResponse(f"body must be a string, got {type(raw).__name__}")
    return int(result["statusCode"]), headers, body


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    gateway: ApiGatewayStandIn


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        self._proxy("POST")

    def do_GET(self) -> None:
        self._proxy("GET")

    def do_PUT(self) -> None:
        self._proxy("PUT")

    def _proxy(self, method: str) -> None:
        gateway = self.server.gateway
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        path = urlsplit(self.path).path
        if method != "POST" or path != f"/{gateway.stage}{gateway.resource}":
            self._write(403, {}, json.dumps({"message": "Missing Authentication Token"}).encode())
            return
        event = gateway.event(
            method, self.path, list(self.headers.items()), body, self.client_address[0]
        )
        status, headers, answer = gateway.invoke(event)
        self._write(status, headers, answer)

    def _write(self, status: int, headers: Mapping[str, list[str]], body: bytes) -> None:
        self.send_response(status)
        for name, values in headers.items():
            if name.lower() in ("content-length", "connection", "transfer-encoding"):
                continue
            for value in values:
                self.send_header(name, value)
        if not any(n.lower() == "content-type" for n in headers):
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: exchanges are recorded on the gateway instead."""
