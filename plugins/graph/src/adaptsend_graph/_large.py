"""A message over about 3 MB: Graph takes at most about 4 MB in one request,
so ``sendMail`` cannot carry it. It goes the way Graph allows instead:

1. ``POST /users/{mailbox}/messages`` makes a draft of the message without
   its large attachments (base64 MIME, as ``sendMail`` takes it);
2. each attachment is added to the draft: one of 3 MB or more through an
   upload session (``attachments/createUploadSession``, then ``PUT`` of
   ranges of at most 4 MB to the session's own URL, which carries its own
   token), a smaller one in one ``POST .../attachments``;
3. ``POST /users/{mailbox}/messages/{id}/send`` sends the draft.

Making and filling a draft needs the ``Mail.ReadWrite`` application
permission besides ``Mail.Send``. A step before the last that fails leaves
nothing sent: the draft is deleted (after any ``Retry-After``), and the
message is tried again later as a whole.
"""

from __future__ import annotations

import base64
import json
import logging

from adaptsend import Envelope, Outcome, SendResult, TokenCache
from adaptsend_graph._http import Answer, Failure, GraphHTTP, NetworkFailure
from adaptsend_graph._split import ONE_REQUEST_BYTES, Detached, Split
from adaptsend_graph._verdicts import Step, verdict

log = logging.getLogger("adaptsend.graph")

#: Ranges of an upload: a multiple of 320 KiB, under Graph's 4 MB a request.
UPLOAD_RANGE_BYTES = 10 * 320 * 1024
#: Attachments smaller than this are added in one request (as Graph advises).
SMALL_ATTACHMENT_BYTES = ONE_REQUEST_BYTES

#: What one request came back with.
Called = Answer | NetworkFailure


class LargeSend:
    """Sends one message through a draft; blocking, one request at a time."""

    def __init__(self, http: GraphHTTP, tokens: TokenCache, envelope: Envelope) -> None:
        self._http = http
        self._tokens = tokens
        self._envelope = envelope
        self._users = http.settings.users_url

    def send(self, parts: Split) -> SendResult:
        made = self._call("POST", f"{self._users}/messages", _mime_body(parts.mime), _TEXT)
        draft_id = _draft_id(made)
        if draft_id is None:
            return self._failed(made, Step.DRAFT)
        draft = f"{self._users}/messages/{draft_id}"
        for attachment in parts.attachments:
            failed = self._attach(draft, attachment)
            if failed is not None:
                self._delete(draft)
                return self._failed(failed, Step.ATTACH)
        result = verdict(
            self._call("POST", f"{draft}/send", b"", {}), self._http.settings, Step.SEND_DRAFT
        )
        if result.outcome not in (Outcome.SENT, Outcome.UNKNOWN):
            # Refused: the draft was not sent, and the next try makes a new one.
            self._delete(draft)
        return result

    def _attach(self, draft: str, attachment: Detached) -> Called | None:
        """Add ``attachment`` to the draft; None when done, else the answer
        or failure that stopped it."""
        if len(attachment.content) < SMALL_ATTACHMENT_BYTES:
            body = json.dumps(_file_attachment(attachment)).encode()
            done = self._call("POST", f"{draft}/attachments", body, _JSON)
            return None if _ok(done) else done
        item = {"AttachmentItem": _upload_item(attachment)}
        session = self._call(
            "POST", f"{draft}/attachments/createUploadSession", json.dumps(item).encode(), _JSON
        )
        if not _ok(session):
            return session
        url = (
            session.data.get("uploadUrl") if isinstance(session, Answer) and session.data else None
        )
        if not isinstance(url, str) or not self._trusted(url):
            return _unexpected("an upload session without an https:// uploadUrl")
        return self._upload(url, attachment.content)

    def _trusted(self, url: str) -> bool:
        """Whether the attachment may go to ``url``: over TLS, or to the
        loopback test server the transport was pointed at."""
        return url.startswith("https://") or self._http.settings.loopback

    def _upload(self, url: str, content: bytes) -> Called | None:
        total = len(content)
        for first in range(0, total, UPLOAD_RANGE_BYTES):
            chunk = content[first : first + UPLOAD_RANGE_BYTES]
            headers = {
                "Content-Type": "application/octet-stream",
                "Content-Range": f"bytes {first}-{first + len(chunk) - 1}/{total}",
            }
            # The upload URL carries its own token: a bearer would be refused.
            answer = self._http.call("PUT", url, tokens=None, body=chunk, headers=headers)
            if isinstance(answer, Answer) and answer.status in (401, 403, 404):
                # The session's own token, not the application's: it expired.
                return _unexpected(f"{answer.status} to a range of the upload (the session ended)")
            if not _ok(answer):
                return answer
        return None

    def _delete(self, draft: str) -> None:
        """Delete the draft of a send that stopped; a draft that stays is named in the log."""
        gone = self._call("DELETE", draft, b"", {})
        if not _ok(gone):
            log.warning(
                "a draft of %s was left in the Drafts folder of %s: it could not be deleted",
                self._envelope.message_id,
                self._http.settings.mailbox,
            )

    def _failed(self, outcome: Called, step: Step) -> SendResult:
        if _ok(outcome):
            # A 2xx without what it should carry (the draft's id).
            outcome = _unexpected("a draft without its id")
        return verdict(outcome, self._http.settings, step)

    def _call(self, method: str, url: str, body: bytes, headers: dict[str, str]) -> Called:
        return self._http.call(method, url, tokens=self._tokens, body=body, headers=headers)


_TEXT = {"Content-Type": "text/plain"}
_JSON = {"Content-Type": "application/json"}


def _mime_body(mime: bytes) -> bytes:
    return base64.b64encode(mime)


def _unexpected(what: str) -> NetworkFailure:
    return NetworkFailure(kind=Failure.LOCAL, text=f"Graph answered with {what}")


def _ok(outcome: Called | None) -> bool:
    return isinstance(outcome, Answer) and 200 <= outcome.status < 300


def _draft_id(outcome: Called) -> str | None:
    if not _ok(outcome) or not isinstance(outcome, Answer) or outcome.data is None:
        return None
    draft_id = outcome.data.get("id")
    return draft_id if isinstance(draft_id, str) and draft_id else None


def _file_attachment(attachment: Detached) -> dict[str, object]:
    value: dict[str, object] = {
        "@odata.type": "#microsoft.graph.fileAttachment",
        "name": attachment.name,
        "contentType": attachment.content_type,
        "contentBytes": base64.b64encode(attachment.content).decode("ascii"),
        "isInline": attachment.is_inline,
    }
    if attachment.content_id:
        value["contentId"] = attachment.content_id
    return value


def _upload_item(attachment: Detached) -> dict[str, object]:
    item: dict[str, object] = {
        "attachmentType": "file",
        "name": attachment.name,
        "size": len(attachment.content),
        "contentType": attachment.content_type,
        "isInline": attachment.is_inline,
    }
    if attachment.content_id:
        item["contentId"] = attachment.content_id
    return item
