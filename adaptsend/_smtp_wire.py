"""SMTP command text and reply reading shared by every way the SMTP transport
sends: one command at a time, pipelined, or in chunks."""

from __future__ import annotations

import contextlib
import functools
import smtplib
from collections.abc import Callable, Sequence

from adaptsend._classifier import parse_reply
from adaptsend._models import Envelope, Reply, Stage

#: A reply code after which the server closes the connection (RFC 5321 4.2.2).
CLOSING = 421

#: Quoting an address parses it (``email.utils``): worth keeping, since a batch
#: repeats its senders and recipients.
quoted = functools.lru_cache(maxsize=4096)(smtplib.quoteaddr)


def envelope_commands(envelope: Envelope, mail_options: Sequence[str]) -> list[str]:
    """The ``MAIL`` and ``RCPT`` command lines for ``envelope``, without CRLF."""
    options = "".join(f" {option}" for option in mail_options)
    lines = [f"MAIL FROM:{quoted(envelope.sender)}{options}"]
    lines.extend(f"RCPT TO:{quoted(r)}" for r in envelope.recipients)
    return lines


def recipient_refusals(
    recipients: tuple[str, ...], answer: Callable[[str], tuple[int, bytes]]
) -> dict[str, Reply]:
    """The recipients refused, by the reply ``answer`` gets for each one's
    RCPT (sending it, or reading the reply to one already sent)."""
    refused: dict[str, Reply] = {}
    for recipient in recipients:
        code, text = answer(recipient)
        if code not in (250, 251):
            refused[recipient] = parse_reply(code, text, Stage.RCPT)
        if code == CLOSING:
            # The server is hanging up: no later recipient can be tried.
            refused.update({r: refused[recipient] for r in recipients if r not in refused})
            break
    return refused


def skip_replies(client: smtplib.SMTP, count: int) -> bool:
    """Read ``count`` replies to commands already sent; whether the connection
    is still there afterwards."""
    try:
        for _ in range(count):
            code, _ = client.getreply()
            if code == CLOSING:
                return False
    except (OSError, smtplib.SMTPException):
        return False
    return True


def discard(client: smtplib.SMTP | None) -> None:
    if client is not None:
        with contextlib.suppress(OSError):
            client.close()


def describe(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if type(exc).__name__ not in text else text
