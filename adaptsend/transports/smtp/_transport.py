"""The SMTP transport: stdlib smtplib, one worker thread per blocking call.

smtplib is synchronous and well understood; every call runs through
``trio.to_thread.run_sync`` under a thread limiter of our own, so trio's default
of 40 threads never caps us and a cancelled send is never abandoned halfway.
"""

from __future__ import annotations

import itertools
import logging
import smtplib
import ssl
import time
from collections.abc import Sequence

import trio

from adaptsend._models import Envelope, Outcome, Reply, Stage
from adaptsend.classify._classifier import Classifier, Verdict, parse_reply
from adaptsend.config._settings import SMTPConfig
from adaptsend.oauth._tokens import TokenCache, TokenError
from adaptsend.transports._contract import SendAttempt, SendResult, TransportError
from adaptsend.transports.smtp._batch import BatchLog, untouched
from adaptsend.transports.smtp._checks import ServerTerms, mail_options, refusal, server_terms
from adaptsend.transports.smtp._chunking import send_chunked
from adaptsend.transports.smtp._login import StaleToken, login
from adaptsend.transports.smtp._parts import needs_more
from adaptsend.transports.smtp._pipelining import send_pipelined
from adaptsend.transports.smtp._plain import finish_message, send_message
from adaptsend.transports.smtp._socket import idle_end
from adaptsend.transports.smtp._tls_policy import (
    effective_tls,
    no_plaintext_auth,
    plaintext_auth_allowed,
)
from adaptsend.transports.smtp._verdicts import CONFIGURATION, REFUSED_BEFORE_SENDING
from adaptsend.transports.smtp._wire import UnsafeCommand, describe, discard

log = logging.getLogger("adaptsend.smtp")


class SMTPConfigurationError(TransportError):
    """The server cannot do what the configuration asks (no STARTTLS, no AUTH):
    fatal, whatever the reply's code says."""

    def __init__(self, reply: Reply) -> None:
        super().__init__(reply, outcome=Outcome.FATAL, rule=CONFIGURATION)


class SMTPTransport:
    """Opens authenticated SMTP connections as configured in ``[smtp]``, and
    says what their replies mean (``ClassifiesReplies``) with ``classifier``:
    the one made from ``[classifier]``, or the built-in rules alone."""

    def __init__(
        self,
        config: SMTPConfig,
        *,
        threads: trio.CapacityLimiter,
        tokens: TokenCache | None = None,
        classifier: Classifier | None = None,
    ) -> None:
        self._config = config
        self._threads = threads
        self._tokens = tokens
        self._classifier = classifier or Classifier()
        self._tls = effective_tls(config)
        # Decided before any connection: a password that could only go in
        # clear text to a remote host is a ConfigError here, not a surprise later.
        self._plaintext_auth = plaintext_auth_allowed(config)
        account = config.username or "anonymous"
        self.sending_key = f"{account}@{config.host}:{config.port}"

    async def connect(self) -> SMTPConnection:
        client = await trio.to_thread.run_sync(self._open_blocking, limiter=self._threads)
        pipelining = self._config.pipelining and bool(client.has_extn("pipelining"))
        chunking = pipelining and self._config.chunking and bool(client.has_extn("chunking"))
        return SMTPConnection(
            client,
            threads=self._threads,
            pipelining=pipelining,
            chunking=chunking,
            terms=server_terms(client, self._config),
        )

    def classify(self, reply: Reply) -> Verdict:
        """What ``reply`` means: the verdict of the first rule that matches it."""
        return self._classifier.classify(reply)

    def _tls_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=self._config.ca_file)
        if not self._config.verify_tls:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context

    def use_tokens(self, tokens: TokenCache) -> None:
        """Log in with tokens from ``tokens`` (``[smtp] auth = "xoauth2"``),
        the cache the agent shares between its transports."""
        self._tokens = tokens

    def _open_blocking(self) -> smtplib.SMTP:
        opening = _Opening()
        try:
            try:
                return self._open(opening, stale=None)
            except StaleToken as exc:
                # This run logged in with these settings before: the token
                # went stale. One fresh token, one more connection.
                discard(opening.client)
                return self._open(opening, stale=exc.token)
        except SMTPConfigurationError:
            discard(opening.client)
            raise
        except TokenError as exc:
            discard(opening.client)
            reply = Reply(code=None, text=str(exc), stage=Stage.AUTH)
            raise (SMTPConfigurationError if exc.fatal else TransportError)(reply) from None
        except smtplib.SMTPNotSupportedError as exc:
            discard(opening.client)
            reply = Reply(code=None, text=str(exc), stage=opening.stage)
            raise SMTPConfigurationError(reply) from None
        except smtplib.SMTPResponseException as exc:
            discard(opening.client)
            reply = parse_reply(exc.smtp_code, exc.smtp_error, opening.stage)
            raise TransportError(reply) from None
        except (ssl.SSLError, ssl.CertificateError) as exc:
            discard(opening.client)
            raise TransportError(Reply(code=None, text=describe(exc), stage=Stage.TLS)) from None
        except OSError as exc:  # smtplib's own errors are OSErrors too
            discard(opening.client)
            reply = Reply(code=None, text=describe(exc), stage=opening.stage)
            raise TransportError(reply) from None
        except Exception as exc:
            # A bug or bad configuration data must not escape the thread.
            log.error("opening an SMTP connection failed unexpectedly", exc_info=exc)
            discard(opening.client)
            text = f"Connecting stopped on an unexpected {describe(exc)}."
            raise TransportError(Reply(code=None, text=text, stage=opening.stage)) from None

    def _open(self, opening: _Opening, *, stale: str | None) -> smtplib.SMTP:
        """Connect, say EHLO, start TLS and log in; ``stale`` is a token the
        server refused on the connection before this one."""
        config = self._config
        tls = self._tls
        # Before connecting: a fetch may take a while, and an idle new
        # connection holds one of the provider's slots.
        token = self._token(stale)
        opening.stage = Stage.TLS if tls == "ssl" else Stage.CONNECT
        client = opening.client = self._new_client()
        opening.stage = Stage.CONNECT
        client.ehlo()
        secure = tls == "ssl"
        if tls == "starttls" or (tls == "may" and client.has_extn("starttls")):
            opening.stage = Stage.TLS
            client.starttls(context=self._tls_context())
            client.ehlo()
            secure = True
        if config.username:
            opening.stage = Stage.AUTH
            if not secure and not self._plaintext_auth:
                raise SMTPConfigurationError(no_plaintext_auth(config))
            login(client, config, token, self._tokens, may_be_stale=stale is None)
        return client

    def _token(self, stale: str | None) -> str | None:
        """The access token to log in with; None to log in with the password."""
        if self._config.auth != "xoauth2" or not self._config.username:
            return None
        if self._tokens is None:
            text = 'auth = "xoauth2" is set, but this transport was given no token provider'
            raise SMTPConfigurationError(Reply(code=None, text=text, stage=Stage.AUTH))
        return self._tokens.token() if stale is None else self._tokens.refresh(stale)

    def _new_client(self) -> smtplib.SMTP:
        config = self._config
        if self._tls == "ssl":
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


class _Opening:
    """How far opening a connection got: the client to discard on failure,
    and the stage a failure belongs to."""

    def __init__(self) -> None:
        self.client: smtplib.SMTP | None = None
        self.stage = Stage.CONNECT


class SMTPConnection:
    """One open SMTP session, reused for many messages by one task at a time.

    Never raises from a send: an SMTP or network failure, and any other error
    (a bug), is the failed attempt of the message it stopped. A message that
    this connection cannot carry (an unsafe address, one that needs SMTPUTF8
    the server does not offer, one too large) fails for good before anything
    of it is written (:mod:`adaptsend.transports.smtp._checks`). How a batch that ends
    early is accounted, message by message, is told in
    :mod:`adaptsend.transports.smtp._batch`; how a message goes in several transactions,
    in :mod:`adaptsend.transports.smtp._parts`.
    """

    def __init__(
        self,
        client: smtplib.SMTP,
        *,
        threads: trio.CapacityLimiter,
        pipelining: bool = False,
        chunking: bool = False,
        terms: ServerTerms | None = None,
    ) -> None:
        self._client = client
        self._threads = threads
        self._pipelining = pipelining
        self._chunking = chunking
        self._terms = terms or ServerTerms()
        # Whether a batch has been sent: from then on the server may have
        # closed the connection while it sat idle.
        self._used = False

    async def send(self, envelope: Envelope) -> SendResult:
        """Send one message. A cancelled send still runs to its end in its thread:
        the message may have been delivered, and the result says so."""
        attempts = await self.send_many([envelope], budget_s=0.0)
        return attempts[0].result

    async def send_many(
        self, envelopes: Sequence[Envelope], *, budget_s: float
    ) -> list[SendAttempt]:
        """Send several messages in one thread call (see ``BatchConnection``).

        On a connection used before, the server may have closed it while it
        was idle: then the first message comes back ``untouched`` (nothing of
        the batch was written) and nothing else is tried."""
        return await trio.to_thread.run_sync(
            self._send_many_blocking, envelopes, budget_s, limiter=self._threads
        )

    async def close(self) -> None:
        await trio.to_thread.run_sync(self._quit_blocking, limiter=self._threads)

    def _send_many_blocking(
        self, envelopes: Sequence[Envelope], budget_s: float
    ) -> list[SendAttempt]:
        batch = BatchLog(len(envelopes))
        try:
            if self._used and (end := idle_end(self._client)) is not None:
                batch.add(untouched(end))
                return batch.attempts
            self._used = True
            self._send_batch(envelopes, time.perf_counter() + budget_s, batch)
        except UnsafeCommand as exc:
            # Raised before anything of the message was written (every
            # message is checked first: this is the second line).
            refused = SendResult(
                reply=exc.reply, outcome=Outcome.PERMANENT, rule=REFUSED_BEFORE_SENDING
            )
            batch.add(refused)
        except Exception as exc:
            batch.crashed(exc)
        if batch.broken:
            # Mid-transaction a QUIT could be taken as content: hang up.
            discard(self._client)
        return batch.attempts

    def _send_batch(self, envelopes: Sequence[Envelope], deadline: float, batch: BatchLog) -> None:
        """Send ``envelopes`` on the path the server allows. A message the
        connection cannot carry, or one with more recipients than one
        transaction takes, is sent (or refused) on its own: a batch of
        PIPELINING or CHUNKING ends before it."""
        first = envelopes[0]
        batching = self._chunking or self._pipelining
        if not batching or len(first.recipients) > self._terms.max_recipients:
            self._send_plain(envelopes if not batching else envelopes[:1], deadline, batch)
            return
        if (refused := refusal(first, self._terms)) is not None:
            batch.add(refused)
            return
        ordinary = [first, *itertools.takewhile(self._ordinary, envelopes[1:])]
        if self._chunking:
            send_chunked(self._client, ordinary, self._mail_options, batch)
        else:
            send_pipelined(self._client, ordinary, deadline, self._mail_options, batch)
        self._finish_messages(ordinary, batch)

    def _ordinary(self, envelope: Envelope) -> bool:
        """Whether ``envelope`` may go in a batch of PIPELINING or CHUNKING."""
        terms = self._terms
        try:
            return len(envelope.recipients) <= terms.max_recipients and not refusal(envelope, terms)
        except Exception:
            # Broken data fails on its own, as the first of a later batch.
            return False

    def _send_plain(self, envelopes: Sequence[Envelope], deadline: float, batch: BatchLog) -> None:
        for envelope in envelopes:
            if (refused := refusal(envelope, self._terms)) is not None:
                batch.add(refused)
            else:
                options = self._mail_options(envelope)
                limit = self._terms.max_recipients
                send_message(self._client, envelope, options, limit, batch)
            attempts = batch.attempts
            if batch.done or not attempts[-1].clean or time.perf_counter() >= deadline:
                break

    def _finish_messages(self, envelopes: Sequence[Envelope], batch: BatchLog) -> None:
        """After a batch, send the recipients that the server refused as too
        many for one transaction, message by message, while the connection lasts."""
        for index, attempt in enumerate(batch.attempts):
            if not needs_more(attempt.result):
                continue
            if batch.broken or not batch.attempts[-1].result.connection_usable:
                return
            envelope = envelopes[index]
            result, broken = finish_message(
                self._client,
                envelope,
                attempt.result,
                self._mail_options(envelope),
                self._terms.max_recipients,
            )
            batch.replace(index, result)
            batch.broken |= broken
            if not result.connection_usable:
                batch.end_connection()

    def _mail_options(self, envelope: Envelope) -> list[str]:
        return mail_options(envelope, self._terms)

    def _quit_blocking(self) -> None:
        try:
            self._client.quit()
        except Exception:  # closing never raises, not even for a bug
            discard(self._client)
