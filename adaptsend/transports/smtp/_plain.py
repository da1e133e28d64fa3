"""Sending one message a command at a time, as ``smtplib`` would, except
that every command line and the content are written here: each argument is
checked before anything of a transaction is written, addresses go out as
UTF-8 in a transaction that asked for SMTPUTF8, and how far the content got
decides between a failure and an unknown outcome.

A message goes in as many transactions as its recipients need
(:mod:`adaptsend.transports.smtp._parts`). This is also how the PIPELINING and CHUNKING
paths send a message with more recipients than one transaction takes: on
its own, one command at a time, never inside a batch.
"""

from __future__ import annotations

import smtplib
from collections.abc import Iterator, Sequence

import attrs

from adaptsend._models import Envelope, Reply, Stage
from adaptsend.classify._classifier import parse_reply
from adaptsend.transports._contract import SendResult
from adaptsend.transports.smtp._batch import BatchLog, unknown
from adaptsend.transports.smtp._parts import Parts
from adaptsend.transports.smtp._socket import write_counted
from adaptsend.transports.smtp._wire import (
    START_INPUT,
    RepliesEnded,
    data_block,
    describe,
    encode_commands,
    envelope_commands,
    failed,
    read_reply,
    recipient_refusals,
)


@attrs.frozen(kw_only=True)
class TransactionEnd:
    """How one transaction ended."""

    result: SendResult
    #: The content was written in full: the message may have been delivered.
    written: bool = False
    #: The connection broke before the content was written in full; ``cause``
    #: is the error (the result says the same).
    unsent: bool = False
    cause: OSError | None = None

    @property
    def broken(self) -> bool:
        """The connection broke under the transaction: hang up, no QUIT."""
        return self.unsent or (self.written and not self.result.connection_usable)


def send_message(
    client: smtplib.SMTP,
    envelope: Envelope,
    options: Sequence[str],
    max_recipients: int,
    batch: BatchLog,
) -> None:
    """Send ``envelope`` in as many transactions as it needs and report its
    one result in ``batch``, which it is the next message of."""
    parts = Parts(envelope.recipients, max_recipients)
    for end in _transactions(client, envelope, options, parts):
        if end.written:
            batch.complete = len(batch.attempts) + 1
        if end.unsent and not parts.delivered:
            batch.unsent(end.cause, end.result.reply.stage)
            return
        batch.broken |= end.broken
    batch.add(parts.result())


def finish_message(
    client: smtplib.SMTP,
    envelope: Envelope,
    first: SendResult,
    options: Sequence[str],
    max_recipients: int,
) -> tuple[SendResult, bool]:
    """Go on with the recipients that ``first``, the accepted result of a
    transaction for all of ``envelope``'s recipients, refused as too many.
    Returns the message's result and whether the connection broke."""
    parts = Parts(envelope.recipients, max_recipients)
    parts.next_part()
    parts.take(first)
    broken = False
    for end in _transactions(client, envelope, options, parts):
        broken |= end.broken
    return parts.result(), broken


def _transactions(
    client: smtplib.SMTP, envelope: Envelope, options: Sequence[str], parts: Parts
) -> Iterator[TransactionEnd]:
    while (part := parts.next_part()) is not None:
        end = transaction(client, envelope, part, options)
        yield end
        parts.take(end.result)


def transaction(
    client: smtplib.SMTP, envelope: Envelope, recipients: Sequence[str], options: Sequence[str]
) -> TransactionEnd:
    """One transaction of ``envelope`` for ``recipients``. Raises
    :class:`UnsafeCommand` before anything is written."""
    lines = envelope_commands(envelope, options, recipients)
    rcpt_lines = iter(lines[1:])
    stage = Stage.MAIL
    try:
        client.ehlo_or_helo_if_needed()
        code, text = _command(client, lines[0], options)
        if code != 250:
            return TransactionEnd(result=failed(client, parse_reply(code, text, Stage.MAIL)))
        stage = Stage.RCPT
        # The lines come in the order of the recipients asked about.
        refused = recipient_refusals(
            tuple(recipients), lambda _: _command(client, next(rcpt_lines), options)
        )
        if len(refused) == len(recipients):
            return TransactionEnd(
                result=failed(client, next(iter(refused.values())), refused=refused)
            )
        stage = Stage.DATA
        code, text = _command(client, "DATA", options)
    except smtplib.SMTPResponseException as exc:
        reply = parse_reply(exc.smtp_code, exc.smtp_error, stage)
        return TransactionEnd(result=failed(client, reply))
    except OSError as exc:
        return _unsent(exc, stage)
    if code != START_INPUT:
        reply = parse_reply(code, text, Stage.DATA)
        return TransactionEnd(result=failed(client, reply, refused=refused))
    return _content(client, envelope, refused)


def _content(client: smtplib.SMTP, envelope: Envelope, refused: dict[str, Reply]) -> TransactionEnd:
    _, error = write_counted(client, data_block(envelope.content))
    if error is not None:
        return _unsent(error, Stage.DATA)
    try:
        code, text = read_reply(client, Stage.DATA)
    except RepliesEnded as ended:
        return TransactionEnd(result=unknown(describe(ended.cause)), written=True)
    reply = parse_reply(code, text, Stage.DATA)
    if not 200 <= code < 300:
        return TransactionEnd(result=failed(client, reply, refused=refused), written=True)
    return TransactionEnd(result=SendResult(reply=reply, refused=refused), written=True)


def _command(client: smtplib.SMTP, line: str, options: Sequence[str]) -> tuple[int, bytes]:
    """Write one command line and read its reply (``OSError`` if the
    connection broke)."""
    client.send(encode_commands([line], options))
    return client.getreply()


def _unsent(cause: OSError, stage: Stage) -> TransactionEnd:
    reply = Reply(code=None, text=describe(cause), stage=stage)
    result = SendResult(reply=reply, connection_usable=False)
    return TransactionEnd(result=result, unsent=True, cause=cause)
