"""The AIMD policy over a budget in memory: a limit on the concurrent
connections of one sending key, learned by this agent alone.

The rules are ``adaptsend.limits._policy``'s; this module counts what they
decide from (the connections open, those that have delivered, the successes
at a binding cap) and hands out the slots, with a ``trio.CapacityLimiter``
whose total is the cap.

Only :meth:`AIMDLimiter.slot` waits; everything else is synchronous and must be
called from inside a trio run (it reads ``trio.current_time()``).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable

import attrs
import trio

from adaptsend.config._settings import LimiterConfig
from adaptsend.limits._listeners import Listeners
from adaptsend.limits._policy import (
    Budget,
    binding,
    change_between,
    cut,
    delivered,
    grow,
    hold_probes,
    narrow,
    new_budget,
    on_trial_at,
    opening_level,
    probe_after_windows,
    window_size,
)
from adaptsend.limits._records import CapChange, DecisionCounts, LimiterStatistics


@attrs.define(eq=False)
class Slot:
    """The right to hold one connection, handed out by :meth:`AIMDLimiter.slot`.

    Identity matters (it is the limiter's token borrower), so slots never
    compare equal to each other.
    """

    #: The epoch in which this slot's connection opened; until then, the epoch
    #: in which the slot was taken (a refusal while connecting is judged by it).
    epoch: int
    #: Whether the slot's connection is counted as open.
    connected: bool = False
    #: Whether the open connection has delivered at least once.
    delivered: bool = False
    #: The open connections, this one included, when this connection opened:
    #: the level it is on trial for until it delivers. Before the run's first
    #: delivery, the cap if that is more: the most it can be.
    level: int | None = None
    #: The epoch of this connection's latest delivery.
    delivered_epoch: int = -1


class AIMDLimiter:
    """Limits the connections of one sending key, learning the provider's cap.

    A worker holds a :meth:`slot` for as long as it may hold a connection,
    reports ``connection_opened``/``connection_closed`` around the actual
    connection, and reports each delivery with ``record_success`` or
    ``record_throttle``. When :meth:`over_cap` is true after a cut, the worker
    should close its connection and give its slot back; it should also check
    before connecting on a slot it has held for a while (a cut may have come
    meanwhile).

    ``on_change`` (and whatever :meth:`watch` adds) is called synchronously
    with each decision, after the limiter's state has changed; an exception
    from it reaches the caller of ``record_success`` or ``record_throttle``.
    """

    def __init__(
        self, settings: LimiterConfig, *, on_change: Callable[[CapChange], None] | None = None
    ) -> None:
        self._settings = settings
        self._on_change = Listeners(on_change)
        self._budget = new_budget(settings, in_memory=True)
        self._tokens = trio.CapacityLimiter(settings.initial_cap)
        self._open = 0
        self._proven = 0
        # Successes at a binding cap since the last counted throttle: probes
        # are also counted from it.
        self._successes_since_cut = 0
        # Successes seen while the cap was binding, since the last decision.
        self._window = 0
        self._counts = DecisionCounts()

    def watch(
        self,
        *,
        on_change: Callable[[CapChange], None] | None = None,
        on_decision: Callable[[CapChange], None] | None = None,
    ) -> None:
        """Tell ``on_change``, then ``on_decision``, of every later change:
        this agent decides them all."""
        self._on_change.add(on_change)
        self._on_change.add(on_decision)

    @property
    def cap(self) -> int:
        """How many slots may be held at once."""
        return self._budget.cap

    @property
    def open_connections(self) -> int:
        """How many slots have a connection open now."""
        return self._open

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[Slot]:
        """Wait until fewer slots than the cap are in use, then hold one.

        Cancelling a task that is still waiting takes no slot. Leaving the block
        gives the slot back and, if its connection was never reported closed,
        stops counting that connection as open.
        """
        slot = Slot(epoch=self._budget.epoch)
        await self._tokens.acquire_on_behalf_of(slot)
        try:
            slot.epoch = self._budget.epoch
            yield slot
        finally:
            self.connection_closed(slot)
            self._tokens.release_on_behalf_of(slot)

    def running(self) -> contextlib.nullcontext[None]:
        """Nothing runs beside a limiter of one agent's own."""
        return contextlib.nullcontext()

    def over_cap(self) -> bool:
        """True while more slots are held than the cap allows (after a cut)."""
        return self._tokens.borrowed_tokens > self._budget.cap

    def connection_opened(self, slot: Slot) -> None:
        """Count ``slot``'s new connection as open, in the current epoch."""
        if slot.connected:
            raise RuntimeError("This slot already has an open connection.")
        slot.connected = True
        slot.delivered = False
        slot.epoch = self._budget.epoch
        self._open += 1
        slot.level = opening_level(self._budget, open_=self._open)

    def connection_closed(self, slot: Slot) -> None:
        """Stop counting ``slot``'s connection; does nothing if none is open."""
        if slot.connected:
            slot.connected = False
            self._open -= 1
            if slot.delivered:
                slot.delivered = False
                self._proven -= 1

    def record_throttle(self, slot: Slot, *, pause_s: float = 0.0) -> CapChange | None:
        """Report that the provider refused ``slot``'s connection for load.

        Returns the decision, or None when the throttle was ignored because the
        connection dates from before the last cut (that over-shoot was already
        paid for). A slot without an open connection (refused while
        connecting) counts as one more open connection. ``pause_s``: the
        refusal paused the whole key that long (``Retry-After``), so the next
        probe, which may cost as much again, waits
        :data:`~adaptsend.limits._policy.PAUSED_PROBE_GAP` times it.
        """
        if pause_s > 0:
            self._budget = hold_probes(self._budget, pause_s=pause_s, now=trio.current_time())
        budget = self._budget
        level = None if slot.delivered else on_trial_at(budget, slot.level)
        # A request slot (pause_s) is refused per request, whichever is the
        # one too many: one that delivered since the last cut is no leftover
        # of that over-shoot, however long ago it opened.
        current = slot.epoch == budget.epoch or (
            pause_s > 0 and slot.delivered_epoch == budget.epoch
        )
        if not current:
            self._counts.ignored_throttles += 1
            self._budget = narrow(budget, trial_level=level) or budget
            return None
        self._counts.throttles += 1
        observed = self._open + (0 if slot.connected else 1)
        self._successes_since_cut = 0
        return self._decided(
            cut(
                budget,
                observed=observed,
                trial_level=level,
                settings=self._settings,
                now=trio.current_time(),
            )
        )

    def record_success(self, slot: Slot) -> CapChange | None:
        """Report a delivery on ``slot``'s connection; returns a growth decision, if any."""
        self._counts.successes += 1
        slot.delivered_epoch = self._budget.epoch
        if slot.connected and not slot.delivered:
            slot.delivered = True
            self._proven += 1
            self._budget = delivered(self._budget, proven=self._proven)
        budget = self._budget
        if not binding(budget, open_=self._open, proven=self._proven):
            return None
        self._successes_since_cut += 1
        self._window += 1
        if self._window < window_size(budget):
            return None
        grown = grow(
            budget,
            settings=self._settings,
            now=trio.current_time(),
            successes_since_cut=self._successes_since_cut,
        )
        return None if grown is None else self._decided(grown)

    def _decided(self, new: Budget) -> CapChange:
        old, self._budget = self._budget, new
        change = change_between(old, new, at=trio.current_time(), max_cap=self._settings.max_cap)
        assert change is not None, "every decision of the policy gives its reason"
        # Raising total_tokens wakes waiting tasks; lowering it lets holders
        # finish and keeps newcomers out until enough slots are given back.
        self._tokens.total_tokens = new.cap
        self._window = 0
        self._counts.changed(change)
        self._on_change(change)
        return change

    def statistics(self) -> LimiterStatistics:
        """A snapshot of the limiter's state and counters."""
        budget = self._budget
        return LimiterStatistics(
            cap=budget.cap,
            min_cap=self._settings.min_cap,
            max_cap=self._settings.max_cap,
            slots_in_use=self._tokens.borrowed_tokens,
            open_connections=self._open,
            proven_connections=self._proven,
            tasks_waiting=self._tokens.statistics().tasks_waiting,
            ceiling=budget.ceiling,
            probe_interval_s=budget.probe_interval_s,
            probe_after_windows=probe_after_windows(budget, self._settings),
            epoch=budget.epoch,
            throttles=self._counts.throttles,
            ignored_throttles=self._counts.ignored_throttles,
            successes=self._counts.successes,
            changes=self._counts.changes,
            last_change=self._counts.last_change,
        )
