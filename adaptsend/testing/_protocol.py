"""aiosmtpd's SMTP protocol, taught to count itself and to hang up on purpose."""

from __future__ import annotations

import asyncio
import binascii
import collections
import functools
from base64 import b64decode
from collections.abc import Awaitable, Callable
from typing import Any, AnyStr

from aiosmtpd.smtp import MISSING, SMTP, AuthResult, Envelope, Session, syntax

from adaptsend.testing._chunking import (
    BAD_SYNTAX,
    NO_TRANSACTION,
    ChunkedEnvelope,
    chunk_received,
    parse_bdat,
)
from adaptsend.testing._connections import ConnectionTable
from adaptsend.testing._handler import MisbehavingHandler


class _QuietSession(Session):
    # aiosmtpd logs a deprecation warning each time a successful AUTH stores
    # login_data; a plain attribute keeps every authenticated test from logging.
    login_data: Any = None


# aiosmtpd's go-ahead for the content after DATA, and its answer to STARTTLS.
_CONTENT_GO_AHEAD = "354 End data with <CR><LF>.<CR><LF>"
_TLS_GO_AHEAD = "220 Ready to start TLS"
#: The longest AUTH line taken: Microsoft's access tokens run to a few
#: kilobytes, far beyond aiosmtpd's 512-byte command limit.
_AUTH_LINE_LIMIT = 16_384

Command = Callable[[str | None], Awaitable[None]]


class ThrottlingSMTP(SMTP):
    """One connection. Counts itself in the table from accept to loss, so that
    the position by age the handler throttles on is exact.

    With ``chunking`` it also takes BDAT (RFC 3030); without, BDAT is an
    unknown command, as on a server that does not offer CHUNKING.

    Before each command the handler may end the connection instead; as a
    message's content begins, and at STARTTLS, it may have it reset.
    """

    def __init__(
        self,
        handler: MisbehavingHandler,
        *,
        connections: ConnectionTable,
        chunking: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(handler, **kwargs)
        if not chunking:
            del self._smtp_methods["BDAT"]
        # aiosmtpd looks every command up here, and offers no hook before the
        # command runs; wrapping each one is the way in.
        self._smtp_methods = {
            name: self._after_check(method) for name, method in self._smtp_methods.items()
        }
        self._handler = handler
        self._connections = connections
        self.connection_id: int | None = None
        self.accepted = 0
        self._close_pending = False
        self._silent = False
        # aiosmtpd keeps its command limits in one dict shared by the class;
        # this connection gets its own, with room for a token after AUTH.
        self.command_size_limits = collections.defaultdict(
            lambda: self.command_size_limit, {"AUTH": _AUTH_LINE_LIMIT}
        )
        # The reader stops at the line limit before a command is looked at.
        self._stream_reader._limit = max(  # type: ignore[attr-defined]
            self._stream_reader._limit,  # type: ignore[attr-defined]
            _AUTH_LINE_LIMIT,
        )

    def close_after_reply(self) -> None:
        """Close the connection once the next reply has been written."""
        self._close_pending = True

    def drop(self) -> None:
        """Reset the connection now; any reply aiosmtpd still tries to send
        goes nowhere."""
        self._silent = True
        self._abort()
        self._discard_unread()

    def hang_up(self) -> None:
        """Close the connection now, without another word (what was written
        already still goes out)."""
        self._silent = True
        if self.transport is not None:
            self.transport.close()
        self._discard_unread()

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
        if self._silent:
            return
        await super().push(status)
        if self._close_pending and self.transport is not None:
            self._close_pending = False
            self.transport.close()
            self._discard_unread()
        elif status == _CONTENT_GO_AHEAD:
            # aiosmtpd reads the content right after its 354, inside smtp_DATA;
            # the go-ahead is the last moment to step in.
            await self._content_begins(1)

    async def _handle_client(self) -> None:
        # aiosmtpd writes its greeting at the top of this coroutine and offers
        # no hook before it; the connect stage has to step in here.
        refusal = await self._handler.at_connect(self)
        if refusal is not None:
            await self.push(refusal)
            return
        await super()._handle_client()

    @syntax("BDAT <size> [LAST]")
    async def smtp_BDAT(self, arg: str | None) -> None:
        parsed = parse_bdat(arg)
        if parsed is None:
            # Without a size there is no telling where the chunk ends and the
            # next command begins, so the rest of the stream is not trusted.
            self.close_after_reply()
            await self.push(BAD_SYNTAX)
            return
        size, last = parsed
        envelope = self.envelope
        assert isinstance(envelope, ChunkedEnvelope)
        if envelope.rcpt_tos and not envelope.chunks:
            await self._content_begins(size // 2)
            if self._silent:
                return
        # Read before any refusal: a pipelining client has sent the chunk
        # already, and it must not be taken for commands.
        chunk = await self._reader.readexactly(size)
        if await self.check_helo_needed("EHLO") or await self.check_auth_needed("BDAT"):
            return
        if not envelope.rcpt_tos:
            await self.push(NO_TRANSACTION)
            return
        envelope.chunks.append(chunk)
        if not last:
            await self.push(chunk_received(size))
            return
        # Raw, unlike DATA: no dot-stuffing to undo.
        envelope.original_content = envelope.content = b"".join(envelope.chunks)
        status = await self._call_handler_hook("DATA")
        self.envelope = self._create_envelope()  # what aiosmtpd does after DATA
        await self.push(status)

    @syntax("STARTTLS", when="tls_context")
    async def smtp_STARTTLS(self, arg: str | None) -> None:
        if arg or not self.tls_context or not self._handler.reset_tls():
            await super().smtp_STARTTLS(arg)
            return
        await self.push(_TLS_GO_AHEAD)
        self.drop()

    async def auth_XOAUTH2(self, _: Any, args: list[str]) -> AuthResult:
        """SASL XOAUTH2: the initial response with the command, or after an
        empty challenge; the handler judges it."""
        if len(args) == 1:
            response = await self.challenge_auth("")
            if response is MISSING:
                return AuthResult(success=False, handled=True)
            assert isinstance(response, bytes)
        else:
            try:
                response = b64decode(args[1].encode(), validate=True)
            except binascii.Error:
                await self.push("501 5.5.2 Can't decode base64")
                return AuthResult(success=False, handled=True)
        return self._handler.xoauth2(response)

    async def _content_begins(self, part: int) -> None:
        """A message's content begins; the handler may have it cut off, once
        up to ``part`` bytes of it (at least one, if any come) have arrived."""
        if not self._handler.cut_content():
            return
        if part > 0:
            await self._reader.read(part)
        self.drop()

    def _after_check(self, command: Command) -> Command:
        @functools.wraps(command)  # keeps the syntax HELP reads from it
        async def checked(arg: str | None) -> None:
            ending = await self._handler.before_command(self)
            if ending is not None:
                await self.push(ending)
                return
            await command(arg)

        return checked

    def _create_session(self) -> Session:
        return _QuietSession(self.loop)

    def _create_envelope(self) -> Envelope:
        return ChunkedEnvelope()

    def _discard_unread(self) -> None:
        # A pipelining client may have sent more commands, whole messages even,
        # behind the one that ended the connection. Already buffered, they would
        # still be read and acted on before the loss of the connection stops
        # this task, delivering messages whose replies can never arrive.
        self._reader._buffer.clear()  # type: ignore[attr-defined]

    def _abort(self) -> None:
        if isinstance(self.transport, asyncio.Transport):
            self.transport.abort()
