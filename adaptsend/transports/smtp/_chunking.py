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
next. Recipients refused only as too many for one transaction go in a
transaction of their own once the batch is done (:mod:`adaptsend.transports.smtp._parts`).
When the write fails or the connection ends partway, the batch is
accounted as :mod:`adaptsend.transports.smtp._batch` says: the write keeps where each
message ends, so that a message written in full and never answered is told
apart from one that never went out whole.
"""

from __future__ import annotations

import bisect
import itertools
import smtplib
from collections.abc import Callable, Sequence

from adaptsend._models import Envelope, Stage
from adaptsend.classify._classifier import parse_reply
from adaptsend.transports._contract import SendResult
from adaptsend.transports.smtp._batch import BatchLog
from adaptsend.transports.smtp._socket import write_counted
from adaptsend.transports.smtp._wire import (
    CLOSING,
    RepliesEnded,
    encode_commands,
    envelope_commands,
    read_envelope_replies,
    read_reply,
    skip_replies,
)

MailOptions = Callable[[Envelope], Sequence[str]]


def send_chunked(
    client: smtplib.SMTP, envelopes: Sequence[Envelope], mail_options: MailOptions, log: BatchLog
) -> None:
    """Send ``envelopes`` in one write and read every outcome, in order, into ``log``."""
    blocks = _transactions(envelopes, mail_options)
    ends = list(itertools.accumulate(len(block) for block in blocks))
    written, log.write_error = write_counted(client, b"".join(blocks))
    log.complete = bisect.bisect_right(ends, written)
    for envelope in envelopes[: len(blocks)]:
        try:
            result = _read_outcome(client, envelope)
        except RepliesEnded as ended:
            log.replies_ended(ended)
            return
        log.add(result)
        if not result.connection_usable:
            return
    if log.write_error is not None:
        log.broken = True
        log.end_connection()


def _transactions(envelopes: Sequence[Envelope], mail_options: MailOptions) -> list[bytes]:
    """Each message's commands and content, up to the first that cannot be
    written (an unsafe argument, broken data): that one fails on its own, as
    the first of a later batch, not in another message's name. (The transport
    checks every message before it joins a batch; this is the second line.)"""
    blocks: list[bytes] = []
    for envelope in envelopes:
        try:
            blocks.append(_transaction(envelope, mail_options(envelope)))
        except Exception:
            if not blocks:
                raise
            break
    return blocks


def _transaction(envelope: Envelope, mail_options: Sequence[str]) -> bytes:
    lines = ["RSET", *envelope_commands(envelope, mail_options)]
    lines.append(f"BDAT {len(envelope.content)} LAST")
    return encode_commands(lines, mail_options) + envelope.content


def _read_outcome(client: smtplib.SMTP, envelope: Envelope) -> SendResult:
    """One message's result from its replies; raises :class:`RepliesEnded`."""
    reset, text = read_reply(client, Stage.MAIL)
    if reset == CLOSING:
        return SendResult(reply=parse_reply(reset, text, Stage.MAIL), connection_usable=False)
    recipients = envelope.recipients
    ended, refused = read_envelope_replies(client, recipients)
    if ended is not None and ended.stage is Stage.MAIL:
        # Each RCPT and the BDAT still get their own (failing) reply.
        usable = ended.code != CLOSING and skip_replies(client, len(recipients) + 1)
        return SendResult(reply=ended, connection_usable=usable)
    if ended is not None:
        return SendResult(reply=ended, refused=refused, connection_usable=False)
    code, text = read_reply(client, Stage.DATA)
    end = parse_reply(code, text, Stage.DATA)
    if len(refused) == len(recipients):
        # Nobody could receive it; the BDAT's refusal says only that.
        end = next(iter(refused.values()))
    return SendResult(reply=end, refused=refused, connection_usable=code != CLOSING)
