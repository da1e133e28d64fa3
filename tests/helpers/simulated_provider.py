"""A provider whose hidden connection limit follows a schedule, and the
dispatcher's worker loop sending to it through an :class:`AIMDLimiter`, on
trio's clock."""

from __future__ import annotations

import math

import trio

from adaptsend.config._settings import LimiterConfig
from adaptsend.limits._local import AIMDLimiter
from adaptsend.limits._records import CapChange


class FakeProvider:
    """Accepts a message unless the connection is beyond its hidden limit,
    counting connections oldest first (the newest excess ones are refused)."""

    def __init__(self, schedule: list[tuple[int, int]], target: int) -> None:
        # (accepted count from which it applies, limit)
        self._schedule = schedule
        self._target = target
        self.done = trio.Event()
        self.limit = schedule[0][1]
        self._open: list[int] = []
        self._next_id = 0
        self.accepted = 0
        self.refused = 0

    def connect(self) -> int:
        self._next_id += 1
        self._open.append(self._next_id)
        return self._next_id

    def close(self, conn: int) -> None:
        self._open.remove(conn)

    def send(self, conn: int) -> bool:
        for start, limit in self._schedule:
            if self.accepted >= start:
                self.limit = limit
        if self._open.index(conn) >= self.limit:
            self.refused += 1
            return False
        self.accepted += 1
        if self.accepted == self._target:
            self.done.set()
        return True


async def worker(
    limiter: AIMDLimiter,
    provider: FakeProvider,
    inbox: trio.MemoryReceiveChannel[int],
    retry: trio.MemorySendChannel[int],
) -> None:
    """The dispatcher's worker loop, with sleeps for latency."""
    while True:
        async with limiter.slot() as slot:
            msg = await inbox.receive()
            await trio.sleep(0.05)
            conn = provider.connect()
            limiter.connection_opened(slot)
            try:
                while True:
                    await trio.sleep(0.2)
                    if not provider.send(conn):
                        limiter.record_throttle(slot)
                        retry.send_nowait(msg)
                        break
                    limiter.record_success(slot)
                    if limiter.over_cap():
                        break
                    with trio.move_on_after(5.0):
                        msg = await inbox.receive()
                        continue
                    break
            finally:
                provider.close(conn)
                limiter.connection_closed(slot)


async def simulate(
    schedule: list[tuple[int, int]], sends: int, *, initial_cap: int = 3
) -> tuple[list[tuple[int, CapChange]], FakeProvider, AIMDLimiter]:
    """Deliver ``sends`` messages through 10 workers; returns (accepted, change) pairs."""
    provider = FakeProvider(schedule, sends)
    log: list[tuple[int, CapChange]] = []
    limiter = AIMDLimiter(
        LimiterConfig(initial_cap=initial_cap, min_cap=1, max_cap=10),
        on_change=lambda change: log.append((provider.accepted, change)),
    )
    send, receive = trio.open_memory_channel[int](math.inf)
    for i in range(sends):
        send.send_nowait(i)
    async with trio.open_nursery() as nursery:
        for _ in range(10):
            nursery.start_soon(worker, limiter, provider, receive, send)
        await provider.done.wait()
        nursery.cancel_scope.cancel()
    return log, provider, limiter
