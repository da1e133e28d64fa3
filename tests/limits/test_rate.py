"""The message-rate budget's rules, on trio's mock clock: a burst, then the
steady rate; a batch cut to the tokens there are; a stop ending a wait."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from adaptsend.limits._rate import BURST_SECONDS, RateBudget, make_rate_budget


def test_the_burst_is_half_a_second_of_the_rate_and_at_least_one_token() -> None:
    assert BURST_SECONDS == 0.5
    # Exchange Online's 30 a minute: one message at a time, one every 2 s.
    assert RateBudget(30).capacity == 1
    assert RateBudget(600).capacity == 5
    assert RateBudget(1).capacity == 1
    assert make_rate_budget(None) is None
    with pytest.raises(ValueError, match="greater than 0"):
        RateBudget(0)


async def test_a_burst_then_the_steady_rate(autojump_clock: trio.testing.MockClock) -> None:
    budget = RateBudget(600)  # 10 a second, a burst of 5
    started = trio.current_time()
    times = []
    for _ in range(15):
        assert await budget.take(1) == 1
        times.append(trio.current_time() - started)
    assert times[:5] == [0.0] * 5
    for n, at in enumerate(times[5:], start=1):
        assert at == pytest.approx(n / 10)


async def test_a_batch_takes_what_there_is_and_waits_only_for_the_first(
    autojump_clock: trio.testing.MockClock,
) -> None:
    budget = RateBudget(600)
    assert await budget.take(3) == 3
    # Two left: a batch of 32 shrinks to them, at once.
    assert await budget.take(32) == 2
    started = trio.current_time()
    assert await budget.take(32) == 1
    assert trio.current_time() - started == pytest.approx(0.1)
    # After a pause the bucket holds no more than its capacity.
    await trio.sleep(60)
    assert budget.statistics().tokens == 5
    assert await budget.take(32) == 5


async def test_waiters_take_turns(autojump_clock: trio.testing.MockClock) -> None:
    budget = RateBudget(60)  # one a second
    assert await budget.take(1) == 1
    order: list[str] = []

    async def take(name: str) -> None:
        await budget.take(1)
        order.append(name)

    async with trio.open_nursery() as nursery:
        for name in "abc":
            nursery.start_soon(take, name)
            await trio.testing.wait_all_tasks_blocked()
    assert order == ["a", "b", "c"]
    assert trio.current_time() == pytest.approx(3)


async def test_a_stop_ends_the_wait(autojump_clock: trio.testing.MockClock) -> None:
    budget = RateBudget(1)  # one a minute
    assert await budget.take(1) == 1
    taken: list[int] = []

    async def take() -> None:
        taken.append(await budget.take(1))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(take)
        nursery.start_soon(take)
        await trio.sleep(5)
        assert budget.statistics().waiting == 2
        budget.stop()
    assert taken == [0, 0]
    assert trio.current_time() == pytest.approx(5)
    assert budget.statistics().waiting == 0
    # Later takes do not wait either, although a token has come since.
    await trio.sleep(60)
    assert await budget.take(1) == 0
