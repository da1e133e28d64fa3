"""Connections on trial: two while the limiter searches for the limit, one below
a known ceiling, and the ceiling an over-shoot of two trials sets."""

from __future__ import annotations

import contextlib

import pytest
import trio.testing

from adaptsend.limits._local import AIMDLimiter, Slot
from adaptsend.limits._records import ChangeReason
from tests.helpers.local_limiter import make, succeed, take, take_many
from tests.helpers.simulated_provider import simulate


async def two_trials_at_three_and_four(
    stack: contextlib.AsyncExitStack, limiter: AIMDLimiter
) -> list[Slot]:
    """From cap 2: two connections deliver, and the cap grows to 4 while the
    third and fourth are on trial. Returns the four slots in opening order."""
    slots = await take_many(stack, limiter, 2)
    assert limiter.record_success(slots[0]) is not None  # one on trial: binds, cap 3
    slots.append(await take(stack, limiter, open_=True))
    assert limiter.record_success(slots[1]) is not None  # cap 4
    slots.append(await take(stack, limiter, open_=True))
    assert [s.level for s in slots] == [2, 2, 3, 4]
    assert limiter.cap == 4
    return slots


@pytest.mark.parametrize(
    ("first", "then", "ceiling_at_cut", "new_cap"),
    [(2, 3, 3, 1), (3, 2, 4, 2)],
    ids=["lower-trial-refused-first", "higher-trial-refused-first"],
)
async def test_two_trials_refused_in_one_over_shoot_leave_the_ceiling_at_the_lower_level(
    first: int, then: int, ceiling_at_cut: int, new_cap: int
) -> None:
    limiter, changes = make(initial_cap=2)
    async with contextlib.AsyncExitStack() as stack:
        slots = await two_trials_at_three_and_four(stack, limiter)
        cut = limiter.record_throttle(slots[first])
        assert cut is not None
        # Four were open either way: the ceiling is the refused trial's level.
        assert (cut.reason, cut.observed, cut.ceiling, cut.new_cap) == (
            ChangeReason.THROTTLE,
            4,
            ceiling_at_cut,
            new_cap,
        )
        # The other trial is refused too: the same over-shoot, already paid
        # for, so no second cut; the ceiling ends at the lower level, 3.
        assert limiter.record_throttle(slots[then]) is None
        stats = limiter.statistics()
        assert (stats.ceiling, stats.cap, stats.epoch) == (3, new_cap, 1)
        assert (stats.throttles, stats.ignored_throttles, len(changes)) == (1, 1, 3)


async def test_a_trial_refused_once_the_cap_is_back_at_its_level_changes_nothing() -> None:
    limiter, _ = make(initial_cap=2)
    async with contextlib.AsyncExitStack() as stack:
        slots = await two_trials_at_three_and_four(stack, limiter)
        limiter.record_throttle(slots[3])  # ceiling 4, cap 2
        limiter.connection_closed(slots[3])
        # The two proven connections deliver on: back to 3, below the ceiling.
        grown = limiter.record_success(slots[0])
        assert grown is not None
        assert grown.new_cap == 3
        # The third connection is refused only now, with the cap in use at
        # its level: that is no longer news about the over-shoot.
        assert limiter.record_throttle(slots[2]) is None
        assert (limiter.statistics().ceiling, limiter.cap) == (4, 3)


async def test_connections_opened_before_any_delivery_may_each_be_the_last() -> None:
    limiter, _ = make(initial_cap=3)
    async with contextlib.AsyncExitStack() as stack:
        slots = await take_many(stack, limiter, 3)
        assert [s.level for s in slots] == [3, 3, 3]
        # The server may have taken them in another order: all three count.
        cut = limiter.record_throttle(slots[1])
        assert cut is not None
        assert (cut.observed, cut.ceiling, cut.new_cap) == (3, 3, 1)


async def test_a_first_connection_refused_after_the_other_delivered_sets_the_ceiling() -> None:
    # A limit of 1: of the two first connections, the one that delivers
    # first is within it; the cap grows to 3 before the other is refused.
    limiter, _ = make(initial_cap=2)
    async with contextlib.AsyncExitStack() as stack:
        first, second = await take_many(stack, limiter, 2)
        assert limiter.record_success(first) is not None
        third = await take(stack, limiter, open_=True)
        cut = limiter.record_throttle(second)
        assert cut is not None
        # At most two were open when the second opened: not 3.
        assert (cut.observed, cut.ceiling, cut.new_cap) == (3, 2, 1)
        assert limiter.record_throttle(third) is None
        assert limiter.statistics().ceiling == 2


async def test_below_a_known_ceiling_one_connection_is_on_trial() -> None:
    limiter, changes = make(initial_cap=8)
    async with contextlib.AsyncExitStack() as first:
        limiter.record_throttle((await take_many(first, limiter, 8))[0])  # ceiling 8, cap 4
    async with contextlib.AsyncExitStack() as stack:
        slots = await take_many(stack, limiter, 4)
        succeed(limiter, slots[:3], rounds=5)
        assert limiter.cap == 4  # the fourth has not delivered
        assert limiter.record_success(slots[3]) is not None
        slots.append(await take(stack, limiter, open_=True))
        assert succeed(limiter, slots[:4], rounds=5) == []
        assert limiter.record_success(slots[4]) is not None
        assert [c.new_cap for c in changes] == [4, 5, 6]


async def test_finding_a_limit_costs_at_most_two_refusals_and_sets_the_ceiling_above_it(
    autojump_clock: trio.testing.MockClock,
) -> None:
    log, provider, limiter = await simulate([(0, 5)], 120, initial_cap=2)
    first_cut = next(c for _, c in log if c.reason is ChangeReason.THROTTLE)
    assert first_cut.ceiling == 6
    assert provider.refused <= 2
    assert limiter.statistics().ceiling == 6
