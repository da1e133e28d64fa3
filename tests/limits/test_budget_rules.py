"""The AIMD policy (``adaptsend.limits._policy``) case by case, and over a
budget in the store (no run learning) against ``AIMDLimiter`` over a long
random run of throttles and growth."""

from __future__ import annotations

import contextlib
import random

import attrs
import pytest
import trio
import trio.testing

from adaptsend.config._settings import LimiterConfig
from adaptsend.limits._local import AIMDLimiter
from adaptsend.limits._policy import (
    Budget,
    RunLearning,
    binding,
    cut,
    delivered,
    grow,
    narrow,
    new_budget,
    on_trial_at,
    opening_level,
    probe_after_windows,
    probe_due,
    trials,
    window_size,
)
from adaptsend.limits._records import ChangeReason

SETTINGS = LimiterConfig(
    initial_cap=4, min_cap=1, max_cap=8, probe_interval_s=30.0, max_probe_interval_s=100.0
)


def budget(**changes: object) -> Budget:
    """A budget as the store keeps it: without run learning."""
    return attrs.evolve(new_budget(SETTINGS, in_memory=False), **changes)  # type: ignore[arg-type]


def in_memory(most_proven: int = 0, **changes: object) -> Budget:
    """A budget as the local limiter keeps it, with the run's learning."""
    run = RunLearning(probe_windows=SETTINGS.probe_after_windows, most_proven=most_proven)
    return budget(run=run, **changes)


def throttled(before: Budget, observed: int, trial_level: int | None = None) -> Budget:
    return cut(before, observed=observed, trial_level=trial_level, settings=SETTINGS, now=0.0)


# --- cuts -------------------------------------------------------------------


def test_a_first_throttle_halves_the_observed_and_remembers_it_as_the_ceiling() -> None:
    after = throttled(budget(cap=4), 4)
    assert (after.cap, after.ceiling, after.reason, after.observed) == (2, 4, "throttle", 4)
    assert (after.epoch, after.version, after.last_cut_at) == (1, 1, 0.0)


def test_a_failed_probe_goes_below_the_ceiling_and_doubles_the_wait_up_to_the_most() -> None:
    after = throttled(budget(cap=4, ceiling=4, probe_interval_s=60.0), 4)
    assert (after.cap, after.ceiling, after.reason) == (3, 4, ChangeReason.PROBE_FAILED)
    assert after.probe_interval_s == 100.0


def test_a_throttle_below_the_ceiling_is_a_new_lower_ceiling() -> None:
    after = throttled(budget(cap=3, ceiling=4, probe_interval_s=60.0), 3)
    assert (after.cap, after.ceiling, after.probe_interval_s) == (1, 3, 30.0)


def test_connections_beyond_the_cap_at_a_known_level_change_only_the_epoch() -> None:
    after = throttled(budget(cap=2, ceiling=4), 5)
    assert (after.cap, after.ceiling, after.reason, after.epoch) == (2, 4, "throttle", 1)


def test_a_throttle_never_raises_the_cap_nor_goes_below_min_cap() -> None:
    assert throttled(budget(cap=2), 7).cap == 2
    assert throttled(budget(cap=1), 1).cap == 1


def test_a_refused_trial_just_below_the_connections_open_sets_the_ceiling_at_its_level() -> None:
    # Its level is the one that failed; the connection above it is not known yet.
    assert throttled(budget(cap=4), 4, trial_level=3).ceiling == 3
    # A level further below was not tried alongside: the connections open failed.
    assert throttled(budget(cap=4), 4, trial_level=2).ceiling == 4
    assert throttled(budget(cap=4), 4, trial_level=4).ceiling == 4


def test_a_refusal_paid_for_already_lowers_the_ceiling_to_its_trial_level() -> None:
    after_cut = budget(cap=2, ceiling=4, epoch=1)
    narrowed = narrow(after_cut, trial_level=3)
    assert narrowed is not None and (narrowed.ceiling, narrowed.cap, narrowed.epoch) == (3, 2, 1)
    assert narrow(after_cut, trial_level=2) is None  # not tried alongside
    assert narrow(after_cut, trial_level=None) is None
    # Once the cap is back at the level, it is in use there: no news.
    assert narrow(budget(cap=3, ceiling=4), trial_level=3) is None


# --- growth -----------------------------------------------------------------


def test_growth_is_free_below_the_ceiling_and_a_probe_at_it() -> None:
    assert grow(budget(cap=2), settings=SETTINGS, now=0.0) == budget(
        cap=3, version=1, reason=ChangeReason.GROWTH
    )
    below = budget(cap=2, ceiling=4, last_cut_at=0.0)
    assert grow(below, settings=SETTINGS, now=1.0).reason == ChangeReason.GROWTH  # type: ignore[union-attr]
    just_below = budget(cap=3, ceiling=4, last_cut_at=0.0)
    assert grow(just_below, settings=SETTINGS, now=29.9) is None
    probe = grow(just_below, settings=SETTINGS, now=30.0)
    assert probe is not None and (probe.cap, probe.reason) == (4, ChangeReason.PROBE)


def test_a_probe_that_holds_forgets_the_ceiling() -> None:
    held = grow(budget(cap=4, ceiling=4, probe_interval_s=80.0), settings=SETTINGS, now=0.0)
    assert held is not None
    assert (held.cap, held.ceiling, held.probe_interval_s) == (5, None, 30.0)
    assert held.reason == ChangeReason.PROBE_SUCCEEDED


def test_no_growth_at_max_cap() -> None:
    assert grow(budget(cap=8), settings=SETTINGS, now=0.0) is None


def test_one_success_grows_below_the_ceiling_and_a_window_at_it() -> None:
    assert window_size(budget(cap=3)) == 1
    assert window_size(budget(cap=2, ceiling=4)) == 1
    assert window_size(budget(cap=3, ceiling=4)) == 3
    assert window_size(budget(cap=4, ceiling=4)) == 4


def test_a_probe_is_due_once_the_interval_has_passed_since_the_last_cut() -> None:
    assert probe_due(budget(), settings=SETTINGS, now=0.0, successes=0)
    assert not probe_due(budget(last_cut_at=0.0), settings=SETTINGS, now=29.0, successes=0)
    assert probe_due(budget(last_cut_at=0.0), settings=SETTINGS, now=30.0, successes=0)


# --- what only a budget in memory learns -----------------------------------


def test_in_memory_windows_of_successes_also_make_a_probe_due() -> None:
    # 32 windows of 3 successes at cap 3, counted since the last cut.
    waiting = in_memory(cap=3, ceiling=4, last_cut_at=0.0)
    assert not probe_due(waiting, settings=SETTINGS, now=1.0, successes=95)
    assert probe_due(waiting, settings=SETTINGS, now=1.0, successes=96)
    # The store counts no windows: only the seconds make its probes due.
    stored = budget(cap=3, ceiling=4, last_cut_at=0.0)
    assert not probe_due(stored, settings=SETTINGS, now=1.0, successes=10**6)
    assert probe_after_windows(stored, SETTINGS) is None


def test_in_memory_a_fall_is_probed_after_half_the_windows_and_used_up_by_failed_probes() -> None:
    fell = in_memory(most_proven=4, cap=3, ceiling=3)
    assert probe_after_windows(fell, SETTINGS) == 16
    failed = throttled(fell, 3)
    assert failed.reason == ChangeReason.PROBE_FAILED
    assert failed.run == RunLearning(probe_windows=32, most_proven=3)
    steady = throttled(in_memory(most_proven=2, cap=3, ceiling=3), 3)
    assert steady.run == RunLearning(probe_windows=64, most_proven=2)


def test_in_memory_two_connections_are_on_trial_while_no_ceiling_is_known() -> None:
    assert (trials(in_memory(cap=4)), trials(in_memory(cap=4, ceiling=6))) == (2, 1)
    assert binding(in_memory(cap=4), open_=4, proven=3)
    assert not binding(in_memory(cap=4, ceiling=6), open_=4, proven=3)
    assert not binding(in_memory(cap=4), open_=3, proven=3)
    # In the store: one, as the store knows no trial levels.
    assert trials(budget(cap=4)) == 1
    assert not binding(budget(cap=4), open_=4, proven=3)
    assert binding(budget(cap=4), open_=4, proven=4)


def test_in_memory_a_connection_is_on_trial_at_a_level_never_held() -> None:
    first_burst = in_memory(cap=3)
    assert opening_level(first_burst, open_=1) == 3  # opened together: may be the last
    proven = delivered(first_burst, proven=2)
    assert proven.run is not None and proven.run.most_proven == 2
    assert delivered(proven, proven=1) is proven
    assert opening_level(proven, open_=1) == 1
    assert (on_trial_at(proven, 3), on_trial_at(proven, 2), on_trial_at(proven, None)) == (
        3,
        None,
        None,
    )
    assert on_trial_at(budget(cap=3), 3) is None


# --- the same decisions as the local limiter --------------------------------


class LocalRun:
    """An AIMDLimiter driven through its public methods, one event at a time.

    A budget in the store times its probes in seconds only, so the local
    limiter's count of windows is put out of reach."""

    def __init__(self, initial_cap: int) -> None:
        self.limiter = AIMDLimiter(settings(initial_cap))

    async def throttle_at_full_cap(self) -> int:
        """Every slot open, one refused; returns how many were open."""
        async with contextlib.AsyncExitStack() as stack:
            slots = [
                await stack.enter_async_context(self.limiter.slot())
                for _ in range(self.limiter.cap)
            ]
            for slot in slots:
                self.limiter.connection_opened(slot)
            self.limiter.record_throttle(slots[0])
            return len(slots)

    async def deliver_at_full_cap(self) -> None:
        """Every slot open and delivering, for as long as a window lasts."""
        async with contextlib.AsyncExitStack() as stack:
            cap = self.limiter.cap
            slots = [await stack.enter_async_context(self.limiter.slot()) for _ in range(cap)]
            for slot in slots:
                self.limiter.connection_opened(slot)
            for _ in range(cap):
                for slot in slots:
                    if self.limiter.record_success(slot) is not None:
                        return

    def state(self) -> tuple[int, int | None, int, float]:
        stats = self.limiter.statistics()
        return stats.cap, stats.ceiling, stats.epoch, stats.probe_interval_s


def settings(initial_cap: int) -> LimiterConfig:
    return attrs.evolve(SETTINGS, initial_cap=initial_cap, probe_after_windows=10**9)


@pytest.mark.parametrize("seed", range(5))
async def test_a_budget_in_the_store_decides_as_the_local_limiter_does(
    seed: int, autojump_clock: trio.testing.MockClock
) -> None:
    rng = random.Random(seed)
    local = LocalRun(initial_cap=2)
    stored = new_budget(settings(2), in_memory=False)
    for _ in range(300):
        now = trio.current_time()
        event = rng.choice(["throttle", "deliver", "deliver", "deliver", "wait"])
        if event == "throttle":
            observed = await local.throttle_at_full_cap()
            stored = cut(stored, observed=observed, trial_level=None, settings=SETTINGS, now=now)
        elif event == "deliver":
            await local.deliver_at_full_cap()
            stored = grow(stored, settings=SETTINGS, now=now) or stored
        else:
            await trio.sleep(rng.choice([1.0, 10.0, 40.0, 150.0]))
        assert local.state() == (
            stored.cap,
            stored.ceiling,
            stored.epoch,
            stored.probe_interval_s,
        ), event
