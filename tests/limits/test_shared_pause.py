"""Agents that share a cap through the store share the server's pauses: a
``Retry-After`` one agent hears reaches the others at their next read of the
budget, and a refusal that paused the key holds the shared probe back as the
local limiter holds its own."""

from __future__ import annotations

import math
from collections.abc import Callable

import trio

from adaptsend._models import Reply
from adaptsend.limits._policy import PAUSED_PROBE_GAP, Budget
from adaptsend.limits._retry_after import RetryAfter
from adaptsend.store import SQLStore
from tests.helpers.shared_limiter import KEY, Agent, connect, eventually, running
from tests.helpers.store_budgets import SETTINGS, seconds
from tests.helpers.store_builders import db_now

THROTTLED = Reply(code=429, text="ApplicationThrottled: over its concurrency limit")
#: Long enough that what the test reads of it cannot have run out meanwhile.
LONG_S = 600.0


def shared_pause(agent: Agent) -> RetryAfter:
    pause = RetryAfter()
    agent.limiter.share_pause(pause)
    return pause


def budget(store: SQLStore) -> Budget:
    return store.budget_view(sending_key=KEY, settings=SETTINGS).budget


async def test_a_pause_one_agent_hears_reaches_the_other_while_it_runs(
    agents: Callable[..., Agent],
) -> None:
    a, b = agents("a"), agents("b")
    heard, followed = shared_pause(a), shared_pause(b)
    async with running(a, b):
        assert not followed.paused
        heard.pause(LONG_S, THROTTLED)
        await eventually(lambda: followed.paused, timeout_s=30)
        # Most of it is left: the other agent waits the same pause, not a new one.
        assert followed.left_s() > LONG_S / 2
        # A later, shorter pause shortens it for nobody.
        heard.pause(1.0, THROTTLED)
        await trio.sleep(0.5)
        assert heard.left_s() > LONG_S / 2 and followed.left_s() > LONG_S / 2
        assert b.store.budget_view(sending_key=KEY, settings=SETTINGS).paused_s > LONG_S / 2


async def test_an_agent_that_starts_during_a_pause_keeps_it_from_its_first_read(
    agents: Callable[..., Agent],
) -> None:
    a = agents("a")
    heard = shared_pause(a)
    async with running(a):
        heard.pause(LONG_S, THROTTLED)
        await eventually(
            lambda: a.store.budget_view(sending_key=KEY, settings=SETTINGS).paused_s > 0
        )
        b = agents("b")
        late = shared_pause(b)
        async with running(b):
            # Read before its first slot is taken: no send of it goes into the pause.
            assert late.paused and late.left_s() > LONG_S / 2


async def test_a_throttle_with_a_pause_holds_the_shared_probe_back(
    agents: Callable[..., Agent],
) -> None:
    a = agents("a", initial_cap=2)
    async with running(a), trio.open_nursery() as nursery:
        connection = await connect(nursery, a)
        assert connection.slot is not None
        before = db_now(a.store)
        a.limiter.record_throttle(connection.slot, pause_s=5.0)
        await eventually(lambda: budget(a.store).probe_not_before > -math.inf, timeout_s=30)
        held = budget(a.store).probe_not_before
        assert held >= seconds(before) + PAUSED_PROBE_GAP * 5.0
        await eventually(lambda: budget(a.store).epoch == 1, timeout_s=30)
        await connection.close()


async def test_a_throttle_without_a_pause_holds_no_probe_back(
    agents: Callable[..., Agent],
) -> None:
    a = agents("a", initial_cap=2)
    async with running(a), trio.open_nursery() as nursery:
        connection = await connect(nursery, a)
        connection.throttle()
        await eventually(lambda: budget(a.store).epoch == 1, timeout_s=30)
        assert budget(a.store).probe_not_before == -math.inf
        await connection.close()
