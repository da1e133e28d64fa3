"""The gate that keeps connections from a server that cannot be reached or
has reported a quota: who may connect, and when. Trio's autojump clock moves
time; no real waiting."""

from __future__ import annotations

import trio
import trio.testing

from adaptsend._models import Reply, Stage
from adaptsend.limits._outage import Outage

REFUSED = Reply(code=None, text="ConnectionRefusedError", stage=Stage.CONNECT)
QUOTA = Reply(code=454, text="Throttling failure: Daily message quota exceeded", stage=Stage.DATA)


def gate(changes: list[object] | None = None) -> Outage:
    seen = changes if changes is not None else []
    return Outage(
        first_delay_s=1.0, max_delay_s=8.0, on_change=lambda since, r: seen.append((since, r))
    )


async def test_an_outage_lets_one_probe_through_at_doubling_intervals(
    autojump_clock: trio.testing.MockClock,
) -> None:
    changes: list[object] = []
    outage = gate(changes)
    await outage.wait_turn()  # reachable: at once
    outage.failed(REFUSED)
    turns: list[float] = []
    start = trio.current_time()
    for _ in range(4):
        await outage.wait_turn()
        turns.append(trio.current_time() - start)
        outage.failed(REFUSED)
    assert turns == [1.0, 3.0, 7.0, 15.0]  # 1, then 2, 4, 8 (the most) apart
    outage.reached()
    assert not outage.down
    assert [r for _, r in changes] == [REFUSED, None]  # told once each way


async def test_while_one_probes_the_others_wait_for_its_outcome(
    autojump_clock: trio.testing.MockClock,
) -> None:
    outage = gate()
    outage.failed(REFUSED)
    entered: list[float] = []

    async def worker() -> None:
        await outage.wait_turn()
        entered.append(trio.current_time())

    async with trio.open_nursery() as nursery:
        nursery.start_soon(worker)
        nursery.start_soon(worker)
        await trio.sleep(5)
        # One probe went at 1 s; the other is still waiting for its outcome.
        assert entered == [1.0]
        outage.reached()
    assert entered == [1.0, 5.0]


async def test_a_quota_pause_lasts_until_a_message_is_answered(
    autojump_clock: trio.testing.MockClock,
) -> None:
    changes: list[object] = []
    outage = gate(changes)
    outage.pause(QUOTA, 60.0)
    start = trio.current_time()
    await outage.wait_turn()
    assert trio.current_time() - start == 60.0
    outage.reached()  # the probe's connection opened: still paused
    assert outage.down and outage.quota
    outage.pause(QUOTA, 60.0)  # its message met the quota again
    await outage.wait_turn()
    assert trio.current_time() - start == 120.0
    outage.answered()  # this time the server took it
    assert not outage.down
    await outage.wait_turn()  # at once
    assert changes == []  # a quota is not an outage: no reachability news


async def test_a_connection_that_began_opening_before_the_outage_ends_nothing(
    autojump_clock: trio.testing.MockClock,
) -> None:
    changes: list[object] = []
    outage = gate(changes)
    opening = trio.current_time()
    await trio.sleep(0.5)
    outage.failed(REFUSED)
    # Began before the outage (an HTTP transport's connection reaches nothing).
    outage.reached(since=opening)
    assert outage.down
    await outage.wait_turn()  # the probe's turn, after the outage began
    outage.reached(since=trio.current_time())
    assert not outage.down
    assert [r for _, r in changes] == [REFUSED, None]
