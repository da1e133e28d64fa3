"""A refusal that paused the whole sending key (``Retry-After``) makes the
next probe wait twenty times the pause, whatever the windows of successes
say: a failed probe costs the key as much again."""

from __future__ import annotations

import contextlib

import trio
import trio.testing

from adaptsend.limits._policy import PAUSED_PROBE_GAP
from adaptsend.limits._records import ChangeReason
from tests.helpers.local_limiter import make, succeed, take_many


async def test_no_probe_before_twenty_pauses_have_passed(
    autojump_clock: trio.testing.MockClock,
) -> None:
    limiter, _ = make(initial_cap=4, probe_after_windows=2, probe_interval_s=5.0)
    async with contextlib.AsyncExitStack() as stack:
        async with contextlib.AsyncExitStack() as first:
            old = await take_many(first, limiter, 4)
            limiter.record_throttle(old[0], pause_s=1.5)  # cap 2, ceiling 4
        cut_at = trio.current_time()
        slots = await take_many(stack, limiter, 2)
        succeed(limiter, slots, rounds=2)  # grows to 3, below the ceiling
        slots += await take_many(stack, limiter, 1)
        # Windows and seconds both make a probe due long before the gap is over.
        await trio.sleep(PAUSED_PROBE_GAP * 1.5 - 0.1)
        assert succeed(limiter, slots, rounds=50) == []
        await trio.sleep(0.1)
        [probe] = succeed(limiter, slots)

    assert probe.reason is ChangeReason.PROBE and probe.new_cap == 4
    assert probe.at >= cut_at + 30.0


async def test_a_refusal_without_a_pause_probes_as_before(
    autojump_clock: trio.testing.MockClock,
) -> None:
    limiter, _ = make(initial_cap=4, probe_after_windows=2, probe_interval_s=5.0)
    async with contextlib.AsyncExitStack() as stack:
        async with contextlib.AsyncExitStack() as first:
            old = await take_many(first, limiter, 4)
            limiter.record_throttle(old[0])
        slots = await take_many(stack, limiter, 2)
        succeed(limiter, slots, rounds=2)
        slots += await take_many(stack, limiter, 1)
        made = succeed(limiter, slots, rounds=50)

    assert [c.reason for c in made] == [ChangeReason.PROBE]


async def test_a_request_slot_that_delivered_since_the_cut_is_a_new_over_shoot(
    autojump_clock: trio.testing.MockClock,
) -> None:
    # An HTTP provider refuses whichever request is one too many, also one
    # on a slot that opened before the last cut: once that slot has
    # delivered since the cut, its refusal is news, not a leftover.
    for pause_s, counted in ((1.0, True), (0.0, False)):
        limiter, _ = make(initial_cap=4)
        async with contextlib.AsyncExitStack() as stack:
            slots = await take_many(stack, limiter, 4)
            assert limiter.record_throttle(slots[3], pause_s=pause_s) is not None
            limiter.connection_closed(slots[3])
            assert limiter.record_throttle(slots[2], pause_s=pause_s) is None  # the same over-shoot
            limiter.record_success(slots[0])  # delivered since the cut
            change = limiter.record_throttle(slots[0], pause_s=pause_s)
        assert (change is not None) is counted
