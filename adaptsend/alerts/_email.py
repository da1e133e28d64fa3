"""The ``email`` alert sink: mails the alert through the configured transport.

It opens a connection of its own instead of queueing the alert: a queued alert
about throttling would wait behind the very messages being throttled, and the
limiter's budget belongs to the queue. The provider may still refuse the extra
connection while it is throttling the account, so a refused try waits and tries
again, a few times.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import attrs
import trio

from adaptsend._errors import ConfigError
from adaptsend._models import Envelope, Message, Outcome, Reply
from adaptsend.alerts._model import Alert, SinkContext
from adaptsend.config._alerts import EmailAlertConfig
from adaptsend.sources._compose import compose
from adaptsend.transports._contract import SendResult, Transport, TransportError

log = logging.getLogger("adaptsend.alerts")


class EmailAlertError(Exception):
    """The alert mail was refused, or no connection could be opened."""


class EmailSink:
    """Sends each alert as a plain-text mail to ``[alerts.email] to``."""

    def __init__(self, context: SinkContext) -> None:
        settings = context.config.alerts.email
        if not settings.to:
            raise ConfigError("[alerts.email] to must name at least one address for the email sink")
        sender = settings.sender or context.config.smtp.username
        if not sender or "@" not in sender:
            raise ConfigError(
                "[alerts.email] sender must be an address for the email sink "
                "(it defaults to [smtp] username when that is one)"
            )
        if context.open_transport is None:
            raise ConfigError("the email alert sink needs a transport to send with")
        self._settings = settings
        self._sender = sender
        self._open_transport: Callable[[], Transport] = context.open_transport
        self._transport: Transport | None = None

    def deliver(self, alert: Alert) -> None:
        """Called in a worker thread started by trio: the sending itself runs
        back in the trio thread, through the transport's async methods."""
        envelope = compose(alert_message(alert, self._settings, self._sender))
        trio.from_thread.run(self._send, envelope)

    async def _send(self, envelope: Envelope) -> None:
        if self._transport is None:
            self._transport = self._open_transport()
        settings = self._settings
        for attempt in range(1, settings.attempts + 1):
            refusal = await _try_once(self._transport, envelope)
            if refusal is None:
                return
            reply = refusal.reply
            if refusal.final or attempt == settings.attempts:
                raise EmailAlertError(
                    f"the alert mail to {', '.join(settings.to)} was not accepted after "
                    f"{attempt} try(ies): {reply.describe()}"
                )
            log.info("alert mail refused (%s); trying again", reply.describe())
            await trio.sleep(max(settings.retry_delay_s * attempt, refusal.retry_after_s or 0.0))


@attrs.frozen(kw_only=True)
class _Refusal:
    reply: Reply
    #: Trying again cannot help.
    final: bool
    #: The server's own word on when to try again.
    retry_after_s: float | None = None


async def _try_once(transport: Transport, envelope: Envelope) -> _Refusal | None:
    """Send once on a new connection; None when accepted, else the refusal."""
    try:
        connection = await transport.connect()
    except TransportError as exc:
        final = exc.outcome in _FINAL
        return _Refusal(reply=exc.reply, final=final, retry_after_s=exc.retry_after_s)
    try:
        result = await connection.send(envelope)
    finally:
        await connection.close()
    return _refusal(result)


def _refusal(result: SendResult) -> _Refusal | None:
    """The transport's own verdict when it gives one, else the SMTP reply's."""
    reply, outcome = result.reply, result.outcome
    if outcome is None:
        if reply.code is not None and 200 <= reply.code < 300:
            return None
        return _Refusal(reply=reply, final=reply.code is not None and reply.code >= 500)
    if outcome is Outcome.SENT:
        return None
    return _Refusal(reply=reply, final=outcome in _FINAL, retry_after_s=result.retry_after_s)


_FINAL = frozenset({Outcome.PERMANENT, Outcome.FATAL})


def alert_message(alert: Alert, settings: EmailAlertConfig, sender: str) -> Message:
    body = "\n".join([alert.summary, "", *alert.details(), ""])
    return Message(
        sender=sender,
        to=settings.to,
        subject=f"{settings.subject_prefix} {alert.title()}".strip(),
        text=body,
        # RFC 3834: an automatic message, so that no one auto-replies to it.
        headers={"Auto-Submitted": "auto-generated", "X-Adaptsend-Alert": alert.rule},
    )
