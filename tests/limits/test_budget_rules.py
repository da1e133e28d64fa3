"""The shared budget's rules are the local limiter's: checked case by case, and
against ``AIMDLimiter`` itself over a long random run of throttles and growth."""

from __future__ import annotations

import contextlib
import datetime as dt
import random

import attrs
import pytest
import trio
import trio.testing

from adaptsend.limits._local import AIMDLimiter
from adaptsend.limits._policy import (
    Budget,
    BudgetRules,
    cut,
    grow,
    new_budget,
    probe_due,
    window_size,
)
from adaptsend.limits._records import ChangeReason

RULES = BudgetRules(min_cap=1, max_cap=8, probe_interval_s=30.0, max_probe_interval_s=100.0)
T0 = dt.datetime(2026, 11, 29, 21, 0, 0)


def budget(**changes: object) -> Budget:
    return attrs.evolve(new_budget("key", initial_cap=4, rules=RULES), **changes)  # type: ignore[arg-type]


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


# --- cuts -------------------------------------------------------------------


def test_a_first_throttle_halves_the_observed_and_remembers_it_as_the_ceiling() -> None:
    after = cut(budget(cap=4), observed=4, rules=RULES, now=at(0))
    assert (after.cap, after.ceiling, after.reason, after.observed) == (2, 4, "throttle", 4)
    assert (after.epoch, after.version, after.last_cut_at) == (1, 1, at(0))


def test_a_failed_probe_goes_below_the_ceiling_and_doubles_the_wait_up_to_the_most() -> None:
    probing = budget(cap=4, ceiling=4, probe_interval_s=60.0)
    after = cut(probing, observed=4, rules=RULES, now=at(0))
    assert (after.cap, after.ceiling, after.reason) == (3, 4, ChangeReason.PROBE_FAILED)
    assert after.probe_interval_s == 100.0


def test_a_throttle_below_the_ceiling_is_a_new_lower_ceiling() -> None:
    after = cut(budget(cap=3, ceiling=4, probe_interval_s=60.0), observed=3, rules=RULES, now=at(0))
    assert (after.cap, after.ceiling, after.probe_interval_s) == (1, 3, 30.0)


def test_connections_beyond_the_cap_at_a_known_level_change_only_the_epoch() -> None:
    after = cut(budget(cap=2, ceiling=4), observed=5, rules=RULES, now=at(0))
    assert (after.cap, after.ceiling, after.reason, after.epoch) == (2, 4, "throttle", 1)


def test_a_throttle_never_raises_the_cap_nor_goes_below_min_cap() -> None:
    assert cut(budget(cap=2), observed=7, rules=RULES, now=at(0)).cap == 2
    assert cut(budget(cap=1), observed=1, rules=RULES, now=at(0)).cap == 1


# --- growth -----------------------------------------------------------------


def test_growth_is_free_below_the_ceiling_and_a_probe_at_it() -> None:
    assert grow(budget(cap=2), rules=RULES, now=at(0)) == budget(
        cap=3, version=1, reason=ChangeReason.GROWTH
    )
    below = budget(cap=2, ceiling=4, last_cut_at=at(0))
    assert grow(below, rules=RULES, now=at(1)).reason == ChangeReason.GROWTH  # type: ignore[union-attr]
    just_below = budget(cap=3, ceiling=4, last_cut_at=at(0))
    assert grow(just_below, rules=RULES, now=at(29.9)) is None
    probe = grow(just_below, rules=RULES, now=at(30))
    assert probe is not None and (probe.cap, probe.reason) == (4, ChangeReason.PROBE)


def test_a_probe_that_holds_forgets_the_ceiling() -> None:
    held = grow(budget(cap=4, ceiling=4, probe_interval_s=80.0), rules=RULES, now=at(0))
    assert held is not None
    assert (held.cap, held.ceiling, held.probe_interval_s) == (5, None, 30.0)
    assert held.reason == ChangeReason.PROBE_SUCCEEDED


def test_no_growth_at_max_cap() -> None:
    assert grow(budget(cap=8), rules=RULES, now=at(0)) is None


def test_one_success_grows_below_the_ceiling_and_a_window_at_it() -> None:
    assert window_size(budget(cap=3)) == 1
    assert window_size(budget(cap=2, ceiling=4)) == 1
    assert window_size(budget(cap=3, ceiling=4)) == 3
    assert window_size(budget(cap=4, ceiling=4)) == 4


def test_a_probe_is_due_once_the_interval_has_passed_since_the_last_cut() -> None:
    assert probe_due(budget(), at(0))
    assert not probe_due(budget(last_cut_at=at(0)), at(29))
    assert probe_due(budget(last_cut_at=at(0)), at(30))


# --- the same decisions as the local limiter --------------------------------


class LocalRun:
    """An AIMDLimiter driven through its public methods, one event at a time.

    A shared budget times its probes in seconds only, so the local limiter's
    count of windows is put out of reach."""

    def __init__(self, initial_cap: int) -> None:
        self.limiter = AIMDLimiter(
            initial_cap=initial_cap,
            min_cap=RULES.min_cap,
            max_cap=RULES.max_cap,
            decrease_factor=RULES.decrease_factor,
            probe_interval_s=RULES.probe_interval_s,
            max_probe_interval_s=RULES.max_probe_interval_s,
            probe_after_windows=10**9,
        )

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


@pytest.mark.parametrize("seed", range(5))
async def test_the_rules_decide_as_the_local_limiter_does(
    seed: int, autojump_clock: trio.testing.MockClock
) -> None:
    rng = random.Random(seed)
    local = LocalRun(initial_cap=2)
    shared = new_budget("key", initial_cap=2, rules=RULES)
    for _ in range(300):
        now = at(trio.current_time())
        event = rng.choice(["throttle", "deliver", "deliver", "deliver", "wait"])
        if event == "throttle":
            observed = await local.throttle_at_full_cap()
            shared = cut(shared, observed=observed, rules=RULES, now=now)
        elif event == "deliver":
            await local.deliver_at_full_cap()
            shared = grow(shared, rules=RULES, now=now) or shared
        else:
            await trio.sleep(rng.choice([1.0, 10.0, 40.0, 150.0]))
        assert local.state() == (
            shared.cap,
            shared.ceiling,
            shared.epoch,
            shared.probe_interval_s,
        ), event
