"""Turn a :class:`Message` into the fixed bytes and envelope that get queued.

The bytes are made once, at enqueue, so that every retry sends exactly the same
message with the same Message-ID. Everything the message carries has passed
``adaptsend.sources._validate`` first, so the headers written are the headers given.
"""

from __future__ import annotations

import email.errors
import email.policy
import email.utils
from email.message import EmailMessage

from adaptsend._errors import MessageError
from adaptsend._models import Envelope, Message
from adaptsend.sources._validate import CheckedMessage, check_message, check_message_id
from adaptsend.sources._validate_address import Mailbox

#: What the email package may raise on input the checks let through; it
#: becomes the message's rejection, never a traceback.
ENCODING_ERRORS = (ValueError, TypeError, LookupError, email.errors.MessageError)


def compose(message: Message) -> Envelope:
    """Build the RFC 5322 bytes; raise :class:`MessageError` with one sentence
    if the message cannot be sent as given.

    A message with a non-ASCII local part in an address gets UTF-8 headers
    (RFC 6532); its envelope then needs a server that offers SMTPUTF8.
    """
    checked = check_message(message)
    message_id = checked.message_id or _new_message_id(checked.sender)
    try:
        content = _content(message, checked, message_id)
    except ENCODING_ERRORS as exc:
        raise MessageError(f"message {message_id} cannot be encoded: {exc}") from None
    return Envelope(
        message_id=message_id,
        sender=checked.sender.address,
        recipients=tuple(m.address for m in checked.recipients),
        content=content,
    )


def _new_message_id(sender: Mailbox) -> str:
    domain = sender.address.rpartition("@")[2]
    # The domain is ASCII unless the local part is not (see _validate_address);
    # a long one could make an ID the store cannot keep, so that is checked too.
    ascii_domain = domain if domain.isascii() else "adaptsend.invalid"
    return check_message_id(email.utils.make_msgid(domain=ascii_domain))


def _content(message: Message, checked: CheckedMessage, message_id: str) -> bytes:
    policy = email.policy.SMTPUTF8 if checked.smtputf8 else email.policy.SMTP
    mail = EmailMessage(policy=policy)
    mail["From"] = checked.sender.header_form()
    if checked.to:
        mail["To"] = ", ".join(m.header_form() for m in checked.to)
    if checked.cc:
        mail["Cc"] = ", ".join(m.header_form() for m in checked.cc)
    mail["Subject"] = message.subject
    mail["Date"] = email.utils.formatdate(localtime=False, usegmt=True)
    mail["Message-ID"] = message_id
    for name, value in checked.headers:
        mail[name] = value
    _add_body(mail, message)
    return mail.as_bytes()


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
        mail.add_attachment(
            attachment.content, maintype=maintype, subtype=subtype, filename=attachment.filename
        )
