"""What the server accepted, refused and dropped, and the faults it injected."""

from __future__ import annotations

import collections
import re
import threading

import attrs

from adaptsend.testing._faults import Fault

_HEADER_END = re.compile(rb"\r?\n\r?\n")
_FOLD = re.compile(rb"\r?\n[ \t]+")
_MESSAGE_ID = re.compile(rb"^message-id[ \t]*:[ \t]*(.*?)[ \t]*\r?$", re.IGNORECASE | re.MULTILINE)


def message_id_of(raw: bytes) -> str | None:
    """The Message-ID header's value as sent (angle brackets kept), or None.

    A regular expression rather than the ``email`` package: a benchmark feeds
    the server a hundred thousand messages and only this one header matters.
    """
    end = _HEADER_END.search(raw)
    head = _FOLD.sub(b" ", raw[: end.start()] if end else raw)
    found = _MESSAGE_ID.search(head)
    if found is None:
        return None
    return found.group(1).decode("utf-8", errors="replace")


@attrs.frozen(kw_only=True)
class ReceivedMessage:
    """One accepted message: its envelope and its bytes as received."""

    message_id: str | None
    mail_from: str
    rcpt_tos: tuple[str, ...]
    raw: bytes = attrs.field(repr=lambda b: f"<{len(b)} bytes>")


class DeliveryLedger:
    """Thread-safe record of outcomes; the loop thread writes, any thread reads."""

    def __init__(self, keep_received: int | None) -> None:
        self._lock = threading.Lock()
        self._deliveries: collections.Counter[str | None] = collections.Counter()
        self._received: collections.deque[ReceivedMessage] = collections.deque(maxlen=keep_received)
        self._delivered = 0
        self._rejections = 0
        self._drops = 0
        self._faults: collections.Counter[Fault] = collections.Counter()

    def record_delivery(self, message: ReceivedMessage) -> None:
        with self._lock:
            self._deliveries[message.message_id] += 1
            self._delivered += 1
            self._received.append(message)

    def record_rejection(self) -> None:
        with self._lock:
            self._rejections += 1

    def record_drop(self) -> None:
        with self._lock:
            self._drops += 1

    def record_fault(self, fault: Fault) -> None:
        with self._lock:
            self._faults[fault] += 1

    def faults(self, fault: Fault) -> int:
        """How many times ``fault`` was injected."""
        with self._lock:
            return self._faults[fault]

    def deliveries(self) -> collections.Counter[str | None]:
        with self._lock:
            return collections.Counter(self._deliveries)

    def duplicates(self) -> dict[str, int]:
        with self._lock:
            return {mid: n for mid, n in self._deliveries.items() if mid is not None and n > 1}

    def received(self) -> list[ReceivedMessage]:
        with self._lock:
            return list(self._received)

    @property
    def delivered(self) -> int:
        with self._lock:
            return self._delivered

    @property
    def rejections(self) -> int:
        with self._lock:
            return self._rejections

    @property
    def drops(self) -> int:
        with self._lock:
            return self._drops

    def unique_and_extra(self) -> tuple[int, int]:
        """Distinct Message-IDs delivered, and deliveries beyond the first of each."""
        with self._lock:
            ids = [mid for mid in self._deliveries if mid is not None]
            extra = sum(self._deliveries[mid] - 1 for mid in ids)
            return len(ids), extra
