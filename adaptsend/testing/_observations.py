"""What a test server has seen: the counts tests assert on."""

from __future__ import annotations

import collections

from adaptsend.testing._connections import ConnectionTable
from adaptsend.testing._faults import Fault
from adaptsend.testing._ledger import DeliveryLedger, ReceivedMessage
from adaptsend.testing._limits import LimitClock
from adaptsend.testing._statistics import ServerStatistics


class ServerObservations:
    """The read side of :class:`ThrottlingSMTPServer`: thread-safe, readable
    while the server runs, while it is down and after it stopped."""

    _ledger: DeliveryLedger
    _connections: ConnectionTable
    _limits: LimitClock

    @property
    def deliveries(self) -> collections.Counter[str | None]:
        """Accepted messages per Message-ID (as sent, with angle brackets);
        messages without one are counted under None. A copy."""
        return self._ledger.deliveries()

    @property
    def delivered(self) -> int:
        """Messages accepted in all."""
        return self._ledger.delivered

    @property
    def duplicates(self) -> dict[str, int]:
        """Message-IDs accepted more than once, with how many times."""
        return self._ledger.duplicates()

    @property
    def received(self) -> list[ReceivedMessage]:
        """The latest accepted messages, oldest first (see ``keep_received``)."""
        return self._ledger.received()

    @property
    def connections(self) -> int:
        """TCP connections accepted in all."""
        return self._connections.total

    @property
    def open_connections(self) -> int:
        """TCP connections open now."""
        return self._connections.open

    @property
    def max_concurrent(self) -> int:
        """The most connections ever open at once."""
        return self._connections.max_concurrent

    @property
    def rejections(self) -> int:
        """Throttle replies sent."""
        return self._ledger.rejections

    @property
    def drops(self) -> int:
        """Connections dropped without a reply (``drop_after_data``)."""
        return self._ledger.drops

    @property
    def hangups(self) -> int:
        """Connections hung up on after their messages (``hang_up_after``)."""
        return self._ledger.faults(Fault.HANG_UP)

    @property
    def content_cuts(self) -> int:
        """Connections reset in the middle of a message (``cut_content_every``)."""
        return self._ledger.faults(Fault.CONTENT_CUT)

    @property
    def replies_lost(self) -> int:
        """Messages delivered whose reply was never sent (``lose_reply_every``)."""
        return self._ledger.faults(Fault.REPLY_LOST)

    @property
    def greeting_refusals(self) -> int:
        """Greetings refused (``refuse_greeting_every``, ``refuse_greetings``)."""
        return self._ledger.faults(Fault.GREETING_REFUSED)

    @property
    def tls_resets(self) -> int:
        """Connections reset after 220 to STARTTLS (``reset_tls_every``)."""
        return self._ledger.faults(Fault.TLS_RESET)

    def statistics(self) -> ServerStatistics:
        """All the counts at once, as a frozen snapshot."""
        unique, extra = self._ledger.unique_and_extra()
        return ServerStatistics(
            connections=self.connections,
            open_connections=self.open_connections,
            max_concurrent=self.max_concurrent,
            delivered=self.delivered,
            unique_messages=unique,
            duplicate_deliveries=extra,
            rejections=self.rejections,
            drops=self.drops,
            hangups=self.hangups,
            content_cuts=self.content_cuts,
            replies_lost=self.replies_lost,
            greeting_refusals=self.greeting_refusals,
            tls_resets=self.tls_resets,
            limit=self._limits.current(),
        )

    def wait_for_open_connections(self, count: int, timeout_s: float = 5.0) -> None:
        """Block until exactly ``count`` connections are open.

        A client that has closed its socket is seen as closed by the server a
        moment later; wait here before asserting on :attr:`open_connections`.
        From trio: ``await trio.to_thread.run_sync(server.wait_for_open_connections, 0)``.
        Raises TimeoutError if that does not happen in time.
        """
        if not self._connections.wait_for_open(count, timeout_s):
            raise TimeoutError(
                f"{self.open_connections} connections open, not {count}, after {timeout_s} s"
            )
