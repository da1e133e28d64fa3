"""Read messages from the formats people hand over: JSON Lines and ``.eml`` files.

A bad input is one :class:`MessageError` sentence naming where it is; readers
yield it in place of the message so that the caller queues all the others.
"""

from __future__ import annotations

import base64
import binascii
import email
import email.policy
import email.utils
import json
import mimetypes
from collections.abc import Iterable, Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import attrs

from adaptsend._errors import MessageError
from adaptsend._models import Attachment, Envelope, Message
from adaptsend.sources._compose import ENCODING_ERRORS, compose
from adaptsend.sources._validate import check_message_id, needs_smtputf8
from adaptsend.sources._validate_address import envelope_address, mailbox

_KNOWN_KEYS = frozenset(
    {"from", "to", "cc", "bcc", "subject", "text", "html", "headers", "attachments", "message_id"}
)


@attrs.frozen(kw_only=True)
class Rejected:
    """An input that could not become a message, and why."""

    where: str
    reason: str

    def describe(self) -> str:
        return f"{self.where}: {self.reason}"


#: What JSON counts as white space. A line of other characters that Python
#: calls white space (a form feed, U+001C, U+2028) is not blank: it is
#: rejected, and said, rather than skipped.
_JSON_WHITESPACE = " \t\r\n"


def read_jsonl(
    lines: Iterable[str | bytes], *, name: str, base_dir: Path
) -> Iterator[Envelope | Rejected]:
    """One result per non-blank line: the composed envelope, or why it was rejected.

    Lines may be bytes (a file opened in binary mode), so that one line that
    is not UTF-8 is rejected on its own. Attachment paths are relative to ``base_dir``.
    """
    for number, line in enumerate(lines, start=1):
        try:
            text = _decoded(line)
            if not text.strip(_JSON_WHITESPACE):
                continue
            yield compose(message_from_json(text, base_dir=base_dir))
        except MessageError as exc:
            yield Rejected(where=f"{name} line {number}", reason=str(exc))


def _decoded(line: str | bytes) -> str:
    if isinstance(line, str):
        return line
    try:
        return line.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MessageError(
            f"not valid UTF-8 (byte 0x{line[exc.start]:02x} at column {exc.start + 1})"
        ) from None


def message_from_json(line: str, *, base_dir: Path) -> Message:
    """Parse one JSON Lines record into a :class:`Message`."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise MessageError(f"not valid JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(record, dict):
        raise MessageError("expected a JSON object")
    unknown = sorted(set(record) - _KNOWN_KEYS)
    if unknown:
        raise MessageError(f"unknown key {unknown[0]!r}")
    return message_from_mapping(record, base_dir=base_dir)


def message_from_mapping(record: dict[str, Any], *, base_dir: Path) -> Message:
    """Build a :class:`Message` from the JSON Lines shape (``"from"``, lists of
    addresses, attachments by path or base64)."""
    headers = record.get("headers") or {}
    if not isinstance(headers, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in headers.items()
    ):
        raise MessageError("'headers' must be an object of strings")
    return Message(
        sender=_string(record, "from", required=True) or "",
        to=_addresses(record, "to"),
        cc=_addresses(record, "cc"),
        bcc=_addresses(record, "bcc"),
        subject=_string(record, "subject") or "",
        text=_string(record, "text"),
        html=_string(record, "html"),
        headers=headers,
        attachments=tuple(_attachment(a, base_dir) for a in record.get("attachments") or ()),
        message_id=_string(record, "message_id"),
    )


def _string(record: dict[str, Any], key: str, *, required: bool = False) -> str | None:
    value = record.get(key)
    if value is None:
        if required:
            raise MessageError(f"missing {key!r}")
        return None
    if not isinstance(value, str):
        raise MessageError(f"{key!r} must be a string")
    return value


def _addresses(record: dict[str, Any], key: str) -> str | tuple[str, ...]:
    value = record.get(key) or []
    if isinstance(value, str):
        # An address list in one string: Message splits it, all of it.
        return value
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise MessageError(f"{key!r} must be a list of addresses")
    return tuple(value)


def _attachment(spec: Any, base_dir: Path) -> Attachment:
    if not isinstance(spec, dict):
        raise MessageError("each attachment must be an object")
    if "path" in spec:
        path = base_dir / str(spec["path"])
        try:
            content = path.read_bytes()
        except OSError as exc:
            raise MessageError(f"cannot read attachment {path}: {exc.strerror}") from None
        filename = str(spec.get("filename") or path.name)
    elif "content_b64" in spec and "filename" in spec:
        filename = str(spec["filename"])
        try:
            content = base64.b64decode(str(spec["content_b64"]), validate=True)
        except binascii.Error:
            raise MessageError(f"attachment {filename!r} has invalid base64 content") from None
    else:
        raise MessageError("an attachment needs 'path', or 'filename' and 'content_b64'")
    guessed = mimetypes.guess_type(filename)[0] or "application/octet-stream"
    return Attachment(
        filename=filename, content_type=str(spec.get("content_type") or guessed), content=content
    )


def read_eml(path: Path, *, sender: str | None = None) -> Envelope:
    """Queue a ready-made message file: the envelope comes from its headers
    (``sender`` overrides From), a Bcc header is removed, and a Message-ID is
    added when missing. Its addresses and Message-ID pass the same checks as
    a composed message's."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise MessageError(f"cannot read {path}: {exc.strerror}") from None
    try:
        return _eml_envelope(path, email.message_from_bytes(data, policy=email.policy.SMTP), sender)
    except ENCODING_ERRORS as exc:
        raise MessageError(f"{path} cannot be read as a message: {exc}") from None


def _eml_envelope(path: Path, mail: EmailMessage, sender: str | None) -> Envelope:
    if sender is not None:
        envelope_from = mailbox(sender, what="--from").address
    else:
        envelope_from = _eml_sender(path, mail)
    fields = [str(v) for name in ("To", "Cc", "Bcc") for v in mail.get_all(name, [])]
    # A group with no members ("undisclosed-recipients:;") parses as ("", "").
    pairs = [pair for pair in email.utils.getaddresses(fields) if any(pair)]
    recipients = tuple(envelope_address(a, what=f"{path}: recipient") for _, a in pairs)
    if not recipients:
        raise MessageError(f"{path} has no To, Cc or Bcc recipients")
    del mail["Bcc"]
    if mail["Message-ID"] is None:
        mail["Message-ID"] = email.utils.make_msgid(domain=_ascii_domain(envelope_from))
    envelope = Envelope(
        message_id=check_message_id(str(mail["Message-ID"])),
        sender=envelope_from,
        recipients=recipients,
        content=b"",
    )
    utf8 = needs_smtputf8(envelope)
    content = mail.as_bytes(policy=email.policy.SMTPUTF8 if utf8 else email.policy.SMTP)
    return attrs.evolve(envelope, content=content)


def _eml_sender(path: Path, mail: EmailMessage) -> str:
    pairs = [pair for pair in email.utils.getaddresses([str(mail.get("From", ""))]) if any(pair)]
    if not pairs:
        raise MessageError(f"{path} has no From address; give one with --from")
    return envelope_address(pairs[0][1], what=f"{path}: the From address")


def _ascii_domain(address: str) -> str:
    domain = address.rpartition("@")[2]
    return domain if domain.isascii() else "adaptsend.invalid"
