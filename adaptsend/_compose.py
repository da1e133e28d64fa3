"""Turn a :class:`Message` into the fixed bytes and envelope that get queued.

The bytes are made once, at enqueue, so that every retry sends exactly the same
message with the same Message-ID.
"""

from __future__ import annotations

import email.policy
import email.utils
from email.message import EmailMessage

from adaptsend._errors import MessageError
from adaptsend._models import Envelope, Message

#: Headers the composer sets itself from the message's fields.
_OWN_HEADERS = frozenset({"from", "to", "cc", "bcc", "subject", "message-id", "date"})


def compose(message: Message) -> Envelope:
    """Build the RFC 5322 bytes; raise :class:`MessageError` with one sentence
    if the message cannot be sent as given."""
    _check_addresses(message)
    mail = EmailMessage(policy=email.policy.SMTP)
    mail["From"] = message.sender
    if message.to:
        mail["To"] = ", ".join(message.to)
    if message.cc:
        mail["Cc"] = ", ".join(message.cc)
    mail["Subject"] = message.subject
    mail["Date"] = email.utils.formatdate(localtime=False, usegmt=True)
    message_id = message.message_id or email.utils.make_msgid(domain=_domain(message.sender))
    mail["Message-ID"] = message_id
    _add_headers(mail, message)
    _add_body(mail, message)
    try:
        content = mail.as_bytes()
    except (ValueError, TypeError, UnicodeError) as exc:
        raise MessageError(f"message {message_id} cannot be encoded: {exc}") from None
    return Envelope(
        message_id=message_id,
        sender=_bare_address(message.sender),
        recipients=tuple(_bare_address(r) for r in message.recipients),
        content=content,
    )


def _check_addresses(message: Message) -> None:
    if not message.sender.strip():
        raise MessageError("the message has no sender ('from')")
    if not message.recipients:
        raise MessageError("the message has no recipients (to, cc or bcc)")
    for address in (message.sender, *message.recipients):
        bare = _bare_address(address)
        if "@" not in bare or any(c.isspace() for c in bare):
            raise MessageError(f"{address!r} is not an email address")


def _bare_address(address: str) -> str:
    return email.utils.parseaddr(address)[1]


def _domain(sender: str) -> str:
    return _bare_address(sender).rpartition("@")[2] or "adaptsend.invalid"


def _add_headers(mail: EmailMessage, message: Message) -> None:
    for name, value in message.headers.items():
        if name.lower() in _OWN_HEADERS:
            raise MessageError(
                f"header {name!r} is set from the message's own field, not 'headers'"
            )
        if "\n" in value or "\r" in value:
            raise MessageError(f"header {name!r} contains a line break")
        mail[name] = value


def _add_body(mail: EmailMessage, message: Message) -> None:
    if message.text is not None or message.html is None:
        mail.set_content(message.text or "")
    if message.html is not None:
        if message.text is None:
            mail.set_content(message.html, subtype="html")
        else:
            mail.add_alternative(message.html, subtype="html")
    for attachment in message.attachments:
        maintype, _, subtype = attachment.content_type.partition("/")
        if not subtype:
            raise MessageError(
                f"attachment {attachment.filename!r} has content type "
                f"{attachment.content_type!r}; expected type/subtype"
            )
        mail.add_attachment(
            attachment.content, maintype=maintype, subtype=subtype, filename=attachment.filename
        )
