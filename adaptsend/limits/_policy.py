"""The AIMD policy for the connections of one sending key, as pure functions
of a :class:`Budget`.

Providers cap the connections an account may hold open at once, do not say
what the cap is, share it with every other program on the account and change
it without notice. The policy learns the cap from the refusals. Each function
takes the budget as it is and returns the budget after the decision, or None
when there is none to make. The local limiter (``adaptsend.limits._local``)
applies them to a budget it keeps in memory; agents that share a cap apply
the same functions to a budget the store keeps (``adaptsend.store._budgets``,
on the database's clock), which writes a decision only if nobody changed the
row meanwhile. docs/limiter.md explains why each rule is as it is.

* Multiplicative decrease, once per over-shoot. A counted throttle starts a
  new *epoch*; a throttle on a connection opened in an older one is not
  counted, as that over-shoot was paid for already. The cap becomes
  ``floor(failed * decrease_factor)``, never higher than it was.
* Ceiling memory. The level that failed (the connections open at a counted
  throttle, the refused one included) is the *ceiling*. The cap grows freely
  to ``ceiling - 1``; reaching the ceiling again is a *probe*, due after
  ``probe_interval_s`` since the last cut or after ``probe_after_windows``
  windows of successes at a binding cap, whichever comes first. A probe that
  fails doubles both; one that holds (a window of successes at the ceiling)
  forgets the ceiling.
* Falls. A ceiling at or below a level that held in this run is a fall: it
  is probed after half the windows, and each failed probe uses up one level
  of it instead of doubling them.
* Additive increase, one connection at a time, while the cap *binds*: at
  least ``cap`` connections open, each of them delivered but for those on
  trial (opened, not delivered yet). Two may be on trial while no ceiling is
  known, one below a ceiling. Below the ceiling one success grows the cap;
  to the ceiling and past it, a window of as many successes as the cap.
* Trial levels. A connection on trial tries a *level*: the connections open
  when it opened, itself included (the cap, if more, for those a run opens
  together before its first delivery). When it is refused while the other
  connection on trial opened after it, its level is the one that failed; when
  that other one is refused first, this one's refusal lowers the ceiling to
  its level without another cut.

Falls, windows and trial levels need what one agent sees of its own
connections in one run (:class:`RunLearning`). A budget in the store has no
such thing: windows would have to be counted across agents, and a level that
held for one agent says nothing of the others' connections. Its probes are
therefore timed in seconds only, it tells no fall apart, and without trial
levels it keeps one connection on trial and takes the connections held as
the level that failed. (A second connection on trial halves the search for
the limit; a shared budget is remembered between runs, so it searches once.)
"""

from __future__ import annotations

import math

import attrs

from adaptsend.config._settings import LimiterConfig
from adaptsend.limits._records import CapChange, ChangeReason

#: Connections on trial at once while no ceiling is known. Two halve the time
#: the search takes; the over-shoot that ends it then has two connections above
#: the limit instead of one (see "Trial levels" above for the ceiling it sets).
SEARCH_TRIALS = 2

#: After a fall, probes come this many times sooner (in windows): a limit that
#: was higher a moment ago is likelier to rise again than one never seen higher.
FALL_PROBE_SPEEDUP = 2

#: A refusal that pauses the whole key (an HTTP ``Retry-After``) costs every
#: connection that long, and so may a failed probe: the next probe waits this
#: many times the pause, which keeps probing under about 5% of the time.
PAUSED_PROBE_GAP = 20


@attrs.frozen(kw_only=True)
class RunLearning:
    """What a budget in one agent's memory learns in one run besides the rest."""

    #: Windows of successes at a binding cap after the last cut that make a
    #: probe due (unless the limit fell); doubled by each failed probe.
    probe_windows: int
    #: The most connections that have delivered at once in this run, less
    #: one for each failed probe of a fall.
    most_proven: int = 0


@attrs.frozen(kw_only=True)
class Budget:
    """The state of one sending key's connection cap: what the policy decides from."""

    cap: int
    #: The lowest level a counted throttle failed at, until a probe holds.
    ceiling: int | None
    epoch: int
    #: Bumped by every change; a write to the store names the version it was decided from.
    version: int
    #: The seconds after the last cut that make a probe due; doubled by each failed probe.
    probe_interval_s: float
    #: When the last counted throttle was, in seconds on the clock the budget
    #: lives by: trio's for one in memory, the database's (since 1970) for one
    #: in the store.
    last_cut_at: float | None
    #: Why the latest change was made; None for a budget nobody changed yet.
    reason: ChangeReason | None
    #: Connections open at the latest counted throttle.
    observed: int | None
    #: No probe before this time (on the clock of ``last_cut_at``): a refusal
    #: paused the whole key (an HTTP ``Retry-After``), and a probe may cost
    #: that much again.
    probe_not_before: float = -math.inf
    #: None for a budget in the store (see the module docstring).
    run: RunLearning | None = None


def new_budget(settings: LimiterConfig, *, in_memory: bool) -> Budget:
    """The budget a sending key starts with, before anything was decided."""
    return Budget(
        cap=settings.initial_cap,
        ceiling=None,
        epoch=0,
        version=0,
        probe_interval_s=settings.probe_interval_s,
        last_cut_at=None,
        reason=None,
        observed=None,
        run=RunLearning(probe_windows=settings.probe_after_windows) if in_memory else None,
    )


# -- what the connections show ------------------------------------------------


def delivered(budget: Budget, *, proven: int) -> Budget:
    """The budget once ``proven`` connections have delivered at once."""
    run = budget.run
    if run is None or proven <= run.most_proven:
        return budget
    return attrs.evolve(budget, run=attrs.evolve(run, most_proven=proven))


def trials(budget: Budget) -> int:
    """How many connections may be on trial while the cap still binds."""
    return SEARCH_TRIALS if budget.ceiling is None and budget.run is not None else 1


def binding(budget: Budget, *, open_: int, proven: int) -> bool:
    """Whether ``open_`` connections, ``proven`` of them delivered, use the
    whole cap. A cap nobody uses proves nothing, and a connection that has not
    delivered yet may be the one about to be refused."""
    return open_ >= budget.cap and proven > budget.cap - trials(budget)


def window_size(budget: Budget) -> int:
    """Successes at a binding cap that earn the next step up."""
    if budget.ceiling is None or budget.cap + 1 < budget.ceiling:
        # Every open connection has just proven itself and no level above
        # is known to fail: waiting for more successes would only slow
        # the search (a slow start, the connections on trial at a time).
        return 1
    return budget.cap


def opening_level(budget: Budget, *, open_: int) -> int:
    """The level a connection tries that opened as the ``open_``-th one open."""
    if budget.run is not None and budget.run.most_proven:
        return open_
    # The connections a run opens before its first delivery open together,
    # and the server may have taken them in another order: each may be the last.
    return max(open_, budget.cap)


def on_trial_at(budget: Budget, level: int | None) -> int | None:
    """The level of a connection that has not delivered, if it is on trial:
    a level never held in this run. None otherwise, or when none is known."""
    if level is None or budget.run is None or level <= budget.run.most_proven:
        return None
    return level


# -- decisions ------------------------------------------------------------------


def cut(
    budget: Budget,
    *,
    observed: int,
    trial_level: int | None,
    settings: LimiterConfig,
    now: float,
) -> Budget:
    """The budget after a counted throttle with ``observed`` connections open,
    the refused one included; ``trial_level`` is the level it was on trial at
    (see :func:`on_trial_at`), if any."""
    failed = observed
    if trial_level is not None and _just_below(trial_level, observed):
        # The other connection on trial opened after this one: this one's
        # level failed, the one above is not known yet.
        failed = trial_level
    ceiling, interval, run = budget.ceiling, budget.probe_interval_s, budget.run
    if ceiling is None or failed < ceiling:
        # A new (or lower) limit: the old probe history no longer applies.
        ceiling, interval, run = failed, settings.probe_interval_s, _fresh(run, settings)
        target, reason = math.floor(failed * settings.decrease_factor), ChangeReason.THROTTLE
    elif budget.cap >= ceiling:
        interval = min(settings.max_probe_interval_s, 2 * interval)
        run = _after_failed_probe(budget)
        target, reason = ceiling - 1, ChangeReason.PROBE_FAILED
    else:
        # More connections were open than the cap (workers that connected just
        # after a cut) and they hit a level already known to fail: no news.
        target, reason = budget.cap, ChangeReason.THROTTLE
    return attrs.evolve(
        budget,
        # A throttle never raises the cap, whatever the arithmetic says.
        cap=max(settings.min_cap, min(budget.cap, target)),
        ceiling=ceiling,
        epoch=budget.epoch + 1,
        version=budget.version + 1,
        probe_interval_s=interval,
        last_cut_at=now,
        reason=reason,
        observed=observed,
        run=run,
    )


def hold_probes(budget: Budget, *, pause_s: float, now: float) -> Budget:
    """The budget after a refusal that paused the whole key for ``pause_s``:
    no probe for :data:`PAUSED_PROBE_GAP` times as long. A hold never ends sooner."""
    until = max(budget.probe_not_before, now + PAUSED_PROBE_GAP * pause_s)
    return attrs.evolve(budget, probe_not_before=until)


def narrow(budget: Budget, *, trial_level: int | None) -> Budget | None:
    """The budget after a throttle that was not counted (its connection
    opened before the last cut) on a connection on trial at ``trial_level``:
    that level fails too when it is below the ceiling the over-shoot set.
    None when the throttle tells nothing new."""
    if trial_level is None or budget.ceiling is None:
        return None
    # Not once the cap has grown to the level: it is in use there now.
    if budget.cap >= trial_level or not _just_below(trial_level, budget.ceiling):
        return None
    return attrs.evolve(budget, ceiling=trial_level, version=budget.version + 1)


def grow(
    budget: Budget, *, settings: LimiterConfig, now: float, successes_since_cut: int = 0
) -> Budget | None:
    """The budget after one step of growth at a binding cap, or None when
    there is none now (at ``max_cap``, or a probe that is not due yet).
    ``successes_since_cut`` counts those at a binding cap since the last cut."""
    if budget.ceiling is not None and budget.cap >= budget.ceiling:
        # A window of successes at the ceiling: the limit rose.
        held = _step(budget, min(budget.cap + 1, settings.max_cap), ChangeReason.PROBE_SUCCEEDED)
        return attrs.evolve(
            held,
            ceiling=None,
            probe_interval_s=settings.probe_interval_s,
            run=_fresh(budget.run, settings),
        )
    if budget.cap >= settings.max_cap:
        return None
    if budget.ceiling is not None and budget.cap + 1 >= budget.ceiling:
        if not probe_due(budget, settings=settings, now=now, successes=successes_since_cut):
            return None
        return _step(budget, budget.cap + 1, ChangeReason.PROBE)
    return _step(budget, budget.cap + 1, ChangeReason.GROWTH)


def probe_due(budget: Budget, *, settings: LimiterConfig, now: float, successes: int) -> bool:
    """Whether enough has gone well since the last cut to try the ceiling:
    the seconds, or ``successes`` at a binding cap since the cut."""
    if now < budget.probe_not_before:
        return False
    if budget.last_cut_at is None or now - budget.last_cut_at >= budget.probe_interval_s:
        return True
    windows = probe_after_windows(budget, settings)
    # A window is as many successes as the cap: about one message time,
    # whatever the cap.
    return windows is not None and successes >= windows * budget.cap


def probe_after_windows(budget: Budget, settings: LimiterConfig) -> int | None:
    """The windows that make a probe due now (fewer after a fall); None for
    a budget that counts none."""
    if budget.run is None:
        return None
    if limit_fell(budget):
        return math.ceil(settings.probe_after_windows / FALL_PROBE_SPEEDUP)
    return budget.run.probe_windows


def limit_fell(budget: Budget) -> bool:
    """Whether the ceiling is a level that held in this run."""
    run = budget.run
    return run is not None and budget.ceiling is not None and budget.ceiling <= run.most_proven


def change_between(old: Budget, new: Budget, *, at: float, max_cap: int) -> CapChange | None:
    """The decision that made ``new`` of ``old``, as a limiter reports it with
    caps no higher than ``max_cap`` (its own); None when nothing was decided."""
    if new.reason is None:
        return None
    return CapChange(
        old_cap=min(old.cap, max_cap),
        new_cap=min(new.cap, max_cap),
        reason=new.reason,
        at=at,
        ceiling=new.ceiling,
        epoch=new.epoch,
        observed=new.observed,
    )


def _step(budget: Budget, cap: int, reason: ChangeReason) -> Budget:
    return attrs.evolve(budget, cap=cap, version=budget.version + 1, reason=reason, observed=None)


def _fresh(run: RunLearning | None, settings: LimiterConfig) -> RunLearning | None:
    """``run`` with its probe history back to the settings."""
    if run is None:
        return None
    return attrs.evolve(run, probe_windows=settings.probe_after_windows)


def _after_failed_probe(budget: Budget) -> RunLearning | None:
    run = budget.run
    if run is None:
        return None
    if limit_fell(budget):
        # Not back yet, which says nothing new about the limit; but a fall
        # that lasts must not be probed at the fast rate forever, so each
        # failed probe uses up one level of it.
        return attrs.evolve(run, most_proven=run.most_proven - 1)
    return attrs.evolve(run, probe_windows=run.probe_windows * 2)


def _just_below(level: int, limit: int) -> bool:
    """Whether ``level`` is below ``limit`` by less than the connections that
    may be on trial together: a lower level was not tried alongside."""
    return limit - SEARCH_TRIALS < level < limit
