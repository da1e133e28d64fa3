"""A real HTTP server on 127.0.0.1 that records what it is sent, for testing
webhook sinks and anything else that posts over HTTP."""

from __future__ import annotations

import collections
import http.server
import json
import threading
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from adaptsend.testing._http_serving import ServedHTTP


@attrs.frozen(kw_only=True)
class ReceivedRequest:
    """One request as the server saw it."""

    method: str
    #: The path with its query string, as sent.
    path: str
    headers: Mapping[str, str]
    body: bytes
    #: The status the server answered with.
    status: int

    def json(self) -> Any:
        return json.loads(self.body)


class HTTPReceiver(ServedHTTP):
    """Records every request and answers it with a status you choose::

        with HTTPReceiver(statuses=[500, 200]) as receiver:
            post_to(receiver.url + "/hook")
            [first, second] = receiver.wait_for_requests(2)

    ``statuses`` are used one per request, in order; after them every request
    gets ``status``. ``delay_s`` waits before each answer (ended early by
    :meth:`stop`), to test a client's timeout. Thread-safe.
    """

    server_name = "the receiver"

    def __init__(
        self,
        *,
        status: int = 200,
        statuses: Iterable[int] = (),
        delay_s: float = 0.0,
        host: str = "127.0.0.1",
    ) -> None:
        super().__init__(host=host)
        self._status = status
        self._statuses = collections.deque(statuses)
        self._delay_s = delay_s
        self._requests: list[ReceivedRequest] = []
        self._changed = threading.Condition()

    def handler_class(self) -> type[http.server.BaseHTTPRequestHandler]:
        return _handler_for(self)

    @property
    def requests(self) -> list[ReceivedRequest]:
        """Every request so far, oldest first. A copy."""
        with self._changed:
            return list(self._requests)

    def wait_for_requests(self, count: int, timeout_s: float = 5.0) -> list[ReceivedRequest]:
        """Block until at least ``count`` requests have come; return them all.
        From trio: ``await trio.to_thread.run_sync(receiver.wait_for_requests, 2)``.
        Raises TimeoutError if they do not come in time."""
        with self._changed:
            if not self._changed.wait_for(lambda: len(self._requests) >= count, timeout_s):
                raise TimeoutError(
                    f"{len(self._requests)} request(s) came, not {count}, in {timeout_s} s"
                )
            return list(self._requests)

    # -- called by the handler, in the server's threads ----------------------

    def _answer(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> int:
        if self._delay_s:
            self.stopping.wait(self._delay_s)
        with self._changed:
            status = self._statuses.popleft() if self._statuses else self._status
            request = ReceivedRequest(
                method=method, path=path, headers=headers, body=body, status=status
            )
            self._requests.append(request)
            self._changed.notify_all()
        return status


def _handler_for(receiver: HTTPReceiver) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            self._handle()

        def do_PUT(self) -> None:
            self._handle()

        def do_GET(self) -> None:
            self._handle()

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            status = receiver._answer(self.command, self.path, headers, body)
            reply = b"ok" if status < 400 else b"error"
            try:
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)
            except OSError:
                # The client gave up waiting (a timeout test): nobody to answer.
                self.close_connection = True

        def log_message(self, format: str, *args: Any) -> None:
            # Quiet: a test's output is for the test's own assertions.
            pass

    return Handler
