"""What a run does when its sending key must pause: the server cannot be
reached (an outage), it reports a quota that clears with time, it says
when to come back (``Retry-After``), or the key's daily recipient budget is
used up.

The :class:`~adaptsend.limits._outage.Outage` gate keeps the workers from
connecting, and :class:`~adaptsend.limits._retry_after.RetryAfter` from
sending at all; this tells people (a log line, the plugins and alert rules)
and, for a quota, the store, so that every agent on it keeps the pause (a
``Retry-After`` reaches the store through a shared limiter, when the agents
share the cap: ``adaptsend.limits._key_limits``). The
daily budget keeps its own pause (``_day_budget``): every agent counts the
same recipients in the store.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable

import trio

from adaptsend._models import Reply, utcnow
from adaptsend.config._settings import Config
from adaptsend.limits._day_budget import DayFull
from adaptsend.limits._outage import Outage
from adaptsend.limits._retry_after import RetryAfter
from adaptsend.plugins._manager import Plugins
from adaptsend.store._thread import StoreThread

log = logging.getLogger("adaptsend.run")


class KeyPauses:
    """The pauses of one run's sending key. Until :meth:`join_run`, they are
    only logged, and a long one never ends the run."""

    def __init__(self, config: Config, *, store: StoreThread, sending_key: str) -> None:
        self.outage = Outage(
            first_delay_s=config.retry.base_delay_s,
            max_delay_s=config.retry.max_delay_s,
            on_change=self._reachability_changed,
        )
        self.retry_after = RetryAfter(on_pause=self._paused_by_server)
        self._quota_pause_s = config.limiter.quota_pause_s
        self._outage_wait_s = config.run.outage_wait_s
        #: When the run ended because the day's budget was used up: what the
        #: messages wait for, and when the first may go.
        self.waiting_for: str | None = None
        self.due: dt.datetime | None = None
        self._store = store
        self._key = sending_key
        self._plugins: Plugins | None = None
        self._defer: Callable[[], None] | None = None
        self._joined = False
        #: Where to run the store's pause, while the run has tasks beside its sends.
        self.side: trio.Nursery | None = None

    def join_run(self, *, plugins: Plugins | None, defer: Callable[[], None] | None) -> None:
        """The run these pauses belong to: ``plugins`` hear of each pause, and
        ``defer`` ends the run with its messages waiting (None with
        ``--follow``: the run waits as long as it takes). Raises ValueError
        when they serve a run already: two runs would each end the other."""
        if self._joined:
            raise ValueError(
                "These limits serve a run already; make new ones (Agent.limits()) for another run."
            )
        self._joined = True
        self._plugins = plugins
        self._defer = defer

    def quota_reached(self, reply: Reply) -> None:
        """The server reports a quota: pause the key for ``quota_pause_s``
        (then one message probes), or end the run with the messages waiting."""
        if not self.outage.quota:
            log.warning(
                "the server of %s reports a quota (%s): sending pauses for %g s",
                self._key,
                reply.describe(),
                self._quota_pause_s,
            )
            if self.side is not None:
                self.side.start_soon(self.pause_in_store)
            if self._plugins is not None:
                self._plugins.quota_reached(self._key, reply)
        self.outage.pause(reply, self._quota_pause_s)
        if self._defer is not None:
            self._defer()

    def day_full(self, full: DayFull) -> None:
        """The daily recipient budget has no room for the next message: wait
        for it, or end the run with the messages waiting (without
        ``--follow``) when that takes longer than ``[run] outage_wait_s``."""
        if full.first:
            log.warning(
                "%s: the next message (%d recipient(s)) waits about %s for room",
                full.describe(),
                full.needed,
                _duration(full.wait_s),
            )
            if self._plugins is not None:
                self._plugins.day_budget_changed(self._key, utcnow(), full.describe())
        if self._defer is not None and full.wait_s > self._outage_wait_s:
            self.waiting_for = full.describe()
            self.due = utcnow() + dt.timedelta(seconds=full.wait_s)
            self._defer()

    def day_room(self) -> None:
        """A message fits the daily recipient budget again, after it was used up."""
        log.warning("the daily recipient budget of %s has room again", self._key)
        if self._plugins is not None:
            self._plugins.day_budget_changed(self._key, None, None)

    async def pause_in_store(self) -> None:
        """Make the key's waiting messages due after the pause, for every agent."""
        store = self._store
        await store.call(store.store.pause_key, sending_key=self._key, pause_s=self._quota_pause_s)

    def _paused_by_server(self, seconds: float, reply: Reply) -> None:
        # Routine for an HTTP provider's throttling: not a warning.
        log.info(
            "the server of %s asks that nothing be sent for %g s (%s); every connection waits",
            self._key,
            seconds,
            reply.describe(),
        )

    def _reachability_changed(self, since: dt.datetime | None, reply: Reply | None) -> None:
        if since is not None and reply is not None:
            log.warning(
                "cannot reach the server of %s (%s); messages wait, uncharged, and one "
                "connection tries again at growing intervals",
                self._key,
                reply.describe(),
            )
        else:
            log.warning("the server of %s answers again", self._key)
        if self._plugins is not None:
            self._plugins.reachability_changed(self._key, since, reply)


def _duration(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 60:.0f} min" if seconds >= 60 else f"{seconds:.0f} s"
