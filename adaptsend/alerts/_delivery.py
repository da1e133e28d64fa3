"""Handing alerts to sinks without ever making sending wait for them.

Each delivery runs in a worker thread inside the run's nursery. A sink gets one
alert at a time, in the order raised (a fair lock per sink), so a slow sink
delays only its own later alerts; one that falls too far behind drops alerts
with a log line rather than piling up threads. The end of a run waits for
deliveries still going, up to a deadline, then abandons them.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import TypeVarTuple

import trio

from adaptsend.alerts._model import Alert, AlertSink, LogSink

log = logging.getLogger("adaptsend.alerts")

Ts = TypeVarTuple("Ts")

#: Alerts that may wait for one sink before new ones are dropped.
MAX_WAITING = 20


class Deliveries:
    """Deliveries in flight, for one run; use :meth:`open` around the run."""

    def __init__(self, sinks: Mapping[str, AlertSink]) -> None:
        self.sinks = sinks
        self._locks = {name: trio.Lock() for name in sinks}
        self._waiting = dict.fromkeys(sinks, 0)
        self._nursery: trio.Nursery | None = None
        self._outstanding = 0
        self._idle = trio.Event()
        self._idle.set()

    @contextlib.asynccontextmanager
    async def open(self, *, drain_s: float) -> AsyncIterator[None]:
        """Deliveries may start inside; on the way out, wait up to ``drain_s``
        for those still going (even when the run is being cancelled)."""
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            try:
                yield
            finally:
                with trio.CancelScope(shield=True), trio.move_on_after(drain_s):
                    await self._idle.wait()
                if self._outstanding:
                    log.warning(
                        "%d alert delivery(ies) still going after %g s at the end of the run "
                        "were abandoned",
                        self._outstanding,
                        drain_s,
                    )
                self._nursery = None
                nursery.cancel_scope.cancel()

    def start(self, alert: Alert, names: tuple[str, ...]) -> None:
        """Deliver ``alert`` to the sinks named, in the background. When none
        of them is available it is logged, never lost in silence."""
        available = [name for name in names if name in self.sinks]
        if not available:
            LogSink().deliver(alert)
        for name in available:
            if self._waiting[name] >= MAX_WAITING:
                log.warning(
                    "alert sink %s is %d alerts behind; dropped %s", name, MAX_WAITING, alert.rule
                )
                continue
            self.spawn(self._deliver, name, alert)

    def spawn(self, fn: Callable[[*Ts], Awaitable[object]], *args: *Ts) -> None:
        """Run ``fn(*args)`` in the nursery, counted as outstanding."""
        assert self._nursery is not None
        if self._idle.is_set():
            self._idle = trio.Event()
        self._outstanding += 1
        self._nursery.start_soon(self._counted, fn, *args)

    async def _counted(self, fn: Callable[[*Ts], Awaitable[object]], *args: *Ts) -> None:
        try:
            await fn(*args)
        except Exception:
            # Alerting must never stop sending, whatever goes wrong in it.
            log.exception("raising or delivering an alert failed")
        finally:
            self._outstanding -= 1
            if not self._outstanding:
                self._idle.set()

    async def _deliver(self, name: str, alert: Alert) -> None:
        self._waiting[name] += 1
        waiting = True
        try:
            async with self._locks[name]:
                self._waiting[name] -= 1
                waiting = False
                await deliver_one(self.sinks[name], name, alert)
        finally:
            if waiting:
                self._waiting[name] -= 1


async def deliver_one(sink: AlertSink, name: str, alert: Alert) -> str | None:
    """Deliver in a worker thread; return None, or the failure in one line
    (already logged). Abandoned, not waited for, if the caller is cancelled:
    an alert has no effect worth waiting for when the run is already over."""
    try:
        await trio.to_thread.run_sync(sink.deliver, alert, abandon_on_cancel=True)
    except Exception as exc:  # a sink is third-party code; it must not stop the run
        reason = f"{type(exc).__name__}: {exc}"
        log.warning("alert sink %s could not deliver %s: %s", name, alert.rule, reason)
        return reason
    return None
