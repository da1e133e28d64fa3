"""Connection budgets shared through the store: the numbered slots of a
sending key, taken lowest first below the cap, held under leases, and the
wants of those who found none free."""

from __future__ import annotations

import threading
import time

import sqlalchemy as sa

from adaptsend._models import utcnow
from adaptsend.store import SQLStore
from adaptsend.store._schema import connection_slots
from tests.helpers.store_budgets import (
    no_other_key_is_touched,
    open_budget,
    open_view,
    prove,
    slot_rows,
    take,
)
from tests.helpers.store_builders import KEY, db_now, expire_slots, later
from tests.helpers.store_variants import OpenStore

__all__ = ["no_other_key_is_touched"]  # the autouse fixture, shared with test_budgets


# --- slots ------------------------------------------------------------------


def test_slots_are_handed_out_lowest_first_and_never_at_or_above_the_cap(
    store: SQLStore,
) -> None:
    open_budget(store, initial_cap=2)
    assert [take(store, "a"), take(store, "b"), take(store, "c")] == [0, 1, None]
    rows = slot_rows(store)
    assert [r.holder for r in rows] == ["a", "b", None, None]
    assert rows[0].proven_at is None and rows[0].expires_at > utcnow()


def test_a_taker_can_ask_for_a_lower_limit_than_the_shared_cap(store: SQLStore) -> None:
    open_budget(store, initial_cap=3)
    assert take(store, "a", below=1) == 0
    assert take(store, "a", below=1) is None
    assert take(store, "a", below=3) == 1


def test_the_take_reports_the_budget_it_took_under(store: SQLStore) -> None:
    budget = open_budget(store)
    result = store.take_slot(sending_key=KEY, holder="a", held=0, below=9, lease_s=60)
    assert (result.slot_no, result.budget) == (0, budget)


def test_a_released_slot_is_free_again_and_only_its_holder_may_release_it(
    store: SQLStore,
) -> None:
    open_budget(store, initial_cap=2)
    take(store, "a")
    take(store, "a")
    assert store.release_slots(sending_key=KEY, holder="b", slot_no=0) == 0
    assert store.release_slots(sending_key=KEY, holder="a", slot_no=0) == 1
    assert take(store, "b") == 0
    assert store.release_slots(sending_key=KEY, holder="a") == 1
    assert [r.holder for r in slot_rows(store)] == ["b", None, None, None]


def test_expired_slots_come_back(store: SQLStore) -> None:
    open_budget(store, initial_cap=2)
    assert take(store, "dead", lease_s=60) == 0
    assert take(store, "dead", lease_s=60) == 1
    assert take(store, "alive") is None
    expire_slots(store, "dead")
    assert take(store, "alive") == 0
    assert take(store, "alive") == 1


def test_a_slot_lease_runs_on_the_databases_clock(store: SQLStore) -> None:
    open_budget(store, initial_cap=1)
    before = db_now(store)
    take(store, "a", lease_s=10)
    expires_at = slot_rows(store)[0].expires_at
    assert later(10, since=before) <= expires_at <= later(10, since=db_now(store))


def test_renewing_keeps_a_holders_slots_and_says_which_it_lost(store: SQLStore) -> None:
    open_budget(store, initial_cap=3)
    for _ in range(3):
        take(store, "a", lease_s=1)
    expire_slots(store, "a")
    before = db_now(store)
    assert store.renew_slots(sending_key=KEY, holder="a", lease_s=60) == {0, 1, 2}
    assert all(row.expires_at >= later(60, since=before) for row in slot_rows(store)[:3])
    # Renewed: nothing has run out.
    assert take(store, "b") is None
    # Not renewed in time: another holder takes one.
    expire_slots(store, "a")
    assert take(store, "b") == 0
    assert store.renew_slots(sending_key=KEY, holder="a", lease_s=60) == {1, 2}


def test_a_slot_is_marked_proven_by_its_holder_only(store: SQLStore) -> None:
    open_budget(store, initial_cap=2)
    take(store, "a")
    assert not store.mark_slot(sending_key=KEY, holder="b", slot_no=0, proven=True)
    prove(store, "a", 0)
    view = open_view(store)
    assert (view.held, view.proven, view.free) == (1, 1, 1)
    assert store.mark_slot(sending_key=KEY, holder="a", slot_no=0, proven=False)
    assert slot_rows(store)[0].proven_at is None


def test_holders_taking_at_once_never_share_a_slot(store_url: str, make_store: OpenStore) -> None:
    stores = [make_store(store_url) for _ in range(4)]
    open_budget(stores[0], initial_cap=3)
    start = threading.Barrier(len(stores))
    got: dict[str, list[int | None]] = {f"agent-{i}": [] for i in range(len(stores))}

    def grab(holder: str, store: SQLStore) -> None:
        start.wait()
        for _ in range(3):
            got[holder].append(take(store, holder))

    threads = [
        threading.Thread(target=grab, args=(holder, store))
        for holder, store in zip(got, stores, strict=True)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    taken = [n for numbers in got.values() for n in numbers if n is not None]
    assert sorted(taken) == [0, 1, 2]
    for row in slot_rows(stores[0]):
        if row.slot_no < 3:
            assert row.slot_no in got[row.holder]
        else:
            assert row.holder is None


def test_a_take_skips_a_slot_another_transaction_holds(
    store_url: str, make_store: OpenStore
) -> None:
    store = make_store(store_url)
    open_budget(store, initial_cap=2)
    locker = sa.create_engine(store_url)
    hold_s = 1.0
    with locker.connect() as conn:
        # Another agent in the middle of taking slot 0: the row is locked.
        conn.execute(
            sa.update(connection_slots)
            .where(connection_slots.c.sending_key == KEY, connection_slots.c.slot_no == 0)
            .values(expires_at=None)
        )
        result: list[int | None] = []
        started = time.monotonic()
        t = threading.Thread(target=lambda: result.append(take(store, "a")))
        t.start()
        t.join(timeout=hold_s)
        waited = t.is_alive()
        conn.commit()
        t.join(timeout=30)
    locker.dispose()
    if store.engine.dialect.name == "sqlite":
        # One writer at a time: the take waits, then gets the lowest slot.
        assert waited and result == [0] and time.monotonic() - started >= hold_s
    else:
        assert not waited and result == [1]


def test_a_holder_that_finds_no_free_slot_says_it_wants_one(store: SQLStore) -> None:
    open_budget(store, initial_cap=1)
    assert open_view(store).wanted is None
    take(store, "a")
    before = db_now(store)
    assert take(store, "b", held=0) is None
    wanted = open_view(store).wanted
    assert wanted is not None and (wanted.holder, wanted.held) == ("b", 0)
    assert before <= wanted.at <= db_now(store)
    # The latest to find none free is the one named.
    assert take(store, "c", held=2) is None
    wanted = open_view(store).wanted
    assert wanted is not None and (wanted.holder, wanted.held) == ("c", 2)


def test_a_want_is_forgotten_when_its_holder_gets_a_slot(store: SQLStore) -> None:
    open_budget(store, initial_cap=1)
    take(store, "a")
    take(store, "b")
    store.release_slots(sending_key=KEY, holder="a")
    # Another holder taking the slot leaves b's want in place.
    assert take(store, "c") == 0
    assert open_view(store).wanted is not None
    store.release_slots(sending_key=KEY, holder="c")
    assert take(store, "b") == 0
    assert open_view(store).wanted is None
