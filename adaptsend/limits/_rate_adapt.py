"""An adaptive message rate per sending key, learnt from "too fast" replies
(outcome ``rate``), local to this agent.

The connection cap's AIMD policy, applied to messages per second:

* Unlimited at first, or ``[limiter] max_per_minute`` when that is set: that
  figure is also the top the rate never grows past. When the agents on the
  store share that figure (``_shared_rate``), every send takes its tokens
  from the shared bucket as well, and this agent's own rate starts
  unlimited: the shared bucket is the top, and a cut slows this agent only.
* Multiplicative decrease, once per over-shoot. A ``rate`` reply cuts the rate
  to the rate actually *delivered* over the last :data:`MEASURE_S` seconds
  times ``[limiter] decrease_factor``. The delivered rate, not the rate
  allowed: while the rate is unlimited the allowed one means nothing, and
  the provider counts what it accepted. Each cut starts an *epoch*; only a
  send that started in the current epoch, and only after a send of that epoch
  was delivered, can cut again. The sends already under way at a cut, and the
  refusals the provider goes on giving until its unit of time is over, are
  the same over-shoot.
* A debt at the cut. The deliveries of the last second are charged to the new
  rate, so the next send waits until the new rate would have allowed them:
  providers count messages over a second or longer, and one sent at once
  after a cut would land in the window that was just exceeded.
* Ceiling memory. The delivered rate at a cut is the *ceiling*, a rate known
  to fail. Below :data:`NEAR` of it the rate grows by :data:`FAST_STEP` of the
  ceiling each :data:`GROW_S` seconds of sending; from there on by
  :data:`SLOW_STEP`, so that going past the ceiling again (a probe, which
  costs a refusal or two and a cut) is rare, yet a provider that raised its
  limit is found. Steps are fractions of the ceiling, so one setting suits
  SES's 14 a second and Exchange's 30 a minute.
* Growth only when the rate binds: a rate no send had to wait for proves
  nothing, and growing it would only allow a burst later.

Everything but :meth:`MessageRate.take` is synchronous and must be called
from inside a trio run (it reads ``trio.current_time()``).
"""

from __future__ import annotations

import collections
import math
from collections.abc import Callable

import attrs
import trio

from adaptsend.limits._listeners import Listeners
from adaptsend.limits._rate import RateBudget
from adaptsend.limits._shared_rate import SharedRate

#: Seconds of deliveries the achieved rate is measured over, and the shortest
#: span it is divided by (a run younger than that has not shown a rate).
MEASURE_S = 2.0
_SHORTEST_SPAN_S = 1.0
#: Deliveries are counted in bins of this many seconds.
_BIN_S = 0.1
#: How often the rate may grow, in seconds of sending.
GROW_S = 1.0
#: Growth per step, as a share of the ceiling: below NEAR of it, and from there.
FAST_STEP = 0.2
SLOW_STEP = 0.01
NEAR = 0.9
#: The lowest rate a cut leaves: one message a minute.
MIN_PER_MINUTE = 1.0


@attrs.frozen(kw_only=True)
class RateChange:
    """One change of the message rate; ``None`` is unlimited."""

    old_per_minute: float | None
    new_per_minute: float
    #: "cut" on a ``rate`` reply, "grow" after seconds of sending.
    reason: str
    #: The delivered rate that failed, once a cut has happened.
    ceiling_per_minute: float | None
    epoch: int

    def describe(self) -> str:
        old = "unlimited" if self.old_per_minute is None else f"{self.old_per_minute:.1f}"
        ceiling = (
            "" if self.ceiling_per_minute is None else f" (ceiling {self.ceiling_per_minute:.1f})"
        )
        return f"message rate {old} -> {self.new_per_minute:.1f}/min: {self.reason}{ceiling}"


@attrs.frozen(kw_only=True)
class MessageRateStatistics:
    #: Messages a minute allowed now; None while unlimited.
    per_minute: float | None
    ceiling_per_minute: float | None
    #: Messages a minute delivered over the last few seconds.
    delivered_per_minute: float
    epoch: int
    cuts: int


class MessageRate:
    """The adaptive rate of one sending key. Workers :meth:`take` tokens
    before each send, note :attr:`epoch` then, and report each delivery with
    :meth:`record_delivery` and each "too fast" reply with :meth:`record_rate`.

    ``on_change`` (and whatever :meth:`watch` adds) is called synchronously
    with each change, after the state has changed.
    """

    def __init__(
        self,
        *,
        top_per_minute: float | None = None,
        decrease_factor: float = 0.5,
        on_change: Callable[[RateChange], None] | None = None,
        shared: SharedRate | None = None,
    ) -> None:
        if not 0 < decrease_factor < 1:
            raise ValueError(f"decrease_factor must be between 0 and 1, not {decrease_factor}")
        self.top_per_minute = top_per_minute
        self._factor = decrease_factor
        self._on_change = Listeners(on_change)
        self._shared = shared
        own_top = None if shared is not None else top_per_minute
        self._bucket = None if own_top is None else RateBudget(own_top)
        self._ceiling: float | None = None
        self.epoch = 0
        self._cuts = 0
        # Whether a send of the current epoch has been delivered.
        self._delivered_in_epoch = False
        # Whether a send waited for a token since the rate last grew.
        self._bound = False
        self._grown_at: float | None = None
        self._first_at: float | None = None
        self._bins: collections.deque[list[float]] = collections.deque()
        self._stopped = False

    def watch(self, on_change: Callable[[RateChange], None]) -> None:
        """Tell ``on_change`` of every later change too."""
        self._on_change.add(on_change)

    @property
    def per_minute(self) -> float | None:
        """Messages a minute allowed now; None while unlimited."""
        if self._bucket is not None:
            return self._bucket.per_minute
        return None if self._shared is None else self._shared.per_minute

    async def take(self, most: int) -> int:
        """Take up to ``most`` tokens (at least one), as :meth:`RateBudget.take`
        does; all of them at once while the rate is unlimited. Returns 0 once
        :meth:`stop` has been called."""
        if self._stopped:
            return 0
        now = trio.current_time()
        if self._first_at is None:
            self._first_at = now
        bucket = self._bucket
        taken = most
        if bucket is not None:
            taken = await bucket.take(most)
            if trio.current_time() > now:
                self._bound = True
        if self._shared is not None and taken:
            taken = await self._shared.take(taken)
        return taken

    def stop(self) -> None:
        """End every wait for a token; later calls of :meth:`take` return 0."""
        self._stopped = True
        if self._bucket is not None:
            self._bucket.stop()
        if self._shared is not None:
            self._shared.stop()

    def record_delivery(self, epoch: int) -> RateChange | None:
        """A send that started in ``epoch`` was delivered; the rate may grow."""
        now = trio.current_time()
        self._count(now)
        if epoch == self.epoch:
            self._delivered_in_epoch = True
        return self._maybe_grow(now)

    def record_rate(self, epoch: int) -> RateChange | None:
        """A send that started in ``epoch`` was refused as too fast: cut the
        rate, unless this refusal belongs to an over-shoot already cut for."""
        if epoch != self.epoch or (self._cuts and not self._delivered_in_epoch):
            return None
        now = trio.current_time()
        delivered = self._delivered_per_second(now)
        old = self.per_minute
        basis = delivered * 60
        if old is not None and (basis <= 0 or basis > old):
            # Nothing delivered lately, or a burst above the rate: the rate
            # allowed is the better measure of what failed.
            basis = old
        new = max(MIN_PER_MINUTE, basis * self._factor)
        if basis > 0:
            self._ceiling = basis
        # The last second's deliveries are charged to the new rate.
        debt = self._delivered_since(now - 1.0) - new / 60
        if self._bucket is None:
            self._bucket = RateBudget(new)
            if self._stopped:
                self._bucket.stop()
        self._bucket.change(new, tokens=-max(0.0, debt))
        self.epoch += 1
        self._cuts += 1
        self._delivered_in_epoch = False
        self._bound = False
        self._grown_at = now
        return self._change(old, new, "cut")

    def statistics(self) -> MessageRateStatistics:
        return MessageRateStatistics(
            per_minute=self.per_minute,
            ceiling_per_minute=self._ceiling,
            delivered_per_minute=self._delivered_per_second(trio.current_time()) * 60,
            epoch=self.epoch,
            cuts=self._cuts,
        )

    def _maybe_grow(self, now: float) -> RateChange | None:
        bucket = self._bucket
        if bucket is None or self._grown_at is None or now - self._grown_at < GROW_S:
            return None
        if not self._bound:
            # Not binding: wait for a send that has to wait.
            self._grown_at = now
            return None
        old = bucket.per_minute
        top = math.inf if self.top_per_minute is None else self.top_per_minute
        ceiling = self._ceiling if self._ceiling is not None else top
        step = FAST_STEP if old < NEAR * ceiling else SLOW_STEP
        new = min(top, old + step * ceiling)
        self._grown_at = now
        self._bound = False
        if new <= old:
            return None
        bucket.change(new, tokens=bucket.statistics().tokens)
        return self._change(old, new, "grow")

    def _change(self, old: float | None, new: float, reason: str) -> RateChange:
        change = RateChange(
            old_per_minute=old,
            new_per_minute=new,
            reason=reason,
            ceiling_per_minute=self._ceiling,
            epoch=self.epoch,
        )
        self._on_change(change)
        return change

    # -- deliveries over the last seconds ------------------------------------

    def _count(self, now: float) -> None:
        start = math.floor(now / _BIN_S) * _BIN_S
        if self._bins and self._bins[-1][0] == start:
            self._bins[-1][1] += 1
        else:
            self._bins.append([start, 1.0])
        self._forget(now)

    def _forget(self, now: float) -> None:
        while self._bins and self._bins[0][0] < now - MEASURE_S - _BIN_S:
            self._bins.popleft()

    def _delivered_since(self, since: float) -> float:
        return sum(count for start, count in self._bins if start + _BIN_S > since)

    def _delivered_per_second(self, now: float) -> float:
        self._forget(now)
        first = self._first_at if self._first_at is not None else now
        span = max(_SHORTEST_SPAN_S, min(MEASURE_S, now - first))
        return self._delivered_since(now - span) / span
