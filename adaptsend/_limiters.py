"""Choosing a connection limiter: the agent's own, or one shared through the store.

One agent on a SQLite file learns its cap alone (``AIMDLimiter``). Agents on a
server database usually run several at once against one account, so by
default they share one cap through the store (``SharedLimiter``); ``[limiter]
shared`` says otherwise either way.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Protocol

from adaptsend._budget_api import BudgetStore
from adaptsend._budget_rules import BudgetRules
from adaptsend._config import Config
from adaptsend._errors import ConfigError
from adaptsend._limiter import AIMDLimiter, Slot
from adaptsend._limiter_records import CapChange, LimiterStatistics
from adaptsend._shared_limiter import SharedLimiter
from adaptsend._store_thread import StoreThread


class Limiter(Protocol):
    """What connection workers and the dispatcher use of a limiter."""

    @property
    def cap(self) -> int: ...

    @property
    def open_connections(self) -> int: ...

    def slot(self) -> AbstractAsyncContextManager[Slot]: ...

    def over_cap(self) -> bool: ...

    def connection_opened(self, slot: Slot) -> None: ...

    def connection_closed(self, slot: Slot) -> None: ...

    def record_throttle(self, slot: Slot, *, pause_s: float = 0.0) -> CapChange | None: ...

    def record_success(self, slot: Slot) -> CapChange | None: ...

    def statistics(self) -> LimiterStatistics: ...


def make_limiter(
    config: Config,
    store: StoreThread,
    sending_key: str,
    owner: str,
    on_change: Callable[[CapChange], None] | None,
) -> AIMDLimiter | SharedLimiter:
    """The limiter for one run sending as ``sending_key``; ``owner`` names the
    agent in the store. A shared one must run inside :func:`running`.

    Raises ConfigError when ``[limiter] shared = true`` and the store cannot
    keep a shared budget."""
    settings = config.limiter
    if shares(config, store):
        rules = BudgetRules(
            min_cap=settings.min_cap,
            max_cap=settings.max_cap,
            decrease_factor=settings.decrease_factor,
            probe_interval_s=settings.probe_interval_s,
            max_probe_interval_s=settings.max_probe_interval_s,
        )
        return SharedLimiter(
            store=store,
            sending_key=sending_key,
            holder=owner,
            initial_cap=settings.initial_cap,
            rules=rules,
            on_change=on_change,
        )
    return AIMDLimiter(
        initial_cap=settings.initial_cap,
        min_cap=settings.min_cap,
        max_cap=settings.max_cap,
        decrease_factor=settings.decrease_factor,
        probe_interval_s=settings.probe_interval_s,
        max_probe_interval_s=settings.max_probe_interval_s,
        probe_after_windows=settings.probe_after_windows,
        on_change=on_change,
    )


def shares(config: Config, store: StoreThread) -> bool:
    """Whether the agents on this store share one cap per sending key."""
    wanted = config.limiter.shared
    able = isinstance(store.store, BudgetStore)
    if wanted is None:
        # One SQLite file usually means one agent: no need to pay for sharing.
        return able and not _is_sqlite(config.store.url)
    if wanted and not able:
        raise ConfigError(
            "[limiter] shared = true needs a store that keeps shared connection budgets, "
            "and the configured store does not"
        )
    return wanted


def running(limiter: Limiter) -> AbstractAsyncContextManager[None]:
    """What must run around the workers that use ``limiter``: a shared limiter's
    background (reading the shared cap, writing decisions, renewing slots);
    nothing for a local one."""
    if isinstance(limiter, SharedLimiter):
        return limiter.running()
    return contextlib.nullcontext()


def _is_sqlite(url: str) -> bool:
    scheme = url.partition(":")[0]
    return scheme.partition("+")[0].lower() == "sqlite"


if TYPE_CHECKING:
    # Type checkers verify here that both limiters still fulfil the protocol.
    _local: type[Limiter] = AIMDLimiter
    _shared: type[Limiter] = SharedLimiter
