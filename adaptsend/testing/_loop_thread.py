"""An asyncio loop in a thread of its own, serving one listening socket.

aiosmtpd's ``Controller`` does the same, but in 1.4.6 it cannot listen on port 0
and it opens a probe connection of its own at start, which would spoil exact
connection counts; hence this small replacement.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

from adaptsend.testing._connections import ConnectionTable

ProtocolFactory = Callable[[asyncio.AbstractEventLoop], asyncio.BaseProtocol]

# How long a stopping server waits for aborted connections to be reported lost.
_SETTLE_S = 2.0


class LoopThread:
    """Runs ``factory(loop)`` for each accepted connection, in a daemon thread."""

    def __init__(
        self, factory: ProtocolFactory, host: str, port: int, connections: ConnectionTable
    ) -> None:
        self._factory = factory
        self._host = host
        self._port = port
        self._connections = connections
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._error: BaseException | None = None
        self.address: tuple[str, int] | None = None

    def start(self, timeout_s: float = 10.0) -> tuple[str, int]:
        """Listen and serve; return the bound (host, port) once accepting."""
        ready = threading.Event()
        loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._run, args=(loop, ready), name="adaptsend-testing-smtp", daemon=True
        )
        self._thread.start()
        if not ready.wait(timeout_s):
            raise TimeoutError("the test SMTP server did not start in time")
        if self._error is not None or self.address is None:
            self._thread.join()
            self._thread = None
            raise self._error or RuntimeError("the test SMTP server failed to start")
        self._loop = loop
        return self.address

    def stop(self, timeout_s: float = 10.0) -> None:
        """Abort open connections, stop listening, and join the thread."""
        if self._thread is None or self._loop is None:
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout_s)
        if self._thread.is_alive():
            raise TimeoutError("the test SMTP server did not stop in time")
        self._thread = None
        self._loop = None

    def _run(self, loop: asyncio.AbstractEventLoop, ready: threading.Event) -> None:
        asyncio.set_event_loop(loop)
        loop.set_exception_handler(_ignore_lost_peers)
        try:
            server = loop.run_until_complete(
                loop.create_server(lambda: self._factory(loop), self._host, self._port)
            )
        except BaseException as exc:
            self._error = exc
            loop.close()
            ready.set()
            return
        self.address = server.sockets[0].getsockname()[:2]
        loop.call_soon(ready.set)
        try:
            loop.run_forever()
        finally:
            server.close()
            loop.run_until_complete(self._settle(server))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
            loop.close()

    async def _settle(self, server: asyncio.AbstractServer) -> None:
        await server.wait_closed()
        self._connections.abort_all()
        # Losses are reported a few loop turns after an abort (more with TLS);
        # wait for them in a worker so that this loop can run meanwhile.
        await asyncio.to_thread(self._connections.wait_for_open, 0, _SETTLE_S)
        current = asyncio.current_task()
        tasks = [t for t in asyncio.all_tasks() if t is not current]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def _ignore_lost_peers(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    # A client that hangs up mid-reply is routine here (tests do it on purpose);
    # asyncio would log each one as an error.
    if isinstance(context.get("exception"), ConnectionError):
        return
    loop.default_exception_handler(context)
