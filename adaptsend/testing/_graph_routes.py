"""One request to the fake Graph server and its answer: routing, the checks
Graph makes, and the work (a delivery, a draft, an upload)."""

from __future__ import annotations

import base64
import binascii
import http.server
import json
import re
import time
import urllib.parse
from typing import TYPE_CHECKING, Any

import attrs

from adaptsend.testing._graph_answers import (
    INVALID_BASE64,
    INVALID_TOKEN,
    SERVER_BUSY,
    TOO_LARGE,
    GraphAnswer,
    GraphFault,
)
from adaptsend.testing._graph_drafts import MAX_REQUEST_BYTES, GraphError
from adaptsend.testing._graph_ledger import GraphAttachment, GraphRequest, delivery

if TYPE_CHECKING:
    from adaptsend.testing._graph_server import FakeGraphServer

_USER_PATH = re.compile(r"/v1\.0/users/([^/]+)(/.*)")
_UPLOAD_PATH = re.compile(r"/upload/([0-9a-f]+)")
_SEND = re.compile(r"/messages/([^/]+)/send")
_ATTACH = re.compile(r"/messages/([^/]+)/attachments")
_SESSION = re.compile(r"/messages/([^/]+)/attachments/createUploadSession")
_DRAFT = re.compile(r"/messages/([^/]+)")


@attrs.frozen(kw_only=True)
class _Response:
    status: int
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()
    #: Close the connection without an answer, after ``stall_s``.
    hang_up: bool = False
    stall_s: float = 0.0


def _of(answer: GraphAnswer) -> _Response:
    headers = (("Retry-After", answer.retry_after),) if answer.retry_after is not None else ()
    return _Response(status=answer.status, body=answer.body(), headers=headers)


def _json(status: int, value: object, *headers: tuple[str, str]) -> _Response:
    return _Response(status=status, body=json.dumps(value).encode(), headers=headers)


class Exchange:
    """Serves the request ``handler`` has read the headers of."""

    def __init__(self, graph: FakeGraphServer, handler: http.server.BaseHTTPRequestHandler) -> None:
        self._graph = graph
        self._handler = handler
        parts = urllib.parse.urlsplit(handler.path)
        self._path = parts.path
        self._query = dict(urllib.parse.parse_qsl(parts.query))
        self._headers = {name.lower(): value for name, value in handler.headers.items()}
        self._body = b""
        self._arrived_at = time.monotonic()

    def serve(self) -> None:
        graph = self._graph
        try:
            mailbox = self._mailbox()
        except GraphError as exc:
            self._body = self._read_body()
            self._write(_of(exc.answer), None)
            return
        throttle, in_window = graph.ledger.arrive(mailbox)
        try:
            self._body = self._read_body()
            response = _of(throttle) if throttle is not None else self._answer(mailbox)
        finally:
            # Before the answer goes out: the client may send its next
            # request as soon as it has read this one's answer.
            graph.ledger.depart(mailbox)
        self._write(response, in_window)

    # -- the checks -----------------------------------------------------------

    def _mailbox(self) -> str:
        upload = _UPLOAD_PATH.fullmatch(self._path)
        if upload is not None:
            return self._graph.drafts.mailbox_of_session(upload.group(1))
        user = _USER_PATH.fullmatch(self._path)
        if user is None:
            message = f"Resource not found for the segment '{self._path}'."
            raise GraphError(GraphAnswer(status=400, code="BadRequest", message=message))
        return urllib.parse.unquote(user.group(1))

    def _answer(self, mailbox: str) -> _Response:
        graph = self._graph
        try:
            upload = _UPLOAD_PATH.fullmatch(self._path)
            if upload is not None:
                return self._upload(upload.group(1))
            if not graph.authorized(self._headers):
                return _of(INVALID_TOKEN)
            if not graph.knows(mailbox):
                message = f"The requested user '{mailbox}' is invalid."
                return _of(GraphAnswer(status=404, code="ErrorInvalidUser", message=message))
            scripted = graph.next_answer(self._path)
            if scripted is not None and not scripted.deliver:
                return self._scripted(mailbox, scripted)
            response = self._route(mailbox)
            return self._scripted(mailbox, scripted) if scripted is not None else response
        except GraphError as exc:
            return _of(exc.answer)

    def _scripted(self, mailbox: str, answer: GraphAnswer) -> _Response:
        if answer.status == 429:
            self._graph.ledger.answered_throttled(mailbox, answer.retry_after)
        return _of(answer)

    # -- the work -------------------------------------------------------------

    def _route(self, mailbox: str) -> _Response:
        method, rest = self._handler.command, _USER_PATH.fullmatch(self._path)
        assert rest is not None
        tail = rest.group(2)
        drafts = self._graph.drafts
        if method == "POST" and tail == "/sendMail":
            return self._send(lambda: delivery(mailbox, self._mime()))
        if method == "POST" and tail == "/messages":
            mime = self._mime()
            draft_id = drafts.create(mailbox, mime)
            made = delivery(mailbox, mime)
            return _json(201, {"id": draft_id, "internetMessageId": made.message_id})
        if method == "POST" and (found := _SEND.fullmatch(tail)):
            return self._send(lambda: drafts.send(mailbox, found.group(1)))
        if method == "POST" and (found := _SESSION.fullmatch(tail)):
            item = self._json_body().get("AttachmentItem")
            session_id, token = drafts.open_session(mailbox, found.group(1), item)
            url = f"{self._graph.url}/upload/{session_id}?authtoken={token}"
            return _json(201, {"uploadUrl": url, "nextExpectedRanges": ["0-"]})
        if method == "POST" and (found := _ATTACH.fullmatch(tail)):
            drafts.attach(mailbox, found.group(1), self._attachment())
            return _json(201, {"id": "attachment"})
        if method == "DELETE" and (found := _DRAFT.fullmatch(tail)):
            drafts.delete(mailbox, found.group(1))
            return _Response(status=204)
        message = f"No {method} {tail} here."
        return _of(GraphAnswer(status=405, code="ErrorInvalidRequest", message=message))

    def _send(self, deliver: Any) -> _Response:
        """A send: its fault if one is due, else the latency, then the delivery."""
        graph = self._graph
        fault = graph.next_fault()
        if fault is GraphFault.UNAVAILABLE:
            return _of(SERVER_BUSY)
        made = deliver()
        graph.stopping.wait(graph.latency_s)
        graph.ledger.deliver(made)
        if fault is GraphFault.STALL:
            return _Response(status=0, hang_up=True, stall_s=graph.stall_s)
        if fault is GraphFault.RESET:
            return _Response(status=0, hang_up=True)
        return _Response(status=202)

    def _upload(self, session_id: str) -> _Response:
        if "authorization" in self._headers:
            # The upload URL carries its own token; a bearer is refused.
            return _of(INVALID_TOKEN)
        if len(self._body) > MAX_REQUEST_BYTES:
            raise GraphError(GraphAnswer(status=413, code="RequestEntityTooLarge", message="Big."))
        token = self._query.get("authtoken", "")
        content_range = self._headers.get("content-range", "")
        following = self._graph.drafts.upload(session_id, token, content_range, self._body)
        if following is None:
            return _Response(status=201, headers=(("Location", self._path),))
        return _json(200, {"nextExpectedRanges": [f"{following}-"]})

    def _mime(self) -> bytes:
        """The MIME of a ``text/plain`` base64 body, checked as Graph checks it."""
        if len(self._body) > MAX_REQUEST_BYTES:
            raise GraphError(TOO_LARGE)
        if not self._headers.get("content-type", "").startswith("text/plain"):
            raise GraphError(INVALID_BASE64)
        try:
            return base64.b64decode(self._body, validate=True)
        except (binascii.Error, ValueError):
            raise GraphError(INVALID_BASE64) from None

    def _json_body(self) -> dict[str, Any]:
        try:
            value = json.loads(self._body)
        except ValueError:
            value = None
        if not isinstance(value, dict):
            message = "Unable to read JSON request payload."
            raise GraphError(GraphAnswer(status=400, code="BadRequest", message=message))
        return value

    def _attachment(self) -> GraphAttachment:
        value = self._json_body()
        if value.get("@odata.type") != "#microsoft.graph.fileAttachment":
            raise GraphError(
                GraphAnswer(status=400, code="ErrorInvalidRequest", message="Not a file.")
            )
        try:
            content = base64.b64decode(str(value.get("contentBytes", "")), validate=True)
        except (binascii.Error, ValueError):
            raise GraphError(
                GraphAnswer(status=400, code="ErrorInvalidRequest", message="Bad contentBytes.")
            ) from None
        content_id = value.get("contentId")
        return GraphAttachment(
            name=str(value.get("name", "")),
            content_type=str(value.get("contentType") or "application/octet-stream"),
            content=content,
            is_inline=bool(value.get("isInline", False)),
            content_id=content_id if isinstance(content_id, str) else None,
        )

    # -- the wire -------------------------------------------------------------

    def _read_body(self) -> bytes:
        length = int(self._headers.get("content-length") or 0)
        return self._handler.rfile.read(length) if length else b""

    def _write(self, response: _Response, in_window: float | None) -> None:
        graph, handler = self._graph, self._handler
        graph.ledger.record(
            GraphRequest(
                method=handler.command,
                path=handler.path,
                headers=self._headers,
                body=self._body,
                status=response.status,
                arrived_at=self._arrived_at,
                in_window_s=in_window,
            )
        )
        if response.hang_up:
            graph.stopping.wait(response.stall_s)
            handler.close_connection = True
            return
        try:
            handler.send_response(response.status)
            for name, value in response.headers:
                handler.send_header(name, value)
            if response.body:
                handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(response.body)))
            handler.end_headers()
            handler.wfile.write(response.body)
        except OSError:
            # The client gave up waiting: nobody to answer.
            handler.close_connection = True
