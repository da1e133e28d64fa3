"""A sending key's Retry-After pause and the probes held back after it, in
its shared budget row: both only ever move later, on the database's clock,
and a decision's write of the row never puts them back."""

from __future__ import annotations

import datetime as dt

import pytest

from adaptsend.limits._policy import PAUSED_PROBE_GAP, Budget
from adaptsend.limits._records import ChangeReason
from adaptsend.store import SQLStore
from tests.helpers.store_budgets import (
    EPOCH,
    SETTINGS,
    no_other_key_is_touched,
    open_budget,
    open_view,
    prove,
    seconds,
    set_budget,
    take,
)
from tests.helpers.store_builders import KEY, db_now

__all__ = ["no_other_key_is_touched"]  # the autouse fixture


def pause(store: SQLStore, pause_s: float) -> bool:
    return store.pause_budget(sending_key=KEY, pause_s=pause_s)


def test_a_new_budget_has_no_pause(store: SQLStore) -> None:
    assert open_view(store).paused_s == 0.0


def test_a_pause_is_read_back_as_the_seconds_it_has_left(store: SQLStore) -> None:
    open_budget(store)
    assert pause(store, 60)
    left = open_view(store).paused_s
    # Some of it has passed since it was written, never more than it lasts.
    assert 0 < left <= 60


def test_a_pause_only_ever_moves_later(store: SQLStore) -> None:
    open_budget(store)
    assert pause(store, 600)
    assert not pause(store, 5)  # shorter: the longer pause stays
    assert open_view(store).paused_s > 5
    assert pause(store, 3600)
    assert open_view(store).paused_s > 600


def test_a_pause_that_is_over_reads_as_none(store: SQLStore) -> None:
    open_budget(store)
    assert pause(store, 60)
    set_budget(store, paused_until=db_now(store) - dt.timedelta(seconds=1))
    assert open_view(store).paused_s == 0.0
    assert pause(store, 1)  # and a new one moves it later again


def test_a_key_without_a_budget_is_not_paused(store: SQLStore) -> None:
    assert not pause(store, 60)
    assert not store.hold_probes(sending_key=KEY, pause_s=60)


@pytest.mark.parametrize("pause_s", [0.0, -1.0, float("nan"), float("inf")])
def test_a_pause_must_last_a_finite_positive_time(store: SQLStore, pause_s: float) -> None:
    open_budget(store)
    with pytest.raises(ValueError, match="longer than zero"):
        pause(store, pause_s)
    with pytest.raises(ValueError, match="longer than zero"):
        store.hold_probes(sending_key=KEY, pause_s=pause_s)


def test_the_probes_are_held_back_by_the_policy_and_only_ever_later(store: SQLStore) -> None:
    open_budget(store)
    before = db_now(store)
    assert store.hold_probes(sending_key=KEY, pause_s=10)
    held = open_budget(store).probe_not_before
    assert seconds(before) + PAUSED_PROBE_GAP * 10 <= held
    assert held <= seconds(db_now(store)) + PAUSED_PROBE_GAP * 10
    assert not store.hold_probes(sending_key=KEY, pause_s=1)
    assert open_budget(store).probe_not_before == held


def test_a_held_probe_waits_though_its_interval_is_over(store: SQLStore) -> None:
    open_budget(store, initial_cap=4)
    for holder in "abcd":
        take(store, holder)
    cut = store.cut_budget(sending_key=KEY, seen_epoch=0, settings=SETTINGS)  # cap 2, ceiling 4
    assert cut.changed
    for holder in "cd":
        store.release_slots(sending_key=KEY, holder=holder)
    for holder, slot_no in (("a", 0), ("b", 1)):
        prove(store, holder, slot_no)
    seen = store.grow_budget(sending_key=KEY, seen_cap=2, seen_epoch=1, settings=SETTINGS).budget
    assert seen is not None and seen.cap == 3
    take(store, "c")
    prove(store, "c", 2)
    # The probe interval is over, but a refusal paused the key a moment ago.
    long_ago = EPOCH + dt.timedelta(seconds=seconds(db_now(store)) - 3600)
    set_budget(store, last_cut_at=long_ago)
    assert store.hold_probes(sending_key=KEY, pause_s=5)

    def probe() -> Budget | None:
        decision = store.grow_budget(sending_key=KEY, seen_cap=3, seen_epoch=1, settings=SETTINGS)
        return decision.budget if decision.changed else None

    assert probe() is None
    # Once the hold is over, the probe is due again.
    set_budget(store, probes_held_until=db_now(store) - dt.timedelta(seconds=1))
    probed = probe()
    assert probed is not None and (probed.cap, probed.reason) == (4, ChangeReason.PROBE)


def test_a_decision_written_to_the_row_keeps_the_hold(store: SQLStore) -> None:
    open_budget(store, initial_cap=2)
    take(store, "a")
    assert store.hold_probes(sending_key=KEY, pause_s=5)
    held = open_budget(store).probe_not_before
    assert store.cut_budget(sending_key=KEY, seen_epoch=0, settings=SETTINGS).changed
    assert open_budget(store).probe_not_before == held
