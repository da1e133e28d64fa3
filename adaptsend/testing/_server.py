"""ThrottlingSMTPServer: a real SMTP server on localhost that misbehaves on purpose."""

from __future__ import annotations

import asyncio
import collections
import ssl
import time
from collections.abc import Callable, Mapping, Sequence
from types import TracebackType
from typing import Self

from adaptsend._models import Stage
from adaptsend.testing._connections import ConnectionTable
from adaptsend.testing._handler import MisbehavingHandler
from adaptsend.testing._ledger import DeliveryLedger, ReceivedMessage
from adaptsend.testing._limits import LimitClock
from adaptsend.testing._loop_thread import LoopThread
from adaptsend.testing._options import DEFAULT_THROTTLE_REPLY, ServerOptions
from adaptsend.testing._protocol import ThrottlingSMTP
from adaptsend.testing._statistics import ServerStatistics


class ThrottlingSMTPServer:
    """An SMTP server on a real TCP port that enforces a concurrent-connection
    limit the way Microsoft 365 does, and can be told to fail in other ways.

    It runs an asyncio loop in a daemon thread, so it serves trio tests,
    threaded tests and other processes alike. Use it as a context manager::

        with ThrottlingSMTPServer(limit=3) as server:
            send_with_my_client(server.host, server.port)
            assert server.max_concurrent <= 3

    The throttle. Open connections are ranked by age, 1 for the oldest. At
    ``throttle_stage`` ("connect": instead of the greeting; "mail"; "rcpt": at
    each RCPT; "data": at end of DATA, after the whole body) of every
    transaction, a connection whose rank is above the limit in force gets
    ``throttle_reply`` and, if ``close_after_throttle`` (always at "connect"),
    is closed. Because the check repeats per transaction, a limit that drops
    reaches connections already open at their next message. An idle connection
    keeps its rank.

    The limit is ``limit`` from the start, changed by each ``schedule`` entry
    ``(seconds after start(), limit)`` when it comes due, and by
    :meth:`set_limit` at once; the latest change wins. None means unlimited.

    Other misbehaviour:

    - ``latency_s`` (+ up to ``latency_jitter_s``): wait before every answer
      to end of DATA, as a provider's 20-50 ms.
    - ``rcpt_replies``: address -> full reply line for its RCPT (case is
      ignored); a 2xx line accepts the recipient with that reply.
    - ``data_reply``: answer every end of DATA with this line instead of 250;
      a 2xx line still counts as a delivery.
    - ``data_replies``: address -> reply line to the end of DATA of a message
      to that address (a content filter refusing one message); before
      ``data_reply``.
    - ``auth``: require AUTH PLAIN or LOGIN with (user, password) before MAIL
      (plain TCP allowed). Without it AUTH is offered and accepts anything.
      ``auth_reply``: answer every AUTH attempt with this failure line.
    - ``drop_after_data=N``: close without a reply at the N-th, 2N-th, ...
      end of DATA server-wide (counting those not throttled).
    - ``stall_s`` at ``stall_stage`` (same stages as the throttle): wait that
      long before answering there, on every connection, to test client
      timeouts; the wait ends early if the client hangs up.
    - ``tls_context``: offer STARTTLS with this server-side context.
    - ``pipelining``: offer PIPELINING (RFC 2920) in the EHLO reply, as
      Microsoft 365 does; commands sent together are answered in order, and
      those behind a reply that closes or drops the connection are ignored.
    - ``chunking``: offer CHUNKING (RFC 3030) and take ``BDAT <size> [LAST]``.
      The chunk is always read, even when BDAT is refused (503 without MAIL
      and an accepted RCPT). BDAT LAST ends the message as end of DATA does:
      everything said above of end of DATA applies to it too, and the content
      is the chunks joined, as sent. A malformed size gets 501 and the
      connection is closed, since the stream can no longer be followed.
    - ``keep_received``: how many accepted messages :attr:`received` keeps
      (the latest; None keeps all); counts are never trimmed.
    - ``clock``: seconds for the schedule, ``time.monotonic`` unless a test
      wants to move time by hand.

    ``port=0`` picks a free port at each start. Observations are thread-safe,
    readable while running and after :meth:`stop`, and accumulate across
    restarts.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        limit: int | None = None,
        schedule: Sequence[tuple[float, int | None]] = (),
        throttle_stage: Stage | str = Stage.DATA,
        throttle_reply: str = DEFAULT_THROTTLE_REPLY,
        close_after_throttle: bool = True,
        latency_s: float = 0.0,
        latency_jitter_s: float = 0.0,
        rcpt_replies: Mapping[str, str] | None = None,
        data_reply: str | None = None,
        data_replies: Mapping[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        auth_reply: str | None = None,
        drop_after_data: int | None = None,
        stall_s: float = 0.0,
        stall_stage: Stage | str = Stage.DATA,
        tls_context: ssl.SSLContext | None = None,
        pipelining: bool = False,
        chunking: bool = False,
        hostname: str = "adaptsend-testing",
        keep_received: int | None = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.options = ServerOptions(
            host=host,
            port=port,
            hostname=hostname,
            limit=limit,
            schedule=schedule,
            throttle_stage=throttle_stage,
            throttle_reply=throttle_reply,
            close_after_throttle=close_after_throttle,
            latency_s=latency_s,
            latency_jitter_s=latency_jitter_s,
            rcpt_replies=rcpt_replies,
            data_reply=data_reply,
            data_replies=data_replies,
            auth=auth,
            auth_reply=auth_reply,
            drop_after_data=drop_after_data,
            stall_s=stall_s,
            stall_stage=stall_stage,
            tls_context=tls_context,
            pipelining=pipelining,
            chunking=chunking,
            keep_received=keep_received,
            clock=clock,
        )
        self._limits = LimitClock(limit, self.options.schedule, clock)
        self._connections = ConnectionTable()
        self._ledger = DeliveryLedger(keep_received)
        self._handler = MisbehavingHandler(
            self.options, self._limits, self._connections, self._ledger
        )
        self._thread: LoopThread | None = None
        self._address: tuple[str, int] | None = None

    # -- lifecycle -----------------------------------------------------------

    def start(self) -> None:
        """Start listening; returns once connections are accepted."""
        if self._thread is not None:
            raise RuntimeError("the server is already running")
        thread = LoopThread(
            self._make_protocol, self.options.host, self.options.port, self._connections
        )
        self._address = thread.start()
        self._limits.start()
        self._thread = thread

    def stop(self) -> None:
        """Abort open connections, stop listening and join the server thread.

        Idempotent. Observations stay readable.
        """
        if self._thread is not None:
            self._thread.stop()
            self._thread = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._thread is not None

    @property
    def address(self) -> tuple[str, int]:
        """(host, port) bound by the latest start."""
        if self._address is None:
            raise RuntimeError("the server has not been started")
        return self._address

    @property
    def host(self) -> str:
        return self.address[0]

    @property
    def port(self) -> int:
        return self.address[1]

    # -- the limit -----------------------------------------------------------

    def set_limit(self, limit: int | None) -> None:
        """Change the connection limit now (None: unlimited); thread-safe."""
        if limit is not None and limit < 0:
            raise ValueError(f"limit must be None or at least 0, not {limit}")
        self._limits.set(limit)

    @property
    def limit(self) -> int | None:
        """The connection limit in force now."""
        return self._limits.current()

    # -- observations --------------------------------------------------------

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
            limit=self.limit,
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

    def __repr__(self) -> str:
        where = f"{self.host}:{self.port}" if self._address else "not started"
        return f"<ThrottlingSMTPServer {where} limit={self.limit}>"

    def _make_protocol(self, loop: asyncio.AbstractEventLoop) -> ThrottlingSMTP:
        options = self.options
        return ThrottlingSMTP(
            self._handler,
            connections=self._connections,
            chunking=options.chunking,
            loop=loop,
            hostname=options.hostname,
            tls_context=options.tls_context,
            enable_SMTPUTF8=True,
            auth_require_tls=False,
            authenticator=self._handler.authenticate,
        )
