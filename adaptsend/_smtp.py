"""The SMTP transport: stdlib smtplib, one worker thread per blocking call.

smtplib is synchronous and well understood; every call runs through
``trio.to_thread.run_sync`` under a thread limiter of our own, so trio's default
of 40 threads never caps us and a cancelled send is never abandoned halfway.
"""

from __future__ import annotations

import contextlib
import smtplib
import ssl

import trio

from adaptsend._classifier import parse_reply
from adaptsend._config import SMTPConfig
from adaptsend._models import Envelope, Reply, Stage
from adaptsend._transport import SendResult, TransportError

#: A reply code after which the server closes the connection (RFC 5321 4.2.2).
_CLOSING = 421


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
        return SMTPConnection(client, threads=self._threads)

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
            _discard(client)
            raise SMTPConfigurationError(Reply(code=None, text=str(exc), stage=stage)) from None
        except smtplib.SMTPResponseException as exc:
            _discard(client)
            raise TransportError(parse_reply(exc.smtp_code, exc.smtp_error, stage)) from None
        except (ssl.SSLError, ssl.CertificateError) as exc:
            _discard(client)
            raise TransportError(Reply(code=None, text=_describe(exc), stage=Stage.TLS)) from None
        except (OSError, smtplib.SMTPException) as exc:
            _discard(client)
            raise TransportError(Reply(code=None, text=_describe(exc), stage=stage)) from None

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

    def __init__(self, client: smtplib.SMTP, *, threads: trio.CapacityLimiter) -> None:
        self._client = client
        self._threads = threads

    async def send(self, envelope: Envelope) -> SendResult:
        """Send one message. A cancelled send still runs to its end in its thread:
        the message may have been delivered, and the result says so."""
        return await trio.to_thread.run_sync(self._send_blocking, envelope, limiter=self._threads)

    async def close(self) -> None:
        await trio.to_thread.run_sync(self._quit_blocking, limiter=self._threads)

    def _send_blocking(self, envelope: Envelope) -> SendResult:
        stage = Stage.MAIL
        try:
            self._client.ehlo_or_helo_if_needed()
            code, text = self._client.mail(envelope.sender, self._mail_options(envelope))
            if code != 250:
                return self._failed(parse_reply(code, text, Stage.MAIL))
            stage = Stage.RCPT
            refused = self._add_recipients(envelope.recipients)
            if len(refused) == len(envelope.recipients):
                first = next(iter(refused.values()))
                return self._failed(first, refused=refused)
            stage = Stage.DATA
            code, text = self._client.data(envelope.content)
        except smtplib.SMTPResponseException as exc:
            return self._failed(parse_reply(exc.smtp_code, exc.smtp_error, stage))
        except (OSError, smtplib.SMTPException) as exc:
            reply = Reply(code=None, text=_describe(exc), stage=stage)
            return SendResult(reply=reply, connection_usable=False)
        reply = parse_reply(code, text, Stage.DATA)
        if not 200 <= code < 300:
            return self._failed(reply, refused=refused)
        return SendResult(reply=reply, refused=refused)

    def _mail_options(self, envelope: Envelope) -> list[str]:
        if self._client.does_esmtp and self._client.has_extn("size"):
            return [f"SIZE={len(envelope.content)}"]
        return []

    def _add_recipients(self, recipients: tuple[str, ...]) -> dict[str, Reply]:
        refused: dict[str, Reply] = {}
        for recipient in recipients:
            code, text = self._client.rcpt(recipient)
            if code not in (250, 251):
                refused[recipient] = parse_reply(code, text, Stage.RCPT)
            if code == _CLOSING:
                # The server is hanging up: no later recipient can be tried.
                refused.update({r: refused[recipient] for r in recipients if r not in refused})
                break
        return refused

    def _failed(self, reply: Reply, *, refused: dict[str, Reply] | None = None) -> SendResult:
        """End a failed transaction; the connection stays only if RSET works."""
        usable = reply.code != _CLOSING and self._reset()
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
            _discard(self._client)


def _discard(client: smtplib.SMTP | None) -> None:
    if client is not None:
        with contextlib.suppress(OSError):
            client.close()


def _describe(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if type(exc).__name__ not in text else text
