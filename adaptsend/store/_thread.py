"""Calls into a blocking store from trio, in worker threads: one at a time,
and renewals of leases in a lane of their own."""

from __future__ import annotations

from collections.abc import Callable
from typing import ParamSpec, TypeVar

import trio

from adaptsend.store._api import Store

P = ParamSpec("P")
T = TypeVar("T")


class StoreThread:
    """Serialises calls to ``store``, and keeps renewals out of their queue.

    A store is used from one thread at a time (:meth:`call`), except that one
    renewal of leases may run beside (:meth:`call_beside`): a claim or record
    that takes long must not let this agent's leases run out meanwhile.
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        self._limiter = trio.CapacityLimiter(1)
        self._beside = trio.CapacityLimiter(1)

    async def call(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run ``fn(*args, **kwargs)`` in a thread. Not abandoned on cancel: a
        half-done transaction is never left behind by the caller."""
        return await trio.to_thread.run_sync(lambda: fn(*args, **kwargs), limiter=self._limiter)

    async def call_beside(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Like :meth:`call`, but in the renewals' own lane: it waits only for
        another renewal, never for a call in the main one. Only for the store
        methods its protocol says may run beside another call (``renew``,
        ``renew_slots``)."""
        return await trio.to_thread.run_sync(lambda: fn(*args, **kwargs), limiter=self._beside)
