"""The limiter against a simulated provider whose limit is steady, falls and rises."""

from __future__ import annotations

import math

import trio
import trio.lowlevel
import trio.testing

from adaptsend.config._settings import LimiterConfig
from adaptsend.limits._local import AIMDLimiter
from adaptsend.limits._records import CapChange, ChangeReason

# --- a simulated provider -------------------------------------------------


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


def cap_after(log: list[tuple[int, CapChange]], accepted: int, initial: int) -> int:
    cap = initial
    for at, change in log:
        if at > accepted:
            break
        cap = change.new_cap
    return cap


async def test_settles_at_a_steady_limit(autojump_clock: trio.testing.MockClock) -> None:
    log, provider, limiter = await simulate([(0, 3)], 1000)
    stats = limiter.statistics()
    assert stats.successes == 1000
    assert stats.throttles <= 4
    assert provider.refused <= 4
    assert (stats.cap, stats.ceiling) == (3, 4)
    # After the first cut only probes go above the limit...
    first_cut = next(i for i, (_, c) in enumerate(log) if c.reason is ChangeReason.THROTTLE)
    assert max(c.new_cap for _, c in log[first_cut:]) == 4
    assert all(c.reason is not ChangeReason.THROTTLE for _, c in log[first_cut + 1 :])
    # ...after 32, 64 and 128 windows of three sends since the cut before.
    cuts = [at for at, c in log if c.reason in (ChangeReason.THROTTLE, ChangeReason.PROBE_FAILED)]
    probes = [at for at, c in log[first_cut:] if c.reason is ChangeReason.PROBE]
    gaps = [probe - cut for cut, probe in zip(cuts, probes, strict=False)]
    assert len(gaps) == 3
    for gap, windows in zip(gaps, (32, 64, 128), strict=True):
        assert windows * 3 <= gap <= windows * 3 + 6


async def test_follows_a_limit_that_falls_and_rises(
    autojump_clock: trio.testing.MockClock,
) -> None:
    log, provider, limiter = await simulate([(0, 6), (1000, 2), (2000, 4)], 5000)
    assert limiter.statistics().successes == 5000
    assert cap_after(log, 999, 3) in (5, 6)
    # The fall: within 50 sends the cap is at the limit or below...
    assert cap_after(log, 1050, 3) <= 2
    # ...and then only probes one above it: a fall, so the first ones come
    # every 16 windows (32 sends at two connections).
    assert max(c.new_cap for at, c in log if 1050 <= at < 2000) <= 3
    probes = [at for at, c in log if 1000 <= at < 2000 and c.reason is ChangeReason.PROBE]
    assert 34 >= probes[1] - probes[0] >= 32
    # The rise: the probes, back to doubling once the fall is used up (about
    # 500 sends apart by then), find 4, and the cap keeps to it.
    settled = [at for at, c in log if at >= 2000 and c.new_cap == 4 and c.old_cap < 4]
    assert settled
    assert settled[-1] < 2600
    assert all(c.new_cap in (4, 5) for at, c in log if at > settled[-1])
    assert limiter.cap == 4
    # Refusals are few: a few per change of limit, one per probe.
    assert provider.refused <= 25
