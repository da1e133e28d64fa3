"""The limiter against a simulated provider whose limit is steady, falls and rises."""

from __future__ import annotations

import trio
import trio.lowlevel
import trio.testing

from adaptsend.limits._records import CapChange, ChangeReason
from tests.helpers.simulated_provider import simulate


def cap_after(log: list[tuple[int, CapChange]], accepted: int, initial: int) -> int:
    cap = initial
    for at, change in log:
        if at > accepted:
            break
        cap = change.new_cap
    return cap


async def test_settles_at_a_steady_limit(autojump_clock: trio.testing.MockClock) -> None:
    log, provider, limiter = await simulate([(0, 3)], 1000)
    stats = limiter.statistics()
    assert stats.successes == 1000
    assert stats.throttles <= 4
    assert provider.refused <= 4
    assert (stats.cap, stats.ceiling) == (3, 4)
    # After the first cut only probes go above the limit...
    first_cut = next(i for i, (_, c) in enumerate(log) if c.reason is ChangeReason.THROTTLE)
    assert max(c.new_cap for _, c in log[first_cut:]) == 4
    assert all(c.reason is not ChangeReason.THROTTLE for _, c in log[first_cut + 1 :])
    # ...after 32, 64 and 128 windows of three sends since the cut before.
    cuts = [at for at, c in log if c.reason in (ChangeReason.THROTTLE, ChangeReason.PROBE_FAILED)]
    probes = [at for at, c in log[first_cut:] if c.reason is ChangeReason.PROBE]
    gaps = [probe - cut for cut, probe in zip(cuts, probes, strict=False)]
    assert len(gaps) == 3
    for gap, windows in zip(gaps, (32, 64, 128), strict=True):
        assert windows * 3 <= gap <= windows * 3 + 6


async def test_follows_a_limit_that_falls_and_rises(
    autojump_clock: trio.testing.MockClock,
) -> None:
    log, provider, limiter = await simulate([(0, 6), (1000, 2), (2000, 4)], 5000)
    assert limiter.statistics().successes == 5000
    assert cap_after(log, 999, 3) in (5, 6)
    # The fall: within 50 sends the cap is at the limit or below...
    assert cap_after(log, 1050, 3) <= 2
    # ...and then only probes one above it: a fall, so the first ones come
    # every 16 windows (32 sends at two connections).
    assert max(c.new_cap for at, c in log if 1050 <= at < 2000) <= 3
    probes = [at for at, c in log if 1000 <= at < 2000 and c.reason is ChangeReason.PROBE]
    assert 34 >= probes[1] - probes[0] >= 32
    # The rise: the probes, back to doubling once the fall is used up (about
    # 500 sends apart by then), find 4, and the cap keeps to it.
    settled = [at for at, c in log if at >= 2000 and c.new_cap == 4 and c.old_cap < 4]
    assert settled
    assert settled[-1] < 2600
    assert all(c.new_cap in (4, 5) for at, c in log if at > settled[-1])
    assert limiter.cap == 4
    # Refusals are few: a few per change of limit, one per probe.
    assert provider.refused <= 25
