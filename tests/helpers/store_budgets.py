"""Builders shared by the tests of connection budgets in the store."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import attrs
import pytest
import sqlalchemy as sa

from adaptsend.config._settings import LimiterConfig
from adaptsend.limits._policy import Budget
from adaptsend.store import SQLStore
from adaptsend.store._budget_api import BudgetView
from adaptsend.store._schema import connection_slots, sending_budgets
from tests.helpers.store_builders import KEY

SETTINGS = LimiterConfig(initial_cap=2, min_cap=1, max_cap=4, probe_interval_s=30.0)
#: Where a budget's seconds count from on the database's clock (naive UTC).
EPOCH = dt.datetime(1970, 1, 1)


def open_budget(
    store: SQLStore, *, initial_cap: int = 2, settings: LimiterConfig = SETTINGS
) -> Budget:
    settings = attrs.evolve(settings, initial_cap=initial_cap)
    return store.budget_view(sending_key=KEY, settings=settings).budget


def open_view(store: SQLStore) -> BudgetView:
    return store.budget_view(sending_key=KEY, settings=SETTINGS)


def take(store: SQLStore, holder: str, *, lease_s: float = 60.0, **kw: Any) -> int | None:
    kw.setdefault("below", 100)
    kw.setdefault("held", 0)
    return store.take_slot(sending_key=KEY, holder=holder, lease_s=lease_s, **kw).slot_no


def prove(store: SQLStore, holder: str, slot_no: int) -> None:
    assert store.mark_slot(sending_key=KEY, holder=holder, slot_no=slot_no, proven=True)


def slot_rows(store: SQLStore) -> list[Any]:
    query = (
        sa.select(connection_slots)
        .where(connection_slots.c.sending_key == KEY)
        .order_by(connection_slots.c.slot_no)
    )
    with store.engine.connect() as conn:
        return list(conn.execute(query))


def set_budget(store: SQLStore, **values: Any) -> None:
    with store.engine.begin() as conn:
        conn.execute(
            sa.update(sending_budgets).where(sending_budgets.c.sending_key == KEY).values(**values)
        )


def seconds(time: dt.datetime) -> float:
    """A time of the database as a budget counts it."""
    return (time - EPOCH) / dt.timedelta(seconds=1)


@pytest.fixture(autouse=True)
def no_other_key_is_touched(store: SQLStore) -> Iterator[None]:
    """Every test works on KEY only; another key's budget must come through untouched."""
    other = "other@relay.example.org:25"
    settings = attrs.evolve(SETTINGS, initial_cap=1)
    store.budget_view(sending_key=other, settings=settings)
    store.take_slot(sending_key=other, holder="a", held=0, below=9, lease_s=600)
    yield
    view = store.budget_view(sending_key=other, settings=settings)
    assert (view.budget.version, view.held) == (0, 1)
