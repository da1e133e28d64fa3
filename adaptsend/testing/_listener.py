"""Serving on a port that can go down and come back: the server's lifecycle."""

from __future__ import annotations

import threading
import time

from adaptsend.testing._connections import ConnectionTable
from adaptsend.testing._loop_thread import LoopThread, ProtocolFactory


class Listener:
    """Starts and stops a :class:`LoopThread`, and takes it down for an
    outage and back up on the port it had.

    Thread-safe: every change of state happens under one condition, which
    also wakes those waiting for the server to be up.
    """

    def __init__(
        self, factory: ProtocolFactory, host: str, port: int, connections: ConnectionTable
    ) -> None:
        self._factory = factory
        self._host = host
        self._port = port
        self._connections = connections
        self._changed = threading.Condition()
        self._thread: LoopThread | None = None
        self._address: tuple[str, int] | None = None
        # Down on purpose, to come back; stop() ends an outage for good.
        self._down = False
        self._comeback: threading.Timer | None = None

    def start(self) -> tuple[str, int]:
        """Listen on the configured port (0: a free one); the bound address."""
        with self._changed:
            if self._thread is not None:
                raise RuntimeError("the server is already running")
            self._cancel_comeback()
            self._down = False
            self._listen(self._port)
            assert self._address is not None
            return self._address

    def stop(self) -> None:
        """Stop for good: no outage comes back after this. Idempotent."""
        with self._changed:
            self._cancel_comeback()
            self._down = False
            self._close()

    def go_down(self) -> None:
        """Stop listening and reset every open connection, until
        :meth:`come_back`. Does nothing if the server is down already."""
        with self._changed:
            if self._down:
                return
            if self._thread is None:
                raise RuntimeError("the server is not running")
            self._close()
            self._down = True

    def come_back(self) -> None:
        """Listen again on the port held before going down. Does nothing if
        the server is not down."""
        with self._changed:
            self._cancel_comeback()
            self._come_back()

    def down_for(self, seconds: float) -> None:
        """Go down now; come back by itself ``seconds`` later, in a thread of
        its own. Returns once down."""
        with self._changed:
            self.go_down()
            self._cancel_comeback()
            timer = threading.Timer(seconds, lambda: self._come_back_after(timer))
            timer.daemon = True
            timer.name = "adaptsend-testing-comeback"
            self._comeback = timer
            timer.start()

    def wait_for_up(self, timeout_s: float) -> bool:
        """Block until listening; False on timeout."""
        deadline = time.monotonic() + timeout_s
        with self._changed:
            while self._thread is None:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._changed.wait(left)
            return True

    @property
    def running(self) -> bool:
        with self._changed:
            return self._thread is not None

    @property
    def down(self) -> bool:
        with self._changed:
            return self._down

    @property
    def address(self) -> tuple[str, int] | None:
        with self._changed:
            return self._address

    def _come_back_after(self, timer: threading.Timer) -> None:
        with self._changed:
            # A later outage, come_back() or stop() took this one's place.
            if self._comeback is not timer:
                return
            self._comeback = None
            self._come_back()

    def _come_back(self) -> None:
        if not self._down:
            return
        assert self._address is not None
        self._listen(self._address[1])
        self._down = False

    def _listen(self, port: int) -> None:
        thread = LoopThread(self._factory, self._host, port, self._connections)
        self._address = thread.start()
        self._thread = thread
        self._changed.notify_all()

    def _close(self) -> None:
        if self._thread is not None:
            self._thread.stop()
            self._thread = None

    def _cancel_comeback(self) -> None:
        if self._comeback is not None:
            self._comeback.cancel()
            self._comeback = None
