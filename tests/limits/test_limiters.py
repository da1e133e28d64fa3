"""Which limiter a run gets: its own on a SQLite file, one shared through a
server database, and what ``[limiter] shared`` changes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import trio

from adaptsend import ConfigError, config_from_dict
from adaptsend.config._settings import Config, LimiterConfig
from adaptsend.limits._choice import make_limiter, running, shares
from adaptsend.limits._local import AIMDLimiter
from adaptsend.limits._shared import SharedLimiter
from adaptsend.store import SQLStore, open_store
from adaptsend.store._budget_api import BudgetView
from adaptsend.store._schema import sending_budgets
from adaptsend.store._thread import StoreThread
from tests.helpers import databases

KEY = "reports@example.com@smtp.example.net:587"


class QueueOnlyStore:
    """A plugin's store that keeps the queue but no shared connection budgets."""

    def __init__(self, inner: SQLStore) -> None:
        self._inner = inner

    def close(self) -> None:
        self._inner.close()


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[SQLStore]:
    store = open_store(f"sqlite:///{tmp_path / 'adaptsend.db'}")
    yield store
    store.close()


def config(url: str, **limiter: Any) -> Config:
    return config_from_dict(
        {"store": {"url": url}, "limiter": {"initial_cap": 3, "max_cap": 5, **limiter}}
    )


def limiter_for(cfg: Config, store: Any) -> AIMDLimiter | SharedLimiter:
    return make_limiter(cfg, StoreThread(store), KEY, "agent-1", None)


SQLITE_URL = "sqlite:///adaptsend.db"
SERVER_URL = "postgresql+psycopg://mail@db.example.com/mail"


@pytest.mark.parametrize(
    ("url", "shared", "expected"),
    [
        (SQLITE_URL, None, AIMDLimiter),
        (SQLITE_URL, True, SharedLimiter),
        (SQLITE_URL, False, AIMDLimiter),
        ("sqlite+pysqlite:///adaptsend.db", None, AIMDLimiter),
        (SERVER_URL, None, SharedLimiter),
        ("oracle+oracledb://mail@db.example.com:1521/?service_name=MAIL", None, SharedLimiter),
        (SERVER_URL, False, AIMDLimiter),
    ],
)
def test_a_server_database_shares_by_default_and_sqlite_does_not(
    sqlite_store: SQLStore, url: str, shared: bool | None, expected: type
) -> None:
    # The choice reads the URL and what the store can do; it connects to nothing.
    limiter = limiter_for(config(url, shared=shared), sqlite_store)
    assert type(limiter) is expected
    assert (limiter.cap, limiter.statistics().max_cap) == (3, 5)


def test_a_store_without_budgets_keeps_a_limiter_of_its_own(sqlite_store: SQLStore) -> None:
    plain = QueueOnlyStore(sqlite_store)
    assert type(limiter_for(config(SERVER_URL), plain)) is AIMDLimiter
    assert not shares(config(SERVER_URL), StoreThread(plain))  # type: ignore[arg-type]


def test_sharing_asked_of_a_store_without_budgets_is_a_config_error(
    sqlite_store: SQLStore,
) -> None:
    with pytest.raises(ConfigError, match=r"^\[limiter\] shared = true needs a store that"):
        limiter_for(config(SERVER_URL, shared=True), QueueOnlyStore(sqlite_store))


def test_the_local_limiter_gets_every_limiter_setting(sqlite_store: SQLStore) -> None:
    cfg = config(SQLITE_URL, min_cap=2, decrease_factor=0.75, probe_interval_s=7)
    stats = limiter_for(cfg, sqlite_store).statistics()
    assert (stats.cap, stats.min_cap, stats.max_cap, stats.probe_interval_s) == (3, 2, 5, 7.0)


async def test_a_local_limiter_leaves_the_store_alone(sqlite_store: SQLStore) -> None:
    limiter = limiter_for(config(SQLITE_URL), sqlite_store)
    async with running(limiter), limiter.slot() as slot:
        limiter.connection_opened(slot)
        limiter.record_success(slot)
    with sqlite_store.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(sending_budgets)).scalar() == 0


@pytest.fixture(params=[databases.SQLITE, *databases.SERVER_URLS], ids=databases.name)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    yield databases.ready_database(request.param, tmp_path)
    if request.param != databases.SQLITE:
        databases.wipe(request.param)


async def test_a_shared_limiter_runs_and_gives_its_slots_back(db_url: str) -> None:
    store = open_store(db_url)
    try:
        limiter = make_limiter(config(db_url, shared=True), StoreThread(store), KEY, "a", None)
        assert isinstance(limiter, SharedLimiter)
        async with running(limiter):
            with trio.fail_after(5):
                async with limiter.slot():
                    assert limiter.statistics().slots_in_use == 1
                    view = read(store)
                    assert (view.budget.cap, view.held) == (3, 1)
        assert read(store).held == 0
    finally:
        store.close()


def read(store: SQLStore) -> BudgetView:
    settings = LimiterConfig(initial_cap=1, min_cap=1, max_cap=5)
    return store.budget_view(sending_key=KEY, settings=settings)
