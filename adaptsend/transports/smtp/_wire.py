"""SMTP command text and reply reading shared by every way the SMTP transport
sends: one command at a time, pipelined, or in chunks."""

from __future__ import annotations

import contextlib
import functools
import re
import smtplib
from collections.abc import Callable, Sequence

from adaptsend._models import Envelope, Reply, Stage
from adaptsend.classify._classifier import parse_reply
from adaptsend.transports._contract import SendResult

#: A reply code after which the server closes the connection (RFC 5321 4.2.2).
CLOSING = 421
#: The go-ahead for a message's content after DATA.
START_INPUT = 354
#: The MAIL parameter for addresses that are not ASCII (RFC 6531).
SMTPUTF8 = "SMTPUTF8"

#: Quoting an address parses it (``email.utils``): worth keeping, since a batch
#: repeats its senders and recipients.
quoted = functools.lru_cache(maxsize=4096)(smtplib.quoteaddr)

#: A line of content starting with a dot gets a second one (RFC 5321 4.5.2).
_LEADING_DOT = re.compile(rb"(?m)^\.")


class RepliesEnded(Exception):
    """The server's replies stopped (it hung up, reset the connection or went
    quiet past the timeout) while a reply at ``stage`` was awaited."""

    def __init__(self, stage: Stage, cause: OSError) -> None:
        super().__init__(describe(cause))
        self.stage = stage
        self.cause = cause


def read_reply(client: smtplib.SMTP, stage: Stage) -> tuple[int, bytes]:
    """The next reply; raises :class:`RepliesEnded` when none can come."""
    try:
        return client.getreply()
    except OSError as exc:  # smtplib's own errors are OSErrors too
        raise RepliesEnded(stage, exc) from None


class UnsafeCommand(ValueError):
    """A command argument holds a character that would end the command line
    early (CR, LF) or that no server takes (NUL). Raised before anything of
    the command is written; ``reply`` is the message's permanent failure."""

    def __init__(self, what: str, value: str) -> None:
        text = (
            f"The {what} {value!r} holds a line break or NUL, which an SMTP command "
            "cannot carry; the message was not sent."
        )
        super().__init__(text)
        self.reply = Reply(code=None, text=text, stage=Stage.MAIL)


def check_argument(value: str, what: str) -> str:
    """``value``, unless it holds CR, LF or NUL: then :class:`UnsafeCommand`.

    Every argument of a command we write passes here, whatever path it came
    from: one CR or LF would let its text be read as a command of its own."""
    if "\r" in value or "\n" in value or "\0" in value:
        raise UnsafeCommand(what, value)
    return value


def mail_command(sender: str, mail_options: Sequence[str]) -> str:
    """The ``MAIL`` command line, without CRLF. Raises :class:`UnsafeCommand`."""
    options = "".join(f" {check_argument(o, 'MAIL parameter')}" for o in mail_options)
    return f"MAIL FROM:{quoted(check_argument(sender, 'sender address'))}{options}"


def rcpt_command(recipient: str) -> str:
    """The ``RCPT`` command line, without CRLF. Raises :class:`UnsafeCommand`."""
    return f"RCPT TO:{quoted(check_argument(recipient, 'recipient address'))}"


def envelope_commands(
    envelope: Envelope, mail_options: Sequence[str], recipients: Sequence[str] | None = None
) -> list[str]:
    """The ``MAIL`` and ``RCPT`` command lines for ``envelope`` (or for some
    of its ``recipients``), without CRLF. Raises :class:`UnsafeCommand` before
    returning any line if one argument is unsafe."""
    chosen = envelope.recipients if recipients is None else recipients
    return [mail_command(envelope.sender, mail_options), *map(rcpt_command, chosen)]


def encode_commands(lines: Sequence[str], mail_options: Sequence[str]) -> bytes:
    """Command lines as written, each ended by CRLF: UTF-8 in a transaction
    that asked for SMTPUTF8 (RFC 6531), ASCII otherwise (``UnicodeEncodeError``
    for a character that is not)."""
    encoding = "utf-8" if SMTPUTF8 in mail_options else "ascii"
    return "".join(f"{line}\r\n" for line in lines).encode(encoding)


def command_group(envelope: Envelope, mail_options: Sequence[str]) -> bytes:
    """``envelope``'s MAIL, RCPT and DATA commands, as pipelined. Raises
    :class:`UnsafeCommand` for an unsafe argument."""
    lines = envelope_commands(envelope, mail_options)
    lines.append("DATA")
    return encode_commands(lines, mail_options)


def data_block(content: bytes) -> bytes:
    """The message as sent after a 354: dots doubled, ended by CRLF.CRLF, as
    ``smtplib.SMTP.data`` sends it."""
    dotted = content.startswith(b".") or b"\n." in content
    # Most messages have no line to quote; finding that out is much cheaper.
    quoted_content = _LEADING_DOT.sub(b"..", content) if dotted else content
    if not quoted_content.endswith(b"\r\n"):
        quoted_content += b"\r\n"
    return quoted_content + b".\r\n"


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


def read_envelope_replies(
    client: smtplib.SMTP, recipients: tuple[str, ...]
) -> tuple[Reply | None, dict[str, Reply]]:
    """Read the replies to a pipelined MAIL and its RCPT commands.

    Returns the reply that ended the transaction before its content (a
    refused MAIL, whose RCPT and content commands still have their replies
    unread; a 421 to an RCPT) or None, and the recipients refused. Raises
    :class:`RepliesEnded`."""
    code, text = read_reply(client, Stage.MAIL)
    if code != 250:
        return parse_reply(code, text, Stage.MAIL), {}
    refused = recipient_refusals(recipients, lambda _: read_reply(client, Stage.RCPT))
    closing = next((r for r in refused.values() if r.code == CLOSING), None)
    return closing, refused


def skip_replies(client: smtplib.SMTP, count: int) -> bool:
    """Read ``count`` replies to commands already sent; whether the connection
    is still there afterwards."""
    try:
        for _ in range(count):
            code, _ = client.getreply()
            if code == CLOSING:
                return False
    except OSError:
        return False
    return True


def failed(
    client: smtplib.SMTP, reply: Reply, *, refused: dict[str, Reply] | None = None, unread: int = 0
) -> SendResult:
    """End a failed transaction; the connection stays only if RSET works.
    ``unread`` replies to pipelined commands are read (and dropped) first."""
    usable = reply.code != CLOSING and skip_replies(client, unread) and reset(client)
    return SendResult(reply=reply, refused=refused or {}, connection_usable=usable)


def reset(client: smtplib.SMTP) -> bool:
    """RSET; whether it worked."""
    try:
        code, _ = client.rset()
    except OSError:
        return False
    return code == 250


def discard(client: smtplib.SMTP | None) -> None:
    if client is not None:
        with contextlib.suppress(OSError):
            client.close()


def describe(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if type(exc).__name__ not in text else text
