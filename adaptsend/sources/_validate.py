"""The one door every input passes before it is queued.

JSON Lines, ``.eml`` files, the flags of ``adaptsend enqueue``, a site's
table rows and the embedding API all hand their :class:`Message` to
:func:`check_message` (through ``compose``) or their :class:`Envelope` to
:func:`check_envelope`. What passes can be composed and stored as given; what
does not raises :class:`MessageError` with one sentence, so that the caller
rejects that one message and goes on with the others.

The store builds an :class:`Envelope` for every message it hands out; those
were checked on the way in, which is why the check lives here and not in the
class.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

import attrs

from adaptsend._errors import MessageError
from adaptsend._models import Attachment, Envelope, Message
from adaptsend.sources._validate_address import Mailbox, envelope_address, mailbox, mailboxes
from adaptsend.sources._validate_text import check_line, check_string, check_unicode
from adaptsend.store._schema import MESSAGE_ID_LEN

#: Headers the composer sets from the message's own fields or its body.
OWN_HEADERS = frozenset(
    {"from", "to", "cc", "bcc", "subject", "message-id", "date", "mime-version"}
    | {"content-type", "content-transfer-encoding", "content-disposition"}
)
#: RFC 5322 field names: printable ASCII but the colon. Long names are refused
#: because a header line must fit in 998 octets however it is folded.
_FIELD_NAME = re.compile(r"[\x21-\x39\x3b-\x7e]{1,76}")
#: ``<left@right>``: RFC 5322's msg-id (dot-atom text, or a literal on the right).
_ATOMS = r"[\w!#$%&'*+/=?^`{|}~.-]+"
_MESSAGE_ID = re.compile(rf"<{_ATOMS}@({_ATOMS}|\[[\x21-\x5a\x5e-\x7e]*\])>", re.ASCII)
#: Headers that hold addresses: checked as addresses, written as the composer
#: writes To (a value that is not an address list would be garbled on the way).
ADDRESS_HEADERS = frozenset(
    {"reply-to", "sender", "resent-from", "resent-sender", "resent-to", "resent-cc"}
)
_MAIN_TYPE = re.compile(r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}")


@attrs.frozen(kw_only=True)
class CheckedMessage:
    """What a :class:`Message` says, checked: its addresses parsed once."""

    sender: Mailbox
    to: tuple[Mailbox, ...]
    cc: tuple[Mailbox, ...]
    bcc: tuple[Mailbox, ...]
    message_id: str | None
    #: The extra headers as the composer writes them, in the order given.
    headers: tuple[tuple[str, str], ...] = ()
    #: Whether an extra header holds an address with a non-ASCII local part.
    headers_need_smtputf8: bool = False

    @property
    def recipients(self) -> tuple[Mailbox, ...]:
        return self.to + self.cc + self.bcc

    @property
    def smtputf8(self) -> bool:
        """True when an address has a non-ASCII local part: the message's
        headers are then UTF-8 (RFC 6532) and it needs a server that offers SMTPUTF8."""
        boxes = (self.sender, *self.recipients)
        return self.headers_need_smtputf8 or any(m.smtputf8 for m in boxes)


def check_message(message: Message) -> CheckedMessage:
    """Check everything a :class:`Message` carries; MessageError says what is wrong."""
    if not isinstance(message, Message):
        raise MessageError(f"expected a Message or an Envelope, not {type(message).__name__}")
    if not isinstance(message.sender, str) or not message.sender.strip():
        raise MessageError("the message has no sender ('from')")
    checked = CheckedMessage(
        sender=mailbox(message.sender, what="the sender"),
        to=_list(message.to, "'to' address"),
        cc=_list(message.cc, "'cc' address"),
        bcc=_list(message.bcc, "'bcc' address"),
        message_id=None if message.message_id is None else check_message_id(message.message_id),
    )
    if not checked.recipients:
        raise MessageError("the message has no recipients (to, cc or bcc)")
    check_line("the subject", message.subject)
    for part in ("text", "html"):
        if getattr(message, part) is not None:
            check_unicode(f"the {part} body", getattr(message, part))
    for attachment in _sequence(message.attachments, "attachments"):
        check_attachment(attachment)
    headers, utf8 = check_headers(message.headers)
    return attrs.evolve(checked, headers=headers, headers_need_smtputf8=utf8)


def _list(values: object, what: str) -> tuple[Mailbox, ...]:
    # Each item may itself be a list in one string ("a@x, b@y"): all of it counts.
    return tuple(
        m
        for value in _sequence(values, what)
        for m in mailboxes(check_string(f"a {what}", value), what=what)
    )


def _sequence(values: object, what: str) -> list[object]:
    if isinstance(values, str | bytes) or not isinstance(values, Iterable):
        raise MessageError(f"{what}s must be a list, not {type(values).__name__}")
    return list(values)


def check_headers(headers: object) -> tuple[tuple[tuple[str, str], ...], bool]:
    """Extra headers: field names as RFC 5322 allows them, values on one line,
    and none of the headers the composer writes itself. Returns them as they
    are to be written, and whether an address among them needs SMTPUTF8."""
    if not isinstance(headers, Mapping):
        raise MessageError(f"'headers' must be a mapping, not {type(headers).__name__}")
    written: list[tuple[str, str]] = []
    utf8 = False
    for name, value in headers.items():
        check_string("a header name", name)
        if not _FIELD_NAME.fullmatch(name):
            raise MessageError(
                f"header name {name!r} is not a field name (1 to 76 printable ASCII "
                "characters, no colon or space)"
            )
        if name.lower() in OWN_HEADERS:
            raise MessageError(
                f"header {name!r} is set from the message's own field, not 'headers'"
            )
        check_line(f"header {name!r}", value)
        if name.lower() in ADDRESS_HEADERS:
            boxes = mailboxes(value, what=f"header {name!r}:")
            utf8 = utf8 or any(m.smtputf8 for m in boxes)
            value = ", ".join(m.header_form() for m in boxes)
        written.append((name, value))
    return tuple(written), utf8


def check_attachment(attachment: object) -> None:
    """An attachment's name fits a header and its type is ``type/subtype``."""
    if not isinstance(attachment, Attachment):
        raise MessageError(f"an attachment must be an Attachment, not {type(attachment).__name__}")
    filename = check_line("an attachment's filename", attachment.filename)
    content_type = check_line(f"attachment {filename!r}'s content type", attachment.content_type)
    maintype, _, subtype = content_type.partition("/")
    if not (_MAIN_TYPE.fullmatch(maintype) and _MAIN_TYPE.fullmatch(subtype)):
        raise MessageError(
            f"attachment {filename!r} has content type {content_type!r}; expected type/subtype"
        )
    if not isinstance(attachment.content, bytes):
        raise MessageError(f"attachment {filename!r} has content that is not bytes")


def check_message_id(message_id: object) -> str:
    """A Message-ID that looks like one (``<left@right>``) and fits the store."""
    text = check_line("the Message-ID", message_id).strip()
    if len(text) > MESSAGE_ID_LEN:
        raise MessageError(f"the Message-ID is longer than {MESSAGE_ID_LEN} characters")
    if not _MESSAGE_ID.fullmatch(text):
        raise MessageError(f"the Message-ID {text!r} does not look like <left@right>")
    return text


def check_envelope(envelope: Envelope) -> Envelope:
    """An :class:`Envelope` handed over ready-made, checked as a composed one
    would be; its addresses come back in the form the envelope carries."""
    if not isinstance(envelope, Envelope):
        raise MessageError(f"expected a Message or an Envelope, not {type(envelope).__name__}")
    message_id = check_message_id(envelope.message_id)
    if not isinstance(envelope.sender, str) or not envelope.sender:
        raise MessageError("the envelope has no sender")
    sender = envelope_address(envelope.sender, what="the envelope sender")
    recipients = tuple(
        envelope_address(check_string("an envelope recipient", r), what="envelope recipient")
        for r in _sequence(envelope.recipients, "envelope recipient")
    )
    if not recipients:
        raise MessageError("the envelope has no recipients")
    if not isinstance(envelope.content, bytes):
        raise MessageError("the envelope's content is not bytes")
    return attrs.evolve(envelope, message_id=message_id, sender=sender, recipients=recipients)


def needs_smtputf8(envelope: Envelope) -> bool:
    """True when the envelope has a non-ASCII address: only a server that
    offers SMTPUTF8 may be given it (``MAIL FROM:<...> SMTPUTF8``)."""
    return not (envelope.sender.isascii() and all(r.isascii() for r in envelope.recipients))
