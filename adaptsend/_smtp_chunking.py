"""Sending a whole batch in one write: PIPELINING (RFC 2920) with CHUNKING
(RFC 3030).

With ``BDAT`` a message's content needs no ``354`` go-ahead, so every
message of a batch goes out before any reply is read: ``RSET``, ``MAIL``, the
``RCPT`` commands and ``BDAT <size> LAST`` with the content, message after
message. The server answers each command in order, and each message's
outcome is read from its own replies.

The server works through the whole batch whatever happens to one message, so
every message whose replies arrive is reported, also after a refusal; the
``RSET`` in front of each keeps a refused transaction from spilling into the
next. Only when the connection ends are the messages after that point left
unreported: they stay with the caller, untried.
"""

from __future__ import annotations

import datetime as dt
import smtplib
import time
from collections.abc import Callable, Sequence

import attrs

from adaptsend._classifier import parse_reply
from adaptsend._models import Envelope, Reply, Stage, utcnow
from adaptsend._smtp_wire import (
    CLOSING,
    describe,
    envelope_commands,
    recipient_refusals,
    skip_replies,
)
from adaptsend._transport import SendAttempt, SendResult

MailOptions = Callable[[Envelope], Sequence[str]]


def send_chunked(
    client: smtplib.SMTP, envelopes: Sequence[Envelope], mail_options: MailOptions
) -> list[SendAttempt]:
    """Send ``envelopes`` in one write and read every outcome in order."""
    started_at, start = utcnow(), time.perf_counter()
    try:
        client.send(b"".join(_transaction(e, mail_options(e)) for e in envelopes))
    except OSError as exc:
        reply = Reply(code=None, text=describe(exc), stage=Stage.MAIL)
        gone = SendResult(reply=reply, connection_usable=False)
        return [SendAttempt(result=gone, started_at=started_at, duration_s=0.0)]
    attempts: list[SendAttempt] = []
    last = start
    for envelope in envelopes:
        outcome = _read_outcome(client, envelope, first=not attempts)
        if outcome is None:
            # The connection ended before this message was taken up.
            _mark_unusable(attempts)
            break
        end = time.perf_counter()
        at = started_at + dt.timedelta(seconds=last - start)
        attempts.append(SendAttempt(result=outcome, started_at=at, duration_s=end - last))
        last = end
        if not outcome.connection_usable:
            break
    return attempts


def _transaction(envelope: Envelope, mail_options: Sequence[str]) -> bytes:
    lines = ["RSET", *envelope_commands(envelope, mail_options)]
    lines.append(f"BDAT {len(envelope.content)} LAST")
    commands = "".join(f"{line}\r\n" for line in lines).encode("ascii")
    return commands + envelope.content


def _read_outcome(client: smtplib.SMTP, envelope: Envelope, *, first: bool) -> SendResult | None:
    """One message's result from its replies; None when the connection ended
    before its first reply (then the server never took it up). The first
    message of a batch reports such an end instead: an idle connection the
    server closed, which the caller knows how to treat."""
    try:
        reset, text = client.getreply()
    except (OSError, smtplib.SMTPException) as exc:
        if not first:
            return None
        reply = Reply(code=None, text=describe(exc), stage=Stage.MAIL)
        return SendResult(reply=reply, connection_usable=False)
    if reset == CLOSING:
        return SendResult(reply=parse_reply(reset, text, Stage.MAIL), connection_usable=False)
    return _read_transaction(client, envelope)


def _read_transaction(client: smtplib.SMTP, envelope: Envelope) -> SendResult:
    recipients = envelope.recipients
    stage = Stage.MAIL
    try:
        code, text = client.getreply()
        if code != 250:
            mail = parse_reply(code, text, Stage.MAIL)
            # Each RCPT and the BDAT still get their own (failing) reply.
            usable = code != CLOSING and skip_replies(client, len(recipients) + 1)
            return SendResult(reply=mail, connection_usable=usable)
        stage = Stage.RCPT
        refused = recipient_refusals(recipients, lambda _: client.getreply())
        closing = next((r for r in refused.values() if r.code == CLOSING), None)
        if closing is not None:
            return SendResult(reply=closing, refused=refused, connection_usable=False)
        stage = Stage.DATA
        code, text = client.getreply()
    except (OSError, smtplib.SMTPException) as exc:
        reply = Reply(code=None, text=describe(exc), stage=stage)
        return SendResult(reply=reply, connection_usable=False)
    end = parse_reply(code, text, Stage.DATA)
    if len(refused) == len(recipients):
        # Nobody could receive it; the BDAT's refusal says only that.
        end = next(iter(refused.values()))
    return SendResult(reply=end, refused=refused, connection_usable=code != CLOSING)


def _mark_unusable(attempts: list[SendAttempt]) -> None:
    if attempts:
        last = attempts[-1]
        ended = attrs.evolve(last.result, connection_usable=False)
        attempts[-1] = attrs.evolve(last, result=ended)
