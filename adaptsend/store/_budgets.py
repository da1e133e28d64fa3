"""Shared connection budgets: the cap of a sending key and its numbered slots,
as the SQL store's methods of ``adaptsend.store._budget_api.BudgetStore``.

Slots are taken the way messages are claimed (see ``_claim``): on SQLite and
PostgreSQL one UPDATE whose subquery picks the lowest free slot below the cap,
``FOR UPDATE SKIP LOCKED`` on PostgreSQL so that agents taking at once skip
each other's slot instead of waiting; on Oracle a locking cursor, then an
UPDATE of the slot it fetched.

A decision on the budget (a cut, a growth step) is read, decided by
``adaptsend.limits._policy`` in Python, and written by an UPDATE that names the
version it was decided from: of two agents deciding from one state, the second
finds the row changed and decides again from the new state (or, for a
throttle from an epoch that has ended, not at all). No transaction spans the
read and the write, so no lock is held while deciding, and SQLite never has to
turn a reader into a writer.

Every time here is the database's (see ``_clock``): slot leases are written
and judged on it, and so are the times the policy compares (the last cut, for
probes), however far the agents' clocks are apart. The policy takes times as
seconds; a budget here counts them from 1970 on the database's clock.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Update,
    exc,
    func,
    insert,
    select,
    update,
)

from adaptsend._errors import StoreError
from adaptsend.config._settings import LimiterConfig
from adaptsend.limits._policy import Budget, binding, cut, grow, new_budget, trials
from adaptsend.limits._records import ChangeReason
from adaptsend.store import _clock
from adaptsend.store._budget_api import BudgetDecision, BudgetView, SlotTake, Want
from adaptsend.store._claim import ClaimStyle
from adaptsend.store._rows import AnyRow
from adaptsend.store._schema import OWNER_LEN
from adaptsend.store._schema import connection_slots as cs
from adaptsend.store._schema import sending_budgets as b

#: Attempts at a cut when other agents keep changing the budget meanwhile.
_CUT_TRIES = 5
#: Where a budget's seconds count from: times in the store are naive UTC.
_EPOCH = dt.datetime(1970, 1, 1)


class BudgetMethods:
    """Mixed into SQLStore, which gives the engine and its way of locking rows."""

    engine: Engine
    claim_style: ClaimStyle

    def budget_view(self, *, sending_key: str, settings: LimiterConfig) -> BudgetView:
        """Read the budget, first creating it or adding the slots it lacks."""
        for _ in range(3):
            with self.engine.connect() as conn:
                row, slots = _read(conn, sending_key)
            missing = sorted(set(range(settings.max_cap)) - {slot.slot_no for slot in slots})
            if row is not None and not missing:
                return _view(
                    budget_of(row),
                    slots,
                    row.clock_now,
                    wanted=_want(row),
                    paused_s=_left_s(row.paused_until, row.clock_now),
                )
            try:
                with self.engine.begin() as conn:
                    if row is None:
                        made = new_budget(settings, in_memory=False)
                        values = _values(made, _clock.now())
                        conn.execute(insert(b).values(sending_key=sending_key, **values))
                    if missing:
                        rows = [{"sending_key": sending_key, "slot_no": n} for n in missing]
                        conn.execute(insert(cs), rows)
            except exc.IntegrityError:
                # Another agent created the same rows first; read what it made.
                continue
        raise StoreError(f"The connection budget of {sending_key} could not be read or created.")

    # -- slots ---------------------------------------------------------------

    def take_slot(
        self, *, sending_key: str, holder: str, held: int, below: int, lease_s: float
    ) -> SlotTake:
        """Hold the lowest free slot below the cap and ``below``, if there is one;
        otherwise say that ``holder`` wants one."""
        if lease_s <= 0:
            raise ValueError("A slot's lease must last longer than zero seconds.")
        if len(holder) > OWNER_LEN:
            raise ValueError(f"A slot holder name must be at most {OWNER_LEN} characters.")
        lease = {"holder": holder, "expires_at": _clock.later(lease_s), "proven_at": None}
        key = b.c.sending_key == sending_key
        with self.engine.begin() as conn:
            if self.claim_style == "update":
                slot_no = _take_by_update(conn, sending_key, below, lease)
            else:
                slot_no = _take_by_cursor(conn, sending_key, below, lease)
            if slot_no is None:
                want = {"wanted_by": holder, "wanted_held": held, "wanted_at": _clock.now()}
                conn.execute(update(b).where(key).values(want))
            else:
                forget = {"wanted_by": None, "wanted_held": None, "wanted_at": None}
                conn.execute(update(b).where(key, b.c.wanted_by == holder).values(forget))
            row = conn.execute(select(b).where(key)).one_or_none()
        return SlotTake(slot_no=slot_no, budget=budget_of(row) if row is not None else None)

    def renew_slots(self, *, sending_key: str, holder: str, lease_s: float) -> frozenset[int]:
        """Extend ``holder``'s leases; returns the slots it still holds.

        Safe beside one other call of the same agent: that call changes one slot
        of its own, or takes a free one, so neither waits for the other in a cycle.
        """
        if lease_s <= 0:
            raise ValueError("A slot's lease must last longer than zero seconds.")
        mine = (cs.c.sending_key == sending_key) & (cs.c.holder == holder)
        with self.engine.begin() as conn:
            conn.execute(update(cs).where(mine).values(expires_at=_clock.later(lease_s)))
            return frozenset(conn.execute(select(cs.c.slot_no).where(mine)).scalars())

    def mark_slot(self, *, sending_key: str, holder: str, slot_no: int, proven: bool) -> bool:
        """Note whether the connection on a held slot has delivered."""
        stmt = (
            update(cs)
            .where(cs.c.sending_key == sending_key, cs.c.slot_no == slot_no, cs.c.holder == holder)
            .values(proven_at=_clock.now() if proven else None)
        )
        with self.engine.begin() as conn:
            return conn.execute(stmt).rowcount == 1

    def release_slots(self, *, sending_key: str, holder: str, slot_no: int | None = None) -> int:
        """Free one or all of ``holder``'s slots; returns how many."""
        stmt = (
            update(cs)
            .where(cs.c.sending_key == sending_key, cs.c.holder == holder)
            .values(holder=None, expires_at=None, proven_at=None)
        )
        if slot_no is not None:
            stmt = stmt.where(cs.c.slot_no == slot_no)
        with self.engine.begin() as conn:
            return conn.execute(stmt).rowcount

    # -- decisions -----------------------------------------------------------

    def cut_budget(
        self, *, sending_key: str, seen_epoch: int, settings: LimiterConfig
    ) -> BudgetDecision:
        """Count a throttle from ``seen_epoch`` unless a cut already ended that epoch."""
        budget: Budget | None = None
        for _ in range(_CUT_TRIES):
            with self.engine.connect() as conn:
                row, slots = _read(conn, sending_key)
            if row is None:
                return BudgetDecision(budget=None, changed=False)
            budget, now = budget_of(row), row.clock_now
            if budget.epoch != seen_epoch:
                return BudgetDecision(budget=budget, changed=False)
            # The throttled connection's slot is still held: it counts itself.
            # No trial level is known here (see the policy): the slots held failed.
            observed = max(1, _view(budget, slots, now).held)
            new = cut(
                budget, observed=observed, trial_level=None, settings=settings, now=seconds_of(now)
            )
            with self.engine.begin() as conn:
                replaced = _replace(sending_key, new, seen_version=budget.version, now=now)
                if conn.execute(replaced).rowcount == 1:
                    return BudgetDecision(budget=new, changed=True, before=budget)
        return BudgetDecision(budget=budget, changed=False)

    def grow_budget(
        self, *, sending_key: str, seen_cap: int, seen_epoch: int, settings: LimiterConfig
    ) -> BudgetDecision:
        """One growth step, if the cap is as seen and binds."""
        with self.engine.connect() as conn:
            row, slots = _read(conn, sending_key)
        if row is None:
            return BudgetDecision(budget=None, changed=False)
        budget, now = budget_of(row), row.clock_now
        unchanged = (budget.cap, budget.epoch) == (seen_cap, seen_epoch)
        new = grow(budget, settings=settings, now=seconds_of(now)) if unchanged else None
        usage = _view(budget, slots, now)
        if new is None or not binding(budget, open_=usage.held_below_cap, proven=usage.proven):
            return BudgetDecision(budget=budget, changed=False)
        # Checked again as the row is written: a slot freed meanwhile no longer
        # binds. Proven slots are held ones, so with the one connection on
        # trial a budget in the store allows, this is the whole of binding().
        proven = (
            select(func.count())
            .where(
                cs.c.sending_key == sending_key,
                cs.c.slot_no < budget.cap,
                cs.c.holder.is_not(None),
                cs.c.expires_at > _clock.now(),
                cs.c.proven_at.is_not(None),
            )
            .scalar_subquery()
        )
        stmt = _replace(sending_key, new, seen_version=budget.version, now=now)
        with self.engine.begin() as conn:
            least = budget.cap + 1 - trials(budget)
            changed = conn.execute(stmt.where(proven >= least)).rowcount == 1
        if not changed:
            return BudgetDecision(budget=budget, changed=False)
        return BudgetDecision(budget=new, changed=True, before=budget)


def _read(conn: Connection, sending_key: str) -> tuple[AnyRow | None, Sequence[AnyRow]]:
    """The budget row, with the database's time as ``clock_now``, and the slots."""
    query = select(b, _clock.now().label("clock_now")).where(b.c.sending_key == sending_key)
    row = conn.execute(query).one_or_none()
    slots = conn.execute(
        select(cs.c.slot_no, cs.c.holder, cs.c.expires_at, cs.c.proven_at).where(
            cs.c.sending_key == sending_key
        )
    ).all()
    return row, slots


def _view(
    budget: Budget,
    slots: Sequence[AnyRow],
    now: dt.datetime,
    *,
    wanted: Want | None = None,
    paused_s: float = 0.0,
) -> BudgetView:
    live = [row for row in slots if row.holder is not None and row.expires_at > now]
    in_use = {row.slot_no for row in live}
    return BudgetView(
        budget=budget,
        held=len(live),
        proven=sum(1 for r in live if r.slot_no < budget.cap and r.proven_at is not None),
        free=sum(1 for r in slots if r.slot_no < budget.cap and r.slot_no not in in_use),
        wanted=wanted,
        paused_s=paused_s,
    )


def _want(row: AnyRow) -> Want | None:
    if row.wanted_by is None or row.wanted_at is None:
        return None
    return Want(holder=row.wanted_by, held=row.wanted_held or 0, at=row.wanted_at)


def budget_of(row: AnyRow) -> Budget:
    """The budget a row of ``sending_budgets`` keeps."""
    return Budget(
        cap=row.cap,
        ceiling=row.ceiling,
        epoch=row.epoch,
        version=row.version,
        probe_interval_s=row.probe_interval_s,
        last_cut_at=seconds_of(row.last_cut_at) if row.last_cut_at is not None else None,
        reason=ChangeReason(row.last_reason) if row.last_reason is not None else None,
        observed=row.last_observed,
        probe_not_before=(
            seconds_of(row.probes_held_until) if row.probes_held_until is not None else -math.inf
        ),
    )


def _left_s(until: dt.datetime | None, now: dt.datetime) -> float:
    return 0.0 if until is None else max(0.0, (until - now) / dt.timedelta(seconds=1))


def _values(budget: Budget, now: dt.datetime | ColumnElement[dt.datetime]) -> dict[str, Any]:
    return {
        "cap": budget.cap,
        "ceiling": budget.ceiling,
        "epoch": budget.epoch,
        "version": budget.version,
        "probe_interval_s": budget.probe_interval_s,
        "last_cut_at": time_of(budget.last_cut_at) if budget.last_cut_at is not None else None,
        "last_reason": budget.reason.value if budget.reason is not None else None,
        "last_observed": budget.observed,
        "updated_at": now,
    }


def _replace(sending_key: str, new: Budget, *, seen_version: int, now: dt.datetime) -> Update:
    """Write ``new`` only if the row is still at the version it was decided from."""
    return (
        update(b)
        .where(b.c.sending_key == sending_key, b.c.version == seen_version)
        .values(_values(new, now))
    )


def seconds_of(time: dt.datetime) -> float:
    """A time of the store as a budget counts it: seconds since 1970 (naive
    UTC), exact to the microsecond both ways until the year 2106."""
    return (time - _EPOCH) / dt.timedelta(seconds=1)


def time_of(seconds: float) -> dt.datetime:
    return _EPOCH + dt.timedelta(seconds=seconds)


def _free() -> Any:
    return cs.c.holder.is_(None) | (cs.c.expires_at <= _clock.now())


def _takeable(sending_key: str, below: int) -> Any:
    # The cap is read in the same statement, so a cut made a moment ago
    # already keeps the slots above it out of use.
    shared_cap = select(b.c.cap).where(b.c.sending_key == sending_key).scalar_subquery()
    return (
        (cs.c.sending_key == sending_key)
        & (cs.c.slot_no < shared_cap)
        & (cs.c.slot_no < below)
        & _free()
    )


def _take_by_update(
    conn: Connection, sending_key: str, below: int, lease: dict[str, Any]
) -> int | None:
    pick = (
        select(cs.c.slot_no)
        .where(_takeable(sending_key, below))
        .order_by(cs.c.slot_no)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    # "= (subquery)", not "IN (subquery)": PostgreSQL runs an uncorrelated
    # scalar subquery once, while an IN may be planned as a join that scans
    # the subquery again, each scan skipping the row just taken for the next.
    stmt = (
        update(cs)
        .where(cs.c.sending_key == sending_key, cs.c.slot_no == pick.scalar_subquery())
        .where(_free())
        .values(lease)
        .returning(cs.c.slot_no)
    )
    slot_no: int | None = conn.execute(stmt).scalar_one_or_none()
    return slot_no


def _take_by_cursor(
    conn: Connection, sending_key: str, below: int, lease: dict[str, Any]
) -> int | None:
    query = (
        select(cs.c.slot_no)
        .where(_takeable(sending_key, below))
        .order_by(cs.c.slot_no)
        .with_for_update(skip_locked=True)
    )
    with conn.execute(query) as result:
        # The driver may fetch (and lock) a few more; they are free again at commit.
        row = result.first()
    if row is None:
        return None
    conn.execute(
        update(cs).where(cs.c.sending_key == sending_key, cs.c.slot_no == row.slot_no).values(lease)
    )
    slot_no: int = row.slot_no
    return slot_no
