"""A test SMTP server that refuses messages beyond a rate: more than
``per_second`` accepted in one second (counted in whole seconds from the
first message) and every further end of DATA in that second is answered
with SES's "too fast" reply. With ``per_second=None`` it refuses none, and
only notes when each message came."""

from __future__ import annotations

from typing import Any

from adaptsend.testing import ThrottlingSMTPServer
from adaptsend.testing._handler import Connection, MisbehavingHandler
from adaptsend.testing._rate_gate import PerSecondGate

RATE_REPLY = "454 4.7.0 Throttling failure: Maximum sending rate exceeded"


class _RateLimitedHandler(MisbehavingHandler):
    gate: PerSecondGate

    async def handle_DATA(self, server: Connection, session: Any, envelope: Any) -> str:
        if not self.gate.admit():
            return RATE_REPLY
        return await super().handle_DATA(server, session, envelope)


class RateLimitedSMTPServer(ThrottlingSMTPServer):
    """:class:`ThrottlingSMTPServer` (every other option as there) that also
    accepts at most ``per_second`` messages a second."""

    def __init__(self, *, per_second: int | None, **options: Any) -> None:
        super().__init__(**options)
        self.gate = PerSecondGate(per_second)
        handler = _RateLimitedHandler(
            self.options, self._limits, self._connections, self._ledger, self._faults
        )
        handler.gate = self.gate
        self._handler = handler

    @property
    def rate_refusals(self) -> int:
        """How many ends of DATA were refused as too fast."""
        return self.gate.refusals
