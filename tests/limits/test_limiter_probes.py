"""The limiter's memory of a failed level (the ceiling) and its probes of it."""

from __future__ import annotations

import contextlib

import trio
import trio.lowlevel
import trio.testing

from adaptsend.limits._local import AIMDLimiter, Slot
from adaptsend.limits._records import CapChange, ChangeReason
from tests.helpers.local_limiter import cut_to_two_with_ceiling_four, make, succeed, take, take_many

# --- ceiling memory and probes ---------------------------------------------


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
