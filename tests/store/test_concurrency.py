"""Two agents on one database never send the same message."""

from __future__ import annotations

import threading

from adaptsend._models import utcnow
from adaptsend.store import open_store

from .helpers import KEY, decision, enqueue


def test_two_owners_claiming_at_once_get_disjoint_sets(store_url: str) -> None:
    stores = [open_store(store_url), open_store(store_url)]
    ids = enqueue(stores[0], 600)
    got: dict[str, list[int]] = {"a": [], "b": []}
    start = threading.Barrier(2)

    def drain(owner: str, index: int) -> None:
        store = stores[index]
        start.wait()
        while page := store.claim(owner=owner, sending_key=KEY, limit=13, lease_s=60, now=utcnow()):
            got[owner].extend(c.id for c in page)
            store.record([], [decision(c.id) for c in page], owner=owner)

    threads = [threading.Thread(target=drain, args=(o, i)) for i, o in enumerate(got)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    for s in stores:
        s.close()
    assert not set(got["a"]) & set(got["b"])
    assert sorted(got["a"] + got["b"]) == ids


def test_one_store_may_be_called_from_different_threads(store_url: str) -> None:
    store = open_store(store_url)
    ids = enqueue(store, 3)
    seen: list[int] = []
    t = threading.Thread(
        target=lambda: seen.extend(
            c.id
            for c in store.claim(owner="a", sending_key=KEY, limit=10, lease_s=60, now=utcnow())
        )
    )
    t.start()
    t.join(timeout=30)
    store.close()
    assert seen == ids
