"""Helpers for the tests of a cap shared through the store: agents in one
process, each with its own store connection and limiter, on the test's
database (a SQLite file, and every server database the tests are given)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
import trio

from adaptsend.config._settings import LimiterConfig
from adaptsend.limits._records import CapChange
from adaptsend.limits._shared import SharedLimiter, SharedSlot
from adaptsend.store import SQLStore, open_store
from adaptsend.store._schema import connection_slots
from adaptsend.store._thread import StoreThread
from tests.helpers import databases

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
        settings = LimiterConfig(
            initial_cap=initial_cap, min_cap=1, max_cap=max_cap, probe_interval_s=30.0
        )
        self.limiter = SharedLimiter(
            store=self.thread,
            sending_key=KEY,
            holder=name,
            settings=settings,
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
