"""The connection limit in force at a given moment."""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence


class LimitClock:
    """Answers "what is the limit now?" from three sources of change.

    The initial limit holds from the start; each schedule entry replaces it at
    its offset from :meth:`start`; :meth:`set` replaces it at once. Whichever
    change happened last wins, so a manual change holds until the next scheduled
    one comes due.
    """

    def __init__(
        self,
        initial: int | None,
        schedule: Sequence[tuple[float, int | None]],
        clock: Callable[[], float],
    ) -> None:
        self._initial = initial
        self._schedule = tuple(schedule)
        self._clock = clock
        self._lock = threading.Lock()
        self._started_at: float | None = None
        self._manual: tuple[float, int | None] | None = None

    def start(self) -> None:
        """Make the schedule's offsets count from now."""
        with self._lock:
            self._started_at = self._clock()

    def set(self, limit: int | None) -> None:
        """Replace the limit from now on, until the next scheduled change."""
        with self._lock:
            self._manual = (self._clock(), limit)

    def current(self) -> int | None:
        """The limit in force now; None means unlimited."""
        with self._lock:
            now = self._clock()
            changed_at, limit = -math.inf, self._initial
            if self._started_at is not None:
                for offset, scheduled in self._schedule:
                    if self._started_at + offset > now:
                        break
                    changed_at, limit = self._started_at + offset, scheduled
            if self._manual is not None and self._manual[0] >= changed_at:
                limit = self._manual[1]
            return limit
