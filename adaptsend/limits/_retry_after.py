"""A sending key's pause at the server's own word: HTTP's ``Retry-After``.

A provider that refuses one request with ``429`` and ``Retry-After: 5`` keeps
counting every request of the account until the five seconds are over (a
request sent meanwhile is refused too, and may lengthen the penalty). So the
pause is the key's, not the refused request's: every connection of the key
waits before it connects and before each send. Sends already under way
finish, and their results are judged as they come; a later ``Retry-After``
that ends sooner never shortens the pause.

Transports give the figure in :attr:`SendResult.retry_after_s` or
:attr:`TransportError.retry_after_s`; the worker that judges the result
starts the pause. Agents that share the cap through the store share the
pause too (see ``adaptsend.limits._shared``): a pause heard here is written
to the store (:meth:`RetryAfter.watch`), and one another agent heard is kept
here (:meth:`RetryAfter.follow`). Agents whose caps are their own learn of
it from their own refusals only.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import trio

from adaptsend._models import Reply
from adaptsend.limits._listeners import Listeners

#: Told ``(seconds, reply)`` when a pause starts (not when one is lengthened).
OnPause = Callable[[float, Reply], None]


class RetryAfter:
    """The server-requested pause of one sending key, shared by its workers.

    Synchronous but for :meth:`wait`; must be used inside a trio run (it
    reads ``trio.current_time()``).
    """

    def __init__(self, *, on_pause: OnPause | None = None) -> None:
        self._on_pause = on_pause
        self._heard = Listeners[float]()
        # trio time before which nothing is sent.
        self._until = -math.inf
        self._stopped = False
        self._stopping = trio.Event()

    def pause(self, seconds: float, reply: Reply) -> None:
        """The server asked that nothing be sent for ``seconds`` (``reply``
        says where). A figure that is not a positive number is ignored."""
        starting = not self.paused
        if not self._keep(seconds):
            return
        if starting and self._on_pause is not None:
            self._on_pause(seconds, reply)
        self._heard(seconds)

    def follow(self, seconds: float) -> None:
        """Another agent's server asked for a pause that has ``seconds`` left:
        keep it too. Nobody is told, and it never shortens the pause."""
        self._keep(seconds)

    def watch(self, *, on_heard: Callable[[float], None]) -> None:
        """Tell ``on_heard`` the seconds of each pause the server asks for
        that ends later than the pause in force (not of those followed)."""
        self._heard.add(on_heard)

    def _keep(self, seconds: float) -> bool:
        """Pause for ``seconds`` unless the pause in force ends later; whether it moved."""
        if not math.isfinite(seconds) or seconds <= 0:
            return False
        until = trio.current_time() + seconds
        if until <= self._until:
            return False
        self._until = until
        return True

    @property
    def paused(self) -> bool:
        return trio.current_time() < self._until

    def left_s(self) -> float:
        """Seconds until the pause ends; 0 when none is in force."""
        return max(0.0, self._until - trio.current_time())

    async def wait(self) -> bool:
        """Return True once no pause is in force (at once when none is), or
        False once :meth:`stop` has been called, also while waiting."""
        while not self._stopped:
            if trio.current_time() >= self._until:
                return True
            # A pause only ever moves later: sleep to its end, then look again.
            with trio.move_on_at(self._until):
                await self._stopping.wait()
        return False

    def stop(self) -> None:
        """End every wait; later calls of :meth:`wait` return False."""
        self._stopped = True
        self._stopping.set()
