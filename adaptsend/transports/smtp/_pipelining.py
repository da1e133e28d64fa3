"""Sending with PIPELINING (RFC 2920) and without CHUNKING: a message's MAIL,
RCPT and DATA go out at once, and its content goes out together with the
next message's commands, so each message costs one round trip.

A message whose recipients the server refused only as too many for one
transaction does not stop the batch: they go in a transaction of their own
once the batch is done (:mod:`adaptsend.transports.smtp._parts`).

A write that fails is accounted as :mod:`adaptsend.transports.smtp._batch` says: when
the content of message *k* went out in full and the next message's commands
did not, *k* is judged by its final reply if that can still be read, and is
unknown if not; the next message was never started.
"""

from __future__ import annotations

import smtplib
import time
from collections.abc import Callable, Sequence

from adaptsend._models import Envelope, Reply, Stage
from adaptsend.classify._classifier import parse_reply
from adaptsend.transports._contract import SendResult
from adaptsend.transports.smtp._batch import BatchLog
from adaptsend.transports.smtp._parts import needs_more
from adaptsend.transports.smtp._socket import write_counted
from adaptsend.transports.smtp._wire import (
    CLOSING,
    START_INPUT,
    RepliesEnded,
    command_group,
    data_block,
    discard,
    failed,
    read_envelope_replies,
    read_reply,
    reset,
    skip_replies,
)

MailOptions = Callable[[Envelope], Sequence[str]]


def send_pipelined(
    client: smtplib.SMTP,
    envelopes: Sequence[Envelope],
    deadline: float,
    mail_options: MailOptions,
    log: BatchLog,
) -> None:
    """Send ``envelopes`` in order into ``log``, stopping after the first
    that is not clean or once ``deadline`` (``time.perf_counter``) passed."""
    first = envelopes[0]
    _, error = write_counted(client, command_group(first, mail_options(first)))
    if error is not None:
        log.unsent(error, Stage.MAIL)
        return
    for index, envelope in enumerate(envelopes):
        following = index + 1 < len(envelopes) and time.perf_counter() < deadline
        upcoming = envelopes[index + 1] if following else None
        try:
            went_on = _transaction(client, envelope, upcoming, mail_options, log)
        except RepliesEnded as ended:
            log.replies_ended(ended)
            return
        if not went_on:
            return


def _transaction(
    client: smtplib.SMTP,
    envelope: Envelope,
    upcoming: Envelope | None,
    mail_options: MailOptions,
    log: BatchLog,
) -> bool:
    """Read the replies to ``envelope``'s commands (already sent), send its
    content with ``upcoming``'s commands behind it if there is one, and
    report its result. Returns whether ``upcoming`` is now under way."""
    recipients = envelope.recipients
    ended, refused = read_envelope_replies(client, recipients)
    if ended is not None:
        # Behind a refused MAIL each RCPT and the DATA get their own reply.
        unread = len(recipients) + 1 if ended.stage is Stage.MAIL else 0
        log.add(failed(client, ended, refused=refused, unread=unread))
        return False
    code, text = read_reply(client, Stage.DATA)
    everyone = len(refused) == len(recipients)
    if code != START_INPUT:
        first = next(iter(refused.values())) if everyone else None
        data = first or parse_reply(code, text, Stage.DATA)
        log.add(failed(client, data, refused=refused))
        return False
    if everyone:
        log.add(_end_empty(client, refused))
        return False
    block = data_block(envelope.content)
    content_end = len(block)
    if upcoming is not None:
        try:
            block += command_group(upcoming, mail_options(upcoming))
        except Exception:
            # That message fails on its own, as the first of a later batch,
            # not in this one's name (an unsafe argument, broken data).
            upcoming = None
    written, error = write_counted(client, block)
    if written < content_end:
        log.unsent(error, Stage.DATA)
        return False
    log.complete += 1
    end = parse_reply(*read_reply(client, Stage.DATA), Stage.DATA)
    if error is not None:
        # The next message's commands did not all go: it never started.
        log.broken = True
        log.add(SendResult(reply=end, refused=refused, connection_usable=False))
        return False
    result = _judged(client, end, refused, upcoming)
    log.add(result)
    # Recipients refused as too many go in a transaction of their own after
    # the batch (see _smtp_parts): no reason to stop it.
    goes_on = log.attempts[-1].clean or (needs_more(result) and result.connection_usable)
    return goes_on and upcoming is not None


def _judged(
    client: smtplib.SMTP, end: Reply, refused: dict[str, Reply], upcoming: Envelope | None
) -> SendResult:
    """The result of a message whose end of data was answered with ``end``."""
    accepted = end.code is not None and 200 <= end.code < 300
    if accepted and (not refused or needs_more(SendResult(reply=end, refused=refused))):
        return SendResult(reply=end, refused=refused)
    if upcoming is None:
        if accepted:
            return SendResult(reply=end, refused=refused)
        return failed(client, end, refused=refused)
    # The batch stops here, but the next message's commands are already
    # on their way; once the server has taken its DATA only hanging up
    # can stop that message, which then stays unsent.
    usable = end.code != CLOSING and _abandon(client, upcoming)
    return SendResult(reply=end, refused=refused, connection_usable=usable)


def _end_empty(client: smtplib.SMTP, refused: dict[str, Reply]) -> SendResult:
    """The server took DATA with no recipient left: end the empty message at
    once; nobody can receive it."""
    refusal = next(iter(refused.values()))
    _, error = write_counted(client, b".\r\n")
    if error is None and skip_replies(client, 1):
        return failed(client, refusal, refused=refused)
    return SendResult(reply=refusal, refused=refused, connection_usable=False)


def _abandon(client: smtplib.SMTP, envelope: Envelope) -> bool:
    """Read the replies to ``envelope``'s pipelined commands and end its
    transaction unsent; whether the connection can still be used."""
    # MAIL and every RCPT first, then the DATA, whose reply decides.
    if not skip_replies(client, len(envelope.recipients) + 1):
        return False
    try:
        code, _ = client.getreply()
    except OSError:
        return False
    if code == START_INPUT:
        # Mid-DATA even a QUIT would be read as content: hang up now.
        discard(client)
        return False
    return reset(client)
