"""One agent's copy of a shared connection budget, and its calls to the store.

The calls go through the agent's :class:`~adaptsend.store._thread.StoreThread`,
which runs them one at a time in the order they were made (renewals of the
slots' leases apart, in a lane of their own). Their results come
back to trio in whatever order the waiting tasks wake up, so each call is
numbered when it is made and a budget it read is taken only if no later call's
budget was taken already: the copy never goes back to an older state.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import attrs
import trio

from adaptsend.config._settings import LimiterConfig
from adaptsend.limits._listeners import Listeners
from adaptsend.limits._policy import Budget, new_budget
from adaptsend.store._budget_api import BudgetDecision, BudgetStore, BudgetView, Want
from adaptsend.store._thread import StoreThread


class BudgetMirror:
    """What ``holder`` knows of the budget of ``sending_key``.

    ``on_news(old, new)`` is called, synchronously, each time the copy takes a
    budget of another version: a decision by this agent or by another one.
    """

    def __init__(
        self,
        *,
        store: StoreThread,
        sending_key: str,
        holder: str,
        settings: LimiterConfig,
        on_news: Callable[[Budget, Budget], None],
    ) -> None:
        if not isinstance(store.store, BudgetStore):
            raise TypeError("The store does not keep shared connection budgets.")
        self._thread = store
        self._store: BudgetStore = store.store
        self._key = sending_key
        self._holder = holder
        self._settings = settings
        self._on_news = on_news
        # Until the first read, the budget this agent would create.
        self.budget = attrs.evolve(new_budget(settings, in_memory=False), version=-1)
        #: The latest read of how the slots are used, while it matches ``budget``.
        self.usage: BudgetView | None = None
        #: The latest want read, and ``trio.current_time()`` when it was first read.
        self.wanted: Want | None = None
        self.wanted_seen = -math.inf
        #: Told the seconds left of the key's pause at the server's word, at
        #: each read that finds one in force.
        self.on_paused = Listeners[float]()
        self._issued = 0
        self._applied = 0

    async def refresh(self) -> BudgetView | None:
        """Read the budget (creating it if needed); the view, if it was news."""
        number = self._next()
        view = await self._thread.call(
            self._store.budget_view, sending_key=self._key, settings=self._settings
        )
        if not self._apply(number, view.budget):
            return None
        self.usage = view
        if view.wanted != self.wanted:
            self.wanted, self.wanted_seen = view.wanted, trio.current_time()
        if view.paused_s > 0:
            self.on_paused(view.paused_s)
        return view

    async def take(self, *, held: int, lease_s: float) -> tuple[int, int] | None:
        """Take a slot: its number and the epoch it was taken in, or None."""
        number = self._next()
        taken = await self._thread.call(
            self._store.take_slot,
            sending_key=self._key,
            holder=self._holder,
            held=held,
            below=self._settings.max_cap,
            lease_s=lease_s,
        )
        self._apply(number, taken.budget)
        if taken.slot_no is None:
            return None
        epoch = taken.budget.epoch if taken.budget is not None else self.budget.epoch
        return taken.slot_no, epoch

    async def release(self, slot_no: int | None = None) -> None:
        """Free one slot of this agent's, or all of them."""
        self._next()
        await self._thread.call(
            self._store.release_slots, sending_key=self._key, holder=self._holder, slot_no=slot_no
        )

    async def mark(self, slot_no: int, *, proven: bool) -> None:
        self._next()
        await self._thread.call(
            self._store.mark_slot,
            sending_key=self._key,
            holder=self._holder,
            slot_no=slot_no,
            proven=proven,
        )

    async def renew(self, *, lease_s: float) -> frozenset[int]:
        """Extend this agent's leases; returns the slots it still holds."""
        self._next()
        # In the renewals' lane: a slow claim or record must not let slots
        # expire while their connections are open.
        return await self._thread.call_beside(
            self._store.renew_slots,
            sending_key=self._key,
            holder=self._holder,
            lease_s=lease_s,
        )

    async def cut(self, *, seen_epoch: int) -> BudgetDecision:
        """Ask for a cut for a throttle in ``seen_epoch``; ``changed`` says
        whether it was counted."""
        number = self._next()
        decision = await self._thread.call(
            self._store.cut_budget,
            sending_key=self._key,
            seen_epoch=seen_epoch,
            settings=self._settings,
        )
        self._apply(number, decision.budget)
        return decision

    async def grow(self, seen: Budget) -> BudgetDecision:
        """Ask for one growth step from ``seen``; ``changed`` says whether it was made."""
        number = self._next()
        decision = await self._thread.call(
            self._store.grow_budget,
            sending_key=self._key,
            seen_cap=seen.cap,
            seen_epoch=seen.epoch,
            settings=self._settings,
        )
        self._apply(number, decision.budget)
        return decision

    async def pause(self, seconds: float) -> None:
        """Pause the key for every agent, ``seconds`` from the database's now."""
        self._next()
        await self._thread.call(self._store.pause_budget, sending_key=self._key, pause_s=seconds)

    async def hold_probes(self, pause_s: float) -> None:
        """Hold the next probe back after a refusal that paused the key for ``pause_s``."""
        self._next()
        await self._thread.call(self._store.hold_probes, sending_key=self._key, pause_s=pause_s)

    def _next(self) -> int:
        self._issued += 1
        return self._issued

    def _apply(self, number: int, budget: Budget | None) -> bool:
        """Take ``budget``, read by call ``number``, unless it is older than the copy."""
        if number < self._applied or budget is None:
            return False
        self._applied = number
        old, self.budget = self.budget, budget
        if budget.version != old.version:
            self.usage = None
            self._on_news(old, budget)
        return True
