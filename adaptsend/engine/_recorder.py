"""Writes attempt outcomes to the store in batches.

Workers hand over judgements as they happen. The recorder waits a moment
(:data:`GATHER_SECONDS`) after the first one for others to join it, while
sends are under way or waiting to start that could bring them, then writes
them all in one transaction: a busy run writes a few large transactions a
second instead of hundreds of small ones, and a crash can lose at most that
moment's outcomes (their messages would be sent again).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import trio

from adaptsend.engine._judge import Judgement
from adaptsend.store._thread import StoreThread

#: How long the first outcome of a batch waits for others before it is written.
GATHER_SECONDS = 0.02


class Recorder:
    def __init__(
        self,
        store: StoreThread,
        *,
        owner: str,
        batch: int,
        on_recorded: Callable[[Sequence[Judgement]], None],
        sends_to_come: Callable[[], int],
    ) -> None:
        self._store = store
        self._owner = owner
        self._batch = batch
        self._on_recorded = on_recorded
        self._sends_to_come = sends_to_come

    async def run(self, judgements: trio.MemoryReceiveChannel[Judgement]) -> None:
        """Record until every sender of ``judgements`` has closed it."""
        async with judgements:
            async for first in judgements:
                batch = [first]
                # With no send under way or waiting no outcome is coming soon
                # (the last ones of a run, or of a lull): waiting would only
                # delay them.
                gather_s = GATHER_SECONDS if self._sends_to_come() else 0.0
                try:
                    with trio.move_on_after(gather_s):
                        while _take_waiting(judgements, batch, self._batch) < self._batch:
                            batch.append(await judgements.receive())
                            if not self._sends_to_come():
                                break  # the last sends have reported
                except trio.EndOfChannel:
                    pass
                except trio.Cancelled:
                    # These sends happened: record them, and whatever else has
                    # been handed over, before the run ends.
                    _take_waiting(judgements, batch, None)
                    await self._write(batch)
                    raise
                _take_waiting(judgements, batch, self._batch)
                await self._write(batch)

    async def _write(self, batch: Sequence[Judgement]) -> None:
        attempts = [record for j in batch for record in j.attempts]
        decisions = [j.decision for j in batch]
        with trio.CancelScope(shield=True):
            # An outcome already sent must reach the store even while the run
            # is being cancelled; otherwise the message would be sent again.
            await self._store.call(self._store.store.record, attempts, decisions, owner=self._owner)
        self._on_recorded(batch)


def _take_waiting(
    judgements: trio.MemoryReceiveChannel[Judgement], batch: list[Judgement], limit: int | None
) -> int:
    """Move what is already waiting into ``batch``, up to ``limit`` in all;
    returns the batch's size."""
    while limit is None or len(batch) < limit:
        try:
            batch.append(judgements.receive_nowait())
        except (trio.WouldBlock, trio.EndOfChannel):
            break
    return len(batch)
