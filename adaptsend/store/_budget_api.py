"""What a store must offer so that several agents can share one connection budget.

A store that has these methods besides the :class:`~adaptsend.store._api.Store`
ones lets every agent sending as one key keep, together, at most the shared cap
of connections open (see ``adaptsend.limits._shared``). Stores without them
still work: each agent then learns its own cap.

The budget is one row per sending key (the cap and what the limiter learned:
a :class:`~adaptsend.limits._policy.Budget`, decided by that module's policy
with the agent's ``[limiter]`` settings) and ``max_cap`` numbered *slots* per
key. Slot ``n`` may hold a connection while ``n`` is below the cap, so a cut
takes the highest slots out of use at once; a slot is held under a lease that
its holder renews, so a dead agent's slots come back.

Like the rest of the store, every method blocks and is one statement or one
short transaction. :meth:`BudgetStore.renew_slots` may be called beside one
other store call (see :class:`~adaptsend.store._api.Store`); the others are
called from one thread at a time.

Every time is the database's clock, not the agent's: leases are written and
judged on it, so agents whose clocks disagree still never hold more slots
than the cap together. Times are naive UTC.
"""

from __future__ import annotations

import datetime as dt
from typing import Protocol, runtime_checkable

import attrs

from adaptsend.config._settings import LimiterConfig
from adaptsend.limits._policy import Budget


@attrs.frozen(kw_only=True)
class Want:
    """The latest agent that found every slot taken."""

    holder: str
    #: How many slots it held when it found none free.
    held: int
    at: dt.datetime


@attrs.frozen(kw_only=True)
class BudgetView:
    """A sending key's budget and how its slots are used, read at one moment."""

    budget: Budget
    #: Slots held under a lease that has not run out, whatever their number.
    held: int
    #: Held slots below the cap whose connection has delivered.
    proven: int
    #: Slots below the cap that nobody holds (or whose lease ran out).
    free: int
    #: Who is waiting for a slot, if anyone said so.
    wanted: Want | None = None
    #: Seconds left of the key's pause at the server's word (see
    #: :meth:`BudgetStore.pause_budget`), on the database's clock; 0 when none.
    paused_s: float = 0.0

    @property
    def held_below_cap(self) -> int:
        """Slots below the cap held under a lease that has not run out."""
        return self.budget.cap - self.free


@attrs.frozen(kw_only=True)
class BudgetDecision:
    """The budget after a cut or a growth step, and whether this call made it."""

    #: None when the key has no budget any more (an operator deleted the row
    #: to start afresh; the next :meth:`BudgetStore.budget_view` makes it again).
    budget: Budget | None
    #: False when the decision was not taken: another agent decided first, or
    #: the rules allow none now. ``budget`` is then the state as found.
    changed: bool
    #: When ``changed``: the budget the decision was made from, so that the
    #: deciding agent can tell what it changed (None from a store that does not say).
    before: Budget | None = None


@attrs.frozen(kw_only=True)
class SlotTake:
    """The outcome of trying to take a slot."""

    #: The slot now held, or None when every slot below the cap is taken.
    slot_no: int | None
    #: The budget as it was when the slot was taken (or not); None as in
    #: :attr:`BudgetDecision.budget`.
    budget: Budget | None


@runtime_checkable
class BudgetStore(Protocol):
    def budget_view(self, *, sending_key: str, settings: LimiterConfig) -> BudgetView:
        """Read the budget of ``sending_key``, creating it (at ``initial_cap``,
        with ``max_cap`` slots) or adding the slots it lacks first."""

    def take_slot(
        self, *, sending_key: str, holder: str, held: int, below: int, lease_s: float
    ) -> SlotTake:
        """Hold the lowest free slot numbered below both the shared cap and
        ``below`` for ``holder`` until the database's now + ``lease_s``. A slot is free when it
        has no holder or its lease has run out. Two holders never get the same
        slot, and concurrent callers skip each other's slots instead of waiting.

        When no slot is free, note that ``holder`` (holding ``held`` slots)
        wants one (see :attr:`BudgetView.wanted`); when one is taken, forget
        ``holder``'s want."""

    def renew_slots(self, *, sending_key: str, holder: str, lease_s: float) -> frozenset[int]:
        """Extend every lease ``holder`` has to the database's now + ``lease_s``;
        returns the slots it still holds (one whose lease ran out may have been
        taken). May run beside one other store call."""

    def mark_slot(self, *, sending_key: str, holder: str, slot_no: int, proven: bool) -> bool:
        """Record whether the connection on ``holder``'s slot has delivered;
        False when ``holder`` no longer holds it."""

    def release_slots(self, *, sending_key: str, holder: str, slot_no: int | None = None) -> int:
        """Free ``holder``'s slot ``slot_no`` (all its slots when None); returns how many."""

    def cut_budget(
        self, *, sending_key: str, seen_epoch: int, settings: LimiterConfig
    ) -> BudgetDecision:
        """Count a throttle on a connection opened in ``seen_epoch``: cut the cap
        by the policy (observed: the slots held now), unless a cut was already
        made since that epoch began, which paid for this over-shoot."""

    def grow_budget(
        self, *, sending_key: str, seen_cap: int, seen_epoch: int, settings: LimiterConfig
    ) -> BudgetDecision:
        """Grow the cap one step by the policy if it is still ``seen_cap`` in
        ``seen_epoch`` and binds: every slot below it is held and proven."""

    def pause_budget(self, *, sending_key: str, pause_s: float) -> bool:
        """Pause ``sending_key`` for every agent until the database's now +
        ``pause_s`` (the server's ``Retry-After``), unless it is paused longer
        already: a pause only ever moves later. True when it moved; False also
        when the key has no budget (yet)."""

    def hold_probes(self, *, sending_key: str, pause_s: float) -> bool:
        """Hold the next probe back after a refusal that paused the key for
        ``pause_s``, by the policy (:func:`~adaptsend.limits._policy.hold_probes`);
        a hold only ever moves later. True when it moved."""
