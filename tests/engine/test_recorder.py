"""The recorder gathers outcomes while sends are under way and writes the last
ones of a run at once."""

from __future__ import annotations

from collections.abc import Sequence

import trio
import trio.testing

from adaptsend._models import Decision, Outcome, Status
from adaptsend.engine._judge import Judgement
from adaptsend.engine._recorder import GATHER_SECONDS, Recorder
from adaptsend.store._thread import StoreThread


class WrittenBatches:
    """The one store method the recorder calls, keeping what it was given."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []

    def record(
        self, attempts: Sequence[object], decisions: Sequence[Decision], *, owner: str
    ) -> None:
        self.batches.append([d.message_pk for d in decisions])


def sent(pk: int) -> Judgement:
    decision = Decision(message_pk=pk, status=Status.SENT, attempts=1, throttles=0)
    return Judgement(attempts=(), decision=decision, signal=Outcome.SENT)


async def record(
    steps: list[tuple[float, int, int]], *, to_come: int
) -> tuple[list[list[int]], float]:
    """Hand the recorder judgement ``pk`` at each ``(delay, pk, sends still
    to come)`` with ``to_come`` sends to come at first; returns the
    batches written by the time the first was recorded, and that time."""
    store = WrittenBatches()
    sending = [to_come]
    recorded = trio.Event()
    recorded_at: list[float] = []

    def on_recorded(batch: Sequence[Judgement]) -> None:
        recorded_at.append(trio.current_time())
        recorded.set()

    recorder = Recorder(
        StoreThread(store),  # type: ignore[arg-type]
        owner="test",
        batch=100,
        on_recorded=on_recorded,
        sends_to_come=lambda: sending[0],
    )
    send, receive = trio.open_memory_channel[Judgement](10)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(recorder.run, receive)
        async with send:
            for delay, pk, left in steps:
                await trio.sleep(delay)
                sending[0] = left
                await send.send(sent(pk))
            # Still open: only the recorder's own rule can end its gathering.
            await recorded.wait()
    return store.batches, recorded_at[0]


async def test_the_last_outcomes_are_written_once_no_send_is_under_way_or_waiting(
    autojump_clock: trio.testing.MockClock,
) -> None:
    start = trio.current_time()
    batches, recorded_at = await record([(0.0, 1, 1), (0.005, 2, 0)], to_come=2)
    # Both in one write, when the last send reported, not a gather later.
    assert batches == [[1, 2]]
    assert recorded_at == start + 0.005


async def test_outcomes_wait_for_others_while_sends_are_under_way_or_waiting(
    autojump_clock: trio.testing.MockClock,
) -> None:
    start = trio.current_time()
    batches, recorded_at = await record([(0.0, 1, 2), (0.005, 2, 1)], to_come=3)
    assert batches == [[1, 2]]
    assert recorded_at == start + GATHER_SECONDS
