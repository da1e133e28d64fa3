"""Calls into a blocking store from trio, one at a time, in a worker thread."""

from __future__ import annotations

from collections.abc import Callable
from typing import ParamSpec, TypeVar

import trio

from adaptsend._store_api import Store

P = ParamSpec("P")
T = TypeVar("T")


class StoreThread:
    """Serialises calls to ``store``: a store is used from one thread at a time."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._limiter = trio.CapacityLimiter(1)

    async def call(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run ``fn(*args, **kwargs)`` in a thread. Not abandoned on cancel: a
        half-done transaction is never left behind by the caller."""
        return await trio.to_thread.run_sync(lambda: fn(*args, **kwargs), limiter=self._limiter)
