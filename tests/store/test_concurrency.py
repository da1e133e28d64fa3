"""Agents on one database never send the same message, and a claim holds no
lock longer than its own short transaction."""

from __future__ import annotations

import threading
import time

import sqlalchemy as sa

from adaptsend._models import utcnow
from adaptsend.store import SQLStore, _rows
from adaptsend.store._schema import messages
from tests.helpers.store_builders import KEY, claim_ids, decision, enqueue, envelope
from tests.helpers.store_variants import OpenStore


def test_owners_claiming_at_once_get_disjoint_sets(store_url: str, make_store: OpenStore) -> None:
    stores = [make_store(store_url) for _ in range(4)]
    ids = enqueue(stores[0], 600)
    got: dict[str, list[int]] = {f"agent-{i}": [] for i in range(len(stores))}
    start = threading.Barrier(len(stores))

    def drain(owner: str, store: SQLStore) -> None:
        start.wait()
        while page := store.claim(owner=owner, sending_key=KEY, limit=13, lease_s=60):
            got[owner].extend(c.id for c in page)
            store.record([], [decision(c.id) for c in page], owner=owner)

    threads = [
        threading.Thread(target=drain, args=(owner, store))
        for owner, store in zip(got, stores, strict=True)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    claimed = [pk for pks in got.values() for pk in pks]
    assert len(claimed) == len(set(claimed))
    assert sorted(claimed) == ids


def test_agents_queueing_at_once_get_the_ids_of_their_own_messages(
    store_url: str, make_store: OpenStore
) -> None:
    stores = [make_store(store_url) for _ in range(3)]
    got: dict[int, list[int]] = {n: [] for n in range(len(stores))}
    start = threading.Barrier(len(stores))

    def numbers(n: int) -> list[int]:
        return [1000 * n + i for i in range(200)]

    def queue(n: int, store: SQLStore) -> None:
        start.wait()
        for batch in _rows.chunks(numbers(n), 40):
            got[n].extend(store.enqueue([envelope(i) for i in batch], sending_key=KEY))

    threads = [threading.Thread(target=queue, args=item) for item in enumerate(stores)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    for n, ids in got.items():
        expected = [envelope(i).message_id for i in numbers(n)]
        assert [s.message_id for s in stores[0].states(ids)] == expected


def test_a_claim_never_takes_rows_another_transaction_holds(
    store_url: str, make_store: OpenStore
) -> None:
    store = make_store(store_url)
    ids = enqueue(store, 10)
    held = ids[:4]
    holder = sa.create_engine(store_url)
    # SQLite's claim waits the whole hold; a server's must not wait at all,
    # and is given long enough that a loaded machine cannot look like a wait.
    hold_s = 1.0 if store.engine.dialect.name == "sqlite" else 10.0
    with holder.connect() as conn:
        # Another agent in the middle of its claim: these rows are locked (a
        # write lock on SQLite), not yet marked.
        conn.execute(sa.update(messages).where(messages.c.id.in_(held)).values(updated_at=utcnow()))
        result: list[int] = []
        started = time.monotonic()
        t = threading.Thread(target=lambda: result.extend(claim_ids(store, limit=100)))
        t.start()
        t.join(timeout=hold_s)
        waited = t.is_alive()
        conn.commit()
        t.join(timeout=30)
    holder.dispose()
    elapsed = time.monotonic() - started
    if store.engine.dialect.name == "sqlite":
        # One writer at a time: the claim waits for the other, then takes all.
        assert waited and result == ids and elapsed >= hold_s
    else:
        # Row locks: the claim skips the held rows at once instead of waiting.
        assert not waited and result == ids[4:] and elapsed < hold_s


def test_one_store_may_be_called_from_different_threads(
    store_url: str, make_store: OpenStore
) -> None:
    store = make_store(store_url)
    ids = enqueue(store, 3)
    seen: list[int] = []
    t = threading.Thread(target=lambda: seen.extend(claim_ids(store, limit=10)))
    t.start()
    t.join(timeout=30)
    assert seen == ids
