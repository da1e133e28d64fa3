"""What a message must be for one SMTP connection to carry it, checked
before a byte of it is written.

A message that fails a check fails for good (:attr:`Outcome.PERMANENT`) with
one sentence that says why, and the connection goes on with the next
message: nothing was written, so the server knows nothing of it. The checks
are cheap enough for every message (a scan of its addresses and a length),
so a batch of plain ASCII mail pays next to nothing for them.
"""

from __future__ import annotations

import smtplib

import attrs

from adaptsend._models import Envelope, Outcome, Reply, Stage
from adaptsend.config._settings import SMTPConfig
from adaptsend.transports._contract import SendResult
from adaptsend.transports.smtp._verdicts import REFUSED_BEFORE_SENDING
from adaptsend.transports.smtp._wire import SMTPUTF8, UnsafeCommand, check_argument


@attrs.frozen(kw_only=True)
class ServerTerms:
    """What one connection may carry: what the server offered in its EHLO
    reply and what ``[smtp]`` allows."""

    #: The server offers SMTPUTF8 (RFC 6531): addresses may be UTF-8.
    smtputf8: bool = False
    #: The server offers SIZE (RFC 1870): MAIL says how large a message is.
    size_parameter: bool = False
    #: The largest message in bytes, or None when nobody set a limit.
    max_bytes: int | None = None
    #: Who set ``max_bytes``, as a sentence ends: "the server takes (its EHLO SIZE)".
    max_bytes_by: str = ""
    #: Recipients per transaction (``[smtp] max_recipients``).
    max_recipients: int = 100


def server_terms(client: smtplib.SMTP, config: SMTPConfig) -> ServerTerms:
    """The terms of a connection whose EHLO reply ``client`` has read."""
    esmtp = client.does_esmtp
    size_parameter = esmtp and bool(client.has_extn("size"))
    # RFC 1870: SIZE without a number, or 0, means no fixed limit.
    announced = client.esmtp_features.get("size", "") if size_parameter else ""
    server_max = int(announced) if announced.isdigit() and int(announced) > 0 else None
    max_bytes: int | None = config.max_message_bytes
    by = "[smtp] max_message_bytes allows"
    if server_max is not None and (max_bytes is None or server_max < max_bytes):
        max_bytes, by = server_max, "the server takes (its EHLO SIZE)"
    return ServerTerms(
        smtputf8=esmtp and bool(client.has_extn("smtputf8")),
        size_parameter=size_parameter,
        max_bytes=max_bytes,
        max_bytes_by=by if max_bytes is not None else "",
        max_recipients=config.max_recipients,
    )


def needs_smtputf8(envelope: Envelope) -> bool:
    """Whether an address of ``envelope`` is not ASCII."""
    return not (envelope.sender.isascii() and all(r.isascii() for r in envelope.recipients))


def mail_options(envelope: Envelope, terms: ServerTerms) -> list[str]:
    """The MAIL parameters for ``envelope`` on a connection with ``terms``."""
    options = [f"SIZE={len(envelope.content)}"] if terms.size_parameter else []
    if needs_smtputf8(envelope):
        options.append(SMTPUTF8)
    return options


def refusal(envelope: Envelope, terms: ServerTerms) -> SendResult | None:
    """The permanent failure of ``envelope`` on a connection with ``terms``,
    or None if it may be sent."""
    reply = _unsafe(envelope) or _unencodable(envelope, terms) or _too_large(envelope, terms)
    if reply is None:
        return None
    return SendResult(reply=reply, outcome=Outcome.PERMANENT, rule=REFUSED_BEFORE_SENDING)


def _unsafe(envelope: Envelope) -> Reply | None:
    try:
        check_argument(envelope.sender, "sender address")
        for recipient in envelope.recipients:
            check_argument(recipient, "recipient address")
    except UnsafeCommand as exc:
        return exc.reply
    return None


def _unencodable(envelope: Envelope, terms: ServerTerms) -> Reply | None:
    if terms.smtputf8 or not needs_smtputf8(envelope):
        return None
    if not envelope.sender.isascii():
        what, address, stage = "sender address", envelope.sender, Stage.MAIL
    else:
        address = next(r for r in envelope.recipients if not r.isascii())
        what, stage = "recipient address", Stage.RCPT
    text = f"The {what} {address!r} needs SMTPUTF8, which the server does not offer."
    return Reply(code=None, text=text, stage=stage)


def _too_large(envelope: Envelope, terms: ServerTerms) -> Reply | None:
    size, limit = len(envelope.content), terms.max_bytes
    if limit is None or size <= limit:
        return None
    text = (
        f"The message is {size:,} bytes, larger than the {limit:,} bytes "
        f"{terms.max_bytes_by}; it was not sent."
    )
    return Reply(code=None, text=text, stage=Stage.MAIL)
