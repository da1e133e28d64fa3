"""Faults injected on purpose: which ones there are, and when each is due."""

from __future__ import annotations

import collections
import enum
import threading

from adaptsend.testing._options import ServerOptions


class Fault(enum.Enum):
    """A fault the server injects; the value names its count in the statistics."""

    #: A connection that had its messages was hung up on at its next command.
    HANG_UP = "hangups"
    #: A connection was reset in the middle of a message's content.
    CONTENT_CUT = "content_cuts"
    #: A message was delivered and its reply never sent.
    REPLY_LOST = "replies_lost"
    #: A connection was refused at the greeting.
    GREETING_REFUSED = "greeting_refusals"
    #: A connection was reset after ``220`` to STARTTLS, before the handshake.
    TLS_RESET = "tls_resets"


class FaultTurns:
    """Says when an "every N-th" fault is due, and holds the switch that
    refuses every greeting.

    Each fault counts its own occasions (messages whose content begins,
    accepted messages, connections, STARTTLS commands) server-wide, so the
    N-th, 2N-th, ... occasion gets the fault whatever else is configured.
    :meth:`due` is called from the loop thread only; the switch may be flipped
    from any thread.
    """

    def __init__(self, options: ServerOptions) -> None:
        self._every = {
            Fault.CONTENT_CUT: options.cut_content_every,
            Fault.REPLY_LOST: options.lose_reply_every,
            Fault.GREETING_REFUSED: options.refuse_greeting_every,
            Fault.TLS_RESET: options.reset_tls_every,
        }
        self._occasions: collections.Counter[Fault] = collections.Counter()
        self._refuse_all = threading.Event()
        if options.refuse_greetings:
            self._refuse_all.set()

    def due(self, fault: Fault) -> bool:
        """Count one occasion for ``fault``; whether this one gets it."""
        every = self._every.get(fault)
        if every is None:
            return False
        self._occasions[fault] += 1
        return self._occasions[fault] % every == 0

    def greeting_refused(self) -> bool:
        """Count one connection; whether its greeting is to be refused."""
        nth = self.due(Fault.GREETING_REFUSED)
        return nth or self._refuse_all.is_set()

    def refuse_greetings(self, refuse: bool) -> None:
        """Refuse every greeting from now on, or stop doing so."""
        if refuse:
            self._refuse_all.set()
        else:
            self._refuse_all.clear()

    @property
    def refusing_greetings(self) -> bool:
        return self._refuse_all.is_set()
