"""The feeder: leases due messages from the store a page at a time, a little
ahead of the workers, and says when the run has nothing left to send.

It keeps the books a claim needs: how many leased messages wait in the
buffer, how many are out (leased and not yet recorded), and which no send
has started on (an abort hands those back).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Awaitable, Callable

import trio

from adaptsend._models import ClaimedMessage, utcnow
from adaptsend.config._settings import RunConfig
from adaptsend.engine._tally import RunTally
from adaptsend.store._thread import StoreThread

#: Seconds of sending the feeder keeps leased ahead of the workers: enough to
#: keep them busy, few enough that no lease ages while it waits.
_BUFFER_SECONDS = 2.0

#: How soon to claim again when a message is due but the claim found none.
_CLAIM_AGAIN_S = 0.05

log = logging.getLogger("adaptsend.run")


class Feeder:
    """Claims for one sending key until the run stops or nothing is due."""

    def __init__(
        self,
        *,
        store: StoreThread,
        owner: str,
        sending_key: str,
        run: RunConfig,
        follow: bool,
        tally: RunTally,
        cap: Callable[[], int],
        stopping: Callable[[], bool],
        defer: Callable[[dt.datetime], None],
        admit: Callable[[list[ClaimedMessage]], Awaitable[list[ClaimedMessage]]] | None = None,
    ) -> None:
        self._store = store
        self._owner = owner
        self._sending_key = sending_key
        self._run = run
        self._follow = follow
        self._tally = tally
        self._cap = cap
        self._stopping = stopping
        self._defer = defer
        # What a budget the claim does not know of lets through (the day's
        # recipients): the rest goes back to the queue, uncharged.
        self._admit = admit
        #: Leased messages waiting in the buffer for a worker.
        self.buffered = 0
        #: Leased messages whose outcome is not recorded yet.
        self.outstanding = 0
        #: Leased messages no send has started on: an abort hands them back.
        self.unstarted: set[int] = set()
        self.done = False
        self._wake = trio.Event()
        # Messages sent a second, which sizes the buffer.
        self._rate = 0.0
        # The last claim found fewer due messages than it asked for; see
        # claim_useful().
        self._drained = False

    # -- what workers and the recorder tell it ------------------------------

    def wake(self) -> None:
        self._wake.set()

    def taken(self) -> None:
        """A worker took a message from the buffer."""
        self.buffered -= 1
        if self.claim_useful():
            self._wake.set()

    def sends_starting(self, batch: list[ClaimedMessage]) -> None:
        self.unstarted.difference_update(message.id for message in batch)

    def recorded(self, count: int, *, more_due: bool, sent_per_s: float) -> None:
        """``count`` outcomes were written; ``more_due`` when one of them
        queued a retry (so a claim may find something again)."""
        if more_due:
            self._drained = False
        self.outstanding -= count
        self._rate = sent_per_s
        if not self.outstanding or self.claim_useful():
            self._wake.set()

    # -- feeding ------------------------------------------------------------

    async def run(self, to_send: trio.MemorySendChannel[ClaimedMessage]) -> None:
        """Claim into ``to_send`` until stopped or nothing more is due."""
        async with to_send:
            while not self._stopping():
                room = self._refill_room()
                claimed = await self._claim(room) if room > 0 else []
                for message in claimed:
                    to_send.send_nowait(message)
                self.buffered += len(claimed)
                self.outstanding += len(claimed)
                if room > 0:
                    self._drained = len(claimed) < room
                if claimed:
                    continue
                timeout = await self._idle_timeout()
                if timeout is None:
                    break
                with trio.move_on_after(timeout):
                    await self._wake.wait()
                self._wake = trio.Event()
        self.done = True

    async def hand_back_unstarted(self) -> None:
        """On an abort, give back the leases of messages that no send has
        touched, so the next run need not wait for them to expire. Those with
        a send in progress stay leased: that send may yet deliver."""
        if not self.unstarted:
            return
        unstarted = sorted(self.unstarted)
        with trio.CancelScope(shield=True):
            await self._store.call(
                self._store.store.release, owner=self._owner, message_pks=unstarted
            )

    async def _claim(self, limit: int) -> list[ClaimedMessage]:
        store = self._store.store
        claimed = await self._store.call(
            store.claim,
            owner=self._owner,
            sending_key=self._sending_key,
            limit=limit,
            lease_s=self._run.lease_s,
        )
        if self._admit is not None and claimed:
            claimed = await self._admit(claimed)
        self._tally.claimed(message.id for message in claimed)
        self.unstarted.update(message.id for message in claimed)
        return claimed

    async def _idle_timeout(self) -> float | None:
        """How long to wait before claiming again; None when the run is done."""
        if self.outstanding or self.buffered > 0:
            return self._run.poll_interval_s
        due = await self._store.call(self._store.store.next_due, sending_key=self._sending_key)
        if due is None:
            return self._run.poll_interval_s if self._follow else None
        wait = (due - utcnow()).total_seconds()
        if wait <= 0:
            # Due, yet the claim that just ran found nothing: rows another
            # agent's claim held for a moment, or (after a failed write) rows
            # still leased to this run, which it never claims again. Holding
            # nothing now, it hands those back.
            released = await self._store.call(self._store.store.release, owner=self._owner)
            if released:
                log.warning("handed back %d message(s) this run had lost track of", released)
            return 0.0 if released else _CLAIM_AGAIN_S
        if self._follow:
            return min(wait, self._run.poll_interval_s)
        if wait > self._run.outage_wait_s:
            # Due after a pause (a quota's): the next run sends it, not this one.
            self._defer(due)
            return None
        return wait

    def _refill_room(self) -> int:
        """How many messages to claim now: none until half the buffer has been
        taken, so that each claim (one transaction) brings a page, not a few."""
        target = self._target_buffer()
        return target - self.buffered if self.buffered <= target // 2 else 0

    def claim_useful(self) -> bool:
        """Whether to wake the feeder for a claim. Once a claim has come back
        short, another finds nothing until a retry is recorded or new mail is
        queued: until then the feeder claims only when the buffer is empty
        (or its poll interval passes), not each time a message is taken."""
        if self._drained and self.buffered > 0:
            return False
        return self._refill_room() > 0

    def _target_buffer(self) -> int:
        cap = self._cap()
        by_rate = int(self._rate * _BUFFER_SECONDS)
        return max(2 * cap, min(self._run.page_size, by_rate))
