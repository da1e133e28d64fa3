"""A sending key's pause at the server's word (HTTP's ``Retry-After``), kept
in its shared budget row for every agent on the store, and the probes held
back after it.

Both columns only ever move later, each by one UPDATE that compares with
what is there, so no version check is needed and two agents writing at once
keep the later time. A decision's write of the row (a cut, a growth step)
never names them, so it cannot put an older time back. Times are the
database's, as everywhere in the budgets (see ``_budgets``).
"""

from __future__ import annotations

import datetime as dt
import math

from sqlalchemy import Column, ColumnElement, Engine, Update, or_, select, update

from adaptsend.limits._policy import hold_probes
from adaptsend.store import _clock
from adaptsend.store._budgets import budget_of, seconds_of, time_of
from adaptsend.store._schema import sending_budgets as b


class BudgetPauseMethods:
    """Mixed into SQLStore, which gives the engine."""

    engine: Engine

    def pause_budget(self, *, sending_key: str, pause_s: float) -> bool:
        """Pause ``sending_key`` for every agent until the database's now +
        ``pause_s``, unless it is paused longer already."""
        _check(pause_s)
        until = _clock.later(pause_s)
        with self.engine.begin() as conn:
            return conn.execute(_move_later(sending_key, b.c.paused_until, until)).rowcount == 1

    def hold_probes(self, *, sending_key: str, pause_s: float) -> bool:
        """Hold the next probe back by the policy after a refusal that paused
        the key for ``pause_s``."""
        _check(pause_s)
        query = select(b, _clock.now().label("clock_now")).where(b.c.sending_key == sending_key)
        with self.engine.connect() as conn:
            row = conn.execute(query).one_or_none()
        if row is None:
            return False
        budget = budget_of(row)
        held = hold_probes(budget, pause_s=pause_s, now=seconds_of(row.clock_now))
        if held.probe_not_before <= budget.probe_not_before:
            return False
        until = time_of(held.probe_not_before)
        with self.engine.begin() as conn:
            stmt = _move_later(sending_key, b.c.probes_held_until, until)
            return conn.execute(stmt).rowcount == 1


def _move_later(
    sending_key: str, column: Column[dt.datetime], until: dt.datetime | ColumnElement[dt.datetime]
) -> Update:
    """Set ``column`` to ``until`` unless it is that late already."""
    later = or_(column.is_(None), column < until)
    return update(b).where(b.c.sending_key == sending_key, later).values({column.name: until})


def _check(pause_s: float) -> None:
    if not (math.isfinite(pause_s) and pause_s > 0):
        raise ValueError(f"A pause must last a finite time longer than zero, not {pause_s}.")
