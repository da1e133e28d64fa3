"""The SMTP transport: stdlib smtplib, one worker thread per blocking call.

smtplib is synchronous and well understood; every call runs through
``trio.to_thread.run_sync`` under a thread limiter of our own, so trio's default
of 40 threads never caps us and a cancelled send is never abandoned halfway.
"""

from __future__ import annotations

import re
import smtplib
import ssl
import time
from collections.abc import Sequence

import trio

from adaptsend._classifier import parse_reply
from adaptsend._config import SMTPConfig
from adaptsend._models import Envelope, Reply, Stage, utcnow
from adaptsend._smtp_chunking import send_chunked
from adaptsend._smtp_wire import (
    CLOSING,
    describe,
    discard,
    envelope_commands,
    recipient_refusals,
    skip_replies,
)
from adaptsend._transport import SendAttempt, SendResult, TransportError

#: A line of content starting with a dot gets a second one (RFC 5321 4.5.2).
_LEADING_DOT = re.compile(rb"(?m)^\.")


class SMTPConfigurationError(TransportError):
    """The server cannot do what the configuration asks (no STARTTLS, no AUTH)."""


class SMTPTransport:
    """Opens authenticated SMTP connections as configured in ``[smtp]``."""

    def __init__(self, config: SMTPConfig, *, threads: trio.CapacityLimiter) -> None:
        self._config = config
        self._threads = threads
        account = config.username or "anonymous"
        self.sending_key = f"{account}@{config.host}:{config.port}"

    async def connect(self) -> SMTPConnection:
        client = await trio.to_thread.run_sync(self._open_blocking, limiter=self._threads)
        pipelining = self._config.pipelining and bool(client.has_extn("pipelining"))
        chunking = pipelining and self._config.chunking and bool(client.has_extn("chunking"))
        return SMTPConnection(
            client, threads=self._threads, pipelining=pipelining, chunking=chunking
        )

    def _tls_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=self._config.ca_file)
        if not self._config.verify_tls:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context

    def _open_blocking(self) -> smtplib.SMTP:
        config = self._config
        client: smtplib.SMTP | None = None
        stage = Stage.TLS if config.tls == "ssl" else Stage.CONNECT
        try:
            client = self._new_client()
            stage = Stage.CONNECT
            client.ehlo()
            if config.tls == "starttls":
                stage = Stage.TLS
                client.starttls(context=self._tls_context())
                client.ehlo()
            if config.username:
                stage = Stage.AUTH
                client.login(config.username, config.password or "")
            return client
        except smtplib.SMTPNotSupportedError as exc:
            discard(client)
            raise SMTPConfigurationError(Reply(code=None, text=str(exc), stage=stage)) from None
        except smtplib.SMTPResponseException as exc:
            discard(client)
            raise TransportError(parse_reply(exc.smtp_code, exc.smtp_error, stage)) from None
        except (ssl.SSLError, ssl.CertificateError) as exc:
            discard(client)
            raise TransportError(Reply(code=None, text=describe(exc), stage=Stage.TLS)) from None
        except (OSError, smtplib.SMTPException) as exc:
            discard(client)
            raise TransportError(Reply(code=None, text=describe(exc), stage=stage)) from None

    def _new_client(self) -> smtplib.SMTP:
        config = self._config
        if config.tls == "ssl":
            return smtplib.SMTP_SSL(
                config.host,
                config.port,
                local_hostname=config.local_hostname,
                timeout=config.timeout_s,
                context=self._tls_context(),
            )
        return smtplib.SMTP(
            config.host, config.port, local_hostname=config.local_hostname, timeout=config.timeout_s
        )


class SMTPConnection:
    """One open SMTP session, reused for many messages by one task at a time."""

    def __init__(
        self,
        client: smtplib.SMTP,
        *,
        threads: trio.CapacityLimiter,
        pipelining: bool = False,
        chunking: bool = False,
    ) -> None:
        self._client = client
        self._threads = threads
        self._pipelining = pipelining
        self._chunking = chunking
        self._sizes = client.does_esmtp and bool(client.has_extn("size"))

    async def send(self, envelope: Envelope) -> SendResult:
        """Send one message. A cancelled send still runs to its end in its thread:
        the message may have been delivered, and the result says so."""
        return await trio.to_thread.run_sync(self._send_blocking, envelope, limiter=self._threads)

    async def send_many(
        self, envelopes: Sequence[Envelope], *, budget_s: float
    ) -> list[SendAttempt]:
        """Send several messages in one thread call (see ``BatchConnection``)."""
        return await trio.to_thread.run_sync(
            self._send_many_blocking, envelopes, budget_s, limiter=self._threads
        )

    async def close(self) -> None:
        await trio.to_thread.run_sync(self._quit_blocking, limiter=self._threads)

    def _send_many_blocking(
        self, envelopes: Sequence[Envelope], budget_s: float
    ) -> list[SendAttempt]:
        if self._chunking:
            return send_chunked(self._client, envelopes, self._mail_options)
        if self._pipelining:
            return self._send_many_pipelined(envelopes, time.perf_counter() + budget_s)
        attempts: list[SendAttempt] = []
        deadline = time.perf_counter() + budget_s
        for envelope in envelopes:
            started_at = utcnow()
            start = time.perf_counter()
            result = self._send_blocking(envelope)
            end = time.perf_counter()
            attempt = SendAttempt(result=result, started_at=started_at, duration_s=end - start)
            attempts.append(attempt)
            if not attempt.clean or end >= deadline:
                break
        return attempts

    def _send_blocking(self, envelope: Envelope) -> SendResult:
        if self._chunking:
            return send_chunked(self._client, [envelope], self._mail_options)[0].result
        if self._pipelining:
            return self._send_many_pipelined([envelope], 0.0)[0].result
        stage = Stage.MAIL
        try:
            self._client.ehlo_or_helo_if_needed()
            code, text = self._client.mail(envelope.sender, self._mail_options(envelope))
            if code != 250:
                return self._failed(parse_reply(code, text, Stage.MAIL))
            stage = Stage.RCPT
            refused = recipient_refusals(envelope.recipients, self._client.rcpt)
            if len(refused) == len(envelope.recipients):
                first = next(iter(refused.values()))
                return self._failed(first, refused=refused)
            stage = Stage.DATA
            code, text = self._client.data(envelope.content)
        except smtplib.SMTPResponseException as exc:
            return self._failed(parse_reply(exc.smtp_code, exc.smtp_error, stage))
        except (OSError, smtplib.SMTPException) as exc:
            reply = Reply(code=None, text=describe(exc), stage=stage)
            return SendResult(reply=reply, connection_usable=False)
        reply = parse_reply(code, text, Stage.DATA)
        if not 200 <= code < 300:
            return self._failed(reply, refused=refused)
        return SendResult(reply=reply, refused=refused)

    def _send_many_pipelined(
        self, envelopes: Sequence[Envelope], deadline: float
    ) -> list[SendAttempt]:
        """Send with PIPELINING (RFC 2920): a message's MAIL, RCPT and DATA go
        out at once, and its content goes out together with the next
        message's commands, so each message costs one round trip."""
        attempts: list[SendAttempt] = []
        started_at, start = utcnow(), time.perf_counter()
        try:
            self._client.send(self._command_group(envelopes[0]))
        except OSError as exc:
            reply = Reply(code=None, text=describe(exc), stage=Stage.MAIL)
            result = SendResult(reply=reply, connection_usable=False)
            return [SendAttempt(result=result, started_at=started_at, duration_s=0.0)]
        for index, envelope in enumerate(envelopes):
            following = index + 1 < len(envelopes) and time.perf_counter() < deadline
            upcoming = envelopes[index + 1] if following else None
            result, went_on = self._pipelined_transaction(envelope, upcoming)
            end = time.perf_counter()
            attempts.append(
                SendAttempt(result=result, started_at=started_at, duration_s=end - start)
            )
            if not went_on:
                break
            started_at, start = utcnow(), end
        return attempts

    def _pipelined_transaction(
        self, envelope: Envelope, upcoming: Envelope | None
    ) -> tuple[SendResult, bool]:
        """Read the replies to ``envelope``'s commands (already sent) and send
        its content, with ``upcoming``'s commands behind it if there is one.
        Returns the result and whether ``upcoming`` is now under way."""
        client = self._client
        recipients = envelope.recipients
        stage = Stage.MAIL
        try:
            code, text = client.getreply()
            if code != 250:
                # Each RCPT and the DATA still get their own (failing) reply.
                mail = parse_reply(code, text, Stage.MAIL)
                return self._failed(mail, unread=len(recipients) + 1), False
            stage = Stage.RCPT
            # The RCPT commands are already sent: read their replies in order.
            refused = recipient_refusals(recipients, lambda _: client.getreply())
            closing = next((r for r in refused.values() if r.code == CLOSING), None)
            if closing is not None:
                return self._failed(closing, refused=refused), False
            stage = Stage.DATA
            code, text = client.getreply()
            everyone = len(refused) == len(recipients)
            if code != 354:
                first = next(iter(refused.values())) if everyone else None
                data = first or parse_reply(code, text, Stage.DATA)
                return self._failed(data, refused=refused), False
            if everyone:
                # The server took DATA with no recipient left: end the empty
                # message at once; nobody can receive it.
                client.send(b".\r\n")
                self._reply(Stage.DATA)
                return self._failed(next(iter(refused.values())), refused=refused), False
            block = _data_block(envelope.content)
            if upcoming is not None:
                block += self._command_group(upcoming)
            client.send(block)
            end = self._reply(Stage.DATA)
        except (OSError, smtplib.SMTPException) as exc:
            reply = Reply(code=None, text=describe(exc), stage=stage)
            return SendResult(reply=reply, connection_usable=False), False
        accepted = end.code is not None and 200 <= end.code < 300
        if accepted and not refused:
            return SendResult(reply=end, refused=refused), upcoming is not None
        if upcoming is None:
            if accepted:
                return SendResult(reply=end, refused=refused), False
            return self._failed(end, refused=refused), False
        # The batch stops here, but the next message's commands are already
        # on their way; once the server has taken its DATA only hanging up
        # can stop that message, which then stays unsent.
        usable = end.code != CLOSING and self._abandon(upcoming)
        return SendResult(reply=end, refused=refused, connection_usable=usable), False

    def _abandon(self, envelope: Envelope) -> bool:
        """Read the replies to ``envelope``'s pipelined commands and end its
        transaction unsent; whether the connection can still be used."""
        # MAIL and every RCPT first, then the DATA, whose reply decides.
        if not skip_replies(self._client, len(envelope.recipients) + 1):
            return False
        try:
            code, _ = self._client.getreply()
        except (OSError, smtplib.SMTPException):
            return False
        if code == 354:
            # Mid-DATA even a QUIT would be read as content: hang up now.
            discard(self._client)
            return False
        return self._reset()

    def _command_group(self, envelope: Envelope) -> bytes:
        lines = envelope_commands(envelope, self._mail_options(envelope))
        lines.append("DATA")
        return "".join(f"{line}\r\n" for line in lines).encode("ascii")

    def _reply(self, stage: Stage) -> Reply:
        code, text = self._client.getreply()
        return parse_reply(code, text, stage)

    def _mail_options(self, envelope: Envelope) -> list[str]:
        if self._sizes:
            return [f"SIZE={len(envelope.content)}"]
        return []

    def _failed(
        self, reply: Reply, *, refused: dict[str, Reply] | None = None, unread: int = 0
    ) -> SendResult:
        """End a failed transaction; the connection stays only if RSET works.
        ``unread`` replies to pipelined commands are read (and dropped) first."""
        usable = reply.code != CLOSING and skip_replies(self._client, unread) and self._reset()
        return SendResult(reply=reply, refused=refused or {}, connection_usable=usable)

    def _reset(self) -> bool:
        try:
            code, _ = self._client.rset()
        except (OSError, smtplib.SMTPException):
            return False
        return code == 250

    def _quit_blocking(self) -> None:
        try:
            self._client.quit()
        except (OSError, smtplib.SMTPException):
            discard(self._client)


def _data_block(content: bytes) -> bytes:
    """The message as sent after a 354: dots doubled, ended by CRLF.CRLF, as
    ``smtplib.SMTP.data`` sends it."""
    dotted = content.startswith(b".") or b"\n." in content
    # Most messages have no line to quote; finding that out is much cheaper.
    quoted = _LEADING_DOT.sub(b"..", content) if dotted else content
    if not quoted.endswith(b"\r\n"):
        quoted += b"\r\n"
    return quoted + b".\r\n"
