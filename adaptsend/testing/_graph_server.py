"""FakeGraphServer: Microsoft Graph's mail sending, as a real HTTP server on
127.0.0.1, for tests, the demo and the benchmarks (Microsoft's cloud cannot
run here)."""

from __future__ import annotations

import collections
import http.server
import itertools
import threading
from collections.abc import Collection, Iterable, Mapping
from typing import Any

from adaptsend.testing._graph_answers import DEFAULT_GRAPH_TOKEN, GraphAnswer, GraphFault
from adaptsend.testing._graph_drafts import Drafts
from adaptsend.testing._graph_ledger import (
    GraphDelivery,
    GraphLedger,
    GraphRequest,
    GraphStatistics,
)
from adaptsend.testing._graph_routes import Exchange
from adaptsend.testing._http_serving import ServedHTTP

#: A request that arrives inside a window this soon after it opened was on
#: its way already: its client had not yet read the ``429``.
ON_THE_WAY_S = 0.02


class FakeGraphServer(ServedHTTP):
    """Graph's ``sendMail`` and its large-message path, on a real TCP port::

        with FakeGraphServer(limit=4) as graph:
            ...  # [plugin.graph] base_url = graph.base_url
            assert graph.deliveries["<id@example.com>"] == 1

    What it checks and does, as Graph does:

    - Every API request needs ``Authorization: Bearer <token>`` with one of
      ``tokens`` (:meth:`accept_token` and :meth:`revoke_token` change them
      mid-run); any other gets ``401 InvalidAuthenticationToken``.
    - ``limit`` requests in flight per mailbox: the one over it gets ``429``
      ``ApplicationThrottled`` ("over its MailboxConcurrency limit") with
      ``Retry-After: retry_after_s``, and every request for that mailbox that
      arrives before that time has passed gets a ``429`` too (counted in
      :attr:`GraphStatistics.in_window`). None: no limit.
    - ``POST /v1.0/users/{mailbox}/sendMail`` takes base64 MIME sent as
      ``text/plain`` (else ``400 ErrorMimeContentInvalidBase64String``), at
      most 4 MB a request (else ``413``), waits ``latency_s``, and delivers:
      :attr:`deliveries` counts each Message-ID, :attr:`delivered` keeps the
      MIME. ``mailboxes``, when given, are the only users it knows (others:
      ``404 ErrorInvalidUser``).
    - Drafts: ``POST .../messages`` (base64 MIME), ``POST
      .../messages/{id}/attachments`` (a ``fileAttachment``), ``POST
      .../messages/{id}/attachments/createUploadSession`` and ``PUT`` of
      byte ranges of at most 4 MB to its ``uploadUrl`` (which carries its own
      token: no bearer), ``POST .../messages/{id}/send`` (delivers), and
      ``DELETE .../messages/{id}``.
    - ``answers``: the first API requests get these answers, in order (after
      the token and the limit are checked); a ``429`` among them opens a
      window of its ``Retry-After``.
    - ``fault_every``: :class:`GraphFault` -> N: every N-th send (``sendMail``
      or a draft's ``send``) fails that way: ``503`` undelivered, or
      delivered and then a stall of ``stall_s`` or a connection reset.

    :attr:`requests` records every request (method, path, headers, body,
    status, when it arrived). :meth:`stop` and :meth:`start` again make an
    outage: the server comes back on the same port. Runs in daemon threads:
    it serves trio tests, threaded tests and other processes alike.
    """

    server_name = "the fake Graph server"

    def __init__(
        self,
        *,
        limit: int | None = 4,
        retry_after_s: float = 1.0,
        latency_s: float = 0.0,
        tokens: Iterable[str] = (DEFAULT_GRAPH_TOKEN,),
        mailboxes: Collection[str] | None = None,
        answers: Iterable[GraphAnswer] = (),
        fault_every: Mapping[GraphFault, int] | None = None,
        stall_s: float = 30.0,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        super().__init__(host=host, port=port)
        self.ledger = GraphLedger(limit=limit, retry_after_s=retry_after_s)
        self.drafts = Drafts()
        self.latency_s = latency_s
        self.stall_s = stall_s
        self._tokens = set(tokens)
        self._mailboxes = None if mailboxes is None else {m.lower() for m in mailboxes}
        self._answers = collections.deque(answers)
        self._fault_every = dict(fault_every or {})
        self._sends = itertools.count(1)
        self._lock = threading.Lock()

    def handler_class(self) -> type[http.server.BaseHTTPRequestHandler]:
        return _handler_for(self)

    # -- what tests read and change -----------------------------------------

    @property
    def base_url(self) -> str:
        """What ``[plugin.graph] base_url`` is set to for this server."""
        return f"{self.url}/v1.0"

    @property
    def requests(self) -> list[GraphRequest]:
        return self.ledger.requests

    @property
    def delivered(self) -> list[GraphDelivery]:
        return self.ledger.delivered

    @property
    def deliveries(self) -> dict[str | None, int]:
        """Deliveries per Message-ID."""
        return self.ledger.deliveries

    def statistics(self) -> GraphStatistics:
        return self.ledger.statistics(drafts_left=len(self.drafts))

    def sent_in_windows(self, *, on_the_way_s: float = ON_THE_WAY_S) -> int:
        """Requests that arrived inside a ``Retry-After`` window later than
        ``on_the_way_s`` after it opened: sent inside it, rather than already
        on their way when the ``429`` went out."""
        return sum(
            1 for r in self.requests if r.in_window_s is not None and r.in_window_s > on_the_way_s
        )

    def accept_token(self, token: str) -> None:
        with self._lock:
            self._tokens.add(token)

    def revoke_token(self, token: str) -> None:
        with self._lock:
            self._tokens.discard(token)

    def set_limit(self, limit: int | None) -> None:
        self.ledger.set_limit(limit)

    # -- called by the handler -----------------------------------------------

    def authorized(self, headers: Mapping[str, str]) -> bool:
        scheme, _, token = headers.get("authorization", "").partition(" ")
        with self._lock:
            return scheme == "Bearer" and token in self._tokens

    def knows(self, mailbox: str) -> bool:
        return self._mailboxes is None or mailbox.lower() in self._mailboxes

    def next_answer(self, path: str) -> GraphAnswer | None:
        with self._lock:
            for index, answer in enumerate(self._answers):
                if path.endswith(answer.applies_to):
                    del self._answers[index]
                    return answer
            return None

    def next_fault(self) -> GraphFault | None:
        number = next(self._sends)
        for fault, every in self._fault_every.items():
            if every and number % every == 0:
                return fault
        return None


def _handler_for(graph: FakeGraphServer) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            Exchange(graph, self).serve()

        def do_PUT(self) -> None:
            Exchange(graph, self).serve()

        def do_DELETE(self) -> None:
            Exchange(graph, self).serve()

        def do_GET(self) -> None:
            Exchange(graph, self).serve()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler
