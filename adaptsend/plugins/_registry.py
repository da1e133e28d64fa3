"""What the plugins registered, gathered plugin by plugin.

The registration hooks are called one implementation at a time, in the order
pluggy itself would call them, so that each name is credited to the plugin that
registered it (``adaptsend plugins`` shows this) and a plugin that fails while
registering can be left out alone.
"""

from __future__ import annotations

import collections
from collections.abc import Collection, Mapping
from typing import Any

import attrs
import pluggy

from adaptsend import hookspecs

#: Kinds of registration, and the hook that makes them.
KINDS = {
    "stores": "adaptsend_register_stores",
    "transports": "adaptsend_register_transports",
    "alert_sinks": "adaptsend_register_alert_sinks",
    "token_providers": "adaptsend_register_token_providers",
}

ByPlugin = dict[str, dict[str, tuple[str, ...]]]


@attrs.frozen(kw_only=True)
class Registry:
    """Everything the plugins registered, by kind and name."""

    stores: Mapping[str, hookspecs.StoreFactory]
    transports: Mapping[str, hookspecs.TransportFactory]
    alert_sinks: Mapping[str, hookspecs.AlertSinkFactory]
    token_providers: Mapping[str, hookspecs.TokenProviderFactory]


class _RegistrationFailed(Exception):
    def __init__(self, plugin: str, error: Exception) -> None:
        super().__init__(plugin)
        self.plugin = plugin
        self.error = error


def collect(
    manager: pluggy.PluginManager, *, strict: Collection[str]
) -> tuple[Registry, ByPlugin, dict[str, str]]:
    """Call every registration hook. A plugin not in ``strict`` whose hook
    raises is unregistered and reported (name -> reason); the others are
    gathered again without it."""
    broken: dict[str, str] = {}
    while True:
        try:
            tables, by_plugin = _gather_all(manager)
        except _RegistrationFailed as failed:
            if failed.plugin in strict:
                raise failed.error from None
            error = failed.error
            broken[failed.plugin] = f"registering failed: {type(error).__name__}: {error}"
            manager.unregister(name=failed.plugin)
            continue
        return Registry(**tables), by_plugin, broken


def _gather_all(manager: pluggy.PluginManager) -> tuple[dict[str, dict[str, Any]], ByPlugin]:
    credited: dict[str, dict[str, list[str]]] = collections.defaultdict(
        lambda: collections.defaultdict(list)
    )
    tables = {
        kind: _gather(getattr(manager.hook, hook), kind, credited) for kind, hook in KINDS.items()
    }
    by_plugin = {
        plugin: {kind: tuple(names) for kind, names in kinds.items()}
        for plugin, kinds in credited.items()
    }
    return tables, by_plugin


def _gather(
    caller: pluggy.HookCaller, kind: str, credited: dict[str, dict[str, list[str]]]
) -> dict[str, Any]:
    found: dict[str, Any] = {}
    # pluggy calls the last registered plugin first, so the first registration
    # seen wins: an entry point or an explicit plugin can replace a built-in
    # by registering the same name.
    for impl in reversed(caller.get_hookimpls()):
        if impl.hookwrapper or impl.wrapper:
            continue
        owner = impl.plugin_name

        def register(name: str, factory: Any, _owner: str = owner) -> None:
            if not isinstance(name, str) or not callable(factory):
                raise TypeError("register() takes a name and a callable factory")
            if name not in found:
                found[name] = factory
                credited[_owner][kind].append(name)

        try:
            impl.function(*[register for _ in impl.argnames])
        except Exception as exc:  # a third party's registration code
            raise _RegistrationFailed(owner, exc) from exc
    return found
