"""A message-rate budget per sending key (``[limiter] max_per_minute``): a
token bucket, local to this agent.

The bucket is refilled continuously at ``max_per_minute / 60`` tokens a
second, and every message takes one token before its send starts. It holds
at most :data:`BURST_SECONDS` worth of tokens, and never less than one.

Why so small a burst: a provider that counts messages per minute (Exchange
Online allows 30 a mailbox) may still refuse a minute's worth sent at once
as too fast, and a bucket lets through, in any minute, its capacity beyond
the rate (less one). Half a second's worth is one token at Exchange's 30 a
minute, so its messages go out one every two seconds and never more than 30
in a minute; at high rates it is still enough for a fast server's batch
(see ``engine._worker``) to go out in one pipelined write.

This bucket is one agent's own. Agents that share one connection cap
through the store (``[limiter] shared``) share the figure too: the bucket
then lives in the store, with the same rate and capacity, and each agent
takes its tokens from there in small grants (see ``_shared_rate``). An
agent whose cap is its own keeps this bucket, and agents sending as one
mailbox that way must each be given a share of the figure.
"""

from __future__ import annotations

import attrs
import trio

from adaptsend.limits._stoppable import StoppableWaits

#: How many seconds of the rate the bucket holds, at least one token.
BURST_SECONDS = 0.5

#: Tokens refilled over a sleep that ended exactly on time may fall short of
#: a whole one by a rounding error; that is not worth another wake-up.
_ROUNDING = 1e-9


def bucket_capacity(per_minute: float) -> float:
    """How many tokens a bucket of ``per_minute`` holds: :data:`BURST_SECONDS`
    of the rate, and never less than one."""
    return max(1.0, per_minute / 60 * BURST_SECONDS)


@attrs.frozen(kw_only=True)
class RateStatistics:
    per_minute: float
    capacity: float
    #: Tokens there are now (refilled up to now).
    tokens: float
    #: Sends waiting for a token, the one first in line included.
    waiting: int


class RateBudget:
    """A token bucket of ``per_minute`` messages a minute, full at first.

    Waiters are served in turn (first come, first served), and :meth:`stop`
    ends every wait, also those to come.
    """

    def __init__(self, per_minute: float) -> None:
        if not per_minute > 0:
            raise ValueError(f"per_minute must be greater than 0, not {per_minute}")
        self.per_minute = per_minute
        self.per_second = per_minute / 60
        self.capacity = bucket_capacity(per_minute)
        self._tokens = self.capacity
        # When the tokens were last refilled; None until first used, so that
        # a bucket can be made outside trio and start full.
        self._refilled_at: float | None = None
        self._turn = trio.Lock()
        self._waits = StoppableWaits()

    async def take(self, most: int) -> int:
        """Take up to ``most`` tokens (at least one) and return how many were
        taken: as many as there are, waiting only for the first when there is
        none. Returns 0, taking none, once :meth:`stop` has been called, also
        when it is called during the wait."""
        if most < 1:
            raise ValueError(f"most must be at least 1, not {most}")
        if self._waits.stopped:
            return 0
        with self._waits.waiting():
            async with self._turn:
                await self._wait_for_one()
                taken = min(most, int(self._tokens + _ROUNDING))
                self._tokens -= taken
                return taken
        return 0

    def stop(self) -> None:
        """End every wait for a token; later calls of :meth:`take` return 0."""
        self._waits.stop()

    def change(self, per_minute: float, *, tokens: float) -> None:
        """Refill at ``per_minute`` from now on, holding ``tokens`` (at most
        the new capacity). Fewer than none is a debt: no token is handed out
        until it is paid at the new rate. A wait under way sees the change
        when it next wakes."""
        if not per_minute > 0:
            raise ValueError(f"per_minute must be greater than 0, not {per_minute}")
        self._refill()
        self.per_minute = per_minute
        self.per_second = per_minute / 60
        self.capacity = bucket_capacity(per_minute)
        self._tokens = min(self.capacity, tokens)

    def statistics(self) -> RateStatistics:
        self._refill()
        return RateStatistics(
            per_minute=self.per_minute,
            capacity=self.capacity,
            tokens=self._tokens,
            waiting=len(self._waits),
        )

    async def _wait_for_one(self) -> None:
        self._refill()
        while self._tokens + _ROUNDING < 1:
            await trio.sleep((1 - self._tokens) / self.per_second)
            self._refill()

    def _refill(self) -> None:
        now = trio.current_time()
        if self._refilled_at is not None:
            earned = (now - self._refilled_at) * self.per_second
            self._tokens = min(self.capacity, self._tokens + earned)
        self._refilled_at = now


def make_rate_budget(per_minute: float | None) -> RateBudget | None:
    """The budget ``[limiter] max_per_minute`` asks for; None when it is unset."""
    return None if per_minute is None else RateBudget(per_minute)
