"""The history of limits: written as given, read back by period and key, and
trimmed by the purge with the rest of the old history."""

from __future__ import annotations

import datetime as dt

from adaptsend.store import SQLStore
from adaptsend.store._api import PurgeCounts
from adaptsend.store._cap_change_api import CapChangeRecord, CapChangeStore, LimitKind
from tests.helpers.store_builders import KEY, cap_change

OTHER_KEY = "other.example.net:25"
T0 = dt.datetime(2026, 3, 1, 12, 0, 0, 250_000)


def change(
    at: dt.datetime,
    *,
    key: str = KEY,
    kind: LimitKind = LimitKind.CONNECTIONS,
    old: float | None = 4,
    new: float = 2,
    reason: str = "throttle",
    ceiling: float | None = 4,
) -> CapChangeRecord:
    return cap_change(
        at,
        old=old,
        new=new,
        reason=reason,
        agent="host-a:4242:0badcafe",
        key=key,
        kind=kind,
        ceiling=ceiling,
    )


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def test_the_store_keeps_cap_changes(store: SQLStore) -> None:
    assert isinstance(store, CapChangeStore)


def test_changes_come_back_as_written_oldest_first(store: SQLStore) -> None:
    cut = change(at(0))
    growth = change(at(5), old=2, new=3, reason="growth", ceiling=4)
    rate_cut = change(at(5), kind=LimitKind.RATE, old=None, new=417.5, reason="cut", ceiling=835.0)
    # Written out of order, and two at one moment: read back by time, then
    # in the order they were written.
    store.record_cap_changes([growth, rate_cut])
    store.record_cap_changes([cut])

    assert store.cap_changes(since=at(0)) == [cut, growth, rate_cut]


def test_a_period_includes_its_start_and_excludes_its_end(store: SQLStore) -> None:
    changes = [change(at(s), new=s) for s in (0, 10, 20, 30)]
    store.record_cap_changes(changes)

    assert store.cap_changes(since=at(10), until=at(30)) == changes[1:3]
    assert store.cap_changes(since=at(30)) == changes[3:]
    assert store.cap_changes(since=at(31)) == []


def test_changes_of_one_key_leave_the_others_out(store: SQLStore) -> None:
    mine = change(at(1))
    theirs = change(at(2), key=OTHER_KEY)
    store.record_cap_changes([mine, theirs])

    assert store.cap_changes(since=at(0), sending_key=KEY) == [mine]
    assert store.cap_changes(since=at(0), sending_key=OTHER_KEY) == [theirs]
    assert store.cap_changes(since=at(0)) == [mine, theirs]


def test_writing_nothing_writes_nothing(store: SQLStore) -> None:
    store.record_cap_changes([])
    assert store.cap_changes(since=dt.datetime(2000, 1, 1)) == []


def test_the_purge_counts_then_deletes_the_older_changes(store: SQLStore) -> None:
    old = [change(at(-86400 * 40 + s)) for s in range(3)]
    recent = change(at(0))
    store.record_cap_changes([*old, recent])
    before = at(-86400 * 30)

    none_else = {"messages": 0, "attempts": 0, "source_rows": 0}
    assert store.purge(before=before, dry_run=True) == PurgeCounts(**none_else, cap_changes=3)
    assert store.cap_changes(since=dt.datetime(2000, 1, 1)) == [*old, recent]
    assert store.purge(before=before) == PurgeCounts(**none_else, cap_changes=3)
    assert store.cap_changes(since=dt.datetime(2000, 1, 1)) == [recent]
    assert store.purge(before=before) == PurgeCounts(**none_else, cap_changes=0)
