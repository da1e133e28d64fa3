"""What a connection worker needs from the dispatcher that runs it, and how
one of its connections' lives can end."""

from __future__ import annotations

import enum
from typing import Protocol

import trio

from adaptsend._models import ClaimedMessage, Reply
from adaptsend.engine._judge import Judge
from adaptsend.limits._choice import Limiter
from adaptsend.limits._day_budget import RecipientBudget
from adaptsend.limits._outage import Outage
from adaptsend.limits._rate_adapt import MessageRate
from adaptsend.limits._retry_after import RetryAfter
from adaptsend.transports._contract import Transport


class WorkerHost(Protocol):
    """What a worker needs from the dispatcher that runs it."""

    limiter: Limiter
    transport: Transport
    judge: Judge
    outage: Outage
    #: The server's own pause (``Retry-After``): no connect, no send until it ends.
    retry_after: RetryAfter
    #: The adaptive message rate (unlimited until a "too fast" reply, or
    #: ``[limiter] max_per_minute``).
    rate: MessageRate
    #: The daily recipient budget (``[limiter] max_recipients_per_day``), if set.
    recipients: RecipientBudget | None
    idle_close_s: float

    @property
    def stopping(self) -> bool: ...

    def stop(self, *, fatal: Reply | None = None) -> None: ...

    def quota_reached(self, reply: Reply) -> None: ...

    def message_taken(self) -> None: ...

    def sends_starting(self, batch: list[ClaimedMessage]) -> None: ...

    #: Idle waits of open connections; a cut of the cap cancels them all.
    idle_waits: set[trio.CancelScope]
    #: Waits for a connection slot; a stop cancels them all.
    slot_waits: set[trio.CancelScope]

    @property
    def in_flight(self) -> int: ...

    def sending(self, delta: int) -> None: ...


class SessionEnd(enum.Enum):
    #: The connection closed (idle, refused, broken); the worker goes on.
    CLOSED = "closed"
    #: The cap was cut below the number of workers: this worker retires.
    RETIRE = "retire"
    #: No more messages will come.
    DONE = "done"
