"""A test SMTP server that refuses messages beyond a rate: more than
``per_second`` accepted in one second (counted in
whole seconds from the first message) and every further end of DATA in that second is answered
with SES's "too fast" reply."""

from __future__ import annotations

import math
import threading
import time
from typing import Any

from adaptsend.testing import ThrottlingSMTPServer
from adaptsend.testing._handler import Connection, MisbehavingHandler

RATE_REPLY = "454 4.7.0 Throttling failure: Maximum sending rate exceeded"


class _RateGate:
    def __init__(self, per_second: int) -> None:
        self.per_second = per_second
        self.refusals = 0
        self._started: float | None = None
        self._second = -1
        self._accepted = 0
        self._lock = threading.Lock()

    def admit(self) -> bool:
        with self._lock:
            now = time.monotonic()
            if self._started is None:
                self._started = now
            second = math.floor(now - self._started)
            if second != self._second:
                self._second, self._accepted = second, 0
            if self._accepted >= self.per_second:
                self.refusals += 1
                return False
            self._accepted += 1
            return True


class _RateLimitedHandler(MisbehavingHandler):
    gate: _RateGate

    async def handle_DATA(self, server: Connection, session: Any, envelope: Any) -> str:
        if not self.gate.admit():
            return RATE_REPLY
        return await super().handle_DATA(server, session, envelope)


class RateLimitedSMTPServer(ThrottlingSMTPServer):
    """:class:`ThrottlingSMTPServer` (every other option as there) that also
    accepts at most ``per_second`` messages a second."""

    def __init__(self, *, per_second: int, **options: Any) -> None:
        super().__init__(**options)
        self.gate = _RateGate(per_second)
        handler = _RateLimitedHandler(
            self.options, self._limits, self._connections, self._ledger, self._faults
        )
        handler.gate = self.gate
        self._handler = handler

    @property
    def rate_refusals(self) -> int:
        """How many ends of DATA were refused as too fast."""
        return self.gate.refusals
