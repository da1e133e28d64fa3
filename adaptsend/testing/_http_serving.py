"""The life of a threaded test HTTP server on 127.0.0.1: start, stop, start
again on the same port, and the URL to reach it. The servers built on it
say only how a request is answered."""

from __future__ import annotations

import http.server
import threading
from types import TracebackType
from typing import Self


class ServedHTTP:
    """A ``ThreadingHTTPServer`` in daemon threads, so it serves trio tests,
    threaded tests and other processes alike. Subclasses give the request
    handler class (:meth:`handler_class`) and a name for error messages.

    :attr:`stopping` is set while the server stops: a handler that waits
    (a latency, a stall) waits on it, so :meth:`stop` returns at once.
    A restart listens on the port of the first start: an outage that ends.
    """

    #: What error messages call this server.
    server_name = "the test HTTP server"

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.stopping = threading.Event()
        self._host = host
        self._port = port
        self._server: http.server.ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._address: tuple[str, int] | None = None

    def handler_class(self) -> type[http.server.BaseHTTPRequestHandler]:
        raise NotImplementedError

    def start(self) -> None:
        if self._server is not None:
            raise RuntimeError(f"{self.server_name} is already running")
        self.stopping.clear()
        server = http.server.ThreadingHTTPServer((self._host, self._port), self.handler_class())
        server.daemon_threads = True
        self._server = server
        host, port = server.server_address[:2]
        self._address = (str(host), int(port))
        self._port = int(port)
        # A short poll so that stop() returns at once.
        self._thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop serving; what was recorded stays readable. Idempotent."""
        if self._server is None:
            return
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join()
        self._server = self._thread = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` of the latest start, without a trailing slash."""
        if self._address is None:
            raise RuntimeError(f"{self.server_name} has not been started")
        host, port = self._address
        return f"http://{host}:{port}"
