"""The slot a :class:`~adaptsend.limits._shared.SharedLimiter` hands out:
one numbered slot row in the store, held under a lease."""

from __future__ import annotations

import attrs

from adaptsend.limits._local import Slot


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


def shared_slot(slot: Slot) -> SharedSlot:
    """``slot`` as the shared slot it must be; TypeError when another limiter gave it."""
    if not isinstance(slot, SharedSlot):
        raise TypeError("This slot was not handed out by a SharedLimiter.")
    return slot
