"""The AIMD rules of ``adaptsend.limits._local``, as pure functions on a shared budget.

Agents that share a connection budget through the database decide the same way
one in-process limiter does; only the state lives in a row instead of in
memory. Each function takes the budget an agent read and returns the budget it
wants written (or None), and the store writes it only if nobody changed the
row meanwhile. The rules, as in the local limiter:

* A counted throttle cuts the cap to ``floor(observed * decrease_factor)`` and
  remembers ``observed`` as the ceiling; a throttle at the ceiling while the cap
  is there (a failed probe) goes back to ``ceiling - 1`` and doubles the probe
  interval; a throttle never raises the cap. Every counted throttle starts a
  new epoch.
* Growth is one step: up to ``ceiling - 1`` freely, to the ceiling (a probe)
  only once the probe interval has passed since the last cut, and at the
  ceiling (a probe that held) the ceiling is forgotten.
* Growing below the ceiling takes one success at a binding cap; growing to the
  ceiling or past it takes a window of ``cap`` successes.

Two things the local limiter does are left out: a shared cap keeps one
connection on trial also while no ceiling is known (a slot on trial in one
agent holds back every agent), and it takes the slots held at a throttle as
the level that failed, not the refused connection's trial level.
"""

from __future__ import annotations

import datetime as dt
import math

import attrs

from adaptsend.limits._records import ChangeReason


@attrs.frozen(kw_only=True)
class BudgetRules:
    """One agent's ``[limiter]`` settings, applied to the decisions it makes."""

    min_cap: int
    max_cap: int
    decrease_factor: float = 0.5
    probe_interval_s: float = 30.0
    max_probe_interval_s: float = 600.0


@attrs.frozen(kw_only=True)
class Budget:
    """The shared state of one sending key's connection cap, as stored."""

    sending_key: str
    cap: int
    #: The lowest number of connections a throttle was counted at, until a probe holds.
    ceiling: int | None
    epoch: int
    #: Bumped by every decision; a write names the version it was decided from.
    version: int
    probe_interval_s: float
    #: When the last counted throttle was (naive UTC); probes are timed from it.
    last_cut_at: dt.datetime | None
    #: Why the latest change was made; None for a budget nobody changed yet.
    reason: ChangeReason | None
    #: Connections held at the latest counted throttle.
    observed: int | None


def new_budget(sending_key: str, *, initial_cap: int, rules: BudgetRules) -> Budget:
    """The budget a sending key starts with, before any agent decided anything."""
    return Budget(
        sending_key=sending_key,
        cap=initial_cap,
        ceiling=None,
        epoch=0,
        version=0,
        probe_interval_s=rules.probe_interval_s,
        last_cut_at=None,
        reason=None,
        observed=None,
    )


def cut(budget: Budget, *, observed: int, rules: BudgetRules, now: dt.datetime) -> Budget:
    """The budget after a counted throttle with ``observed`` connections held."""
    ceiling = budget.ceiling
    interval = budget.probe_interval_s
    if ceiling is None or observed < ceiling:
        # A new (or lower) limit: the old probe history no longer applies.
        ceiling, interval = observed, rules.probe_interval_s
        target, reason = math.floor(observed * rules.decrease_factor), ChangeReason.THROTTLE
    elif budget.cap >= ceiling:
        interval = min(rules.max_probe_interval_s, 2 * interval)
        target, reason = ceiling - 1, ChangeReason.PROBE_FAILED
    else:
        # Connections beyond the cap reached a level already known to fail: no news.
        target, reason = budget.cap, ChangeReason.THROTTLE
    return attrs.evolve(
        budget,
        cap=max(rules.min_cap, min(budget.cap, target)),
        ceiling=ceiling,
        epoch=budget.epoch + 1,
        version=budget.version + 1,
        probe_interval_s=interval,
        last_cut_at=now,
        reason=reason,
        observed=observed,
    )


def grow(budget: Budget, *, rules: BudgetRules, now: dt.datetime) -> Budget | None:
    """The budget after one step of growth at a binding cap, or None when the
    rules allow none now (at ``max_cap``, or a probe that must wait)."""
    if budget.ceiling is not None and budget.cap >= budget.ceiling:
        # A window of successes at the ceiling: the limit rose.
        held = _step(budget, min(budget.cap + 1, rules.max_cap), ChangeReason.PROBE_SUCCEEDED)
        return attrs.evolve(held, ceiling=None, probe_interval_s=rules.probe_interval_s)
    if budget.cap >= rules.max_cap:
        return None
    if budget.ceiling is not None and budget.cap + 1 >= budget.ceiling:
        if not probe_due(budget, now):
            return None
        return _step(budget, budget.cap + 1, ChangeReason.PROBE)
    return _step(budget, budget.cap + 1, ChangeReason.GROWTH)


def probe_due(budget: Budget, now: dt.datetime) -> bool:
    """Whether the quiet interval since the last counted throttle has passed."""
    if budget.last_cut_at is None:
        return True
    return (now - budget.last_cut_at).total_seconds() >= budget.probe_interval_s


def window_size(budget: Budget) -> int:
    """Successes at a binding cap that earn the next step up."""
    if budget.ceiling is None or budget.cap + 1 < budget.ceiling:
        # No level above is known to fail: one connection on trial at a time.
        return 1
    return budget.cap


def _step(budget: Budget, cap: int, reason: ChangeReason) -> Budget:
    return attrs.evolve(budget, cap=cap, version=budget.version + 1, reason=reason, observed=None)
