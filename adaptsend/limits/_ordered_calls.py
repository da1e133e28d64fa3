"""The store calls a shared limiter makes for its workers, who never wait for
them: made one at a time, in the order they were asked for, by a task of the
limiter's background. Order matters: a slot's release must not overtake the
mark that its connection delivered, nor a growth step the cut before it."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable

import trio

#: One store call, ready to be made.
Call = Callable[[], Awaitable[None]]


class OrderedCalls:
    """A queue of store calls without bound, and the task that makes them."""

    def __init__(self) -> None:
        self._in, self._out = trio.open_memory_channel[Call](math.inf)

    def queue(self, call: Call) -> None:
        """Make ``call`` after those queued before it; never waits."""
        self._in.send_nowait(call)

    async def run(self) -> None:
        """Make the queued calls, and those to come, until cancelled."""
        async for call in self._out:
            await call()
