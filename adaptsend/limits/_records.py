"""What a limiter reports: why it changed the cap, each decision it made, a
snapshot of its state, and the counts it keeps for them. The local limiter
(``_local``) and the shared one (``_shared``) report alike."""

from __future__ import annotations

import enum

import attrs


class ChangeReason(enum.StrEnum):
    """Why the cap (or the ceiling) changed."""

    #: A throttle from a connection of the current epoch: a new, lower ceiling.
    THROTTLE = "throttle"
    #: A throttle at the known ceiling: the limit has not risen; back off and
    #: wait longer before the next probe.
    PROBE_FAILED = "probe-failed"
    #: One window of successes at a binding cap below the ceiling.
    GROWTH = "growth"
    #: Growth to the known ceiling, to learn whether the limit has risen.
    PROBE = "probe"
    #: One window of successes at the ceiling: the limit rose, so the ceiling
    #: is forgotten and the cap grows on.
    PROBE_SUCCEEDED = "probe-succeeded"


@attrs.frozen(kw_only=True)
class CapChange:
    """One decision of the limiter, for logs and reports.

    A counted throttle is always recorded, even when the cap was already as
    low as the decision asks (``old_cap == new_cap``): it still starts a new
    epoch and restarts the count of windows and the timer before a probe.
    """

    old_cap: int
    new_cap: int
    reason: ChangeReason
    #: ``trio.current_time()`` when the decision was made.
    at: float
    #: The ceiling after the decision (None when no ceiling is known).
    ceiling: int | None
    #: The epoch after the decision.
    epoch: int
    #: Open connections at the throttle, counting the throttled one; None for growth.
    observed: int | None = None


@attrs.frozen(kw_only=True)
class LimiterStatistics:
    """A snapshot of a limiter, like trio's own ``statistics()`` results."""

    cap: int
    min_cap: int
    max_cap: int
    slots_in_use: int
    open_connections: int
    #: Open connections that have delivered at least once since they opened.
    proven_connections: int
    tasks_waiting: int
    ceiling: int | None
    probe_interval_s: float
    #: Windows of successes at a binding cap after the last cut that make a
    #: probe due; None for a shared limiter, which times probes in seconds only.
    probe_after_windows: int | None
    epoch: int
    throttles: int
    ignored_throttles: int
    successes: int
    changes: int
    last_change: CapChange | None


@attrs.define
class DecisionCounts:
    """What a limiter has been told and decided, for its statistics: both
    kinds of limiter keep it the same way."""

    throttles: int = 0
    ignored_throttles: int = 0
    successes: int = 0
    changes: int = 0
    last_change: CapChange | None = None

    def changed(self, change: CapChange) -> None:
        self.changes += 1
        self.last_change = change
