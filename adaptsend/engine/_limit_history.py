"""Writes the changes of a run's limits (the connection cap and the message
rate) to the store's history, beside the sending.

A change is noted synchronously, at the moment the limiter decides it, and
written by a task of its own: the first change of a burst waits a moment
(:data:`GATHER_SECONDS`) for the others, so that a run's cuts and steps of
growth cost a few short transactions, none of them on a worker's way. A store
that keeps no history (see ``adaptsend.store._cap_change_api``) is left alone.
"""

from __future__ import annotations

import logging
import math

import trio

from adaptsend._models import utcnow
from adaptsend.limits._rate_adapt import RateChange
from adaptsend.limits._records import CapChange
from adaptsend.store._cap_change_api import CapChangeRecord, CapChangeStore, LimitKind
from adaptsend.store._thread import StoreThread

log = logging.getLogger("adaptsend.run")

#: How long the first change of a burst waits for others before it is written.
GATHER_SECONDS = 1.0


class LimitHistory:
    """The changes ``agent`` decides for ``sending_key``; :meth:`run` writes
    them until :meth:`close`."""

    def __init__(self, store: StoreThread, *, sending_key: str, agent: str) -> None:
        self._store = store
        keeper = store.store
        self._record = keeper.record_cap_changes if isinstance(keeper, CapChangeStore) else None
        self._key = sending_key
        self._agent = agent
        self._noted, self._to_write = trio.open_memory_channel[CapChangeRecord](math.inf)

    def cap_decided(self, change: CapChange) -> None:
        """This agent changed the connection cap (for a shared cap: the store
        took this agent's decision)."""
        self._note(
            LimitKind.CONNECTIONS,
            old=change.old_cap,
            new=change.new_cap,
            reason=change.reason.value,
            ceiling=change.ceiling,
        )

    def rate_changed(self, change: RateChange) -> None:
        """This agent changed its message rate (a rate is never shared)."""
        self._note(
            LimitKind.RATE,
            old=change.old_per_minute,
            new=change.new_per_minute,
            reason=change.reason,
            ceiling=change.ceiling_per_minute,
        )

    def _note(
        self,
        kind: LimitKind,
        *,
        old: float | None,
        new: float,
        reason: str,
        ceiling: float | None,
    ) -> None:
        if self._record is None:
            return
        record = CapChangeRecord(
            sending_key=self._key,
            agent=self._agent,
            changed_at=utcnow(),
            kind=kind,
            old_value=old,
            new_value=new,
            reason=reason,
            ceiling=ceiling,
        )
        try:
            self._noted.send_nowait(record)
        except trio.ClosedResourceError:
            # Decided after the run's sending ended (a shared cap's last
            # write): too late for this run's history.
            log.debug("not recorded, the run has ended: %s", record)

    def close(self) -> None:
        """No more changes: :meth:`run` writes what is waiting and returns."""
        self._noted.close()

    async def run(self) -> None:
        """Write the changes as they come, until :meth:`close`. Cancelled, it
        first writes the changes already noted."""
        async with self._to_write:
            async for first in self._to_write:
                batch = [first]
                try:
                    with trio.move_on_after(GATHER_SECONDS):
                        async for record in self._to_write:
                            batch.append(record)
                except trio.Cancelled:
                    _take_waiting(self._to_write, batch)
                    await self._write(batch)
                    raise
                _take_waiting(self._to_write, batch)
                await self._write(batch)

    async def _write(self, batch: list[CapChangeRecord]) -> None:
        if self._record is None:
            return
        with trio.CancelScope(shield=True):
            try:
                await self._store.call(self._record, batch)
            except Exception as exc:  # the history must never stop the sending
                log.warning(
                    "could not record %d change(s) of the limits of %s: %s",
                    len(batch),
                    self._key,
                    exc,
                )


def _take_waiting(
    records: trio.MemoryReceiveChannel[CapChangeRecord], batch: list[CapChangeRecord]
) -> None:
    while True:
        try:
            batch.append(records.receive_nowait())
        except (trio.WouldBlock, trio.EndOfChannel):
            return
