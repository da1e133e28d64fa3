"""Choosing a connection limiter and a message rate: the agent's own, or
ones shared through the store.

One agent on a SQLite file learns its cap alone (``AIMDLimiter``). Agents on a
server database usually run several at once against one account, so by
default they share one cap through the store (``SharedLimiter``); ``[limiter]
shared`` says otherwise either way. Agents that share the cap share
``[limiter] max_per_minute`` too (``SharedRate``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Protocol

from adaptsend._errors import ConfigError
from adaptsend.config._settings import Config
from adaptsend.config._store_url import scheme
from adaptsend.limits._local import AIMDLimiter, Slot
from adaptsend.limits._rate_adapt import MessageRate, RateChange
from adaptsend.limits._records import CapChange, LimiterStatistics
from adaptsend.limits._shared import SharedLimiter
from adaptsend.limits._shared_rate import SharedRate
from adaptsend.store._budget_api import BudgetStore
from adaptsend.store._rate_api import RateStore
from adaptsend.store._thread import StoreThread

log = logging.getLogger("adaptsend.run")


class Limiter(Protocol):
    """What connection workers and the dispatcher use of a limiter."""

    @property
    def cap(self) -> int: ...

    @property
    def open_connections(self) -> int: ...

    def slot(self) -> AbstractAsyncContextManager[Slot]: ...

    def running(self) -> AbstractAsyncContextManager[None]:
        """What must run around the workers, for one run."""

    def over_cap(self) -> bool: ...

    def connection_opened(self, slot: Slot) -> None: ...

    def connection_closed(self, slot: Slot) -> None: ...

    def record_throttle(self, slot: Slot, *, pause_s: float = 0.0) -> CapChange | None: ...

    def record_success(self, slot: Slot) -> CapChange | None: ...

    def statistics(self) -> LimiterStatistics: ...

    def watch(
        self,
        *,
        on_change: Callable[[CapChange], None] | None = None,
        on_decision: Callable[[CapChange], None] | None = None,
    ) -> None:
        """Tell ``on_change`` of every later change of the cap, and
        ``on_decision`` of those this agent decides."""


def make_limiter(
    config: Config,
    store: StoreThread,
    sending_key: str,
    owner: str,
    on_change: Callable[[CapChange], None] | None = None,
    on_decision: Callable[[CapChange], None] | None = None,
) -> AIMDLimiter | SharedLimiter:
    """The limiter for one run sending as ``sending_key``; ``owner`` names the
    agent in the store. A shared one must run inside :func:`running`.
    ``on_change`` hears of every change of the cap; ``on_decision`` only of
    those this agent decided (every change, for a limiter of its own); a run
    may add both later with ``watch``.

    Raises ConfigError when ``[limiter] shared = true`` and the store cannot
    keep a shared budget."""
    limiter: AIMDLimiter | SharedLimiter
    if shares(config, store):
        limiter = SharedLimiter(
            store=store, sending_key=sending_key, holder=owner, settings=config.limiter
        )
    else:
        limiter = AIMDLimiter(config.limiter)
    limiter.watch(on_change=on_change, on_decision=on_decision)
    return limiter


def make_message_rate(
    config: Config,
    store: StoreThread,
    sending_key: str,
    on_change: Callable[[RateChange], None] | None = None,
) -> MessageRate:
    """The message rate for one run sending as ``sending_key``: its
    ``max_per_minute`` shared through the store when the cap is."""
    settings = config.limiter
    per_minute = settings.max_per_minute
    shared = None
    if per_minute is not None and shares(config, store):
        if isinstance(store.store, RateStore):
            shared = SharedRate(store=store, sending_key=sending_key, per_minute=per_minute)
        else:
            log.warning(
                "the store shares connection caps but not message rates: each agent keeps "
                "[limiter] max_per_minute (%g) for itself",
                per_minute,
            )
    return MessageRate(
        top_per_minute=per_minute,
        decrease_factor=settings.decrease_factor,
        on_change=on_change,
        shared=shared,
    )


def shares(config: Config, store: StoreThread) -> bool:
    """Whether the agents on this store share one cap per sending key."""
    wanted = config.limiter.shared
    able = isinstance(store.store, BudgetStore)
    if wanted is None:
        # One SQLite file usually means one agent: no need to pay for sharing.
        return able and scheme(config.store.url) != "sqlite"
    if wanted and not able:
        raise ConfigError(
            "[limiter] shared = true needs a store that keeps shared connection budgets, "
            "and the configured store does not"
        )
    return wanted


def running(limiter: Limiter) -> AbstractAsyncContextManager[None]:
    """What must run around the workers that use ``limiter``: a shared limiter's
    background (reading the shared cap, writing decisions, renewing slots);
    nothing for a local one; a limiter that composes others, theirs."""
    return limiter.running()


if TYPE_CHECKING:
    # Type checkers verify here that both limiters still fulfil the protocol.
    _local: type[Limiter] = AIMDLimiter
    _shared: type[Limiter] = SharedLimiter
