"""What the fake Graph server has seen, and its per-mailbox throttling state.

Thread-safe: each request is served in a thread of its own.
"""

from __future__ import annotations

import collections
import email.parser
import email.policy
import email.utils
import math
import threading
import time
from collections.abc import Mapping

import attrs

from adaptsend.testing._graph_answers import GraphAnswer, throttled
from adaptsend.testing._ledger import message_id_of


@attrs.frozen(kw_only=True)
class GraphRequest:
    """One request as the server saw it."""

    method: str
    #: The path with its query string, as sent.
    path: str
    #: Header names in lower case.
    headers: Mapping[str, str]
    body: bytes = attrs.field(repr=lambda b: f"<{len(b)} bytes>")
    #: The status answered; 0 when the connection was closed without an answer.
    status: int
    #: ``time.monotonic()`` when its headers had arrived.
    arrived_at: float
    #: Seconds after the start of the ``Retry-After`` window it arrived in;
    #: None when it arrived in none.
    in_window_s: float | None = None


@attrs.frozen(kw_only=True)
class GraphAttachment:
    """An attachment added to a draft (by an upload session or in one request)."""

    name: str
    content_type: str
    content: bytes = attrs.field(repr=lambda b: f"<{len(b)} bytes>")
    is_inline: bool = False
    content_id: str | None = None


@attrs.frozen(kw_only=True)
class GraphDelivery:
    """One message sent: the MIME the server was given (decoded), and for a
    draft the attachments added to it apart."""

    message_id: str | None
    mailbox: str
    mime: bytes = attrs.field(repr=lambda b: f"<{len(b)} bytes>")
    #: Every address in the MIME's To, Cc and Bcc headers, as Exchange sends to them.
    recipients: tuple[str, ...]
    attachments: tuple[GraphAttachment, ...] = ()


@attrs.frozen(kw_only=True)
class GraphStatistics:
    """What a fake Graph server has seen since it was made."""

    requests: int
    #: ``429`` answers sent (over the limit, or inside a window).
    throttled: int
    #: The most requests in flight at once for one mailbox.
    max_concurrent: int
    #: ``Retry-After`` windows opened by a ``429``.
    windows: int
    #: Requests that arrived inside a window.
    in_window: int
    delivered: int
    unique_messages: int
    duplicate_deliveries: int
    #: Drafts made and neither sent nor deleted.
    drafts_left: int


def recipients_of(mime: bytes) -> tuple[str, ...]:
    """The addresses of the To, Cc and Bcc headers of ``mime``."""
    headers = email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(mime)
    values = [str(v) for name in ("To", "Cc", "Bcc") for v in headers.get_all(name, [])]
    return tuple(address for _, address in email.utils.getaddresses(values) if address)


def delivery(
    mailbox: str, mime: bytes, attachments: tuple[GraphAttachment, ...] = ()
) -> GraphDelivery:
    return GraphDelivery(
        message_id=message_id_of(mime),
        mailbox=mailbox,
        mime=mime,
        recipients=recipients_of(mime),
        attachments=attachments,
    )


@attrs.define
class _Mailbox:
    in_flight: int = 0
    window_start: float = -math.inf
    window_end: float = -math.inf


class GraphLedger:
    """Counts, windows and deliveries; the server's threads write, any thread reads."""

    def __init__(self, *, limit: int | None, retry_after_s: float) -> None:
        self._lock = threading.Lock()
        self._limit = limit
        self._retry_after_s = retry_after_s
        self._mailboxes: dict[str, _Mailbox] = collections.defaultdict(_Mailbox)
        self._requests: list[GraphRequest] = []
        self._deliveries: collections.Counter[str | None] = collections.Counter()
        self._delivered: list[GraphDelivery] = []
        self._throttled = 0
        self._max_concurrent = 0
        self._windows = 0
        self._in_window = 0

    def set_limit(self, limit: int | None) -> None:
        with self._lock:
            self._limit = limit

    def arrive(self, mailbox: str) -> tuple[GraphAnswer | None, float | None]:
        """A request for ``mailbox`` arrived: count it in flight. Returns the
        ``429`` to answer it with, if any, and how long after the start of a
        window it came (None outside one)."""
        now = time.monotonic()
        with self._lock:
            box = self._mailboxes[mailbox]
            box.in_flight += 1
            self._max_concurrent = max(self._max_concurrent, box.in_flight)
            if now < box.window_end:
                self._in_window += 1
                self._throttled += 1
                return throttled(_seconds(box.window_end - now)), now - box.window_start
            if self._limit is not None and box.in_flight > self._limit:
                self._open_window(box, now, self._retry_after_s)
                self._throttled += 1
                return throttled(_seconds(self._retry_after_s)), None
            return None, None

    def answered_throttled(self, mailbox: str, retry_after: str | None) -> None:
        """A scripted ``429`` went out: its ``Retry-After`` opens a window."""
        with self._lock:
            self._throttled += 1
            seconds = _parse_seconds(retry_after)
            if seconds is not None:
                self._open_window(self._mailboxes[mailbox], time.monotonic(), seconds)

    def depart(self, mailbox: str) -> None:
        with self._lock:
            self._mailboxes[mailbox].in_flight -= 1

    def record(self, request: GraphRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def deliver(self, sent: GraphDelivery) -> None:
        with self._lock:
            self._deliveries[sent.message_id] += 1
            self._delivered.append(sent)

    @property
    def requests(self) -> list[GraphRequest]:
        with self._lock:
            return list(self._requests)

    @property
    def delivered(self) -> list[GraphDelivery]:
        with self._lock:
            return list(self._delivered)

    @property
    def deliveries(self) -> dict[str | None, int]:
        with self._lock:
            return dict(self._deliveries)

    def statistics(self, *, drafts_left: int) -> GraphStatistics:
        with self._lock:
            delivered = sum(self._deliveries.values())
            return GraphStatistics(
                requests=len(self._requests),
                throttled=self._throttled,
                max_concurrent=self._max_concurrent,
                windows=self._windows,
                in_window=self._in_window,
                delivered=delivered,
                unique_messages=len(self._deliveries),
                duplicate_deliveries=delivered - len(self._deliveries),
                drafts_left=drafts_left,
            )

    def _open_window(self, box: _Mailbox, now: float, seconds: float) -> None:
        if now + seconds > box.window_end:
            self._windows += 1
            box.window_start, box.window_end = now, now + seconds


def _seconds(value: float) -> str:
    """A Retry-After value: whole seconds as Graph sends them, rounded up;
    a fraction only for a window shorter than a second (fast tests)."""
    if value >= 1:
        return str(math.ceil(value - 1e-9))
    return f"{max(value, 0.001):.3f}"


def _parse_seconds(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None
