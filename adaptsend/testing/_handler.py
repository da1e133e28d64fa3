"""The misbehaviour itself: aiosmtpd handler hooks that decide each reply."""

from __future__ import annotations

import asyncio
import random
import threading
from typing import Any, Protocol

from aiosmtpd.smtp import AuthResult, LoginPassword

from adaptsend._models import Stage
from adaptsend.testing._connections import ConnectionTable
from adaptsend.testing._faults import Fault, FaultTurns
from adaptsend.testing._ledger import DeliveryLedger, ReceivedMessage, message_id_of
from adaptsend.testing._limits import LimitClock
from adaptsend.testing._options import ServerOptions

ACCEPTED = "250 2.0.0 OK"
AUTH_REQUIRED = "530 5.7.0 Authentication required"
#: Exchange Online's answer to a token it does not take.
XOAUTH2_REFUSED = "535 5.7.3 Authentication unsuccessful"
# Never reaches the wire: the connection is already gone when it is "sent".
_UNSENT = "451 4.4.2 Connection dropped"


class Connection(Protocol):
    """What the hooks need from the SMTP protocol object of one connection."""

    connection_id: int | None
    #: Messages accepted on this connection so far.
    accepted: int

    def close_after_reply(self) -> None: ...

    def drop(self) -> None: ...

    def hang_up(self) -> None: ...


class MisbehavingHandler:
    """aiosmtpd calls ``handle_*`` for each command; each returns the reply to send.

    All hooks run in the server's loop thread, so per-run state such as the
    count of ends of DATA needs no lock.
    """

    def __init__(
        self,
        options: ServerOptions,
        limits: LimitClock,
        connections: ConnectionTable,
        ledger: DeliveryLedger,
        faults: FaultTurns,
    ) -> None:
        self._options = options
        self._limits = limits
        self._connections = connections
        self._ledger = ledger
        self._faults = faults
        self._data_ends = 0
        # Replaced whole by the test's thread, read by the loop's.
        self._xoauth2_tokens = dict(options.xoauth2_tokens)
        self._xoauth2_lock = threading.Lock()
        self._xoauth2_logins: list[tuple[str, str, bool]] = []

    async def handle_EHLO(
        self, server: Connection, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        # With this hook aiosmtpd leaves naming the client to us.
        session.host_name = hostname
        if self._options.pipelining:
            responses.insert(-1, "250-PIPELINING")
        if self._options.chunking:
            responses.insert(-1, "250-CHUNKING")
        return responses

    async def at_connect(self, server: Connection) -> str | None:
        """The reply to give instead of the greeting, or None to greet."""
        # Decided before any wait, so that "every N-th" follows the order of
        # accepting even when greetings are delayed.
        refused = self._faults.greeting_refused()
        await _sleep(self._options.greeting_delay_s)
        if refused:
            self._ledger.record_fault(Fault.GREETING_REFUSED)
            server.close_after_reply()
            return self._options.greeting_refusal
        return await self._gate(Stage.CONNECT, server)

    async def before_command(self, server: Connection) -> str | None:
        """The reply that ends the connection instead of running the command
        just read, or None to run it."""
        after = self._options.hang_up_after
        if after is None or server.accepted < after:
            return None
        self._ledger.record_fault(Fault.HANG_UP)
        if self._options.hang_up_reply is None:
            server.hang_up()
            return _UNSENT
        server.close_after_reply()
        return self._options.hang_up_reply

    def cut_content(self) -> bool:
        """Called as a message's content begins: whether to cut it off."""
        if not self._faults.due(Fault.CONTENT_CUT):
            return False
        self._ledger.record_fault(Fault.CONTENT_CUT)
        return True

    def reset_tls(self) -> bool:
        """Called at STARTTLS: whether to reset the connection after ``220``."""
        if not self._faults.due(Fault.TLS_RESET):
            return False
        self._ledger.record_fault(Fault.TLS_RESET)
        return True

    async def handle_MAIL(
        self, server: Connection, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if self._requires_auth() and not session.authenticated:
            return AUTH_REQUIRED
        refusal = await self._gate(Stage.MAIL, server)
        if refusal is not None:
            return refusal
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 2.1.0 Sender OK"

    async def handle_RCPT(
        self, server: Connection, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        refusal = await self._gate(Stage.RCPT, server)
        if refusal is not None:
            return refusal
        reply = self._options.rcpt_replies.get(address.lower())
        if reply is not None and not reply.startswith("2"):
            return reply
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return reply or "250 2.1.5 Recipient OK"

    async def handle_DATA(self, server: Connection, session: Any, envelope: Any) -> str:
        """The reply to the end of a message, sent by DATA or by BDAT LAST."""
        await self._answer_delay()
        refusal = await self._gate(Stage.DATA, server)
        if refusal is not None:
            return refusal
        if self._drop_turn():
            self._ledger.record_drop()
            server.drop()
            return _UNSENT
        reply = self._data_reply(envelope.rcpt_tos)
        if not reply.startswith("2"):
            return reply
        self._record(envelope)
        server.accepted += 1
        if self._faults.due(Fault.REPLY_LOST):
            self._ledger.record_fault(Fault.REPLY_LOST)
            await self._lose_reply(server)
            return _UNSENT
        return reply

    async def _lose_reply(self, server: Connection) -> None:
        # The message is delivered; the client must not learn it. Commands
        # pipelined behind wait unread meanwhile, and go with the connection.
        if self._options.lose_reply_stall_s > 0:
            await asyncio.sleep(self._options.lose_reply_stall_s)
            server.hang_up()
        else:
            server.drop()

    def _data_reply(self, recipients: list[str]) -> str:
        replies = self._options.data_replies
        for address in recipients:
            reply = replies.get(address.lower())
            if reply is not None:
                return reply
        return self._options.data_reply or ACCEPTED

    def authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        """aiosmtpd's ``authenticator``: checks LOGIN and PLAIN credentials."""
        if self._options.auth_reply is not None:
            return AuthResult(success=False, handled=False, message=self._options.auth_reply)
        if self._options.auth is None or _matches(auth_data, self._options.auth):
            return AuthResult(success=True, auth_data=auth_data)
        return AuthResult(success=False, handled=False)

    def set_xoauth2_token(self, username: str, token: str | None) -> None:
        """Take ``token`` (only) for ``username`` from now on; None takes none."""
        with self._xoauth2_lock:
            tokens = dict(self._xoauth2_tokens)
            if token is None:
                tokens.pop(username, None)
            else:
                tokens[username] = token
            self._xoauth2_tokens = tokens

    def xoauth2(self, response: bytes) -> AuthResult:
        """Judges an ``AUTH XOAUTH2`` initial response,
        ``user=NAME\\x01auth=Bearer TOKEN\\x01\\x01``."""
        if self._options.auth_reply is not None:
            return AuthResult(success=False, handled=False, message=self._options.auth_reply)
        username, token = _xoauth2_parts(response)
        accepted = token is not None and self._xoauth2_tokens.get(username) == token
        with self._xoauth2_lock:
            self._xoauth2_logins.append((username, token or "", accepted))
        if accepted:
            return AuthResult(success=True, auth_data=username)
        return AuthResult(success=False, handled=False, message=XOAUTH2_REFUSED)

    @property
    def xoauth2_logins(self) -> list[tuple[str, str, bool]]:
        with self._xoauth2_lock:
            return list(self._xoauth2_logins)

    def _requires_auth(self) -> bool:
        return self._options.auth is not None or bool(self._xoauth2_tokens)

    async def _gate(self, stage: Stage, server: Connection) -> str | None:
        """Stall and throttle at ``stage`` as configured; the refusal, if any."""
        if stage is self._options.stall_stage and self._options.stall_s > 0:
            await asyncio.sleep(self._options.stall_s)
        if stage is not self._options.throttle_stage or not self._over_limit(server):
            return None
        self._ledger.record_rejection()
        # A refused greeting leaves nothing to talk about, so connect always closes.
        if self._options.close_after_throttle or stage is Stage.CONNECT:
            server.close_after_reply()
        return self._options.throttle_reply

    def _over_limit(self, server: Connection) -> bool:
        limit = self._limits.current()
        if limit is None or server.connection_id is None:
            return False
        return self._connections.position(server.connection_id) > limit

    async def _answer_delay(self) -> None:
        delay = self._options.latency_s
        if self._options.latency_jitter_s:
            delay += random.uniform(0, self._options.latency_jitter_s)
        await _sleep(delay)

    def _drop_turn(self) -> bool:
        every = self._options.drop_after_data
        if every is None:
            return False
        self._data_ends += 1
        return self._data_ends % every == 0

    def _record(self, envelope: Any) -> None:
        raw: bytes = envelope.original_content or b""
        self._ledger.record_delivery(
            ReceivedMessage(
                message_id=message_id_of(raw),
                mail_from=envelope.mail_from or "",
                rcpt_tos=tuple(envelope.rcpt_tos),
                raw=raw,
            )
        )


async def _sleep(seconds: float) -> None:
    # No sleep at all for 0, not even a turn of the loop: most servers wait
    # nowhere, and a benchmark feeds them many messages.
    if seconds > 0:
        await asyncio.sleep(seconds)


def _xoauth2_parts(response: bytes) -> tuple[str, str | None]:
    """The user name and the bearer token of a SASL XOAUTH2 response."""
    fields = dict(
        part.partition("=")[::2]
        for part in response.decode("utf-8", errors="replace").split("\x01")
        if part
    )
    scheme, _, token = fields.get("auth", "").partition(" ")
    return fields.get("user", ""), token if scheme == "Bearer" and token else None


def _matches(auth_data: Any, expected: tuple[str, str]) -> bool:
    if not isinstance(auth_data, LoginPassword):
        return False
    login = auth_data.login.decode("utf-8", errors="replace")
    password = auth_data.password.decode("utf-8", errors="replace")
    return (login, password) == expected
