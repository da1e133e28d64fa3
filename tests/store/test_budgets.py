"""Connection budgets shared through the store: the budget row of a sending
key, and the cuts and growth that one agent only decides from one state."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import attrs
import sqlalchemy as sa

from adaptsend._models import utcnow
from adaptsend.limits._policy import Budget
from adaptsend.limits._records import ChangeReason
from adaptsend.store import SQLStore
from adaptsend.store._schema import sending_budgets
from tests.helpers.store_budgets import (
    EPOCH,
    SETTINGS,
    no_other_key_is_touched,
    open_budget,
    prove,
    seconds,
    set_budget,
    slot_rows,
    take,
)
from tests.helpers.store_builders import KEY, db_now, expire_slots
from tests.helpers.store_variants import OpenStore

__all__ = ["no_other_key_is_touched"]  # the autouse fixture, shared with test_budgets_slots


def cut(store: SQLStore, seen_epoch: int) -> tuple[Budget, bool]:
    decision = store.cut_budget(sending_key=KEY, seen_epoch=seen_epoch, settings=SETTINGS)
    assert decision.budget is not None
    return decision.budget, decision.changed


def grow(store: SQLStore, seen: Budget, **kw: Any) -> tuple[Budget, bool]:
    kw.setdefault("settings", SETTINGS)
    decision = store.grow_budget(sending_key=KEY, seen_cap=seen.cap, seen_epoch=seen.epoch, **kw)
    assert decision.budget is not None
    return decision.budget, decision.changed


def cut_long_ago(store: SQLStore, seen: Budget, seconds_before: float) -> None:
    """Move the last cut back by ``seconds_before``, as if the interval had passed."""
    assert seen.last_cut_at is not None
    when = EPOCH + dt.timedelta(seconds=seen.last_cut_at - seconds_before)
    set_budget(store, last_cut_at=when)


# --- the budget row ---------------------------------------------------------


def test_a_new_key_starts_at_the_initial_cap_with_max_cap_free_slots(store: SQLStore) -> None:
    view = store.budget_view(sending_key=KEY, settings=SETTINGS)
    budget = view.budget
    assert (budget.cap, budget.ceiling, budget.epoch, budget.version) == (2, None, 0, 0)
    assert (budget.reason, budget.last_cut_at, budget.probe_interval_s) == (None, None, 30.0)
    assert (view.held, view.proven, view.free) == (0, 0, 2)
    assert [(r.slot_no, r.holder) for r in slot_rows(store)] == [(n, None) for n in range(4)]


def test_an_existing_budget_is_kept_and_only_missing_slots_are_added(store: SQLStore) -> None:
    open_budget(store, initial_cap=2)
    take(store, "a")
    wider = attrs.evolve(SETTINGS, initial_cap=5, max_cap=6)
    view = store.budget_view(sending_key=KEY, settings=wider)
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
    assert len(slot_rows(stores[0])) == SETTINGS.max_cap


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
    assert budget.last_cut_at is not None and budget.last_cut_at >= seconds(before)
    assert open_budget(store) == budget


def test_a_decision_says_what_it_was_made_from(store: SQLStore) -> None:
    start = open_budget(store, initial_cap=4)
    for holder in "abcd":
        take(store, holder)
        prove(store, holder, "abcd".index(holder))
    made = store.cut_budget(sending_key=KEY, seen_epoch=0, settings=SETTINGS)
    assert made.changed and (made.before, made.budget) == (start, open_budget(store))
    # One not taken says nothing of what it would have changed.
    refused = store.cut_budget(sending_key=KEY, seen_epoch=0, settings=SETTINGS)
    assert (refused.changed, refused.before) == (False, None)
    cut_to = open_budget(store)
    grown = store.grow_budget(sending_key=KEY, seen_cap=2, seen_epoch=1, settings=SETTINGS)
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
    set_budget(store, cap=4)  # as if a probe had grown it back
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
    assert seconds(before_cut) <= seen.last_cut_at <= seconds(db_now(store))
    assert grow(store, seen) == (seen, False)
    cut_long_ago(store, seen, 30)
    probed, changed = grow(store, seen)
    assert changed and (probed.cap, probed.ceiling, probed.reason) == (4, 4, ChangeReason.PROBE)


def test_a_probe_that_holds_forgets_the_ceiling(store: SQLStore) -> None:
    open_budget(store, initial_cap=4)
    for n, holder in enumerate("abcd"):
        take(store, holder)
        prove(store, holder, n)
    set_budget(store, ceiling=4, last_cut_at=utcnow(), probe_interval_s=120.0)
    wider = attrs.evolve(SETTINGS, max_cap=8)
    budget, changed = grow(store, open_budget(store), settings=wider)
    assert changed
    assert (budget.cap, budget.ceiling, budget.reason) == (5, None, ChangeReason.PROBE_SUCCEEDED)
    assert budget.probe_interval_s == 30.0


def test_the_cap_never_grows_past_the_growers_max_cap(store: SQLStore) -> None:
    seen = open_budget(store, initial_cap=2)
    for holder, slot_no in (("a", 0), ("b", 1)):
        take(store, holder)
        prove(store, holder, slot_no)
    assert grow(store, seen, settings=attrs.evolve(SETTINGS, max_cap=2)) == (seen, False)


# --- a budget an operator deleted --------------------------------------------


def test_a_deleted_budget_is_made_again_at_the_next_read(store: SQLStore) -> None:
    open_budget(store, initial_cap=3)
    take(store, "a")
    with store.engine.begin() as conn:
        conn.execute(sa.delete(sending_budgets).where(sending_budgets.c.sending_key == KEY))
    taken = store.take_slot(sending_key=KEY, holder="b", held=0, below=9, lease_s=9)
    assert (taken.slot_no, taken.budget) == (None, None)
    decision = store.cut_budget(sending_key=KEY, seen_epoch=0, settings=SETTINGS)
    assert (decision.budget, decision.changed) == (None, False)
    view = store.budget_view(sending_key=KEY, settings=SETTINGS)
    assert (view.budget.cap, view.held) == (2, 1)
