"""An AIMD limit on the concurrent SMTP connections of one sending key.

Providers cap the connections an account may hold open at once, do not say
what the cap is, share it with every other program on the account and change
it without notice. The excess connection is refused, often only at the end of
DATA. This limiter learns the cap from those refusals:

* Multiplicative decrease, once per window. A throttle cuts the cap only when
  the throttled connection was opened after the previous cut: several
  connections opened by one over-shoot are all refused, but that is one
  signal, not several. Each cut starts a new *epoch*.
* Ceiling memory. The number of connections open at a throttle is an upper
  bound (the *ceiling*) that failed. The cap grows freely to ``ceiling - 1``;
  reaching the ceiling again is a *probe*. A probe is due after a number of
  windows of successes at a binding cap since the last cut, or after a quiet
  interval in seconds, whichever comes first. Windows are message times, so
  one setting suits a relay that answers in milliseconds and a provider that
  takes a second; the seconds keep a slow run probing. Both double each time
  a probe fails, so a steady limit costs one refusal each time the run doubles
  in length instead of a saw-tooth.
* Falls. A ceiling at or below a level that held in this run (as many
  connections delivered at once) means the limit fell, usually because
  another program took some of the account's connections for a while. Such a
  ceiling is probed after half the windows, and a failed probe does not
  double them; each failed probe uses up one level of the fall, so a fall
  that lasts costs a few refusals more and then backs off like any other.
* Additive increase, one connection at a time. While the cap is binding and
  no level above it is known to fail, one more success grows it by one. The
  cap is binding when at least ``cap`` connections are open and each has
  delivered since it opened, but for the connections allowed *on trial*: a
  cap that nobody is using proves nothing (growing it would only allow a
  burst later), and a connection that has not delivered yet may be the one
  about to be refused, so it is no evidence either. While no ceiling is known
  two connections may be on trial, so the search adds a connection about
  every half message time and finding the limit costs up to two refused
  connections; below a known ceiling one may, each added connection
  delivering before the next is added. Growing to the ceiling or beyond it
  takes a whole window of successes (as many as the cap).
* Trial levels. A connection refused before its first delivery was on trial
  at the level it opened at: the connections open then, itself included (for
  those a run opens together before its first delivery, the cap if that is
  more: the most that level can be). When a connection on trial opened after it, that
  level, not the number open, is the ceiling; when that other one is refused
  first, this one's refusal lowers the ceiling to its level without another
  cut.

Only :meth:`AIMDLimiter.slot` waits; everything else is synchronous and must be
called from inside a trio run (it reads ``trio.current_time()``).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import AsyncIterator, Callable

import attrs
import trio

from adaptsend._limiter_records import (
    CapChange,
    ChangeReason,
    DecisionCounts,
    LimiterStatistics,
)

#: Connections on trial at once while no ceiling is known. Two halve the time
#: the search takes; the over-shoot that ends it then has two connections above
#: the limit instead of one (see "Trial levels" above for the ceiling it sets).
SEARCH_TRIALS = 2

#: After a fall, probes come this many times sooner (in windows): a limit that
#: was higher a moment ago is likelier to rise again than one never seen higher.
FALL_PROBE_SPEEDUP = 2

#: A refusal that pauses the whole key (an HTTP ``Retry-After``) costs every
#: connection that long, and so may a failed probe: the next probe waits this
#: many times the pause, which keeps probing under about 5% of the time.
PAUSED_PROBE_GAP = 20


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

    ``on_change`` is called synchronously with each decision, after the
    limiter's state has changed; an exception from it reaches the caller of
    ``record_success`` or ``record_throttle``.
    """

    def __init__(
        self,
        *,
        initial_cap: int,
        min_cap: int,
        max_cap: int,
        decrease_factor: float = 0.5,
        probe_interval_s: float = 30.0,
        max_probe_interval_s: float = 600.0,
        probe_after_windows: int = 32,
        on_change: Callable[[CapChange], None] | None = None,
    ) -> None:
        _check_settings(
            initial_cap=initial_cap,
            min_cap=min_cap,
            max_cap=max_cap,
            decrease_factor=decrease_factor,
            probe_interval_s=probe_interval_s,
            max_probe_interval_s=max_probe_interval_s,
            probe_after_windows=probe_after_windows,
        )
        self._min_cap = min_cap
        self._max_cap = max_cap
        self._decrease_factor = decrease_factor
        self._base_probe_interval = probe_interval_s
        self._max_probe_interval = max_probe_interval_s
        self._on_change = on_change
        self._tokens = trio.CapacityLimiter(initial_cap)
        self._cap = initial_cap
        self._open = 0
        self._proven = 0
        self._epoch = 0
        self._ceiling: int | None = None
        self._probe_interval = probe_interval_s
        # Time of the last counted throttle; probes are timed from it.
        self._last_cut_at = -math.inf
        self._base_probe_windows = probe_after_windows
        self._probe_windows = probe_after_windows
        # Successes at a binding cap since the last counted throttle; probes
        # are also counted from it.
        self._successes_since_cut = 0
        # The most connections that have delivered at once in this run.
        self._most_proven = 0
        # Successes seen while the cap was binding, since the last decision.
        self._window = 0
        # No probe before this time: the last refusal paused the whole key.
        self._probe_not_before = -math.inf
        self._counts = DecisionCounts()

    @property
    def cap(self) -> int:
        """How many slots may be held at once."""
        return self._cap

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
        slot = Slot(epoch=self._epoch)
        await self._tokens.acquire_on_behalf_of(slot)
        try:
            slot.epoch = self._epoch
            yield slot
        finally:
            self.connection_closed(slot)
            self._tokens.release_on_behalf_of(slot)

    def over_cap(self) -> bool:
        """True while more slots are held than the cap allows (after a cut)."""
        return self._tokens.borrowed_tokens > self._cap

    def connection_opened(self, slot: Slot) -> None:
        """Count ``slot``'s new connection as open, in the current epoch."""
        if slot.connected:
            raise RuntimeError("This slot already has an open connection.")
        slot.connected = True
        slot.delivered = False
        slot.epoch = self._epoch
        self._open += 1
        # The connections a run opens before its first delivery open
        # together, and the server may have taken them in another order:
        # each may be the last of them.
        slot.level = self._open if self._most_proven else max(self._open, self._cap)

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
        probe, which may cost as much again, waits :data:`PAUSED_PROBE_GAP` times it.
        """
        if pause_s > 0:
            gap = PAUSED_PROBE_GAP * pause_s
            self._probe_not_before = max(self._probe_not_before, trio.current_time() + gap)
        # A request slot (pause_s) is refused per request, whichever is the
        # one too many: one that delivered since the last cut is no leftover
        # of that over-shoot, however long ago it opened.
        current = slot.epoch == self._epoch or (pause_s > 0 and slot.delivered_epoch == self._epoch)
        if not current:
            self._counts.ignored_throttles += 1
            self._narrow_ceiling(slot)
            return None
        self._counts.throttles += 1
        observed = self._open + (0 if slot.connected else 1)
        target, reason = self._throttle_target(self._failed_level(slot, observed))
        # A throttle never raises the cap, whatever the arithmetic says.
        new_cap = max(self._min_cap, min(self._cap, target))
        self._epoch += 1
        self._last_cut_at = trio.current_time()
        self._successes_since_cut = 0
        return self._change(new_cap, reason, observed=observed)

    def _on_trial_at(self, slot: Slot) -> int | None:
        """The level ``slot``'s connection is on trial for, if it is on trial
        at a level never held in this run; None otherwise."""
        if slot.delivered or slot.level is None or slot.level <= self._most_proven:
            return None
        return slot.level

    def _failed_level(self, slot: Slot, observed: int) -> int:
        """How many connections a counted throttle shows to be too many."""
        level = self._on_trial_at(slot)
        if level is not None and _just_below(level, observed):
            # The other connection on trial opened after this one: this
            # one's level failed, the one above is not known yet.
            return level
        return observed

    def _narrow_ceiling(self, slot: Slot) -> None:
        """A connection of an over-shoot already paid for was refused on trial
        at a level below the ceiling that over-shoot set: that level fails too."""
        level = self._on_trial_at(slot)
        if level is None or self._ceiling is None:
            return
        # Not once the cap has grown to the level: it is in use there now.
        if self._cap < level and _just_below(level, self._ceiling):
            self._ceiling = level

    def _throttle_target(self, failed: int) -> tuple[int, ChangeReason]:
        """The cap a counted throttle at ``failed`` connections asks for;
        updates ceiling and probe interval."""
        if self._ceiling is None or failed < self._ceiling:
            # A new (or lower) limit: the old probe history no longer applies.
            self._ceiling = failed
            self._probe_interval = self._base_probe_interval
            self._probe_windows = self._base_probe_windows
            return math.floor(failed * self._decrease_factor), ChangeReason.THROTTLE
        if self._cap >= self._ceiling:
            self._probe_interval = min(self._max_probe_interval, 2 * self._probe_interval)
            if self._limit_fell():
                # Not back yet, which says nothing new about the limit; but a
                # fall that lasts must not be probed at the fast rate forever,
                # so each failed probe uses up one level of it.
                self._most_proven -= 1
            else:
                self._probe_windows *= 2
            return self._ceiling - 1, ChangeReason.PROBE_FAILED
        # More connections were open than the cap (workers that connected just
        # after a cut) and they hit a level already known to fail: no news.
        return self._cap, ChangeReason.THROTTLE

    def record_success(self, slot: Slot) -> CapChange | None:
        """Report a delivery on ``slot``'s connection; returns a growth decision, if any."""
        self._counts.successes += 1
        slot.delivered_epoch = self._epoch
        if slot.connected and not slot.delivered:
            slot.delivered = True
            self._proven += 1
            self._most_proven = max(self._most_proven, self._proven)
        if not self._binding():
            return None
        self._successes_since_cut += 1
        self._window += 1
        if self._window < self._window_size():
            return None
        if self._ceiling is not None and self._cap >= self._ceiling:
            self._ceiling = None
            self._probe_interval = self._base_probe_interval
            self._probe_windows = self._base_probe_windows
            return self._change(min(self._cap + 1, self._max_cap), ChangeReason.PROBE_SUCCEEDED)
        if self._cap >= self._max_cap:
            return None
        if self._ceiling is not None and self._cap + 1 >= self._ceiling:
            if not self._probe_due():
                return None
            return self._change(self._cap + 1, ChangeReason.PROBE)
        return self._change(self._cap + 1, ChangeReason.GROWTH)

    def _binding(self) -> bool:
        """Whether every slot is in use and proven, but for those on trial."""
        on_trial = SEARCH_TRIALS if self._ceiling is None else 1
        return self._open >= self._cap and self._proven > self._cap - on_trial

    def _probe_due(self) -> bool:
        """Whether enough has gone well since the last cut to try the ceiling."""
        if trio.current_time() < self._probe_not_before:
            return False
        if trio.current_time() - self._last_cut_at >= self._probe_interval:
            return True
        # A window is as many successes as the cap: about one message time,
        # whatever the cap.
        return self._successes_since_cut >= self._probe_after_windows() * self._cap

    def _probe_after_windows(self) -> int:
        """The windows that make a probe due now: fewer after a fall."""
        if self._limit_fell():
            return math.ceil(self._base_probe_windows / FALL_PROBE_SPEEDUP)
        return self._probe_windows

    def _limit_fell(self) -> bool:
        """Whether the ceiling is a level that held in this run."""
        return self._ceiling is not None and self._ceiling <= self._most_proven

    def _window_size(self) -> int:
        """Successes at a binding cap that earn the next step up."""
        if self._ceiling is None or self._cap + 1 < self._ceiling:
            # Every open connection has just proven itself and no level above
            # is known to fail: waiting for more successes would only slow
            # the search (a slow start, one connection on trial at a time).
            return 1
        return self._cap

    def _change(
        self, new_cap: int, reason: ChangeReason, *, observed: int | None = None
    ) -> CapChange:
        change = CapChange(
            old_cap=self._cap,
            new_cap=new_cap,
            reason=reason,
            at=trio.current_time(),
            ceiling=self._ceiling,
            epoch=self._epoch,
            observed=observed,
        )
        self._cap = new_cap
        # Raising total_tokens wakes waiting tasks; lowering it lets holders
        # finish and keeps newcomers out until enough slots are given back.
        self._tokens.total_tokens = new_cap
        self._window = 0
        self._counts.changed(change)
        if self._on_change is not None:
            self._on_change(change)
        return change

    def recent_changes(self) -> tuple[CapChange, ...]:
        """The most recent decisions, oldest first (at most ``RECENT_CHANGES``)."""
        return tuple(self._counts.recent)

    def statistics(self) -> LimiterStatistics:
        """A snapshot of the limiter's state and counters."""
        return LimiterStatistics(
            cap=self._cap,
            min_cap=self._min_cap,
            max_cap=self._max_cap,
            slots_in_use=self._tokens.borrowed_tokens,
            open_connections=self._open,
            proven_connections=self._proven,
            tasks_waiting=self._tokens.statistics().tasks_waiting,
            ceiling=self._ceiling,
            probe_interval_s=self._probe_interval,
            probe_after_windows=self._probe_after_windows(),
            epoch=self._epoch,
            throttles=self._counts.throttles,
            ignored_throttles=self._counts.ignored_throttles,
            successes=self._counts.successes,
            changes=self._counts.changes,
            last_change=self._counts.last_change,
        )


def _just_below(level: int, limit: int) -> bool:
    """Whether ``level`` is below ``limit`` by less than the connections that
    may be on trial together: a lower level was not tried alongside."""
    return limit - SEARCH_TRIALS < level < limit


def _check_settings(
    *,
    initial_cap: int,
    min_cap: int,
    max_cap: int,
    decrease_factor: float,
    probe_interval_s: float,
    max_probe_interval_s: float,
    probe_after_windows: int,
) -> None:
    if min_cap < 1:
        raise ValueError(f"min_cap must be at least 1, not {min_cap}.")
    if not min_cap <= initial_cap <= max_cap:
        raise ValueError(
            f"The caps must satisfy min_cap <= initial_cap <= max_cap, "
            f"not {min_cap} <= {initial_cap} <= {max_cap}."
        )
    if not 0.0 < decrease_factor < 1.0:
        raise ValueError(f"decrease_factor must be between 0 and 1, not {decrease_factor}.")
    if not 0.0 < probe_interval_s <= max_probe_interval_s:
        raise ValueError(
            f"The probe intervals must satisfy 0 < probe_interval_s <= max_probe_interval_s, "
            f"not {probe_interval_s} and {max_probe_interval_s}."
        )
    if probe_after_windows < 1:
        raise ValueError(f"probe_after_windows must be at least 1, not {probe_after_windows}.")
