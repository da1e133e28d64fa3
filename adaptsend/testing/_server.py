"""ThrottlingSMTPServer: a real SMTP server on localhost that misbehaves on purpose."""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Callable, Mapping, Sequence
from types import TracebackType
from typing import Self

from adaptsend._models import Stage
from adaptsend.testing._connections import ConnectionTable
from adaptsend.testing._faults import FaultTurns
from adaptsend.testing._handler import MisbehavingHandler
from adaptsend.testing._ledger import DeliveryLedger
from adaptsend.testing._limits import LimitClock
from adaptsend.testing._listener import Listener
from adaptsend.testing._observations import ServerObservations
from adaptsend.testing._options import (
    DEFAULT_GREETING_REFUSAL,
    DEFAULT_THROTTLE_REPLY,
    ServerOptions,
)
from adaptsend.testing._protocol import ThrottlingSMTP


class ThrottlingSMTPServer(ServerObservations):
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
    - ``xoauth2_tokens``: user name -> the one access token ``AUTH XOAUTH2``
      takes for it (the initial response, or after an empty challenge);
      any other user or token gets ``535 5.7.3 Authentication unsuccessful``,
      as Exchange Online answers. Given any, MAIL needs AUTH first.
      :meth:`set_xoauth2_token` rotates a token mid-run, and
      :attr:`xoauth2_logins` lists every attempt.
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

    Faults to test exactly-once delivery against. Each "every N-th" fault
    counts its own occasions server-wide (N, 2N, ... get it), so the same
    faults come in the same places run after run, and several combine: with
    N = 100 each, one message or connection in a hundred gets each fault.
    Each injected fault is counted (see :meth:`statistics`).

    - ``hang_up_after=N``: once a connection has had N messages accepted,
      its next command, whatever it is, is answered with ``hang_up_reply``
      and the connection closed; with no ``hang_up_reply``, it is closed
      without a word. Commands pipelined behind are ignored, so a client
      that writes many messages at once gets exactly N accepted.
      Counted in :attr:`hangups`.
    - ``cut_content_every=N``: the content of every N-th message (counted
      as its content begins: at the 354 to DATA, or at the first BDAT of a
      transaction) is cut off: once some of it has arrived, the connection
      is reset. The message is not delivered. Counted in :attr:`content_cuts`.
    - ``lose_reply_every=N``: every N-th accepted message is delivered (and
      counted in :attr:`delivered`) and its reply never sent: the connection
      is reset at once, or with ``lose_reply_stall_s`` the reply is withheld
      that long and the connection then closed (a client's timeout should
      come first). Counted in :attr:`replies_lost`, which is what a client's
      count of unknown outcomes should match. Unlike ``drop_after_data``,
      which drops without delivering.
    - ``refuse_greeting_every=N``, ``refuse_greetings``: answer the greeting
      of every N-th connection, or of every connection while
      ``refuse_greetings`` is on (see :meth:`set_refuse_greetings`), with
      ``greeting_refusal`` and close. Counted in :attr:`greeting_refusals`.
    - ``reset_tls_every=N``: answer every N-th STARTTLS with ``220`` and
      reset the connection before the TLS handshake. Counted in
      :attr:`tls_resets`.
    - ``greeting_delay_s``: wait this long before greeting each connection
      (for a client's timeout before the greeting); a stall at "connect"
      does the same but takes the only stall stage.
    - An outage: :meth:`go_down` stops listening (connects are refused) and
      resets every open connection; :meth:`come_back` listens again on the
      same port; :meth:`down_for` comes back by itself after a while.

    More:

    - ``keep_received``: how many accepted messages :attr:`received` keeps
      (the latest; None keeps all); counts are never trimmed.
    - ``clock``: seconds for the schedule, ``time.monotonic`` unless a test
      wants to move time by hand.

    ``port=0`` picks a free port at each start; an outage keeps the port.
    Observations are thread-safe, readable while running, while down and
    after :meth:`stop`, and accumulate across restarts and outages.
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
        xoauth2_tokens: Mapping[str, str] | None = None,
        drop_after_data: int | None = None,
        stall_s: float = 0.0,
        stall_stage: Stage | str = Stage.DATA,
        tls_context: ssl.SSLContext | None = None,
        pipelining: bool = False,
        chunking: bool = False,
        hang_up_after: int | None = None,
        hang_up_reply: str | None = None,
        cut_content_every: int | None = None,
        lose_reply_every: int | None = None,
        lose_reply_stall_s: float = 0.0,
        refuse_greeting_every: int | None = None,
        refuse_greetings: bool = False,
        greeting_refusal: str = DEFAULT_GREETING_REFUSAL,
        reset_tls_every: int | None = None,
        greeting_delay_s: float = 0.0,
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
            xoauth2_tokens=xoauth2_tokens or {},
            drop_after_data=drop_after_data,
            stall_s=stall_s,
            stall_stage=stall_stage,
            tls_context=tls_context,
            pipelining=pipelining,
            chunking=chunking,
            hang_up_after=hang_up_after,
            hang_up_reply=hang_up_reply,
            cut_content_every=cut_content_every,
            lose_reply_every=lose_reply_every,
            lose_reply_stall_s=lose_reply_stall_s,
            refuse_greeting_every=refuse_greeting_every,
            refuse_greetings=refuse_greetings,
            greeting_refusal=greeting_refusal,
            reset_tls_every=reset_tls_every,
            greeting_delay_s=greeting_delay_s,
            keep_received=keep_received,
            clock=clock,
        )
        self._limits = LimitClock(limit, self.options.schedule, clock)
        self._connections = ConnectionTable()
        self._ledger = DeliveryLedger(keep_received)
        self._faults = FaultTurns(self.options)
        self._handler = MisbehavingHandler(
            self.options, self._limits, self._connections, self._ledger, self._faults
        )
        self._listener = Listener(
            self._make_protocol, self.options.host, self.options.port, self._connections
        )

    # -- lifecycle -----------------------------------------------------------

    def start(self) -> None:
        """Start listening; returns once connections are accepted."""
        self._listener.start()
        self._limits.start()

    def stop(self) -> None:
        """Abort open connections, stop listening and join the server thread;
        an outage under way then never comes back.

        Idempotent. Observations stay readable.
        """
        self._listener.stop()

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
        """Whether it listens now (False while down)."""
        return self._listener.running

    @property
    def address(self) -> tuple[str, int]:
        """(host, port) bound by the latest start, kept while down."""
        address = self._listener.address
        if address is None:
            raise RuntimeError("the server has not been started")
        return address

    @property
    def host(self) -> str:
        return self.address[0]

    @property
    def port(self) -> int:
        return self.address[1]

    # -- outages --------------------------------------------------------------

    def go_down(self) -> None:
        """Stop listening, so that connects are refused, and reset every open
        connection, until :meth:`come_back`. Returns once down; thread-safe.
        Does nothing while down already."""
        self._listener.go_down()

    def come_back(self) -> None:
        """Listen again on the port held before going down; returns once
        connections are accepted. Does nothing unless down."""
        self._listener.come_back()

    def down_for(self, seconds: float) -> None:
        """Go down now and come back by itself after ``seconds``, without
        blocking the caller. A later outage, :meth:`come_back` or
        :meth:`stop` replaces the pending return."""
        if seconds < 0:
            raise ValueError(f"seconds must be at least 0, not {seconds}")
        self._listener.down_for(seconds)

    @property
    def down(self) -> bool:
        """Whether it is down for an outage (and will come back)."""
        return self._listener.down

    def wait_for_up(self, timeout_s: float = 5.0) -> None:
        """Block until the server listens, e.g. after :meth:`down_for`.
        Raises TimeoutError if that does not happen in time."""
        if not self._listener.wait_for_up(timeout_s):
            raise TimeoutError(f"the server is not listening after {timeout_s} s")

    # -- greetings -------------------------------------------------------------

    def set_refuse_greetings(self, refuse: bool) -> None:
        """Refuse every greeting from now on (with ``greeting_refusal``), or
        stop doing so; thread-safe. ``refuse_greeting_every`` goes on either way."""
        self._faults.refuse_greetings(refuse)

    @property
    def refusing_greetings(self) -> bool:
        """Whether every greeting is refused now."""
        return self._faults.refusing_greetings

    # -- XOAUTH2 -------------------------------------------------------------

    def set_xoauth2_token(self, username: str, token: str | None) -> None:
        """From now on take ``token``, and no other, for ``username`` in
        ``AUTH XOAUTH2`` (None: take none); thread-safe. Connections already
        logged in stay so, as a real server's do."""
        self._handler.set_xoauth2_token(username, token)

    @property
    def xoauth2_logins(self) -> list[tuple[str, str, bool]]:
        """Every ``AUTH XOAUTH2`` so far: (user name, token, accepted)."""
        return self._handler.xoauth2_logins

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

    def __repr__(self) -> str:
        where = f"{self.host}:{self.port}" if self._listener.address else "not started"
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
