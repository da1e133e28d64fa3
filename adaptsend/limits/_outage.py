"""Whether the server of a sending key can be reached at all.

A connection refused, a timeout before the greeting, a temporary DNS failure,
a TLS handshake cut by the network or a ``421`` at the greeting is not any
message's fault: while the server cannot be reached, no message is charged an
attempt. The first such failure starts an *outage*; from then on one worker at
a time may try to connect (a probe), at growing intervals up to ``[retry]
max_delay_s``, and the others wait for the outcome. The first connection that
opens ends the outage.

Throttles at the greeting (``421 4.3.2`` and the like) are the limiter's
business, not an outage: the server answered, it only wants fewer connections.

A quota reply (a daily limit reached) *pauses* the key the same way, for
``[limiter] quota_pause_s``: no connection opens until then, and then one
probe sends one message. A pause ends with the first message the server
answers with anything but a quota, not with a connection that opens.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable

import trio

from adaptsend._models import Outcome, Reply, Stage, utcnow

#: Stages at which a temporary failure means the server was not reached.
_REACHING = frozenset({Stage.CONNECT, Stage.TLS})

#: Told ``(since, reply)`` when an outage starts and ``(None, None)`` when it ends.
OnChange = Callable[[dt.datetime | None, Reply | None], None]


def unreachable(reply: Reply, outcome: Outcome) -> bool:
    """Whether a failed connection attempt says the server cannot be reached."""
    return outcome is Outcome.TRANSIENT and reply.stage in _REACHING


class Outage:
    """The reachability of one sending key's server, shared by its workers."""

    def __init__(self, *, first_delay_s: float, max_delay_s: float, on_change: OnChange) -> None:
        self._first_delay_s = first_delay_s
        self._max_delay_s = max_delay_s
        self._on_change = on_change
        #: trio time at which the outage began, None while the server answers.
        self.started: float | None = None
        #: The same moment as a naive UTC time, for people and alerts.
        self.started_at: dt.datetime | None = None
        #: The latest failure to reach the server.
        self.last_reply: Reply | None = None
        self._delay_s = first_delay_s
        self._probe_at = -math.inf
        self._probing = False
        #: A quota's pause rather than an outage: it ends on an answer.
        self.quota = False
        self._changed = trio.Event()

    @property
    def down(self) -> bool:
        return self.started is not None

    def down_for(self) -> float:
        """Seconds since the outage began; 0 while the server answers."""
        return 0.0 if self.started is None else trio.current_time() - self.started

    async def wait_turn(self) -> None:
        """Return when this worker may open a connection: at once while the
        server answers; during an outage, when it is this worker's turn to
        probe. Every return must be followed by :meth:`reached`,
        :meth:`failed` or :meth:`gave_up`."""
        while self.started is not None:
            if not self._probing and trio.current_time() >= self._probe_at:
                self._probing = True
                return
            changed = self._changed
            with trio.move_on_at(math.inf if self._probing else self._probe_at):
                await changed.wait()

    def reached(self, *, since: float | None = None) -> None:
        """A connection opened: the outage, if any, is over (a quota's pause
        lasts until the probe's message is answered). One that began opening
        (at trio time ``since``) before the outage began says nothing new, as
        those that fail together then: a transport that connects inside its
        sends opens connections without reaching the server at all."""
        if self.quota:
            return
        if self.started is not None and since is not None and since < self.started:
            return
        self._probing = False
        if self.started is None:
            return
        self.started = self.started_at = self.last_reply = None
        self._delay_s = self._first_delay_s
        self._wake()
        self._on_change(None, None)

    def failed(self, reply: Reply) -> None:
        """A connection could not reach the server."""
        now = trio.current_time()
        self.last_reply = reply
        if self.quota:
            # The probe of a pause found the server gone: an outage now.
            self._end()
        if self.started is None:
            self.started, self.started_at = now, utcnow()
            self._delay_s = self._first_delay_s
            self._on_change(self.started_at, reply)
        elif self._probing:
            # Only a probe's failure grows the wait: connections that were
            # opening when the outage began fail together and say nothing new.
            self._delay_s = min(self._delay_s * 2, self._max_delay_s)
        else:
            return
        self._probing = False
        self._probe_at = now + self._delay_s
        self._wake()

    def pause(self, reply: Reply, seconds: float) -> None:
        """A quota reply: no new connection for ``seconds``, then one probe."""
        now = trio.current_time()
        if self.started is None:
            self.started, self.started_at = now, utcnow()
        self.quota = True
        self.last_reply = reply
        self._probing = False
        self._probe_at = max(self._probe_at, now + seconds)
        self._wake()

    def answered(self) -> None:
        """The server answered a message with anything but a quota: a
        quota's pause is over. Cheap: called for every message."""
        if self.quota:
            self._end()
            self._wake()

    def _end(self) -> None:
        self.started = self.started_at = None
        self.quota = self._probing = False
        self._probe_at = -math.inf

    async def wait_longer_than(self, wait_s: float, then: Callable[[], None]) -> None:
        """Call ``then`` once an outage has lasted ``wait_s`` seconds."""
        while True:
            left = wait_s - self.down_for() if self.down else wait_s
            if self.down and left <= 0:
                then()
                return
            # Polled, not woken: once a second costs nothing and keeps this simple.
            await trio.sleep(min(left, 1.0))

    def gave_up(self) -> None:
        """The worker whose turn it was stopped before it could find out."""
        if self._probing:
            self._probing = False
            self._wake()

    def _wake(self) -> None:
        self._changed.set()
        self._changed = trio.Event()
