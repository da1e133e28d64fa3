"""Two agents' limiters in one process, sharing one budget through one database
(a SQLite file, and every server database the tests are given)."""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import attrs
import pytest
import sqlalchemy as sa
import trio

import adaptsend
from adaptsend import RunReport, Status, config_from_dict
from adaptsend._models import utcnow
from adaptsend.limits import _mirror as _budget_mirror
from adaptsend.limits import _shared as _shared_limiter
from adaptsend.limits._policy import BudgetRules
from adaptsend.limits._records import CapChange, ChangeReason
from adaptsend.limits._shared import SharedLimiter, SharedSlot
from adaptsend.sources._compose import compose
from adaptsend.store import SQLStore, _budgets, _sqlstore, open_store
from adaptsend.store._schema import connection_slots
from adaptsend.store._thread import StoreThread
from tests.helpers import databases
from tests.helpers.messages import batch

KEY = "reports@example.com@smtp.example.net:587"
#: Fast enough for tests to see each other's decisions within a few ticks.
REFRESH_S = 0.05


@pytest.fixture(params=[databases.SQLITE, *databases.SERVER_URLS], ids=databases.name)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    yield databases.ready_database(request.param, tmp_path)
    if request.param != databases.SQLITE:
        databases.wipe(request.param)


class Agent:
    """One agent's view: its own store connection, limiter and observed changes."""

    def __init__(self, url: str, name: str, *, initial_cap: int, max_cap: int, **kw: float):
        self.store = open_store(url)
        self.thread = StoreThread(self.store)
        self.changes: list[CapChange] = []
        self.limiter = SharedLimiter(
            store=self.thread,
            sending_key=KEY,
            holder=name,
            initial_cap=initial_cap,
            rules=BudgetRules(min_cap=1, max_cap=max_cap, probe_interval_s=30.0),
            on_change=self.changes.append,
            refresh_s=REFRESH_S,
            **kw,
        )


@pytest.fixture
def agents(db_url: str) -> Iterator[Callable[..., Agent]]:
    """``agents(name, initial_cap=, max_cap=)``: an agent on the test's database."""
    made: list[Agent] = []

    def make(name: str, *, initial_cap: int = 2, max_cap: int = 4, **kw: float) -> Agent:
        agent = Agent(db_url, name, initial_cap=initial_cap, max_cap=max_cap, **kw)
        made.append(agent)
        return agent

    yield make
    for agent in made:
        agent.store.close()


@contextlib.asynccontextmanager
async def running(*agents: Agent) -> AsyncIterator[None]:
    async with contextlib.AsyncExitStack() as stack:
        for agent in agents:
            await stack.enter_async_context(agent.limiter.running())
        yield


async def eventually(condition: Callable[[], bool], timeout_s: float = 5.0) -> None:
    with trio.fail_after(timeout_s):
        while True:
            if condition():
                return
            await trio.sleep(REFRESH_S / 5)


class Connection:
    """A task holding one slot with a connection open, until told to stop."""

    def __init__(self, limiter: SharedLimiter) -> None:
        self.limiter = limiter
        self.slot: SharedSlot | None = None
        self.over_cap: bool | None = None
        self._asked = trio.Event()
        self._answered = trio.Event()
        self._done = trio.Event()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        async with self.limiter.slot() as slot:
            assert isinstance(slot, SharedSlot)
            self.slot = slot
            self.limiter.connection_opened(slot)
            task_status.started()
            while not self._done.is_set():
                await self._asked.wait()
                self._asked = trio.Event()
                # Asked from the task that holds the slot, as a worker asks.
                self.over_cap = self.limiter.over_cap()
                self._answered.set()

    async def ask_over_cap(self) -> bool:
        self._answered = trio.Event()
        self._asked.set()
        await self._answered.wait()
        assert self.over_cap is not None
        return self.over_cap

    def succeed(self) -> None:
        assert self.slot is not None
        self.limiter.record_success(self.slot)

    def throttle(self) -> None:
        assert self.slot is not None
        self.limiter.record_throttle(self.slot)

    async def close(self) -> None:
        self._done.set()
        self._asked.set()


async def connect(nursery: trio.Nursery, agent: Agent) -> Connection:
    connection = Connection(agent.limiter)
    await nursery.start(connection.run)
    return connection


def holders(store: SQLStore) -> list[str | None]:
    cs = connection_slots
    query = sa.select(cs.c.holder).where(cs.c.sending_key == KEY).order_by(cs.c.slot_no)
    with store.engine.connect() as conn:
        return list(conn.execute(query).scalars())


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
        await eventually(lambda: a.limiter._rival() is not None)
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
