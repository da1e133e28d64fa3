"""Two agents' limiters in one process, sharing one budget through one database:
turns at the slots, the slots' leases, and stopping while waiting for one."""

from __future__ import annotations

import datetime as dt
import functools
import threading
from collections.abc import Callable

import pytest
import trio

import adaptsend
from adaptsend import RunReport, Status, config_from_dict
from adaptsend._models import utcnow
from adaptsend.limits import _mirror as _budget_mirror
from adaptsend.limits import _shared as _shared_limiter
from adaptsend.limits._shared import SharedSlot
from adaptsend.sources._compose import compose
from adaptsend.store import _budgets, _sqlstore, open_store
from tests.helpers.messages import batch
from tests.helpers.shared_limiter import (
    KEY,
    REFRESH_S,
    Agent,
    Connection,
    connect,
    eventually,
    holders,
    running,
)

# --- sharing fairly ---------------------------------------------------------


async def test_an_agent_holding_many_slots_gives_one_to_an_agent_waiting_with_none(
    agents: Callable[..., Agent],
) -> None:
    a, b = agents("a", initial_cap=3), agents("b", initial_cap=3)
    async with running(a, b), trio.open_nursery() as nursery:
        a_conns = [await connect(nursery, a) for _ in range(3)]
        b_waiting = Connection(b.limiter)
        nursery.start_soon(b_waiting.run)
        # a reads b's want; asked while it is fresh (a loaded machine may
        # take longer than a few refreshes to get there).
        await eventually(lambda: a.limiter._turns.rival() is not None)
        answers = [await c.ask_over_cap() for c in a_conns]
        # One slot per want, however many of a's workers ask.
        assert answers.count(True) == 1
        yielded = a_conns[answers.index(True)]
        await yielded.close()
        # a's next worker leaves the slot to b, which has none.
        a_waiting = Connection(a.limiter)
        nursery.start_soon(a_waiting.run)
        await eventually(lambda: b_waiting.slot is not None)
        assert a_waiting.slot is None
        await trio.sleep(3 * REFRESH_S)
        kept = [c for c in a_conns if c is not yielded]
        # Two against one is even enough: nobody gives more back.
        assert [await c.ask_over_cap() for c in kept] == [False, False]
        for c in [*kept, b_waiting, a_waiting]:
            await c.close()


async def test_with_more_agents_than_slots_each_gets_a_turn(
    agents: Callable[..., Agent],
) -> None:
    a = agents("a", initial_cap=1, turn_s=0.5)
    b = agents("b", initial_cap=1, turn_s=0.5)
    async with running(a, b), trio.open_nursery() as nursery:
        a_conn = await connect(nursery, a)
        b_waiting = Connection(b.limiter)
        nursery.start_soon(b_waiting.run)
        await trio.sleep(3 * REFRESH_S)
        # One slot against none: a keeps it for its turn, then gives it back.
        assert not await a_conn.ask_over_cap()
        await trio.sleep(0.5)
        assert await a_conn.ask_over_cap()
        await a_conn.close()
        await eventually(lambda: b_waiting.slot is not None)
        await b_waiting.close()


# --- leases -----------------------------------------------------------------


async def test_a_dead_agents_slots_come_back_when_their_lease_runs_out(
    agents: Callable[..., Agent],
) -> None:
    a = agents("a", initial_cap=2)
    async with running(a):
        # An agent that took both slots and died: nobody renews its leases.
        for _ in range(2):
            a.store.take_slot(sending_key=KEY, holder="dead", held=0, below=9, lease_s=1)
        started = trio.current_time()
        with trio.fail_after(5):
            async with a.limiter.slot() as slot:
                waited = trio.current_time() - started
                assert isinstance(slot, SharedSlot) and slot.number == 0
    assert 0.5 < waited < 2.0
    assert holders(a.store)[:2] == [None, "dead"]


async def test_a_live_agent_keeps_its_slots_by_renewing_them(agents: Callable[..., Agent]) -> None:
    a = agents("a", initial_cap=1, lease_s=0.4)
    async with running(a), trio.open_nursery() as nursery:
        conn = await connect(nursery, a)
        await trio.sleep(1.2)  # three leases long
        taken = a.store.take_slot(sending_key=KEY, holder="x", held=0, below=9, lease_s=9)
        assert taken.slot_no is None
        assert not await conn.ask_over_cap()
        await conn.close()
    assert holders(a.store)[0] is None


async def test_slots_are_renewed_while_a_slow_store_call_holds_the_main_lane(
    agents: Callable[..., Agent],
) -> None:
    a = agents("a", initial_cap=1, lease_s=0.4)
    release = threading.Event()
    async with running(a), trio.open_nursery() as nursery:
        conn = await connect(nursery, a)
        # A claim or record that takes longer than the lease (a slow database).
        nursery.start_soon(functools.partial(a.thread.call, release.wait, 30))
        try:
            await trio.sleep(1.0)  # more than two leases long
            taken = a.store.take_slot(sending_key=KEY, holder="x", held=0, below=9, lease_s=9)
        finally:
            release.set()
        assert taken.slot_no is None
        assert not await conn.ask_over_cap()
        await conn.close()
    assert holders(a.store)[0] is None


async def test_an_agent_whose_clock_is_ahead_takes_no_slot_another_holds(
    agents: Callable[..., Agent], monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = agents("a", initial_cap=2), agents("b", initial_cap=2)
    async with running(a, b), trio.open_nursery() as nursery:
        held = [await connect(nursery, a) for _ in range(2)]
        # From here on only b acts, its clock 12 s ahead: past a's 10 s leases.
        ahead = utcnow() + dt.timedelta(seconds=12)
        for module in (_budget_mirror, _shared_limiter, _sqlstore, _budgets):
            monkeypatch.setattr(module, "utcnow", lambda: ahead, raising=False)
        with trio.move_on_after(10 * REFRESH_S):
            async with b.limiter.slot():
                pytest.fail("b took a slot a holds: its clock judged a's lease")
        assert holders(a.store)[:2] == ["a", "a"]
        for conn in held:
            await conn.close()


async def test_a_slot_lost_to_another_agent_is_over_the_cap(agents: Callable[..., Agent]) -> None:
    a = agents("a", initial_cap=1, lease_s=0.4)
    async with running(a), trio.open_nursery() as nursery:
        conn = await connect(nursery, a)
        # As if this agent had stalled past its lease and another took the slot.
        a.store.release_slots(sending_key=KEY, holder="a")
        a.store.take_slot(sending_key=KEY, holder="other", held=0, below=9, lease_s=9)
        await eventually(lambda: a.limiter.over_cap())
        assert await conn.ask_over_cap()
        await conn.close()
    assert holders(a.store)[0] == "other"


async def test_cancelling_a_waiting_task_takes_no_slot(agents: Callable[..., Agent]) -> None:
    a, b = agents("a", initial_cap=1), agents("b", initial_cap=1)
    async with running(a, b), trio.open_nursery() as nursery:
        a_conn = await connect(nursery, a)
        with trio.move_on_after(3 * REFRESH_S):
            async with b.limiter.slot():
                pytest.fail("b got a slot the cap does not allow")
        assert b.limiter.statistics().tasks_waiting == 0
        await a_conn.close()
    assert holders(a.store)[0] is None
    assert b.limiter.statistics().slots_in_use == 0


# --- stopping -----------------------------------------------------------------


async def test_a_stopped_run_stops_waiting_for_a_shared_slot(
    agents: Callable[..., Agent], db_url: str
) -> None:
    # Another agent holds the only slot, for as long as it likes: a graceful
    # stop must not wait for it, and hands back every message untried.
    other = agents("other", initial_cap=1, max_cap=1)
    account, _, server = KEY.rpartition("@")
    host, _, port = server.partition(":")
    config = config_from_dict(
        {
            "store": {"url": db_url},
            "smtp": {"host": host, "port": int(port), "username": account, "password": "x"},
            "limiter": {"shared": True, "initial_cap": 1, "max_cap": 1},
        }
    )
    report: RunReport | None = None
    with adaptsend.Agent(config) as agent:
        assert agent.sending_key == KEY
        agent.enqueue(compose(m) for m in batch(5))
        dispatcher = agent.dispatcher()

        async def run() -> None:
            nonlocal report
            report = await dispatcher.run()

        async with running(other), trio.open_nursery() as nursery:
            holding = await connect(nursery, other)
            nursery.start_soon(run)
            await eventually(lambda: bool(dispatcher.slot_waits))
            dispatcher.stop()
            await eventually(lambda: report is not None)
            await holding.close()

    assert report is not None
    assert report.interrupted and report.attempts == 0
    assert report.released > 0
    store = open_store(db_url)
    try:
        assert store.counts()[Status.QUEUED] == 5
    finally:
        store.close()
