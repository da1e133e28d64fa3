"""Connection budgets shared through the store: the budget row, its numbered
slots, and cuts and growth decided from one state by one agent only."""

from __future__ import annotations

import datetime as dt
import threading
import time
from typing import Any

import pytest
import sqlalchemy as sa

from adaptsend._models import utcnow
from adaptsend.limits._policy import Budget, BudgetRules
from adaptsend.limits._records import ChangeReason
from adaptsend.store import SQLStore
from adaptsend.store._budget_api import BudgetView
from adaptsend.store._schema import connection_slots, sending_budgets
from tests.helpers.store_builders import KEY, db_now, expire_slots, later
from tests.helpers.store_variants import OpenStore

RULES = BudgetRules(min_cap=1, max_cap=4, probe_interval_s=30.0)


def open_budget(store: SQLStore, *, initial_cap: int = 2, rules: BudgetRules = RULES) -> Budget:
    view = store.budget_view(sending_key=KEY, initial_cap=initial_cap, rules=rules)
    return view.budget


def open_view(store: SQLStore) -> BudgetView:
    return store.budget_view(sending_key=KEY, initial_cap=2, rules=RULES)


def take(store: SQLStore, holder: str, *, lease_s: float = 60.0, **kw: Any) -> int | None:
    kw.setdefault("below", 100)
    kw.setdefault("held", 0)
    return store.take_slot(sending_key=KEY, holder=holder, lease_s=lease_s, **kw).slot_no


def prove(store: SQLStore, holder: str, slot_no: int) -> None:
    assert store.mark_slot(sending_key=KEY, holder=holder, slot_no=slot_no, proven=True)


def cut(store: SQLStore, seen_epoch: int, **kw: Any) -> tuple[Budget, bool]:
    decision = store.cut_budget(sending_key=KEY, seen_epoch=seen_epoch, rules=RULES, **kw)
    assert decision.budget is not None
    return decision.budget, decision.changed


def grow(store: SQLStore, seen: Budget, **kw: Any) -> tuple[Budget, bool]:
    kw.setdefault("rules", RULES)
    decision = store.grow_budget(sending_key=KEY, seen_cap=seen.cap, seen_epoch=seen.epoch, **kw)
    assert decision.budget is not None
    return decision.budget, decision.changed


def cut_long_ago(store: SQLStore, when: dt.datetime) -> None:
    """Move the last cut back to ``when``, as if the interval had passed."""
    key = sending_budgets.c.sending_key == KEY
    with store.engine.begin() as conn:
        conn.execute(sa.update(sending_budgets).where(key).values(last_cut_at=when))


def slot_rows(store: SQLStore) -> list[Any]:
    query = (
        sa.select(connection_slots)
        .where(connection_slots.c.sending_key == KEY)
        .order_by(connection_slots.c.slot_no)
    )
    with store.engine.connect() as conn:
        return list(conn.execute(query))


# --- the budget row ---------------------------------------------------------


def test_a_new_key_starts_at_the_initial_cap_with_max_cap_free_slots(store: SQLStore) -> None:
    view = store.budget_view(sending_key=KEY, initial_cap=2, rules=RULES)
    budget = view.budget
    assert (budget.cap, budget.ceiling, budget.epoch, budget.version) == (2, None, 0, 0)
    assert (budget.reason, budget.last_cut_at, budget.probe_interval_s) == (None, None, 30.0)
    assert (view.held, view.proven, view.free) == (0, 0, 2)
    assert [(r.slot_no, r.holder) for r in slot_rows(store)] == [(n, None) for n in range(4)]


def test_an_existing_budget_is_kept_and_only_missing_slots_are_added(store: SQLStore) -> None:
    open_budget(store, initial_cap=2)
    take(store, "a")
    wider = BudgetRules(min_cap=1, max_cap=6)
    view = store.budget_view(sending_key=KEY, initial_cap=5, rules=wider)
    assert view.budget.cap == 2 and view.held == 1
    assert [(r.slot_no, r.holder) for r in slot_rows(store)] == [(0, "a")] + [
        (n, None) for n in range(1, 6)
    ]


def test_agents_opening_one_budget_at_once_all_read_it(
    store_url: str, make_store: OpenStore
) -> None:
    stores = [make_store(store_url) for _ in range(4)]
    start = threading.Barrier(len(stores))
    seen: list[Budget] = []
    errors: list[BaseException] = []

    def open_it(store: SQLStore) -> None:
        start.wait()
        try:
            seen.append(open_budget(store))
        except BaseException as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=open_it, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == [] and len(seen) == 4 and len(set(seen)) == 1
    assert len(slot_rows(stores[0])) == RULES.max_cap


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
    view = store.budget_view(sending_key=KEY, initial_cap=2, rules=RULES)
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


# --- cuts -------------------------------------------------------------------


def test_a_throttle_cuts_by_the_slots_held_and_sets_the_ceiling(store: SQLStore) -> None:
    open_budget(store, initial_cap=4)
    for holder in "abcd":
        take(store, holder)
    before = db_now(store)
    budget, changed = cut(store, 0)
    assert changed
    assert (budget.cap, budget.ceiling, budget.epoch, budget.version) == (2, 4, 1, 1)
    assert (budget.reason, budget.observed) == (ChangeReason.THROTTLE, 4)
    assert budget.last_cut_at is not None and budget.last_cut_at >= before
    assert open_budget(store) == budget


def test_a_decision_says_what_it_was_made_from(store: SQLStore) -> None:
    start = open_budget(store, initial_cap=4)
    for holder in "abcd":
        take(store, holder)
        prove(store, holder, "abcd".index(holder))
    made = store.cut_budget(sending_key=KEY, seen_epoch=0, rules=RULES)
    assert made.changed and (made.before, made.budget) == (start, open_budget(store))
    # One not taken says nothing of what it would have changed.
    refused = store.cut_budget(sending_key=KEY, seen_epoch=0, rules=RULES)
    assert (refused.changed, refused.before) == (False, None)
    cut_to = open_budget(store)
    grown = store.grow_budget(sending_key=KEY, seen_cap=2, seen_epoch=1, rules=RULES)
    assert grown.changed and (grown.before, grown.budget) == (cut_to, open_budget(store))


def test_throttles_from_one_epoch_are_one_cut(store: SQLStore) -> None:
    open_budget(store, initial_cap=4)
    for holder in "abcd":
        take(store, holder)
    first, changed = cut(store, 0)
    again, changed_again = cut(store, 0)
    assert changed and not changed_again and again == first


def test_agents_cutting_at_once_for_one_over_shoot_cut_once(
    store_url: str, make_store: OpenStore
) -> None:
    stores = [make_store(store_url) for _ in range(4)]
    open_budget(stores[0], initial_cap=4)
    for holder in "abcd":
        take(stores[0], holder)
    start = threading.Barrier(len(stores))
    changed: list[bool] = []

    def throttled(store: SQLStore) -> None:
        start.wait()
        changed.append(cut(store, 0)[1])

    threads = [threading.Thread(target=throttled, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(changed) == [False, False, False, True]
    budget = open_budget(stores[0])
    assert (budget.cap, budget.epoch, budget.version) == (2, 1, 1)


def test_a_failed_probe_goes_below_the_ceiling_and_doubles_the_interval(
    store: SQLStore,
) -> None:
    open_budget(store, initial_cap=4)
    for holder in "abcd":
        take(store, holder)
    cut(store, 0)  # cap 2, ceiling 4
    _set_budget(store, cap=4)  # as if a probe had grown it back
    budget, changed = cut(store, 1)
    assert changed
    assert (budget.cap, budget.ceiling, budget.reason) == (3, 4, ChangeReason.PROBE_FAILED)
    assert budget.probe_interval_s == 60.0 and budget.epoch == 2


def test_a_cut_never_goes_below_min_cap(store: SQLStore) -> None:
    open_budget(store, initial_cap=1)
    take(store, "a")
    budget, changed = cut(store, 0)
    assert changed and (budget.cap, budget.ceiling) == (1, 1)


# --- growth -----------------------------------------------------------------


def test_the_cap_grows_only_while_every_slot_below_it_is_held_and_proven(
    store: SQLStore,
) -> None:
    seen = open_budget(store, initial_cap=2)
    take(store, "a")
    prove(store, "a", 0)
    assert grow(store, seen) == (seen, False)  # one slot is free
    take(store, "b")
    assert grow(store, seen) == (seen, False)  # slot 1 has not delivered
    prove(store, "b", 1)
    budget, changed = grow(store, seen)
    assert changed and (budget.cap, budget.reason, budget.version) == (3, ChangeReason.GROWTH, 1)
    assert open_budget(store) == budget


def test_growth_is_refused_when_the_cap_changed_since_it_was_seen(store: SQLStore) -> None:
    seen = open_budget(store, initial_cap=2)
    for holder, slot_no in (("a", 0), ("b", 1)):
        take(store, holder)
        prove(store, holder, slot_no)
    first, changed = grow(store, seen)
    assert changed
    assert grow(store, seen) == (first, False)


def test_expired_slots_do_not_make_the_cap_bind(store: SQLStore) -> None:
    seen = open_budget(store, initial_cap=2)
    for holder, slot_no in (("a", 0), ("b", 1)):
        take(store, holder)
        prove(store, holder, slot_no)
    expire_slots(store, "b")
    assert grow(store, seen) == (seen, False)


def test_growth_to_the_ceiling_waits_for_the_probe_interval(store: SQLStore) -> None:
    open_budget(store, initial_cap=4)
    for holder in "abcd":
        take(store, holder)
    before_cut = db_now(store)
    seen, _ = cut(store, 0)  # cap 2, ceiling 4
    for holder in "cd":
        store.release_slots(sending_key=KEY, holder=holder)
    for holder, slot_no in (("a", 0), ("b", 1)):
        prove(store, holder, slot_no)
    seen, changed = grow(store, seen)
    assert changed and (seen.cap, seen.reason) == (3, ChangeReason.GROWTH)
    take(store, "c")
    prove(store, "c", 2)
    assert seen.last_cut_at is not None
    # The interval runs on the database's clock, from the cut it wrote.
    assert before_cut <= seen.last_cut_at <= db_now(store)
    assert grow(store, seen) == (seen, False)
    cut_long_ago(store, seen.last_cut_at - dt.timedelta(seconds=30))
    probed, changed = grow(store, seen)
    assert changed and (probed.cap, probed.ceiling, probed.reason) == (4, 4, ChangeReason.PROBE)


def test_a_probe_that_holds_forgets_the_ceiling(store: SQLStore) -> None:
    open_budget(store, initial_cap=4)
    for n, holder in enumerate("abcd"):
        take(store, holder)
        prove(store, holder, n)
    _set_budget(store, ceiling=4, last_cut_at=utcnow(), probe_interval_s=120.0)
    budget, changed = grow(store, open_budget(store), rules=BudgetRules(min_cap=1, max_cap=8))
    assert changed
    assert (budget.cap, budget.ceiling, budget.reason) == (5, None, ChangeReason.PROBE_SUCCEEDED)
    assert budget.probe_interval_s == 30.0


def test_the_cap_never_grows_past_the_growers_max_cap(store: SQLStore) -> None:
    seen = open_budget(store, initial_cap=2)
    for holder, slot_no in (("a", 0), ("b", 1)):
        take(store, holder)
        prove(store, holder, slot_no)
    assert grow(store, seen, rules=BudgetRules(min_cap=1, max_cap=2)) == (seen, False)


# --- a budget an operator deleted --------------------------------------------


def test_a_deleted_budget_is_made_again_at_the_next_read(store: SQLStore) -> None:
    open_budget(store, initial_cap=3)
    take(store, "a")
    with store.engine.begin() as conn:
        conn.execute(sa.delete(sending_budgets).where(sending_budgets.c.sending_key == KEY))
    taken = store.take_slot(sending_key=KEY, holder="b", held=0, below=9, lease_s=9)
    assert (taken.slot_no, taken.budget) == (None, None)
    decision = store.cut_budget(sending_key=KEY, seen_epoch=0, rules=RULES)
    assert (decision.budget, decision.changed) == (None, False)
    view = store.budget_view(sending_key=KEY, initial_cap=2, rules=RULES)
    assert (view.budget.cap, view.held) == (2, 1)


def _set_budget(store: SQLStore, **values: Any) -> None:
    with store.engine.begin() as conn:
        conn.execute(
            sa.update(sending_budgets).where(sending_budgets.c.sending_key == KEY).values(**values)
        )


@pytest.fixture(autouse=True)
def _no_other_key_is_touched(store: SQLStore) -> Any:
    """Every test works on KEY only; another key's budget must come through untouched."""
    other = "other@relay.example.org:25"
    store.budget_view(sending_key=other, initial_cap=1, rules=RULES)
    store.take_slot(sending_key=other, holder="a", held=0, below=9, lease_s=600)
    yield
    view = store.budget_view(sending_key=other, initial_cap=1, rules=RULES)
    assert (view.budget.version, view.held) == (0, 1)
