"""The message-rate budget of ``[limiter] max_per_minute``, shared by every
agent on the store that sends as one key (when they share the connection
cap too, see ``_limiters``).

The bucket is the one an agent keeps alone (``_rate``): refilled at
``max_per_minute / 60`` tokens a second, holding half a second's worth and
at least one token. It lives in the store (``message_rates``), refilled on
the database's clock, so all the agents together take no more tokens than
one agent alone would.

A store call per message would cost a round trip per message on a fast
server, so tokens come in *grants*: a take asks the store for at least
:data:`GRANT_S` of the rate (at least one token), and for the whole batch
when that is more. What the batch does not use stays in this agent's pool
for the next take, for :data:`POOL_LIFE_S` at most: tokens kept longer
would add to the burst the bucket allows. At Exchange Online's 30 a minute
a grant is one token, so every message asks the store; at 6,000 a minute,
ten tokens or a batch's worth.

A take that finds the bucket short waits, as long as the store says the
refill takes, and asks again; takes of one agent are served in turn.
"""

from __future__ import annotations

import math

import trio

from adaptsend.limits._rate import bucket_capacity
from adaptsend.limits._stoppable import StoppableWaits
from adaptsend.store._rate_api import RateStore
from adaptsend.store._thread import StoreThread

#: The least a grant brings, in seconds of the rate: at most this many store
#: calls a second per agent while the rate binds.
GRANT_S = 0.1
#: Seconds a grant's unused tokens stay with this agent.
POOL_LIFE_S = 0.25


class SharedRate:
    """``per_minute`` messages a minute for ``sending_key``, shared through the store.

    Waiters are served in turn, and :meth:`stop` ends every wait, also those to come.
    """

    def __init__(self, *, store: StoreThread, sending_key: str, per_minute: float) -> None:
        if not isinstance(store.store, RateStore):
            raise TypeError("The store does not keep shared message rates.")
        if not per_minute > 0:
            raise ValueError(f"per_minute must be greater than 0, not {per_minute}")
        self._thread = store
        self._store: RateStore = store.store
        self._key = sending_key
        self.per_minute = per_minute
        per_grant = per_minute / 60 * GRANT_S
        self._least = max(1, min(int(bucket_capacity(per_minute)), int(per_grant)))
        self._pool = 0
        self._pool_at = -math.inf
        self._turn = trio.Lock()
        self._waits = StoppableWaits()
        #: Store calls made, for tests and statistics.
        self.grants_asked = 0

    async def take(self, most: int) -> int:
        """Take up to ``most`` tokens (at least one) and return how many were
        taken, waiting until the store has some. Returns 0, taking none, once
        :meth:`stop` has been called, also when it is called during the wait."""
        if most < 1:
            raise ValueError(f"most must be at least 1, not {most}")
        if self._waits.stopped:
            return 0
        with self._waits.waiting():
            async with self._turn:
                return self._from_pool(most) or await self._from_store(most)
        return 0

    def stop(self) -> None:
        """End every wait for a token; later calls of :meth:`take` return 0."""
        self._waits.stop()

    def _from_pool(self, most: int) -> int:
        if trio.current_time() - self._pool_at > POOL_LIFE_S:
            self._pool = 0
        taken = min(most, self._pool)
        self._pool -= taken
        return taken

    async def _from_store(self, most: int) -> int:
        while True:
            self.grants_asked += 1
            grant = await self._thread.call(
                self._store.take_tokens,
                sending_key=self._key,
                per_minute=self.per_minute,
                least=self._least,
                most=max(most, self._least),
            )
            if grant.granted:
                taken = min(most, grant.granted)
                self._pool, self._pool_at = grant.granted - taken, trio.current_time()
                return taken
            await trio.sleep(grant.wait_s)
