"""The lifecycle the sandbox's stand-ins share.

`Service` gives anything with `start()`/`stop()` the context-manager protocol;
`ServingThread` runs one HTTP server on a free loopback port from a daemon thread.
"""

from __future__ import annotations

import threading
from http.server import ThreadingHTTPServer
from types import TracebackType
from typing import Self

LOOPBACK = ("127.0.0.1", 0)  # port 0: the OS picks a free port, so runs never collide


class Service:
    """`with service:` starts it and always stops it."""

    def start(self) -> Self:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class ServingThread:
    """Serves `server` from a daemon thread until `close()`."""

    def __init__(self, server: ThreadingHTTPServer, name: str) -> None:
        self._server = server
        # A short poll interval keeps shutdown (and so every test's teardown) quick.
        self._thread = threading.Thread(
            target=server.serve_forever, args=(0.05,), name=name, daemon=True
        )
        self._thread.start()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
