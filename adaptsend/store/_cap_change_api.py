"""What a store must offer to keep the history of the limits: every change of a
sending key's connection cap and message rate, with who decided it and why.

A store with these methods besides the :class:`~adaptsend.store._api.Store`
ones keeps that history (``adaptsend report`` and operators read it); stores
without them still send, and simply keep none.

Each change is written once, by the agent that decided it: agents sharing one
connection cap through the store all see a cut, but only the one whose throttle
made it writes it. Changes are rare (a few per run), so they are written in
small batches beside the sending, never in its way.

Like the rest of the store, every method blocks and is one short transaction.
Times are naive UTC, read from the deciding agent's clock.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import attrs


class LimitKind(enum.StrEnum):
    """Which limit of a sending key changed."""

    #: The connection cap: how many connections may be open at once.
    CONNECTIONS = "connections"
    #: The message rate, in messages a minute.
    RATE = "rate"


@attrs.frozen(kw_only=True)
class CapChangeRecord:
    """One decision to change a limit, as the store keeps it."""

    sending_key: str
    #: The agent that decided it: its lease owner name (host:pid:id).
    agent: str
    #: When it was decided (naive UTC).
    changed_at: dt.datetime
    kind: LimitKind
    #: Connections, or messages a minute; None for a rate that was unlimited.
    old_value: float | None
    new_value: float
    #: For the cap, a :class:`~adaptsend.ChangeReason` value (``throttle``,
    #: ``growth``, ``probe`` ...); for the rate, ``cut`` or ``grow``.
    reason: str
    #: The level known to fail after the decision (connections, or messages
    #: a minute); None when none is known.
    ceiling: float | None = None


@runtime_checkable
class CapChangeStore(Protocol):
    def record_cap_changes(self, changes: Sequence[CapChangeRecord]) -> None:
        """Write ``changes`` in one transaction."""

    def cap_changes(
        self,
        *,
        since: dt.datetime,
        until: dt.datetime | None = None,
        sending_key: str | None = None,
    ) -> list[CapChangeRecord]:
        """The changes made at or after ``since`` and before ``until`` (no end
        when None), of ``sending_key`` only when given, oldest first (in the
        order they were written when two share a time)."""
