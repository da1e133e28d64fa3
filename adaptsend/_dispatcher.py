"""The dispatcher: drains the store's queue through the transport.

One nursery holds a feeder that leases messages a page at a time, as many
connection workers as the limiter's cap allows, and a recorder that writes
outcomes in batches. The run ends when nothing is left to send (waiting for
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

from adaptsend._config import Config
from adaptsend._decide import Judge, Judgement
from adaptsend._key_pauses import KeyPauses
from adaptsend._leases import keep_leases
from adaptsend._limiter_records import CapChange
from adaptsend._limiters import Limiter, make_limiter, running
from adaptsend._models import ClaimedMessage, Reply, Status, utcnow
from adaptsend._plugins import Plugins
from adaptsend._rate_adapt import MessageRate, RateChange
from adaptsend._recorder import Recorder
from adaptsend._report import DispatcherStatistics, RunReport
from adaptsend._run_tally import RunTally
from adaptsend._store_thread import StoreThread
from adaptsend._transport import Transport
from adaptsend._worker import run_worker

#: Seconds of sending the feeder keeps leased ahead of the workers: enough to
#: keep them busy, few enough that no lease ages while it waits.
_BUFFER_SECONDS = 2.0

#: How soon to claim again when a message is due but the claim found none.
_CLAIM_AGAIN_S = 0.05

log = logging.getLogger("adaptsend.run")


def new_owner() -> str:
    """A lease owner name that tells a person which process holds a message."""
    return f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Dispatcher:
    """Sends every due message of one sending key. Use :meth:`run` once."""

    def __init__(
        self,
        *,
        store: StoreThread,
        transport: Transport,
        judge: Judge,
        config: Config,
        plugins: Plugins | None = None,
        follow: bool = False,
        owner: str | None = None,
    ) -> None:
        self.transport = transport
        self.judge = judge
        self.idle_close_s = config.limiter.idle_close_s
        # The limiter names this agent by its owner name (shared budgets do).
        self.owner = owner or new_owner()
        self.limiter: Limiter = make_limiter(
            config, store, transport.sending_key, self.owner, self._cap_changed
        )
        self.rate = MessageRate(
            top_per_minute=config.limiter.max_per_minute,
            decrease_factor=config.limiter.decrease_factor,
            on_change=self._rate_changed,
        )
        self._pauses = KeyPauses(
            config,
            store=store,
            sending_key=transport.sending_key,
            plugins=plugins,
            defer=None if follow else self._defer,
        )
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
        self._feeding_done = False
        self._outstanding = 0
        self._in_flight = 0
        self._workers = 0
        self._wake_feeder = trio.Event()
        self._wake_staff = trio.Event()
        self._tally = RunTally()
        # Leased messages no send has started on: an abort hands them back.
        self._unstarted: set[int] = set()
        self.idle_waits: set[trio.CancelScope] = set()
        self.slot_waits: set[trio.CancelScope] = set()
        self._rate = 0.0
        self._started = 0.0
        self._buffered = 0
        # The last claim found fewer due messages than it asked for; see
        # _claim_useful().
        self._drained = False

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
        self.retry_after.stop()
        self._wake_feeder.set()
        self._wake_staff.set()

    def sends_starting(self, batch: list[ClaimedMessage]) -> None:
        self._unstarted.difference_update(message.id for message in batch)

    def message_taken(self) -> None:
        self._buffered -= 1
        if self._claim_useful():
            self._wake_feeder.set()

    def statistics(self) -> DispatcherStatistics:
        limiter = self.limiter.statistics()
        return self._tally.statistics(
            cap=limiter.cap,
            open_connections=limiter.open_connections,
            in_flight=self._in_flight,
            elapsed_s=trio.current_time() - self._started if self._started else 0.0,
            unreachable_s=self.outage.down_for() if self.outage.down else None,
            per_minute=self.rate.per_minute,
        )

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
            sends_to_come=lambda: self._in_flight + self._buffered,
        )
        finished = False
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(recorder.run, to_record)
                watching = trio.CancelScope()
                nursery.start_soon(self._watch, watching)
                async with running(self.limiter), judged, trio.open_nursery() as workers, to_take:
                    workers.start_soon(self._feed, to_send)
                    task_status.started()
                    await self._staff(workers, to_take, judged)
                # Every worker is done: no lease is held by a send any more.
                watching.cancel()
            finished = True
        finally:
            # Aborted (cancelled, or an error): nothing below runs.
            if not finished:
                await self._hand_back_unstarted()
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

    async def _waiting(self) -> int:
        """Messages of this sending key that are not final: what waits for the server."""
        unsent = await self._store.call(self._store.store.unsent_by_key)
        return unsent.get(self.transport.sending_key, 0)

    async def _hand_back_unstarted(self) -> None:
        """On an abort, give back the leases of messages that no send has
        touched, so the next run need not wait for them to expire. Those with
        a send in progress stay leased: that send may yet deliver."""
        if not self._unstarted:
            return
        unstarted = sorted(self._unstarted)
        with trio.CancelScope(shield=True):
            await self._store.call(
                self._store.store.release, owner=self.owner, message_pks=unstarted
            )

    async def _staff(
        self,
        nursery: trio.Nursery,
        to_take: trio.MemoryReceiveChannel[ClaimedMessage],
        judged: trio.MemorySendChannel[Judgement],
    ) -> None:
        """Keep as many workers as the cap allows until feeding ends."""
        while not self._feeding_done:
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
        async with to_send:
            while not self._stopping:
                room = self._refill_room()
                claimed = await self._claim(room) if room > 0 else []
                for message in claimed:
                    to_send.send_nowait(message)
                self._buffered += len(claimed)
                self._outstanding += len(claimed)
                if room > 0:
                    self._drained = len(claimed) < room
                if claimed:
                    continue
                timeout = await self._idle_timeout()
                if timeout is None:
                    break
                with trio.move_on_after(timeout):
                    await self._wake_feeder.wait()
                self._wake_feeder = trio.Event()
        self._feeding_done = True
        self._wake_staff.set()

    async def _claim(self, limit: int) -> list[ClaimedMessage]:
        store = self._store.store
        claimed = await self._store.call(
            store.claim,
            owner=self.owner,
            sending_key=self.transport.sending_key,
            limit=limit,
            lease_s=self._run.lease_s,
        )
        self._tally.claimed(message.id for message in claimed)
        self._unstarted.update(message.id for message in claimed)
        return claimed

    async def _idle_timeout(self) -> float | None:
        """How long to wait before claiming again; None when the run is done."""
        if self._outstanding or self._buffered > 0:
            return self._run.poll_interval_s
        due = await self._store.call(
            self._store.store.next_due, sending_key=self.transport.sending_key
        )
        if due is None:
            return self._run.poll_interval_s if self._follow else None
        wait = (due - utcnow()).total_seconds()
        if wait <= 0:
            # Due, yet the claim that just ran found nothing: rows another
            # agent's claim held for a moment, or (after a failed write) rows
            # still leased to this run, which it never claims again. Holding
            # nothing now, it hands those back.
            released = await self._store.call(self._store.store.release, owner=self.owner)
            if released:
                log.warning("handed back %d message(s) this run had lost track of", released)
            return 0.0 if released else _CLAIM_AGAIN_S
        if self._follow:
            return min(wait, self._run.poll_interval_s)
        if wait > self._run.outage_wait_s:
            # Due after a pause (a quota's): the next run sends it, not this one.
            self._next_due = due
            self.stop(deferred=True)
            return None
        return wait

    def _refill_room(self) -> int:
        """How many messages to claim now: none until half the buffer has been
        taken, so that each claim (one transaction) brings a page, not a few."""
        target = self._target_buffer()
        return target - self._buffered if self._buffered <= target // 2 else 0

    def _claim_useful(self) -> bool:
        """Whether to wake the feeder for a claim. Once a claim has come back
        short, another finds nothing until a retry is recorded or new mail is
        queued: until then the feeder claims only when the buffer is empty
        (or its poll interval passes), not each time a message is taken."""
        if self._drained and self._buffered > 0:
            return False
        return self._refill_room() > 0

    def _target_buffer(self) -> int:
        cap = self.limiter.cap
        by_rate = int(self._rate * _BUFFER_SECONDS)
        return max(2 * cap, min(self._run.page_size, by_rate))

    def _recorded(self, batch: Sequence[Judgement]) -> None:
        now = trio.current_time()
        elapsed = max(now - self._started, 1e-3)
        for judgement in batch:
            if self._tally.add(judgement, retries=self._fatal is None):
                self._drained = False
            if self._plugins is not None:
                key = self.transport.sending_key
                self._plugins.recorded(judgement.attempts, judgement.decision, key)
        self._outstanding -= len(batch)
        self._rate = self._tally.counts[Status.SENT] / elapsed
        if not self._outstanding or self._claim_useful():
            self._wake_feeder.set()

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
            next_due=self._next_due,
        )
