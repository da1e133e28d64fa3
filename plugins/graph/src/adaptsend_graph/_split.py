"""A message too large for one Graph request, taken apart: its attachments,
largest first, until the rest fits in one request.

The rest keeps the queued bytes but for the parts taken out (its headers,
Message-ID included, its text and its boundaries as they were): it becomes
a draft, and each attachment taken out is added to that draft on its own.
"""

from __future__ import annotations

import email
import email.message
import email.policy
import io
from email.generator import BytesGenerator
from typing import cast

import attrs

#: Graph takes about 4 MB in a request; the MIME goes as base64 (4/3 larger).
ONE_REQUEST_BYTES = 3_000_000

#: Parse and write back without touching what is left: no refolding of
#: headers, no re-encoding of parts.
_KEEP = email.policy.compat32.clone(linesep="\r\n")


class TooLarge(Exception):
    """Even without its attachments, the message does not fit. One sentence."""


@attrs.frozen(kw_only=True)
class Detached:
    """An attachment taken out of the message."""

    name: str
    content_type: str
    content: bytes = attrs.field(repr=lambda b: f"<{len(b)} bytes>")
    is_inline: bool
    content_id: str | None


@attrs.frozen(kw_only=True)
class Split:
    #: The message without the attachments below.
    mime: bytes = attrs.field(repr=lambda b: f"<{len(b)} bytes>")
    attachments: tuple[Detached, ...]


def split(mime: bytes, *, limit: int = ONE_REQUEST_BYTES) -> Split:
    """Take attachments out of ``mime``, the largest first, until what is
    left is at most ``limit`` bytes. Raises :class:`TooLarge`."""
    message = email.message_from_bytes(mime, policy=_KEEP)
    taken: list[Detached] = []
    rest = mime
    for parent, part in _attachments_by_size(message):
        if len(rest) <= limit:
            break
        _children(parent).remove(part)
        taken.append(_detached(part))
        rest = _written(message)
    if len(rest) > limit:
        raise TooLarge(
            f"the message is {_mb(len(rest))} without the attachments that can go apart, "
            f"more than the {_mb(limit)} one Graph request takes"
        )
    return Split(mime=rest, attachments=tuple(taken))


def _attachments_by_size(
    message: email.message.Message,
) -> list[tuple[email.message.Message, email.message.Message]]:
    """(multipart, part) for each part with a file name, largest first."""
    found = []
    for container in message.walk():
        if not container.is_multipart():
            continue
        for part in _children(container):
            if not part.is_multipart() and part.get_filename():
                found.append((container, part))
    return sorted(found, key=lambda pair: -len(str(pair[1].get_payload())))


def _children(multipart: email.message.Message) -> list[email.message.Message]:
    """The parts of a multipart, as the parser made them (a list it owns)."""
    parts = multipart.get_payload()
    assert isinstance(parts, list)
    return cast(list[email.message.Message], parts)


def _detached(part: email.message.Message) -> Detached:
    content = part.get_payload(decode=True)
    content_id = part.get("Content-ID")
    return Detached(
        name=part.get_filename() or "attachment",
        content_type=part.get_content_type(),
        content=content if isinstance(content, bytes) else b"",
        is_inline=part.get_content_disposition() == "inline",
        content_id=str(content_id).strip().strip("<>") if content_id else None,
    )


def _written(message: email.message.Message) -> bytes:
    out = io.BytesIO()
    BytesGenerator(out, mangle_from_=False, maxheaderlen=0, policy=_KEEP).flatten(message)
    return out.getvalue()


def _mb(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB"
