"""aiosmtpd's SMTP protocol, taught to count itself and to hang up on purpose."""

from __future__ import annotations

import asyncio
from typing import Any, AnyStr

from aiosmtpd.smtp import SMTP, Session

from adaptsend.testing._connections import ConnectionTable
from adaptsend.testing._handler import MisbehavingHandler


class _QuietSession(Session):
    # aiosmtpd logs a deprecation warning each time a successful AUTH stores
    # login_data; a plain attribute keeps every authenticated test from logging.
    login_data: Any = None


class ThrottlingSMTP(SMTP):
    """One connection. Counts itself in the table from accept to loss, so that
    the position by age the handler throttles on is exact."""

    def __init__(
        self, handler: MisbehavingHandler, *, connections: ConnectionTable, **kwargs: Any
    ) -> None:
        super().__init__(handler, **kwargs)
        self._handler = handler
        self._connections = connections
        self.connection_id: int | None = None
        self._close_pending = False
        self._dropped = False

    def close_after_reply(self) -> None:
        """Close the connection once the next reply has been written."""
        self._close_pending = True

    def drop(self) -> None:
        """Hang up now; any reply aiosmtpd still tries to send goes nowhere."""
        self._dropped = True
        self._abort()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # STARTTLS calls this again for the same connection with the TLS
        # transport; by then the plain one has been kept aside.
        if self._original_transport is None:
            self.connection_id = self._connections.add(self._abort)
        super().connection_made(transport)

    def connection_lost(self, error: Exception | None) -> None:
        if self.connection_id is not None:
            self._connections.remove(self.connection_id)
        super().connection_lost(error)

    async def push(self, status: AnyStr) -> None:
        if self._dropped:
            return
        await super().push(status)
        if self._close_pending and self.transport is not None:
            self._close_pending = False
            self.transport.close()

    async def _handle_client(self) -> None:
        # aiosmtpd writes its greeting at the top of this coroutine and offers
        # no hook before it; the connect stage has to step in here.
        refusal = await self._handler.at_connect(self)
        if refusal is not None:
            await self.push(refusal)
            return
        await super()._handle_client()

    def _create_session(self) -> Session:
        return _QuietSession(self.loop)

    def _abort(self) -> None:
        if isinstance(self.transport, asyncio.Transport):
            self.transport.abort()
