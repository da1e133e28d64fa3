"""The heartbeat that keeps a run's leases alive.

A claim leases messages for ``[run] lease_s``. A live run renews every lease it
holds (messages buffered or being sent) every third of that, so no other agent
takes them over while the run lives, and after a crash they come free within
``lease_s``. Renewals go through the store's side lane, so that a slow claim or
record never makes them late.
"""

from __future__ import annotations

import logging

import trio

from adaptsend.store._thread import StoreThread

log = logging.getLogger("adaptsend.run")


async def keep_leases(store: StoreThread, owner: str, lease_s: float) -> None:
    """Renew ``owner``'s leases every ``lease_s / 3`` until cancelled."""
    while True:
        await trio.sleep(lease_s / 3)
        try:
            await store.call_beside(store.store.renew, owner=owner, lease_s=lease_s)
        except Exception as exc:
            # The next beat tries again; claims and records fail loudly if the
            # store is really gone.
            log.warning("could not renew this run's leases: %s", exc)
