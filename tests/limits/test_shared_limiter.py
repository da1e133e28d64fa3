"""Two agents' limiters in one process, sharing one budget through one database:
the shared cap holds across them, a throttle cuts it once for all, and it
grows once every agent's connection has delivered."""

from __future__ import annotations

from collections.abc import Callable

import attrs
import trio

from adaptsend.limits._records import ChangeReason
from adaptsend.limits._shared import SharedLimiter
from tests.helpers.shared_limiter import (
    REFRESH_S,
    Agent,
    Connection,
    connect,
    eventually,
    holders,
    running,
)

# --- the shared cap holds across agents -------------------------------------


async def test_two_agents_together_never_open_more_connections_than_the_shared_cap(
    agents: Callable[..., Agent],
) -> None:
    a, b = agents("a", initial_cap=2), agents("b", initial_cap=2)
    open_now = peak = sessions = 0

    async def work(limiter: SharedLimiter) -> None:
        nonlocal open_now, peak, sessions
        for _ in range(5):
            async with limiter.slot() as slot:
                limiter.connection_opened(slot)
                open_now += 1
                peak = max(peak, open_now)
                await trio.sleep(0.01)
                open_now -= 1
                limiter.connection_closed(slot)
                sessions += 1

    async with running(a, b), trio.open_nursery() as nursery:
        for limiter in (a.limiter, b.limiter) * 4:
            nursery.start_soon(work, limiter)
    # Every task of both agents finished all its sessions, two at a time at most.
    assert sessions == 40 and peak == 2
    assert holders(a.store) == [None] * 4


async def test_a_new_agent_takes_the_cap_the_others_learned(
    agents: Callable[..., Agent],
) -> None:
    a = agents("a", initial_cap=4)
    async with running(a), trio.open_nursery() as nursery:
        first = await connect(nursery, a)
        first.throttle()
        await eventually(lambda: a.limiter.cap == 1)
        b = agents("b", initial_cap=4)
        async with running(b):
            assert b.limiter.cap == 1 and b.limiter.statistics().ceiling == 1
            assert b.changes == []
        await first.close()


# --- a throttle cuts every agent's cap, once per over-shoot -----------------


async def test_a_throttle_seen_by_one_agent_cuts_the_cap_of_both(
    agents: Callable[..., Agent],
) -> None:
    a, b = agents("a", initial_cap=4), agents("b", initial_cap=4)
    async with running(a, b), trio.open_nursery() as nursery:
        a_conns = [await connect(nursery, a) for _ in range(2)]
        b_conns = [await connect(nursery, b) for _ in range(2)]
        a_conns[0].throttle()
        await eventually(lambda: a.limiter.cap == 2 and b.limiter.cap == 2)
        [seen_by_b] = b.changes
        assert (seen_by_b.old_cap, seen_by_b.new_cap) == (4, 2)
        assert (seen_by_b.reason, seen_by_b.ceiling, seen_by_b.observed) == (
            ChangeReason.THROTTLE,
            4,
            4,
        )
        # The agent that cut reports the same decision as the one that saw it.
        assert a.changes == [attrs.evolve(seen_by_b, at=a.changes[0].at)]
        # Slots 0 and 1 stay, 2 and 3 are given back after their message.
        over = {c.slot.number: await c.ask_over_cap() for c in a_conns + b_conns if c.slot}
        assert over == {0: False, 1: False, 2: True, 3: True}
        # The other refusals of that over-shoot are not counted again.
        for c in b_conns:
            c.throttle()
        await trio.sleep(5 * REFRESH_S)
        assert (a.limiter.cap, b.limiter.cap) == (2, 2)
        assert a.limiter.statistics().throttles == 1
        assert b.limiter.statistics().ignored_throttles == 2
        for c in a_conns + b_conns:
            await c.close()


async def test_two_agents_throttled_at_once_cut_once(agents: Callable[..., Agent]) -> None:
    a, b = agents("a", initial_cap=4), agents("b", initial_cap=4)
    async with running(a, b), trio.open_nursery() as nursery:
        a_conn, b_conn = await connect(nursery, a), await connect(nursery, b)
        a_conn.throttle()
        b_conn.throttle()
        await eventually(lambda: a.limiter.cap == b.limiter.cap == 1)
        await trio.sleep(5 * REFRESH_S)
        counted = a.limiter.statistics().throttles + b.limiter.statistics().throttles
        ignored = (
            a.limiter.statistics().ignored_throttles + b.limiter.statistics().ignored_throttles
        )
        assert (counted, ignored) == (1, 1)
        assert a.limiter.statistics().epoch == b.limiter.statistics().epoch == 1
        await a_conn.close()
        await b_conn.close()


# --- growth ---------------------------------------------------------------


async def test_the_cap_grows_once_every_agents_connection_has_delivered(
    agents: Callable[..., Agent],
) -> None:
    a, b = agents("a", initial_cap=2), agents("b", initial_cap=2)
    async with running(a, b), trio.open_nursery() as nursery:
        a_conn, b_conn = await connect(nursery, a), await connect(nursery, b)
        for _ in range(5):
            a_conn.succeed()
            await trio.sleep(REFRESH_S)
        # b's connection is still on trial: a cannot know it will not be refused.
        assert (a.limiter.cap, b.limiter.cap) == (2, 2)
        b_conn.succeed()
        await trio.sleep(3 * REFRESH_S)
        a_conn.succeed()
        await eventually(lambda: a.limiter.cap == b.limiter.cap == 3)
        assert [c.reason for c in a.changes] == [c.reason for c in b.changes]
        assert [(c.old_cap, c.new_cap, c.reason) for c in b.changes] == [
            (2, 3, ChangeReason.GROWTH)
        ]
        third = await connect(nursery, b)
        assert third.slot is not None and third.slot.number == 2
        for c in (a_conn, b_conn, third):
            await c.close()


async def test_a_waiting_agent_gets_the_slot_growth_makes(agents: Callable[..., Agent]) -> None:
    a, b = agents("a", initial_cap=1), agents("b", initial_cap=1)
    async with running(a, b), trio.open_nursery() as nursery:
        a_conn = await connect(nursery, a)
        waiting = Connection(b.limiter)
        nursery.start_soon(waiting.run)
        await eventually(lambda: b.limiter.statistics().tasks_waiting == 1)
        a_conn.succeed()
        await trio.sleep(3 * REFRESH_S)
        a_conn.succeed()
        await eventually(lambda: waiting.slot is not None)
        assert b.limiter.statistics().slots_in_use == 1 and a.limiter.cap == 2
        await a_conn.close()
        await waiting.close()
