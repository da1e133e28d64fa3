"""Renewing leases beside other store calls: a slow claim or record never
holds a renewal up, and a renewal never waits for rows being decided."""

from __future__ import annotations

import threading

import sqlalchemy as sa
import trio

from adaptsend.store import SQLStore
from adaptsend.store._schema import messages
from adaptsend.store._thread import StoreThread
from tests.helpers.store_builders import (
    LONG_AGO,
    claim_ids,
    db_now,
    enqueue,
    expire_leases,
    later,
    message_row,
)
from tests.helpers.store_variants import OpenStore, on_servers


async def test_a_renewal_runs_while_a_slow_call_holds_the_main_lane(store: SQLStore) -> None:
    [pk] = enqueue(store, 1)
    claim_ids(store, owner="a", lease_s=10)
    expire_leases(store, "a")
    thread = StoreThread(store)
    release = threading.Event()
    async with trio.open_nursery() as nursery:
        # A record that takes long (a slow database): it holds the main lane.
        nursery.start_soon(thread.call, release.wait, 30)
        await trio.lowlevel.checkpoint()
        try:
            # Done while the slow call still waits (for up to 30 s).
            with trio.fail_after(5):
                renewed = await thread.call_beside(store.renew, owner="a", lease_s=60)
        finally:
            release.set()
    assert renewed == 1
    assert message_row(store, pk).lease_expires_at > db_now(store)


@on_servers
def test_a_renewal_skips_rows_another_transaction_is_deciding(
    store_url: str, make_store: OpenStore
) -> None:
    store = make_store(store_url)
    deciding, waiting = enqueue(store, 2)
    claim_ids(store, owner="a", lease_s=10)
    expire_leases(store, "a")
    other = sa.create_engine(store_url)
    try:
        with other.connect() as conn:
            # The owner's record beside the renewal, between its UPDATE and commit.
            row = messages.c.id == deciding
            conn.execute(sa.update(messages).where(row).values(updated_at=later(0)))
            renewed: list[int] = []
            t = threading.Thread(target=lambda: renewed.append(store.renew(owner="a", lease_s=60)))
            t.start()
            t.join(timeout=10)
            waited = t.is_alive()
            conn.rollback()
            t.join(timeout=30)
    finally:
        other.dispose()
    assert not waited and renewed == [1]
    assert message_row(store, deciding).lease_expires_at == LONG_AGO
    assert message_row(store, waiting).lease_expires_at > db_now(store)
