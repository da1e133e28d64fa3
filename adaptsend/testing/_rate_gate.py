"""Messages a server accepts per second: for servers that refuse past a rate,
as Amazon SES does ("Maximum sending rate exceeded"), and for tests and
benchmarks that check a sender's pace at the receiving end."""

from __future__ import annotations

import bisect
import math
import threading
import time


class PerSecondGate:
    """Admits at most ``per_second`` messages in each whole second, counted
    from the first message (None: every message), and notes when each
    admitted one came (``time.monotonic()``). Safe to use from any thread."""

    def __init__(self, per_second: int | None = None) -> None:
        if per_second is not None and per_second < 1:
            raise ValueError(f"per_second must be at least 1, not {per_second}")
        self.per_second = per_second
        #: Messages refused for coming too fast.
        self.refusals = 0
        self._admitted_at: list[float] = []
        self._started: float | None = None
        self._second = -1
        self._in_second = 0
        self._lock = threading.Lock()

    def admit(self) -> bool:
        """Whether a message arriving now is within the rate (then it is counted)."""
        with self._lock:
            now = time.monotonic()
            if self._started is None:
                self._started = now
            second = math.floor(now - self._started)
            if second != self._second:
                self._second, self._in_second = second, 0
            if self.per_second is not None and self._in_second >= self.per_second:
                self.refusals += 1
                return False
            self._in_second += 1
            self._admitted_at.append(now)
            return True

    @property
    def admitted_at(self) -> list[float]:
        """When each admitted message came, in order."""
        with self._lock:
            return list(self._admitted_at)

    def most_within(self, seconds: float) -> int:
        """The most messages admitted within any ``seconds`` (a window that
        slides: ``[t, t + seconds)``)."""
        times = self.admitted_at
        return max(
            (bisect.bisect_left(times, start + seconds) - n for n, start in enumerate(times)),
            default=0,
        )
