"""A connection limit that several agents sending as one key share through the store.

Every agent's :class:`SharedLimiter` mirrors one budget row (the cap and what
was learned, decided by ``adaptsend._budget_rules``) and holds numbered slots:
a connection may be open only on a slot numbered below the shared cap, so all
agents together hold at most the cap. The rules are the local limiter's:

* A throttle is one cut per epoch for all agents: the store cuts only if no
  cut was made since the epoch the throttled connection opened in, so one
  over-shoot that gets connections of three agents refused is one cut.
* The cap grows only while it binds for everyone: every slot below it is held
  by a connection that has delivered (the slot is marked *proven* in the
  store). A connection on trial holds its slot unproven, so nobody grows the
  cap past it before it has delivered.
* A cut takes the highest slots out of use: their holders see :meth:`over_cap`
  and give them back after their current message.
* No agent waits for long while another holds many slots: an agent that finds
  none free says so in the store (with how many it holds), and an agent
  holding at least two more gives one back after its current message (one
  holding just one more, after holding it for ``turn_s``), and leaves free
  slots to it meanwhile. A waiting worker may be holding a message whose
  lease must not run out.

The worker-facing methods (:meth:`slot` aside) are synchronous, as on
``AIMDLimiter``: what must reach the store is queued, in order, for a
background task that :meth:`running` keeps, together with a refresh of the
shared state every ``refresh_s`` and the renewal of this agent's slot leases.
Decisions therefore arrive a moment later, through ``on_change``, and so do
decisions other agents made. Store calls go through the agent's
:class:`~adaptsend._store_thread.StoreThread` (see ``adaptsend._budget_mirror``),
so the store is still used from one thread at a time; only the renewals run
in the renewals' own lane, on a timer of their own, so that a slow claim or
record cannot let slots expire while their connections are open. Slot leases
run on the database's clock, so an agent whose clock is wrong still never
takes a slot another agent holds.
"""

from __future__ import annotations

import contextlib
import functools
import math
from collections.abc import AsyncIterator, Awaitable, Callable

import attrs
import trio

from adaptsend._budget_api import Want
from adaptsend._budget_mirror import BudgetMirror
from adaptsend._budget_rules import Budget, BudgetRules, grow, window_size
from adaptsend._limiter import Slot
from adaptsend._limiter_records import CapChange, DecisionCounts, LimiterStatistics
from adaptsend._models import utcnow
from adaptsend._store_thread import StoreThread

#: Seconds between reads of the shared state (and the longest a waiting task
#: goes without trying for a slot).
REFRESH_S = 0.5
#: Seconds a slot stays held without renewal: how long a dead agent's slots
#: stay out of use. Renewed every quarter of it.
SLOT_LEASE_S = 10.0
#: Seconds an agent keeps a slot that an agent holding one fewer is waiting
#: for: with more agents than the cap, each gets a turn this often.
TURN_S = 30.0
#: Refreshes after which another agent's want, unchanged, counts as gone: a
#: waiting agent says it again at each attempt, about once per refresh.
_WANT_REFRESHES = 3

_Op = Callable[[], Awaitable[None]]


@attrs.define(eq=False)
class SharedSlot(Slot):
    """A :class:`Slot` backed by one numbered slot row in the store."""

    number: int = attrs.field(kw_only=True)
    #: ``trio.current_time()`` when the slot was taken.
    taken_at: float = attrs.field(kw_only=True)
    #: The store says this slot's connection has delivered.
    marked: bool = False
    #: The lease ran out and another agent took the slot.
    lost: bool = False
    #: Given back to an agent that holds fewer.
    yielding: bool = False


class SharedLimiter:
    """Limits the connections of one sending key across agents; see the module docstring.

    Use inside :meth:`running`. ``holder`` names this agent in the store (the
    dispatcher's lease owner name does).
    """

    def __init__(
        self,
        *,
        store: StoreThread,
        sending_key: str,
        holder: str,
        initial_cap: int,
        rules: BudgetRules,
        on_change: Callable[[CapChange], None] | None = None,
        refresh_s: float = REFRESH_S,
        lease_s: float = SLOT_LEASE_S,
        turn_s: float = TURN_S,
    ) -> None:
        self._mirror = BudgetMirror(
            store=store,
            sending_key=sending_key,
            holder=holder,
            initial_cap=initial_cap,
            rules=rules,
            on_news=self._news,
        )
        self._holder = holder
        self._rules = rules
        self._on_change = on_change
        self._refresh_s = refresh_s
        self._lease_s = lease_s
        self._turn_s = turn_s
        self._held: set[SharedSlot] = set()
        self._by_task: dict[trio.lowlevel.Task, SharedSlot] = {}
        self._take_lock = trio.Lock()
        self._room = trio.Event()
        self._ops_in, self._ops_out = trio.open_memory_channel[_Op](math.inf)
        # Whom this agent last gave a slot back to (and how many that one held
        # then), and when: the one slot it gave is not given again until that
        # agent took it (and holds one more) or a turn has passed.
        self._yielded_to: tuple[str, int] | None = None
        self._yielded_at = -math.inf
        self._cut_requested: int | None = None
        self._grow_requested = False
        self._open = 0
        self._proven = 0
        self._waiting = 0
        self._window = 0
        self._counts = DecisionCounts()

    # -- what workers see ------------------------------------------------------

    @property
    def cap(self) -> int:
        """How many connections this agent may take part in: the shared cap,
        but never more than this agent's own ``max_cap``."""
        return min(self._mirror.budget.cap, self._rules.max_cap)

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
            self._queue(functools.partial(self._release, slot.number))

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
        rival = self._rival()
        if rival is not None and not self._beyond(mine) and self._owes_turn(mine, rival):
            mine.yielding = True
            self._yielded_to = (rival.holder, rival.held)
            self._yielded_at = trio.current_time()
        return self._beyond(mine)

    def _beyond(self, slot: SharedSlot) -> bool:
        return slot.lost or slot.yielding or slot.number >= self.cap

    def _owes_turn(self, slot: SharedSlot, rival: Want) -> bool:
        if rival.held >= len(self._held):
            return False
        now = trio.current_time()
        given = (rival.holder, rival.held) == self._yielded_to
        if given and now - self._yielded_at < self._turn_s:
            return False
        return len(self._held) - rival.held >= 2 or now - slot.taken_at >= self._turn_s

    def _rival(self) -> Want | None:
        """Another agent that said lately that it found no free slot."""
        want = self._mirror.wanted
        if want is None or want.holder == self._holder:
            return None
        # Its clock is not ours: a want is recent while it keeps changing.
        age = trio.current_time() - self._mirror.wanted_seen
        return want if age <= _WANT_REFRESHES * self._refresh_s else None

    def connection_opened(self, slot: Slot) -> None:
        """Count ``slot``'s new connection as open, in the current epoch."""
        shared = _shared(slot)
        if shared.connected:
            raise RuntimeError("This slot already has an open connection.")
        shared.connected = True
        shared.delivered = False
        shared.epoch = self._mirror.budget.epoch
        self._open += 1
        if shared.marked:
            # A new connection on the same slot is on trial again.
            shared.marked = False
            self._queue(functools.partial(self._mirror.mark, shared.number, proven=False))

    def connection_closed(self, slot: Slot) -> None:
        """Stop counting ``slot``'s connection; does nothing if none is open."""
        shared = _shared(slot)
        if shared.connected:
            shared.connected = False
            self._open -= 1
            if shared.delivered:
                shared.delivered = False
                self._proven -= 1

    def record_throttle(self, slot: Slot, *, pause_s: float = 0.0) -> CapChange | None:
        """Report that the provider refused ``slot``'s connection for load.

        Returns None: the store decides whether this throttle is counted (it
        is not when its connection dates from before the last cut, by any
        agent), and a cut reaches ``on_change`` when the store has made it.
        ``pause_s`` is not used: the shared budget's probes are timed by its rules."""
        shared = _shared(slot)
        if shared.epoch != self._mirror.budget.epoch or shared.epoch == self._cut_requested:
            self._counts.ignored_throttles += 1
            return None
        self._cut_requested = shared.epoch
        self._queue(functools.partial(self._cut, shared.epoch))
        return None

    def record_success(self, slot: Slot) -> CapChange | None:
        """Report a delivery on ``slot``'s connection. Returns None: growth, when
        the shared cap binds, is asked of the store and reaches ``on_change``."""
        self._counts.successes += 1
        shared = _shared(slot)
        if shared.connected and not shared.delivered:
            shared.delivered = True
            self._proven += 1
            if not shared.marked:
                shared.marked = True
                self._queue(functools.partial(self._prove, shared.number))
        budget, usage = self._mirror.budget, self._mirror.usage
        if usage is None or usage.proven < budget.cap:
            return None
        self._window += 1
        if self._window < window_size(budget) or self._grow_requested:
            return None
        if grow(budget, rules=self._rules, now=utcnow()) is None:
            return None
        self._window = 0
        self._grow_requested = True
        self._queue(functools.partial(self._grow, budget))
        return None

    def recent_changes(self) -> tuple[CapChange, ...]:
        """The most recent changes this agent saw, oldest first."""
        return tuple(self._counts.recent)

    def statistics(self) -> LimiterStatistics:
        """A snapshot: the shared cap and learning, this agent's slots and counters."""
        budget = self._mirror.budget
        return LimiterStatistics(
            cap=self.cap,
            min_cap=self._rules.min_cap,
            max_cap=self._rules.max_cap,
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
                nursery.start_soon(self._write)
                nursery.start_soon(self._keep_fresh)
                nursery.start_soon(self._keep_slots)
                try:
                    yield
                finally:
                    nursery.cancel_scope.cancel()
        finally:
            with trio.CancelScope(shield=True):
                await self._mirror.release()

    async def _write(self) -> None:
        async for op in self._ops_out:
            await op()

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

    def _queue(self, op: _Op) -> None:
        self._ops_in.send_nowait(op)

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
                    slot = None if self._stepping_back() else await self._try_take()
                    if slot is not None:
                        return slot
                    with trio.move_on_after(self._refresh_s):
                        await self._room.wait()
        finally:
            self._waiting -= 1

    def _stepping_back(self) -> bool:
        """Leave free slots to an agent that is waiting with as few or fewer."""
        rival = self._rival()
        return rival is not None and rival.held <= len(self._held)

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
        if await self._mirror.cut(seen_epoch=seen_epoch):
            self._counts.throttles += 1
        else:
            self._counts.ignored_throttles += 1
        self._cut_requested = None

    async def _grow(self, seen: Budget) -> None:
        await self._mirror.grow(seen)
        self._grow_requested = False

    def _news(self, old: Budget, new: Budget) -> None:
        """The shared budget changed: by this agent's decision or another's."""
        self._window = 0
        if new.cap > old.cap:
            self._room.set()
        if new.reason is None or old.version < 0:
            # The first read, or a budget made afresh: nothing was decided.
            return
        change = CapChange(
            old_cap=min(old.cap, self._rules.max_cap),
            new_cap=min(new.cap, self._rules.max_cap),
            reason=new.reason,
            at=trio.current_time(),
            ceiling=new.ceiling,
            epoch=new.epoch,
            observed=new.observed,
        )
        self._counts.changed(change)
        if self._on_change is not None:
            self._on_change(change)


def _shared(slot: Slot) -> SharedSlot:
    if not isinstance(slot, SharedSlot):
        raise TypeError("This slot was not handed out by a SharedLimiter.")
    return slot
