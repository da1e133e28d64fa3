"""Writes attempt outcomes to the store in batches.

Workers hand over judgements as they happen; the recorder writes whatever has
gathered in one transaction, so a busy run writes big batches and a quiet one
writes at once, with no timer to tune.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import trio

from adaptsend._decide import Judgement
from adaptsend._store_thread import StoreThread


class Recorder:
    def __init__(
        self,
        store: StoreThread,
        *,
        owner: str,
        batch: int,
        on_recorded: Callable[[Sequence[Judgement]], None],
    ) -> None:
        self._store = store
        self._owner = owner
        self._batch = batch
        self._on_recorded = on_recorded

    async def run(self, judgements: trio.MemoryReceiveChannel[Judgement]) -> None:
        """Record until every sender of ``judgements`` has closed it."""
        async with judgements:
            async for first in judgements:
                batch = [first]
                while len(batch) < self._batch:
                    try:
                        batch.append(judgements.receive_nowait())
                    except (trio.WouldBlock, trio.EndOfChannel):
                        break
                await self._write(batch)

    async def _write(self, batch: Sequence[Judgement]) -> None:
        attempts = [record for j in batch for record in j.attempts]
        decisions = [j.decision for j in batch]
        with trio.CancelScope(shield=True):
            # An outcome already sent must reach the store even while the run
            # is being cancelled; otherwise the message would be sent again.
            await self._store.call(self._store.store.record, attempts, decisions, owner=self._owner)
        self._on_recorded(batch)
