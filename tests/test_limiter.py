from __future__ import annotations

import contextlib
import math

import pytest
import trio
import trio.lowlevel
import trio.testing

from adaptsend import _limiter
from adaptsend._limiter import (
    AIMDLimiter,
    CapChange,
    ChangeReason,
    LimiterStatistics,
    Slot,
)


def make(
    *, initial_cap: int = 4, min_cap: int = 1, max_cap: int = 10, **kwargs: object
) -> tuple[AIMDLimiter, list[CapChange]]:
    changes: list[CapChange] = []
    limiter = AIMDLimiter(
        initial_cap=initial_cap,
        min_cap=min_cap,
        max_cap=max_cap,
        on_change=changes.append,
        **kwargs,  # type: ignore[arg-type]
    )
    return limiter, changes


async def take(stack: contextlib.AsyncExitStack, limiter: AIMDLimiter, *, open_: bool) -> Slot:
    """Take a slot (it must be free) and, if asked, open its connection."""
    with trio.fail_after(0.001):
        slot = await stack.enter_async_context(limiter.slot())
    if open_:
        limiter.connection_opened(slot)
    return slot


async def take_many(stack: contextlib.AsyncExitStack, limiter: AIMDLimiter, n: int) -> list[Slot]:
    return [await take(stack, limiter, open_=True) for _ in range(n)]


def succeed(limiter: AIMDLimiter, slots: list[Slot], rounds: int = 1) -> list[CapChange]:
    made = []
    for _ in range(rounds):
        for slot in slots:
            change = limiter.record_success(slot)
            if change is not None:
                made.append(change)
    return made


# --- construction ---------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"initial_cap": 1, "min_cap": 0, "max_cap": 3}, "min_cap must be at least 1, not 0."),
        ({"initial_cap": 1, "min_cap": 2, "max_cap": 3}, "min_cap <= initial_cap <= max_cap"),
        ({"initial_cap": 4, "min_cap": 1, "max_cap": 3}, "min_cap <= initial_cap <= max_cap"),
        (
            {"initial_cap": 2, "min_cap": 1, "max_cap": 3, "decrease_factor": 1.0},
            "decrease_factor must be between 0 and 1, not 1.0.",
        ),
        (
            {"initial_cap": 2, "min_cap": 1, "max_cap": 3, "decrease_factor": 0.0},
            "decrease_factor must be between 0 and 1",
        ),
        (
            {"initial_cap": 2, "min_cap": 1, "max_cap": 3, "probe_interval_s": 0.0},
            "0 < probe_interval_s <= max_probe_interval_s",
        ),
        (
            {
                "initial_cap": 2,
                "min_cap": 1,
                "max_cap": 3,
                "probe_interval_s": 60.0,
                "max_probe_interval_s": 30.0,
            },
            "0 < probe_interval_s <= max_probe_interval_s",
        ),
        (
            {"initial_cap": 2, "min_cap": 1, "max_cap": 3, "probe_after_windows": 0},
            "probe_after_windows must be at least 1, not 0.",
        ),
    ],
)
def test_bad_settings_raise_one_sentence(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message) as info:
        AIMDLimiter(**kwargs)  # type: ignore[arg-type]
    text = str(info.value)
    assert text.endswith(".")
    assert text.count(". ") == 0


def test_equal_bounds_are_allowed() -> None:
    limiter = AIMDLimiter(initial_cap=2, min_cap=2, max_cap=2)
    assert limiter.cap == 2


# --- multiplicative decrease ------------------------------------------------


async def test_one_cut_per_window(autojump_clock: trio.testing.MockClock) -> None:
    limiter, changes = make(initial_cap=5)
    async with contextlib.AsyncExitStack() as stack:
        slots = await take_many(stack, limiter, 5)
        results = [limiter.record_throttle(slot) for slot in slots]

        assert results[1:] == [None, None, None, None]
        assert changes == [results[0]]
        assert changes[0] == CapChange(
            old_cap=5,
            new_cap=2,
            reason=ChangeReason.THROTTLE,
            at=trio.current_time(),
            ceiling=5,
            epoch=1,
            observed=5,
        )
        stats = limiter.statistics()
        assert (stats.cap, stats.throttles, stats.ignored_throttles, stats.epoch) == (2, 1, 4, 1)


async def test_connection_opened_after_a_cut_counts_again() -> None:
    limiter, changes = make(initial_cap=4)
    async with contextlib.AsyncExitStack() as stack:
        slots = await take_many(stack, limiter, 4)
        limiter.record_throttle(slots[0])  # 4 open -> cap 2, ceiling 4
        limiter.connection_closed(slots[0])
        limiter.connection_closed(slots[1])
        limiter.connection_opened(slots[1])  # reconnects in epoch 1
        assert slots[1].epoch == 1

        change = limiter.record_throttle(slots[1])

        assert change is not None
        assert (change.old_cap, change.new_cap, change.observed) == (2, 1, 3)
        assert (change.reason, change.ceiling, change.epoch) == (ChangeReason.THROTTLE, 3, 2)
        assert len(changes) == 2


async def test_cut_never_goes_below_min_cap() -> None:
    limiter, _ = make(initial_cap=3, min_cap=2)
    async with contextlib.AsyncExitStack() as stack:
        slots = await take_many(stack, limiter, 2)
        change = limiter.record_throttle(slots[0])
    assert change is not None
    assert (change.new_cap, change.ceiling) == (2, 2)


async def test_refusal_while_connecting_counts_the_attempt() -> None:
    limiter, _ = make(initial_cap=4)
    async with contextlib.AsyncExitStack() as stack:
        await take_many(stack, limiter, 2)
        connecting = await take(stack, limiter, open_=False)
        change = limiter.record_throttle(connecting)
    assert change is not None
    assert (change.observed, change.new_cap, change.ceiling) == (3, 1, 3)


async def test_throttle_over_cap_at_a_known_ceiling_does_not_raise_the_cap() -> None:
    limiter, _ = make(initial_cap=4)
    async with contextlib.AsyncExitStack() as stack:
        old = await take_many(stack, limiter, 3)
        late = await take(stack, limiter, open_=False)
        limiter.record_throttle(old[0])  # observed 3: cap 1, ceiling 3
        limiter.connection_opened(late)  # a worker that connects after the cut

        change = limiter.record_throttle(late)

        assert change is not None
        assert (change.reason, change.old_cap, change.new_cap) == (ChangeReason.THROTTLE, 1, 1)
        assert change.ceiling == 3
        assert limiter.statistics().probe_interval_s == 30.0


async def test_over_cap_after_a_cut_until_slots_are_returned() -> None:
    limiter, _ = make(initial_cap=4)
    async with contextlib.AsyncExitStack() as outer:
        keep = await take_many(outer, limiter, 2)
        async with contextlib.AsyncExitStack() as inner:
            await take_many(inner, limiter, 2)
            assert not limiter.over_cap()
            limiter.record_throttle(keep[0])  # 4 open: cap 2
            assert limiter.over_cap()
        assert limiter.statistics().slots_in_use == 2
        assert not limiter.over_cap()


# --- additive increase ------------------------------------------------------


async def test_no_growth_while_the_cap_is_not_binding() -> None:
    limiter, changes = make(initial_cap=3)
    async with contextlib.AsyncExitStack() as stack:
        two = await take_many(stack, limiter, 2)
        succeed(limiter, two, rounds=50)
        idle = await take(stack, limiter, open_=False)  # a slot without a connection
        succeed(limiter, two, rounds=50)
        assert changes == []

        limiter.connection_opened(idle)
        # Two proven connections and one that has not delivered: still no evidence.
        succeed(limiter, two, rounds=50)
        assert changes == []
        assert limiter.statistics().successes == 300


async def test_without_a_ceiling_each_proven_connection_grows_the_cap() -> None:
    limiter, changes = make(initial_cap=3)
    async with contextlib.AsyncExitStack() as stack:
        slots = await take_many(stack, limiter, 3)
        # The cap binds once all three have delivered: the third success.
        assert limiter.record_success(slots[0]) is None
        assert limiter.record_success(slots[1]) is None
        grown = limiter.record_success(slots[2])
        assert grown is not None
        assert (grown.old_cap, grown.new_cap, grown.reason) == (3, 4, ChangeReason.GROWTH)

        # At cap 4 with 3 connections nothing more happens...
        assert succeed(limiter, slots, rounds=10) == []
        # ...until the fourth connection has delivered: one on trial at a time.
        slots.append(await take(stack, limiter, open_=True))
        grown = limiter.record_success(slots[3])
        assert grown is not None
        assert (grown.old_cap, grown.new_cap) == (4, 5)
        assert [c.new_cap for c in changes] == [4, 5]


async def test_growth_to_the_ceiling_takes_a_window_at_a_binding_cap(
    autojump_clock: trio.testing.MockClock,
) -> None:
    limiter, _ = make(initial_cap=4, probe_interval_s=30.0)
    async with contextlib.AsyncExitStack() as stack:
        slots = await cut_to_two_with_ceiling_four(stack, limiter)
        await trio.sleep(30.0)
        # At ceiling - 1 the window counts successes since the last decision:
        # the one that proved the third connection, then two more.
        assert limiter.statistics().cap == 3
        assert limiter.record_success(slots[0]) is None
        probe = limiter.record_success(slots[1])
        assert probe is not None
        assert (probe.old_cap, probe.new_cap, probe.reason) == (3, 4, ChangeReason.PROBE)


async def test_growth_stops_at_max_cap() -> None:
    limiter, changes = make(initial_cap=2, max_cap=2)
    async with contextlib.AsyncExitStack() as stack:
        slots = await take_many(stack, limiter, 2)
        succeed(limiter, slots, rounds=20)
    assert changes == []
    assert limiter.cap == 2


# --- ceiling memory and probes ---------------------------------------------


async def cut_to_two_with_ceiling_four(
    stack: contextlib.AsyncExitStack, limiter: AIMDLimiter
) -> list[Slot]:
    """Four open connections, a throttle: cap 2, ceiling 4. Returns three
    connections from the new epoch, proven and holding slots (cap is now 3)."""
    async with contextlib.AsyncExitStack() as first:
        old = await take_many(first, limiter, 4)
        limiter.record_throttle(old[0])
    fresh = await take_many(stack, limiter, 2)
    succeed(limiter, fresh)  # proves both: window 1
    limiter.record_success(fresh[0])  # window 2 at cap 2: growth to 3 (ceiling - 1)
    assert limiter.cap == 3
    fresh.append(await take(stack, limiter, open_=True))
    limiter.record_success(fresh[2])
    return fresh


async def test_probe_waits_for_the_interval(autojump_clock: trio.testing.MockClock) -> None:
    limiter, changes = make(initial_cap=4, probe_interval_s=30.0)
    async with contextlib.AsyncExitStack() as stack:
        cut_at = trio.current_time()
        slots = await cut_to_two_with_ceiling_four(stack, limiter)
        assert succeed(limiter, slots, rounds=20) == []  # at ceiling - 1, too early

        await trio.sleep(29.9)
        assert succeed(limiter, slots) == []
        await trio.sleep(0.1)
        probe = limiter.record_success(slots[0])

    assert probe == CapChange(
        old_cap=3, new_cap=4, reason=ChangeReason.PROBE, at=cut_at + 30.0, ceiling=4, epoch=1
    )
    assert [c.reason for c in changes] == [
        ChangeReason.THROTTLE,
        ChangeReason.GROWTH,
        ChangeReason.PROBE,
    ]


async def test_failed_probe_backs_off_and_doubles_the_interval(
    autojump_clock: trio.testing.MockClock,
) -> None:
    limiter, _ = make(initial_cap=4, probe_interval_s=30.0, max_probe_interval_s=100.0)
    async with contextlib.AsyncExitStack() as stack:
        slots = await cut_to_two_with_ceiling_four(stack, limiter)
        assert succeed(limiter, slots) == []  # a full window at ceiling - 1, too early
        await trio.sleep(30.0)
        for expected_interval in (60.0, 100.0, 100.0):
            assert limiter.record_success(slots[0]) is not None  # the probe: cap 4
            async with contextlib.AsyncExitStack() as probing:
                fourth = await take(probing, limiter, open_=True)
                failed = limiter.record_throttle(fourth)
            assert failed is not None
            assert (failed.reason, failed.old_cap, failed.new_cap) == (
                ChangeReason.PROBE_FAILED,
                4,
                3,
            )
            assert failed.ceiling == 4
            assert limiter.statistics().probe_interval_s == expected_interval
            # Not one second early.
            await trio.sleep(expected_interval - 1.0)
            assert succeed(limiter, slots, rounds=5) == []
            await trio.sleep(1.0)


async def test_successful_probe_forgets_the_ceiling(
    autojump_clock: trio.testing.MockClock,
) -> None:
    limiter, _ = make(initial_cap=4)
    async with contextlib.AsyncExitStack() as stack:
        slots = await cut_to_two_with_ceiling_four(stack, limiter)
        await trio.sleep(30.0)
        assert [c.reason for c in succeed(limiter, slots)] == [ChangeReason.PROBE]
        slots.append(await take(stack, limiter, open_=True))
        made = succeed(limiter, slots)  # proves the fourth: window 1
        made += succeed(limiter, slots[:3])  # window 4
        assert len(made) == 1
        assert (made[0].reason, made[0].old_cap, made[0].new_cap, made[0].ceiling) == (
            ChangeReason.PROBE_SUCCEEDED,
            4,
            5,
            None,
        )
        stats = limiter.statistics()
        assert (stats.ceiling, stats.probe_interval_s) == (None, 30.0)


async def test_lower_observation_sets_a_lower_ceiling() -> None:
    limiter, _ = make(initial_cap=4)
    async with contextlib.AsyncExitStack() as stack:
        slots = await cut_to_two_with_ceiling_four(stack, limiter)
        limiter.connection_closed(slots[2])
        change = limiter.record_throttle(slots[0])  # 2 open < ceiling 4: the limit fell
    assert change is not None
    assert (change.reason, change.observed, change.new_cap, change.ceiling) == (
        ChangeReason.THROTTLE,
        2,
        1,
        2,
    )


def successes_until_probe(limiter: AIMDLimiter, slots: list[Slot], most: int = 1000) -> int:
    """Report successes on ``slots`` in turn until one makes a probe; how many."""
    for count in range(1, most + 1):
        change = limiter.record_success(slots[count % len(slots)])
        if change is not None and change.reason is ChangeReason.PROBE:
            return count
    raise AssertionError(f"no probe in {most} successes")


async def fail_probe(limiter: AIMDLimiter) -> CapChange:
    """Open one more connection at the ceiling and have it refused."""
    async with contextlib.AsyncExitStack() as probing:
        extra = await take(probing, limiter, open_=True)
        failed = limiter.record_throttle(extra)
    assert failed is not None
    assert failed.reason is ChangeReason.PROBE_FAILED
    return failed


async def test_probe_comes_after_windows_of_successes_at_a_binding_cap(
    autojump_clock: trio.testing.MockClock,
) -> None:
    limiter, _ = make(initial_cap=4, probe_after_windows=4)
    async with contextlib.AsyncExitStack() as stack:
        started = trio.current_time()
        slots = await cut_to_two_with_ceiling_four(stack, limiter)
        # Two successes at a binding cap since the cut (one at cap 2, one at
        # cap 3); four windows at cap 3 are twelve, so the tenth one more probes.
        assert successes_until_probe(limiter, slots) == 10
        assert limiter.cap == 4
        # No time passed: the count alone made the probe due.
        assert trio.current_time() == started


async def test_successes_at_a_cap_that_does_not_bind_do_not_count() -> None:
    limiter, _ = make(initial_cap=4, probe_after_windows=4)
    async with contextlib.AsyncExitStack() as stack:
        slots = await cut_to_two_with_ceiling_four(stack, limiter)
        limiter.connection_closed(slots[2])
        assert succeed(limiter, slots[:2], rounds=50) == []
        limiter.connection_opened(slots[2])
        # Binding again once the reopened one has delivered: the two counted
        # before the close, and ten more.
        assert successes_until_probe(limiter, slots) == 11


async def test_failed_probe_doubles_the_windows_until_one_holds() -> None:
    limiter, _ = make(initial_cap=4, probe_after_windows=4)
    async with contextlib.AsyncExitStack() as stack:
        slots = await cut_to_two_with_ceiling_four(stack, limiter)
        assert successes_until_probe(limiter, slots) == 10
        for windows in (8, 16, 32):
            await fail_probe(limiter)
            assert limiter.statistics().probe_after_windows == windows
            assert successes_until_probe(limiter, slots) == windows * 3
        slots.append(await take(stack, limiter, open_=True))
        # The fourth delivers, then a window of four at the ceiling.
        held = succeed(limiter, slots, rounds=2)
        assert [c.reason for c in held] == [ChangeReason.PROBE_SUCCEEDED]
        assert limiter.statistics().probe_after_windows == 4


async def test_time_still_makes_a_probe_due_in_a_slow_run(
    autojump_clock: trio.testing.MockClock,
) -> None:
    limiter, _ = make(initial_cap=4, probe_interval_s=30.0, probe_after_windows=1000)
    async with contextlib.AsyncExitStack() as stack:
        slots = await cut_to_two_with_ceiling_four(stack, limiter)
        assert succeed(limiter, slots, rounds=10) == []
        await trio.sleep(30.0)
        assert successes_until_probe(limiter, slots) == 1


async def test_a_fall_is_probed_sooner_and_without_doubling() -> None:
    limiter, _ = make(initial_cap=4, max_cap=4, probe_after_windows=8)
    async with contextlib.AsyncExitStack() as stack:
        async with contextlib.AsyncExitStack() as before:
            four = await take_many(before, limiter, 4)
            succeed(limiter, four)  # four connections delivered at once
            limiter.connection_closed(four[3])
            fell = limiter.record_throttle(four[0])
        assert fell is not None
        assert (fell.observed, fell.new_cap, fell.ceiling) == (3, 1, 3)
        slots = [await take(stack, limiter, open_=True)]
        assert limiter.record_success(slots[0]) is not None  # growth to 2
        slots.append(await take(stack, limiter, open_=True))
        # A fall of two levels (4 held, 3 failed): two probes after half the
        # windows (4 windows of 2), then the usual count, doubling.
        counted = 1
        for windows in (4, 4, 8, 16):
            assert limiter.statistics().probe_after_windows == windows
            assert counted + successes_until_probe(limiter, slots) == windows * 2
            await fail_probe(limiter)
            counted = 0


# --- waiting for slots ------------------------------------------------------


async def test_waiting_for_a_slot_and_waking_when_the_cap_grows() -> None:
    limiter, _ = make(initial_cap=1, max_cap=2)
    got: list[Slot] = []

    async def second_worker() -> None:
        async with limiter.slot() as slot:
            got.append(slot)
            await trio.sleep_forever()

    async with trio.open_nursery() as nursery, limiter.slot() as first:
        limiter.connection_opened(first)
        nursery.start_soon(second_worker)
        await trio.testing.wait_all_tasks_blocked()
        assert got == []
        assert limiter.statistics().tasks_waiting == 1

        limiter.record_success(first)  # window 1 at cap 1: growth to 2
        await trio.testing.wait_all_tasks_blocked()
        assert len(got) == 1
        assert limiter.statistics().slots_in_use == 2
        nursery.cancel_scope.cancel()


async def test_a_returned_slot_wakes_a_waiter() -> None:
    limiter, _ = make(initial_cap=1, max_cap=1)
    order: list[str] = []

    async def worker(name: str) -> None:
        async with limiter.slot():
            order.append(name)
            await trio.lowlevel.checkpoint()

    async with trio.open_nursery() as nursery:
        for name in "abc":
            nursery.start_soon(worker, name)
    assert sorted(order) == ["a", "b", "c"]
    assert limiter.statistics().slots_in_use == 0


async def test_cancelled_while_waiting_takes_no_slot() -> None:
    limiter, _ = make(initial_cap=1)
    entered = False

    async def waiter() -> None:
        nonlocal entered
        async with limiter.slot():
            entered = True

    async with trio.open_nursery() as nursery, limiter.slot():
        nursery.start_soon(waiter)
        await trio.testing.wait_all_tasks_blocked()
        nursery.cancel_scope.cancel()
        await trio.testing.wait_all_tasks_blocked()
        stats = limiter.statistics()
        assert (stats.slots_in_use, stats.tasks_waiting) == (1, 0)
    assert not entered
    assert limiter.statistics().slots_in_use == 0
    async with limiter.slot():
        assert limiter.statistics().slots_in_use == 1


async def test_leaving_a_slot_stops_counting_its_connection() -> None:
    limiter, _ = make()
    async with limiter.slot() as slot:
        limiter.connection_opened(slot)
        limiter.record_success(slot)
        assert limiter.open_connections == 1
    stats = limiter.statistics()
    assert (stats.open_connections, stats.proven_connections) == (0, 0)
    assert not slot.connected


async def test_opening_a_second_connection_on_one_slot_is_an_error() -> None:
    limiter, _ = make()
    async with limiter.slot() as slot:
        limiter.connection_opened(slot)
        with pytest.raises(RuntimeError, match="already has an open connection"):
            limiter.connection_opened(slot)
        limiter.connection_closed(slot)
        limiter.connection_closed(slot)  # harmless twice
        assert limiter.open_connections == 0


# --- statistics and reporting ----------------------------------------------


async def test_statistics_report_every_field(autojump_clock: trio.testing.MockClock) -> None:
    limiter, changes = make(initial_cap=3, min_cap=1, max_cap=8)
    assert limiter.statistics() == LimiterStatistics(
        cap=3,
        min_cap=1,
        max_cap=8,
        slots_in_use=0,
        open_connections=0,
        proven_connections=0,
        tasks_waiting=0,
        ceiling=None,
        probe_interval_s=30.0,
        probe_after_windows=32,
        epoch=0,
        throttles=0,
        ignored_throttles=0,
        successes=0,
        changes=0,
        last_change=None,
    )
    await trio.sleep(5.0)
    async with contextlib.AsyncExitStack() as stack:
        slots = await take_many(stack, limiter, 3)
        succeed(limiter, slots)  # proves all three: window 1
        succeed(limiter, slots[:2])  # window 3: growth to 4
        await take(stack, limiter, open_=False)
        limiter.record_throttle(slots[1])
        limiter.record_throttle(slots[2])
        assert limiter.statistics() == LimiterStatistics(
            cap=1,
            min_cap=1,
            max_cap=8,
            slots_in_use=4,
            open_connections=3,
            proven_connections=3,
            tasks_waiting=0,
            ceiling=3,
            probe_interval_s=30.0,
            # Three connections had delivered at once: the limit fell.
            probe_after_windows=16,
            epoch=1,
            throttles=1,
            ignored_throttles=1,
            successes=5,
            changes=2,
            last_change=changes[-1],
        )
    assert [(c.reason, c.old_cap, c.new_cap, c.at) for c in changes] == [
        (ChangeReason.GROWTH, 3, 4, 5.0),
        (ChangeReason.THROTTLE, 4, 1, 5.0),
    ]


async def test_recent_changes_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_limiter, "RECENT_CHANGES", 3)
    limiter, changes = make(initial_cap=1, max_cap=10)
    async with contextlib.AsyncExitStack() as stack:
        slots: list[Slot] = []
        while limiter.cap < 6:
            slots += await take_many(stack, limiter, limiter.cap - len(slots))
            succeed(limiter, slots, rounds=2)
    assert len(changes) == 5
    assert limiter.recent_changes() == tuple(changes[-3:])
    assert limiter.statistics().changes == len(changes)


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
        initial_cap=initial_cap,
        min_cap=1,
        max_cap=10,
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
