"""Drafts and attachment upload sessions of the fake Graph server: the way
Graph takes a message too large for one request."""

from __future__ import annotations

import re
import secrets
import threading

import attrs

from adaptsend.testing._graph_answers import GraphAnswer
from adaptsend.testing._graph_ledger import GraphAttachment, GraphDelivery, delivery

#: Graph takes at most 4 MB in one request, and in one range of an upload.
MAX_REQUEST_BYTES = 4 * 1024 * 1024
#: The largest attachment an upload session takes.
MAX_UPLOAD_BYTES = 150 * 1024 * 1024

_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+)")


class GraphError(Exception):
    """A request the fake answers with ``answer``."""

    def __init__(self, answer: GraphAnswer) -> None:
        super().__init__(answer.message)
        self.answer = answer


def _not_found(what: str) -> GraphError:
    message = f"The specified object was not found in the store. ({what})"
    return GraphError(GraphAnswer(status=404, code="ErrorItemNotFound", message=message))


def _bad(message: str) -> GraphError:
    return GraphError(GraphAnswer(status=400, code="ErrorInvalidRequest", message=message))


@attrs.define
class _Draft:
    mailbox: str
    mime: bytes
    attachments: list[GraphAttachment] = attrs.field(factory=list)


@attrs.define
class _Session:
    draft_id: str
    token: str
    name: str
    size: int
    content_type: str
    is_inline: bool
    content_id: str | None
    received: bytearray = attrs.field(factory=bytearray)


class Drafts:
    """Drafts by id and upload sessions by id; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._drafts: dict[str, _Draft] = {}
        self._sessions: dict[str, _Session] = {}
        self._made = 0

    def __len__(self) -> int:
        with self._lock:
            return len(self._drafts)

    def create(self, mailbox: str, mime: bytes) -> str:
        with self._lock:
            self._made += 1
            draft_id = f"AAMkAD-draft-{self._made}"
            self._drafts[draft_id] = _Draft(mailbox=mailbox, mime=mime)
            return draft_id

    def attach(self, mailbox: str, draft_id: str, attachment: GraphAttachment) -> None:
        with self._lock:
            self._draft(mailbox, draft_id).attachments.append(attachment)

    def open_session(self, mailbox: str, draft_id: str, item: object) -> tuple[str, str]:
        """A new upload session for the ``AttachmentItem`` ``item``: its id and token."""
        if not isinstance(item, dict) or item.get("attachmentType") != "file":
            raise _bad("AttachmentItem must be an object with attachmentType 'file'.")
        name, size = item.get("name"), item.get("size")
        if not isinstance(name, str) or not isinstance(size, int) or size <= 0:
            raise _bad("AttachmentItem needs a name and a size in bytes.")
        if size > MAX_UPLOAD_BYTES:
            raise GraphError(
                GraphAnswer(
                    status=413, code="ErrorAttachmentSizeLimitExceeded", message="Too large."
                )
            )
        with self._lock:
            self._draft(mailbox, draft_id)
            session_id, token = secrets.token_hex(8), secrets.token_urlsafe(24)
            content_id = item.get("contentId")
            self._sessions[session_id] = _Session(
                draft_id=draft_id,
                token=token,
                name=name,
                size=size,
                content_type=str(item.get("contentType") or "application/octet-stream"),
                is_inline=bool(item.get("isInline", False)),
                content_id=content_id if isinstance(content_id, str) else None,
            )
            return session_id, token

    def mailbox_of_session(self, session_id: str) -> str:
        with self._lock:
            session = self._sessions.get(session_id)
            if session is None or session.draft_id not in self._drafts:
                raise _not_found("upload session")
            return self._drafts[session.draft_id].mailbox

    def upload(self, session_id: str, token: str, content_range: str, data: bytes) -> int | None:
        """Take one range; returns the next byte expected, or None once the
        attachment is complete (and added to its draft)."""
        found = _RANGE.fullmatch(content_range.strip())
        with self._lock:
            session = self._sessions.get(session_id)
            if session is None or not secrets.compare_digest(session.token, token):
                raise GraphError(
                    GraphAnswer(status=401, code="InvalidAuthenticationToken", message="Bad token.")
                )
            if found is None:
                raise _bad(f"Content-Range {content_range!r} is not 'bytes first-last/total'.")
            first, last, total = (int(g) for g in found.groups())
            if total != session.size or first != len(session.received):
                raise _bad(f"The range {content_range} is not the one expected.")
            if last - first + 1 != len(data):
                raise _bad("The range does not match the length of the body.")
            session.received += data
            if len(session.received) < session.size:
                return len(session.received)
            del self._sessions[session_id]
            draft = self._drafts.get(session.draft_id)
            if draft is None:
                raise _not_found("draft")
            draft.attachments.append(
                GraphAttachment(
                    name=session.name,
                    content_type=session.content_type,
                    content=bytes(session.received),
                    is_inline=session.is_inline,
                    content_id=session.content_id,
                )
            )
            return None

    def send(self, mailbox: str, draft_id: str) -> GraphDelivery:
        with self._lock:
            draft = self._draft(mailbox, draft_id)
            del self._drafts[draft_id]
        return delivery(mailbox, draft.mime, tuple(draft.attachments))

    def delete(self, mailbox: str, draft_id: str) -> None:
        with self._lock:
            self._draft(mailbox, draft_id)
            del self._drafts[draft_id]

    def _draft(self, mailbox: str, draft_id: str) -> _Draft:
        draft = self._drafts.get(draft_id)
        if draft is None or draft.mailbox != mailbox:
            raise _not_found("draft")
        return draft
