from __future__ import annotations

import contextlib

import pytest
import trio
import trio.lowlevel
import trio.testing

from adaptsend.config._settings import LimiterConfig
from adaptsend.limits._local import AIMDLimiter, Slot
from adaptsend.limits._records import CapChange, ChangeReason, LimiterStatistics
from tests.helpers.local_limiter import cut_to_two_with_ceiling_four, make, succeed, take, take_many

# --- construction ---------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"initial_cap": 1, "min_cap": 0, "max_cap": 3}, "min_cap must be greater than 0, not 0"),
        (
            {"initial_cap": 1, "min_cap": 2, "max_cap": 3},
            "caps must satisfy min_cap <= initial_cap <= max_cap, not 2 <= 1 <= 3",
        ),
        (
            {"initial_cap": 4, "min_cap": 1, "max_cap": 3},
            "caps must satisfy min_cap <= initial_cap <= max_cap, not 1 <= 4 <= 3",
        ),
        ({"decrease_factor": 1.0}, "decrease_factor must be between 0 and 1, not 1.0"),
        ({"decrease_factor": 0.0}, "decrease_factor must be between 0 and 1, not 0.0"),
        ({"probe_interval_s": 0.0}, "probe_interval_s must be greater than 0, not 0.0"),
        (
            {"probe_interval_s": 60.0, "max_probe_interval_s": 30.0},
            "probe_interval_s (60.0) must not exceed max_probe_interval_s (30.0)",
        ),
        ({"probe_after_windows": 0}, "probe_after_windows must be greater than 0, not 0"),
    ],
)
def test_bad_settings_raise_one_sentence_where_they_are_read(
    settings: dict[str, float], message: str
) -> None:
    # Checked once, in [limiter]: a limiter takes settings that are sound.
    with pytest.raises(ValueError) as info:
        LimiterConfig(**settings)  # type: ignore[arg-type]
    assert str(info.value) == message


def test_equal_bounds_are_allowed() -> None:
    limiter = AIMDLimiter(LimiterConfig(initial_cap=2, min_cap=2, max_cap=2))
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
        # Every slot in use, one connection on trial: while no ceiling is
        # known that binds, once; at cap 4 three connections bind nothing.
        succeed(limiter, two, rounds=50)
        assert [(c.old_cap, c.new_cap) for c in changes] == [(3, 4)]
        assert limiter.statistics().successes == 300


async def test_without_a_ceiling_each_proven_connection_grows_the_cap() -> None:
    limiter, changes = make(initial_cap=3)
    async with contextlib.AsyncExitStack() as stack:
        slots = await take_many(stack, limiter, 3)
        # Two connections on trial while no ceiling is known: the cap binds
        # once all but one have delivered, at the second success.
        assert limiter.record_success(slots[0]) is None
        grown = limiter.record_success(slots[1])
        assert grown is not None
        assert (grown.old_cap, grown.new_cap, grown.reason) == (3, 4, ChangeReason.GROWTH)

        # At cap 4 with 3 connections nothing more happens...
        assert succeed(limiter, slots[:2], rounds=10) == []
        # ...and with the fourth open, two are on trial: no growth until one
        # of them has delivered.
        slots.append(await take(stack, limiter, open_=True))
        assert succeed(limiter, slots[:2], rounds=10) == []
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
