"""The adaptive message rate's rules, on trio's mock clock: a cut halves the
delivered rate, growth back (fast, then slowly near the ceiling), one cut per
over-shoot, never above ``max_per_minute``."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from adaptsend.limits._rate_adapt import (
    FAST_STEP,
    GROW_S,
    MIN_PER_MINUTE,
    SLOW_STEP,
    MessageRate,
    RateChange,
)


async def deliver(rate: MessageRate, per_second: float, seconds: float) -> int:
    """Take a token and deliver, ``per_second`` a second (or as fast as the
    rate allows), for ``seconds``; returns how many were delivered."""
    end = trio.current_time() + seconds
    count = 0
    while trio.current_time() < end:
        taken = await rate.take(1)
        assert taken == 1
        epoch = rate.epoch
        await trio.sleep(1 / per_second)
        rate.record_delivery(epoch)
        count += 1
    return count


async def test_unlimited_until_a_cut_halves_the_delivered_rate(
    autojump_clock: trio.testing.MockClock,
) -> None:
    changes: list[RateChange] = []
    rate = MessageRate(on_change=changes.append)
    assert rate.per_minute is None
    assert await rate.take(32) == 32
    await deliver(rate, 20, 3.0)
    change = rate.record_rate(rate.epoch)

    assert change is not None and changes == [change]
    assert change.old_per_minute is None
    assert change.new_per_minute == pytest.approx(600, rel=0.05)
    assert change.ceiling_per_minute == pytest.approx(1200, rel=0.05)
    assert rate.statistics().per_minute == change.new_per_minute
    assert "cut" in change.describe() and "unlimited" in change.describe()


async def test_after_a_cut_the_last_second_is_paid_first(
    autojump_clock: trio.testing.MockClock,
) -> None:
    rate = MessageRate()
    await deliver(rate, 20, 2.0)
    rate.record_rate(rate.epoch)  # 10 a second; 20 delivered in the last second
    started = trio.current_time()
    await rate.take(1)
    # A debt of 10 tokens at 10 a second, then one token to take.
    assert trio.current_time() - started >= 1.0


async def test_one_cut_per_over_shoot(autojump_clock: trio.testing.MockClock) -> None:
    rate = MessageRate()
    await deliver(rate, 20, 2.0)
    before = rate.epoch
    assert rate.record_rate(before) is not None
    # Sends under way at the cut, refused after it: the same over-shoot.
    assert rate.record_rate(before) is None
    # Refusals of sends started after the cut, before any of them was
    # delivered: the provider's window is still full, the same over-shoot.
    assert rate.record_rate(rate.epoch) is None
    assert rate.statistics().cuts == 1
    # A send of the new epoch delivered, then one refused: a new over-shoot.
    await deliver(rate, 20, 1.5)
    assert rate.record_rate(rate.epoch) is not None
    assert rate.statistics().cuts == 2


async def test_the_rate_grows_back_fast_then_slowly_near_the_ceiling(
    autojump_clock: trio.testing.MockClock,
) -> None:
    changes: list[RateChange] = []
    rate = MessageRate(on_change=changes.append)
    await deliver(rate, 20, 2.0)
    rate.record_rate(rate.epoch)  # ceiling 20 a second, rate 10
    # Sends as fast as the rate allows (a send takes 1 ms): the rate binds.
    await deliver(rate, 1000, 30.0)

    grows = [c for c in changes if c.reason == "grow"]
    steps = [c.new_per_minute - (c.old_per_minute or 0) for c in grows]
    ceiling = 1200.0
    assert steps[0] == pytest.approx(FAST_STEP * ceiling)
    assert steps[-1] == pytest.approx(SLOW_STEP * ceiling)
    # From half the ceiling to 90 % of it in a few seconds' steps.
    fast = [s for s in steps if s == pytest.approx(FAST_STEP * ceiling)]
    assert len(fast) == 2
    assert grows[0].new_per_minute == pytest.approx(840)
    # No step comes sooner than GROW_S after the one before.
    assert rate.per_minute is not None and rate.per_minute <= ceiling * 1.2
    assert len(grows) <= 30 / GROW_S + 1


async def test_a_rate_nobody_waits_for_does_not_grow(
    autojump_clock: trio.testing.MockClock,
) -> None:
    rate = MessageRate()
    await deliver(rate, 20, 2.0)
    rate.record_rate(rate.epoch)
    await trio.sleep(2.0)
    cut_to = rate.per_minute
    # Two a second, far below the ten allowed: no send waits.
    await deliver(rate, 2, 10.0)
    assert rate.per_minute == cut_to


async def test_never_above_max_per_minute(autojump_clock: trio.testing.MockClock) -> None:
    rate = MessageRate(top_per_minute=600)
    assert rate.per_minute == 600
    await deliver(rate, 1000, 3.0)
    rate.record_rate(rate.epoch)
    assert rate.per_minute == pytest.approx(300, rel=0.05)
    await deliver(rate, 1000, 60.0)
    assert rate.per_minute == 600
    assert max(rate.statistics().delivered_per_minute, 0) <= 600 * 1.05


async def test_a_cut_never_goes_below_one_a_minute(
    autojump_clock: trio.testing.MockClock,
) -> None:
    rate = MessageRate(top_per_minute=1.5)
    rate.record_rate(rate.epoch)
    assert rate.per_minute == MIN_PER_MINUTE


async def test_a_stop_ends_the_wait(autojump_clock: trio.testing.MockClock) -> None:
    rate = MessageRate(top_per_minute=1)
    assert await rate.take(1) == 1
    async with trio.open_nursery() as nursery:
        nursery.start_soon(trio.sleep, 5)
        nursery.start_soon(lambda: _stop_later(rate))
        assert await rate.take(1) == 0
    assert await rate.take(1) == 0
    unlimited = MessageRate()
    unlimited.stop()
    assert await unlimited.take(3) == 0


async def _stop_later(rate: MessageRate) -> None:
    await trio.sleep(1)
    rate.stop()
