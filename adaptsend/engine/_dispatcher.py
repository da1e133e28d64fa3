"""The dispatcher: drains the store's queue through the transport.

One nursery holds a feeder (``_feeder``) that leases messages a page at a
time, as many connection workers as the limiter's cap allows, and a recorder
that writes outcomes in batches. The run ends when nothing is left to send (waiting for
retries that are due within the run), when it is stopped, or on a fatal reply.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import os
import socket
import uuid
from collections.abc import Sequence

import trio

from adaptsend._models import ClaimedMessage, Reply, Status
from adaptsend.config._settings import Config
from adaptsend.engine._feeder import Feeder
from adaptsend.engine._judge import Judge, Judgement
from adaptsend.engine._leases import keep_leases
from adaptsend.engine._limit_history import LimitHistory
from adaptsend.engine._recorder import Recorder
from adaptsend.engine._report import DispatcherStatistics, RunReport
from adaptsend.engine._tally import RunTally
from adaptsend.engine._worker import run_worker
from adaptsend.limits._choice import Limiter, running
from adaptsend.limits._day_budget import day_running
from adaptsend.limits._key_limits import KeyLimits
from adaptsend.limits._rate_adapt import RateChange
from adaptsend.limits._records import CapChange
from adaptsend.plugins._manager import Plugins
from adaptsend.store._thread import StoreThread
from adaptsend.transports._contract import Transport

log = logging.getLogger("adaptsend.run")


def new_owner() -> str:
    """A lease owner name that tells a person which process holds a message."""
    return f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _check_limits(limits: KeyLimits, *, sending_key: str) -> None:
    """Limits made for another key would limit the wrong sending."""
    if limits.sending_key != sending_key:
        raise ValueError(f"The limits are those of {limits.sending_key!r}, not of {sending_key!r}.")


class Dispatcher:
    """Sends every due message of one sending key. Use :meth:`run` once.

    ``limits`` are the key's limits for this run, made by the caller (see
    ``adaptsend.limits._key_limits``, and ``Agent.limits`` for those the
    configuration asks for). The dispatcher is their run's: it takes their
    owner name as its own.
    """

    def __init__(
        self,
        *,
        store: StoreThread,
        transport: Transport,
        judge: Judge,
        config: Config,
        plugins: Plugins | None = None,
        follow: bool = False,
        limits: KeyLimits,
    ) -> None:
        self.transport = transport
        self.judge = judge
        self.idle_close_s = config.limiter.idle_close_s
        _check_limits(limits, sending_key=transport.sending_key)
        # The limiter names this agent by its owner name (shared budgets do).
        self.owner = limits.owner
        self._history = LimitHistory(store, sending_key=transport.sending_key, agent=self.owner)
        self.limiter: Limiter = limits.limiter
        self.limiter.watch(on_change=self._cap_changed, on_decision=self._history.cap_decided)
        self.rate = limits.rate
        self.rate.watch(self._rate_changed)
        self._pauses = limits.pauses
        self._pauses.join_run(plugins=plugins, defer=None if follow else self._defer)
        self.recipients = limits.recipients
        self.outage = self._pauses.outage
        self.retry_after = self._pauses.retry_after
        self.quota_reached = self._pauses.quota_reached
        self._store = store
        self._run = config.run
        self._plugins = plugins
        self._follow = follow
        self._stopping = False
        self._interrupted = False
        self._fatal: Reply | None = None
        # The run stopped because the server stayed out of reach.
        self._deferred = False
        #: When the first message this run leaves waiting is due, if it ended
        #: because nothing was due soon enough.
        self._next_due: dt.datetime | None = None
        self._in_flight = 0
        self._workers = 0
        self._wake_staff = trio.Event()
        self._tally = RunTally()
        self.feeder = Feeder(
            store=store,
            owner=self.owner,
            sending_key=transport.sending_key,
            run=config.run,
            follow=follow,
            tally=self._tally,
            cap=lambda: self.limiter.cap,
            stopping=lambda: self._stopping,
            defer=self._defer_until,
            admit=None if self.recipients is None else self.recipients.admit,
        )
        self.idle_waits: set[trio.CancelScope] = set()
        self.slot_waits: set[trio.CancelScope] = set()
        self._started = 0.0

    # -- what workers and callers see -------------------------------------

    @property
    def stopping(self) -> bool:
        return self._stopping

    @property
    def in_flight(self) -> int:
        return self._in_flight

    def sending(self, delta: int) -> None:
        self._in_flight += delta

    def stop(self, *, fatal: Reply | None = None, deferred: bool = False) -> None:
        """Stop claiming; sends in progress finish and are recorded; messages
        not yet tried are handed back. ``fatal`` is the reply that ends the
        run; ``deferred`` that the server stayed out of reach. Safe to call
        more than once."""
        if fatal is not None:
            self._fatal = self._fatal or fatal
        elif deferred:
            self._deferred = True
        else:
            self._interrupted = True
        self._stopping = True
        for waiting in list(self.slot_waits):
            waiting.cancel()
        self.rate.stop()
        if self.recipients is not None:
            self.recipients.stop()
        self.retry_after.stop()
        self.feeder.wake()
        self._wake_staff.set()

    def sends_starting(self, batch: list[ClaimedMessage]) -> None:
        self.feeder.sends_starting(batch)
        if self.recipients is not None:
            self.recipients.sending(batch)

    def message_taken(self) -> None:
        self.feeder.taken()

    def statistics(self) -> DispatcherStatistics:
        limiter = self.limiter.statistics()
        return self._tally.statistics(
            cap=limiter.cap,
            open_connections=limiter.open_connections,
            in_flight=self._in_flight,
            elapsed_s=trio.current_time() - self._started if self._started else 0.0,
            unreachable_s=self.outage.down_for() if self.outage.down else None,
            per_minute=self.rate.per_minute,
            day_used_up=self._day_used_up(),
        )

    def _day_used_up(self) -> str | None:
        full = None if self.recipients is None else self.recipients.full
        return None if full is None else full.describe()

    # -- the run -----------------------------------------------------------

    async def run(
        self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> RunReport:
        """Send until done, stopped, or stopped by a fatal reply."""
        self._started = trio.current_time()
        to_send, to_take = trio.open_memory_channel[ClaimedMessage](math.inf)
        judged, to_record = trio.open_memory_channel[Judgement](self._run.record_batch * 4)
        recorder = Recorder(
            self._store,
            owner=self.owner,
            batch=self._run.record_batch,
            on_recorded=self._recorded,
            sends_to_come=lambda: self._in_flight + self.feeder.buffered,
        )
        finished = False
        try:
            async with day_running(self.recipients), trio.open_nursery() as nursery:
                nursery.start_soon(recorder.run, to_record)
                nursery.start_soon(self._history.run)
                watching = trio.CancelScope()
                nursery.start_soon(self._watch, watching)
                async with running(self.limiter), judged, trio.open_nursery() as workers, to_take:
                    workers.start_soon(self._feed, to_send)
                    task_status.started()
                    await self._staff(workers, to_take, judged)
                # Every worker is done: no lease is held by a send any more.
                watching.cancel()
                self._history.close()
            finished = True
        finally:
            # Aborted (cancelled, or an error): nothing below runs.
            if not finished:
                await self.feeder.hand_back_unstarted()
        released = await self._store.call(self._store.store.release, owner=self.owner)
        if self.outage.quota:
            # What was handed back is due at once: it waits out the pause too.
            await self._pauses.pause_in_store()
        deferred = await self._waiting() if self._deferred else 0
        return self._report(released, deferred)

    async def _watch(self, scope: trio.CancelScope) -> None:
        """What runs beside the sends until every worker is done: the leases'
        heartbeat and the watch over an outage."""
        with scope:
            async with trio.open_nursery() as nursery:
                self._pauses.side = nursery
                nursery.start_soon(keep_leases, self._store, self.owner, self._run.lease_s)
                if not self._follow:
                    wait_s = self._run.outage_wait_s
                    nursery.start_soon(self.outage.wait_longer_than, wait_s, self._defer)
        self._pauses.side = None

    def _defer(self) -> None:
        """Without ``--follow``: the server stayed out of reach too long, or
        reported a quota; its messages wait, uncharged, for the next run."""
        self.stop(deferred=True)

    def _defer_until(self, due: dt.datetime) -> None:
        """Without ``--follow``: the next message is due after a pause (a
        quota's); the next run sends it, not this one."""
        self._next_due = due
        self.stop(deferred=True)

    async def _waiting(self) -> int:
        """Messages of this sending key that are not final: what waits for the server."""
        unsent = await self._store.call(self._store.store.unsent_by_key)
        return unsent.get(self.transport.sending_key, 0)

    async def _staff(
        self,
        nursery: trio.Nursery,
        to_take: trio.MemoryReceiveChannel[ClaimedMessage],
        judged: trio.MemorySendChannel[Judgement],
    ) -> None:
        """Keep as many workers as the cap allows until feeding ends."""
        while not self.feeder.done:
            while self._workers < self.limiter.cap and not self._stopping:
                self._workers += 1
                nursery.start_soon(
                    lambda: run_worker(self, to_take.clone(), judged.clone(), on_exit=self._retired)
                )
            await self._wake_staff.wait()
            self._wake_staff = trio.Event()

    def _retired(self) -> None:
        self._workers -= 1
        self._wake_staff.set()

    async def _feed(self, to_send: trio.MemorySendChannel[ClaimedMessage]) -> None:
        await self.feeder.run(to_send)
        self._wake_staff.set()

    def _recorded(self, batch: Sequence[Judgement]) -> None:
        now = trio.current_time()
        elapsed = max(now - self._started, 1e-3)
        more_due = False
        for judgement in batch:
            if self._tally.add(judgement, retries=self._fatal is None):
                more_due = True
            if self._plugins is not None:
                key = self.transport.sending_key
                self._plugins.recorded(judgement.attempts, judgement.decision, key)
        sent_per_s = self._tally.counts[Status.SENT] / elapsed
        self.feeder.recorded(len(batch), more_due=more_due, sent_per_s=sent_per_s)

    def _cap_changed(self, change: CapChange) -> None:
        self._tally.cap_changes += 1
        if change.new_cap < change.old_cap:
            for idle in list(self.idle_waits):
                idle.cancel()
        self._wake_staff.set()
        if self._plugins is not None:
            self._plugins.cap_changed(self.transport.sending_key, change)

    def _rate_changed(self, change: RateChange) -> None:
        log.info("%s: %s", self.transport.sending_key, change.describe())
        self._history.rate_changed(change)

    def aborted_report(self) -> RunReport:
        """The report of a run that was cancelled before it could finish."""
        self._interrupted = True
        return self._report(0, 0)

    def _report(self, released: int, deferred: int) -> RunReport:
        return self._tally.report(
            released=released,
            elapsed_s=trio.current_time() - self._started,
            final_cap=self.limiter.statistics().cap,
            fatal=self._fatal,
            interrupted=self._interrupted,
            deferred=deferred,
            deferred_by=self.outage.last_reply if self._deferred else None,
            next_due=self._next_due or self._pauses.due,
            waiting_for=self._pauses.waiting_for,
        )
