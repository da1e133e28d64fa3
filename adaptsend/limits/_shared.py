"""A connection limit that several agents sending as one key share through the store.

Every agent's :class:`SharedLimiter` mirrors one budget row (the cap and what
was learned) and holds numbered slots: a connection may be open only on a slot
numbered below the shared cap, so all agents together hold at most the cap.
The store decides by the policy of ``adaptsend.limits._policy``, the local
limiter's, over this budget (which counts no windows nor trial levels):

* A throttle is one cut per epoch for all agents: the store cuts only if no
  cut was made since the epoch the throttled connection opened in, so one
  over-shoot that gets connections of three agents refused is one cut.
* The cap grows only while it binds for everyone: every slot below it is held
  by a connection that has delivered (the slot is marked *proven* in the
  store). A connection on trial holds its slot unproven, so nobody grows the
  cap past it before it has delivered.
* A cut takes the highest slots out of use: their holders see :meth:`over_cap`
  and give them back after their current message.
* No agent waits for long while another holds many slots: the agents take
  turns (see ``adaptsend.limits._turns``).

The worker-facing methods (:meth:`slot` aside) are synchronous, as on
``AIMDLimiter``: what must reach the store is queued, in order, for a
background task that :meth:`running` keeps, together with a refresh of the
shared state every ``refresh_s`` and the renewal of this agent's slot leases.
Decisions (this agent's and the others') therefore arrive a moment later,
through ``on_change``. Store calls go through the agent's store thread (see
``adaptsend.limits._mirror``); only the renewals run in a lane of their own,
so that a slow claim or record cannot let slots expire while their
connections are open. Slot leases run on the database's clock, so an agent
whose clock is wrong still never takes a slot another agent holds.
"""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import AsyncIterator, Callable

import trio

from adaptsend.config._settings import LimiterConfig
from adaptsend.limits._listeners import Listeners
from adaptsend.limits._local import Slot
from adaptsend.limits._mirror import BudgetMirror
from adaptsend.limits._ordered_calls import OrderedCalls
from adaptsend.limits._policy import Budget, binding, change_between, grow, window_size
from adaptsend.limits._records import CapChange, DecisionCounts, LimiterStatistics
from adaptsend.limits._retry_after import RetryAfter
from adaptsend.limits._shared_slot import SharedSlot, shared_slot
from adaptsend.limits._turns import TURN_S, Turns
from adaptsend.store._budget_api import BudgetDecision
from adaptsend.store._thread import StoreThread

#: Seconds between reads of the shared state (and the longest a waiting task
#: goes without trying for a slot).
REFRESH_S = 0.5
#: Seconds a slot stays held without renewal: how long a dead agent's slots
#: stay out of use. Renewed every quarter of it.
SLOT_LEASE_S = 10.0


class SharedLimiter:
    """Limits the connections of one sending key across agents; see the module docstring.

    Use inside :meth:`running`. ``holder`` names this agent in the store (the
    dispatcher's lease owner name does). ``on_change`` hears of every change,
    whoever decided it; ``on_decision`` of those this agent decided only
    (:meth:`watch` adds more of either).
    """

    def __init__(
        self,
        *,
        store: StoreThread,
        sending_key: str,
        holder: str,
        settings: LimiterConfig,
        on_change: Callable[[CapChange], None] | None = None,
        on_decision: Callable[[CapChange], None] | None = None,
        refresh_s: float = REFRESH_S,
        lease_s: float = SLOT_LEASE_S,
        turn_s: float = TURN_S,
    ) -> None:
        self._mirror = BudgetMirror(
            store=store,
            sending_key=sending_key,
            holder=holder,
            settings=settings,
            on_news=self._news,
        )
        self._turns = Turns(mirror=self._mirror, holder=holder, refresh_s=refresh_s, turn_s=turn_s)
        self._settings = settings
        self._on_change = Listeners(on_change)
        self._on_decision = Listeners(on_decision)
        self._refresh_s = refresh_s
        self._lease_s = lease_s
        self._held: set[SharedSlot] = set()
        self._by_task: dict[trio.lowlevel.Task, SharedSlot] = {}
        self._take_lock = trio.Lock()
        self._room = trio.Event()
        self._calls = OrderedCalls()
        self._cut_requested: int | None = None
        self._grow_requested = False
        self._open = 0
        self._proven = 0
        self._waiting = 0
        self._window = 0
        self._counts = DecisionCounts()

    def watch(
        self,
        *,
        on_change: Callable[[CapChange], None] | None = None,
        on_decision: Callable[[CapChange], None] | None = None,
    ) -> None:
        """Tell ``on_change`` of every later change too, and ``on_decision``
        of those this agent decides."""
        self._on_change.add(on_change)
        self._on_decision.add(on_decision)

    # -- what workers see ------------------------------------------------------

    @property
    def cap(self) -> int:
        """How many connections this agent may take part in: the shared cap,
        but never more than this agent's own ``max_cap``."""
        return min(self._mirror.budget.cap, self._settings.max_cap)

    @property
    def open_connections(self) -> int:
        """How many of this agent's slots have a connection open now."""
        return self._open

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[Slot]:
        """Wait until a slot below the shared cap is free, then hold it.

        Cancelling a task that is still waiting takes no slot. Leaving the
        block gives the slot back (in the background) and, if its connection
        was never reported closed, stops counting that connection as open.
        """
        slot = await self._take()
        task = trio.lowlevel.current_task()
        # A task holding slots one inside another asks about its innermost one.
        outer = self._by_task.get(task)
        self._by_task[task] = slot
        try:
            yield slot
        finally:
            if outer is None:
                del self._by_task[task]
            else:
                self._by_task[task] = outer
            self.connection_closed(slot)
            self._held.discard(slot)
            self._calls.queue(functools.partial(self._release, slot.number))

    def over_cap(self) -> bool:
        """True when the calling task should give its slot back: the slot is at
        or above the cap (after a cut), was lost, or goes to an agent waiting
        with fewer slots (this call decides that, for one slot per want).
        Outside a slot: whether any of this agent's slots is beyond the cap.

        The question comes without a slot, but only the holders of the highest
        slots should give them back, so the calling task tells which slot."""
        mine = self._by_task.get(trio.lowlevel.current_task())
        if mine is None:
            return any(self._beyond(slot) for slot in self._held)
        if not self._beyond(mine) and self._turns.give_now(
            held=len(self._held), taken_at=mine.taken_at
        ):
            mine.yielding = True
        return self._beyond(mine)

    def _beyond(self, slot: SharedSlot) -> bool:
        return slot.lost or slot.yielding or slot.number >= self.cap

    def share_pause(self, pause: RetryAfter) -> None:
        """Keep ``pause``, the key's ``Retry-After``, with every agent on the
        store: each pause the server asks for here is written to the budget
        row, and one found there at a read is kept here too."""
        pause.watch(on_heard=lambda s: self._calls.queue(functools.partial(self._mirror.pause, s)))
        self._mirror.on_paused.add(pause.follow)

    def connection_opened(self, slot: Slot) -> None:
        """Count ``slot``'s new connection as open, in the current epoch."""
        shared = shared_slot(slot)
        if shared.connected:
            raise RuntimeError("This slot already has an open connection.")
        shared.connected = True
        shared.delivered = False
        shared.epoch = self._mirror.budget.epoch
        self._open += 1
        if shared.marked:
            # A new connection on the same slot is on trial again.
            shared.marked = False
            self._calls.queue(functools.partial(self._mirror.mark, shared.number, proven=False))

    def connection_closed(self, slot: Slot) -> None:
        """Stop counting ``slot``'s connection; does nothing if none is open."""
        shared = shared_slot(slot)
        if shared.connected:
            shared.connected = False
            self._open -= 1
            if shared.delivered:
                shared.delivered = False
                self._proven -= 1

    def record_throttle(self, slot: Slot, *, pause_s: float = 0.0) -> CapChange | None:
        """Report that the provider refused ``slot``'s connection for load.

        Returns None: the store counts this throttle unless its connection dates
        from before the last cut, by any agent; a cut reaches ``on_change`` once
        the store has made it. ``pause_s``: as on ``AIMDLimiter``, the store holds
        the next probe back for every agent."""
        shared = shared_slot(slot)
        if pause_s > 0:
            self._calls.queue(functools.partial(self._mirror.hold_probes, pause_s))
        if shared.epoch != self._mirror.budget.epoch or shared.epoch == self._cut_requested:
            self._counts.ignored_throttles += 1
            return None
        self._cut_requested = shared.epoch
        self._calls.queue(functools.partial(self._cut, shared.epoch))
        return None

    def record_success(self, slot: Slot) -> CapChange | None:
        """Report a delivery on ``slot``'s connection. Returns None: growth, when
        the shared cap binds, is asked of the store and reaches ``on_change``."""
        self._counts.successes += 1
        shared = shared_slot(slot)
        if shared.connected and not shared.delivered:
            shared.delivered = True
            self._proven += 1
            if not shared.marked:
                shared.marked = True
                self._calls.queue(functools.partial(self._prove, shared.number))
        budget, usage = self._mirror.budget, self._mirror.usage
        if usage is None or not binding(budget, open_=usage.held_below_cap, proven=usage.proven):
            return None
        self._window += 1
        if self._window < window_size(budget) or self._grow_requested:
            return None
        # On this agent's clock, not the budget's: only whether to ask; the
        # store decides on its own.
        if grow(budget, settings=self._settings, now=time.time()) is None:
            return None
        self._window = 0
        self._grow_requested = True
        self._calls.queue(functools.partial(self._grow, budget))
        return None

    def statistics(self) -> LimiterStatistics:
        """A snapshot: the shared cap and learning, this agent's slots and counters."""
        budget = self._mirror.budget
        return LimiterStatistics(
            cap=self.cap,
            min_cap=self._settings.min_cap,
            max_cap=self._settings.max_cap,
            slots_in_use=len(self._held),
            open_connections=self._open,
            proven_connections=self._proven,
            tasks_waiting=self._waiting,
            ceiling=budget.ceiling,
            probe_interval_s=budget.probe_interval_s,
            probe_after_windows=None,
            epoch=budget.epoch,
            throttles=self._counts.throttles,
            ignored_throttles=self._counts.ignored_throttles,
            successes=self._counts.successes,
            changes=self._counts.changes,
            last_change=self._counts.last_change,
        )

    # -- the background --------------------------------------------------------

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Read the shared state, then keep it fresh, write what workers
        report, and renew this agent's slots until the block ends; then give
        back every slot this agent still holds."""
        await self._refresh()
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._calls.run)
                nursery.start_soon(self._keep_fresh)
                nursery.start_soon(self._keep_slots)
                try:
                    yield
                finally:
                    nursery.cancel_scope.cancel()
        finally:
            with trio.CancelScope(shield=True):
                await self._mirror.release()

    async def _keep_fresh(self) -> None:
        while True:
            await trio.sleep(self._refresh_s)
            await self._refresh()

    async def _keep_slots(self) -> None:
        """Renew this agent's slots every quarter of their lease, beside the
        other store calls: never queued behind them."""
        while True:
            await trio.sleep(self._lease_s / 4)
            if self._held:
                await self._renew()

    async def _refresh(self) -> None:
        view = await self._mirror.refresh()
        if view is not None and view.free > 0:
            self._room.set()

    async def _take(self) -> SharedSlot:
        self._waiting += 1
        try:
            async with self._take_lock:
                while True:
                    # Reset first: a slot given back during the attempt wakes the next one.
                    self._room = trio.Event()
                    stepping_back = self._turns.stepping_back(held=len(self._held))
                    slot = None if stepping_back else await self._try_take()
                    if slot is not None:
                        return slot
                    with trio.move_on_after(self._refresh_s):
                        await self._room.wait()
        finally:
            self._waiting -= 1

    async def _try_take(self) -> SharedSlot | None:
        taken = await self._mirror.take(held=len(self._held), lease_s=self._lease_s)
        if taken is None:
            return None
        number, epoch = taken
        slot = SharedSlot(epoch=epoch, number=number, taken_at=trio.current_time())
        self._held.add(slot)
        return slot

    async def _release(self, slot_no: int) -> None:
        await self._mirror.release(slot_no)
        self._room.set()

    async def _prove(self, slot_no: int) -> None:
        await self._mirror.mark(slot_no, proven=True)
        # The cap may bind now: read the others' slots without waiting.
        await self._refresh()

    async def _renew(self) -> None:
        before = set(self._held)
        still_held = await self._mirror.renew(lease_s=self._lease_s)
        for slot in before:
            if slot.number not in still_held:
                slot.lost = True

    async def _cut(self, seen_epoch: int) -> None:
        decision = await self._mirror.cut(seen_epoch=seen_epoch)
        if decision.changed:
            self._counts.throttles += 1
            self._decided(decision)
        else:
            self._counts.ignored_throttles += 1
        self._cut_requested = None

    async def _grow(self, seen: Budget) -> None:
        decision = await self._mirror.grow(seen)
        if decision.changed:
            self._decided(decision)
        self._grow_requested = False

    def _decided(self, decision: BudgetDecision) -> None:
        """This agent's request changed the shared budget."""
        before, after = decision.before, decision.budget
        change = None if before is None or after is None else self._change(before, after)
        if change is not None:
            self._on_decision(change)

    def _news(self, old: Budget, new: Budget) -> None:
        """The shared budget changed: by this agent's decision or another's."""
        self._window = 0
        if new.cap > old.cap:
            self._room.set()
        change = self._change(old, new)
        if change is None:
            return
        self._counts.changed(change)
        self._on_change(change)

    def _change(self, old: Budget, new: Budget) -> CapChange | None:
        """The decision from ``old`` to ``new`` as this agent's cap sees it."""
        if old.version < 0:
            # The first read, or a budget made afresh: nothing was decided.
            return None
        return change_between(old, new, at=trio.current_time(), max_cap=self._settings.max_cap)
