"""The open connections, in the order they were accepted, and the counts tests assert on."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class ConnectionTable:
    """Thread-safe: the server's loop thread writes, any thread may read.

    Each open connection is kept with a function that aborts it, so that a
    stopping server can close them all.
    """

    def __init__(self) -> None:
        self._changed = threading.Condition()
        # A dict keeps insertion order, which is exactly "ordered by age".
        self._open: dict[int, Callable[[], None]] = {}
        self._next_id = 1
        self._total = 0
        self._max_concurrent = 0

    def add(self, abort: Callable[[], None]) -> int:
        """Register a new connection; return its id."""
        with self._changed:
            conn_id = self._next_id
            self._next_id += 1
            self._open[conn_id] = abort
            self._total += 1
            self._max_concurrent = max(self._max_concurrent, len(self._open))
            self._changed.notify_all()
            return conn_id

    def remove(self, conn_id: int) -> None:
        """Forget a closed connection; forgetting it twice is harmless."""
        with self._changed:
            if self._open.pop(conn_id, None) is not None:
                self._changed.notify_all()

    def position(self, conn_id: int) -> int:
        """The connection's rank by age among the open ones, 1 for the oldest."""
        with self._changed:
            for rank, open_id in enumerate(self._open, start=1):
                if open_id == conn_id:
                    return rank
        raise KeyError(conn_id)

    def abort_all(self) -> None:
        """Abort every open connection; each is removed when its loss is seen."""
        with self._changed:
            aborts = list(self._open.values())
        for abort in aborts:
            abort()

    def wait_for_open(self, count: int, timeout_s: float) -> bool:
        """Block until exactly ``count`` connections are open; False on timeout."""
        deadline = time.monotonic() + timeout_s
        with self._changed:
            while len(self._open) != count:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._changed.wait(left)
            return True

    @property
    def open(self) -> int:
        with self._changed:
            return len(self._open)

    @property
    def total(self) -> int:
        with self._changed:
            return self._total

    @property
    def max_concurrent(self) -> int:
        with self._changed:
            return self._max_concurrent
