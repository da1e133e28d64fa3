"""The hooks adaptsend calls, and what a plugin may do in each.

This module is the reference for plugin authors. A plugin is a module or object
with functions marked ``@adaptsend.hookimpl`` whose names match the hooks below;
it is found through the ``adaptsend`` entry-point group.

pluggy calls hooks synchronously. Registration hooks run once, in the main
thread, when the plugin manager is built: they hand factories to ``register``
and do no I/O. Observer hooks run in the dispatcher's trio thread and must not
block; a plugin that needs I/O there sends the event to its own task or thread.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    import trio

    from adaptsend._alerts import Alert, AlertSink
    from adaptsend._config import Config
    from adaptsend._limiter import CapChange
    from adaptsend._models import AttemptRecord
    from adaptsend._store_api import Store
    from adaptsend._transport import Transport

PROJECT = "adaptsend"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

#: ``factory(url)`` opens a store for a SQLAlchemy-style URL.
StoreFactory = Callable[[str], "Store"]
#: ``factory(config, threads)`` makes a transport; blocking calls use ``threads``.
TransportFactory = Callable[["Config", "trio.CapacityLimiter"], "Transport"]
#: ``factory(config)`` makes an alert sink.
AlertSinkFactory = Callable[["Config"], "AlertSink"]


# -- registration ------------------------------------------------------------


@hookspec
def adaptsend_register_stores(register: Callable[[str, StoreFactory], None]) -> None:
    """Register log stores by URL scheme: ``register("sqlite", open_store)``.

    The scheme is the part of ``[store] url`` before ``://`` and before any
    ``+driver`` (``postgresql+psycopg`` is looked up as ``postgresql``).
    Called once, in the main thread, when the plugin manager is built.
    """


@hookspec
def adaptsend_register_transports(register: Callable[[str, TransportFactory], None]) -> None:
    """Register transports by name: ``register("smtp", SMTPTransport.from_config)``.

    ``[run] transport`` picks one by name. The factory is called once per run,
    in the trio thread; the transport's async methods are awaited in the
    dispatcher's nursery and must run blocking work with
    ``trio.to_thread.run_sync(..., limiter=threads)``.
    Called once, in the main thread, when the plugin manager is built.
    """


@hookspec
def adaptsend_register_alert_sinks(register: Callable[[str, AlertSinkFactory], None]) -> None:
    """Register alert sinks by name: ``register("log", LogSink)``.

    A sink's ``deliver`` is called in a worker thread and may block; a failing
    sink is logged and never stops sending.
    Called once, in the main thread, when the plugin manager is built.
    """


# -- observers ----------------------------------------------------------------


@hookspec
def adaptsend_attempt_recorded(attempt: AttemptRecord) -> None:
    """An attempt was written to the store.

    Called in the dispatcher's trio thread after each batch is committed, once
    per attempt. Must not block.
    """


@hookspec
def adaptsend_cap_changed(sending_key: str, change: CapChange) -> None:
    """The limiter for ``sending_key`` changed its connection cap.

    Called in the dispatcher's trio thread at the moment of the change. Must
    not block.
    """


@hookspec
def adaptsend_alert(alert: Alert) -> None:
    """An alert was raised, before the sinks deliver it. Must not block."""
