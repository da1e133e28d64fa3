"""The plugin manager, and a typed view of what plugins registered.

Built-in plugins are registered by module name exactly as third-party ones are
by entry point, so the path a plugin author takes is the one every run takes.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import logging
import os
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

import attrs
import pluggy

from adaptsend import hookspecs
from adaptsend._errors import PluginError

log = logging.getLogger("adaptsend.plugins")

ENTRY_POINT_GROUP = "adaptsend"
DISABLE_VARIABLE = "ADAPTSEND_DISABLE_PLUGINS"

#: Modules whose hook implementations ship with adaptsend itself.
BUILTIN_PLUGINS = (
    "adaptsend._smtp_plugin",
    "adaptsend._store_plugin",
    "adaptsend._alerts_plugin",
)

F = TypeVar("F")


@attrs.frozen(kw_only=True)
class PluginFailure:
    """A plugin that could not be loaded, and the sentence that says why."""

    name: str
    reason: str


@attrs.frozen(kw_only=True)
class Registry:
    """Everything the plugins registered, by kind and name."""

    stores: Mapping[str, hookspecs.StoreFactory]
    transports: Mapping[str, hookspecs.TransportFactory]
    alert_sinks: Mapping[str, hookspecs.AlertSinkFactory]


@attrs.define
class Plugins:
    """A typed facade over the plugin manager: core code calls these methods,
    never ``pm.hook`` directly."""

    manager: pluggy.PluginManager
    registry: Registry
    failures: list[PluginFailure]

    def store_factory(self, url: str) -> hookspecs.StoreFactory:
        scheme = url.partition(":")[0].partition("+")[0].lower()
        return _lookup(self.registry.stores, scheme, "store for URLs starting with", self)

    def transport_factory(self, name: str) -> hookspecs.TransportFactory:
        return _lookup(self.registry.transports, name, "transport", self)

    def alert_sink_factory(self, name: str) -> hookspecs.AlertSinkFactory:
        return _lookup(self.registry.alert_sinks, name, "alert sink", self)

    def attempt_recorded(self, attempt: Any) -> None:
        self.manager.hook.adaptsend_attempt_recorded(attempt=attempt)

    def cap_changed(self, sending_key: str, change: Any) -> None:
        self.manager.hook.adaptsend_cap_changed(sending_key=sending_key, change=change)

    def alert(self, alert: Any) -> None:
        self.manager.hook.adaptsend_alert(alert=alert)


def load_plugins(
    *,
    entry_points: bool = True,
    extra: Iterable[object] = (),
    environ: Mapping[str, str] | None = None,
) -> Plugins:
    """Build the plugin manager: built-ins, then entry points (unless
    ``entry_points`` is False, as tests and embedding code may ask), then
    ``extra`` plugin objects. Plugins named in ``ADAPTSEND_DISABLE_PLUGINS``
    (comma-separated) are blocked. A plugin that fails to import is reported in
    :attr:`Plugins.failures` and the others load."""
    env = os.environ if environ is None else environ
    manager = pluggy.PluginManager(hookspecs.PROJECT)
    manager.add_hookspecs(hookspecs)
    for name in _disabled(env):
        manager.set_blocked(name)
    failures: list[PluginFailure] = []
    for module_name in BUILTIN_PLUGINS:
        _register(manager, importlib.import_module(module_name), module_name)
    if entry_points:
        failures.extend(_load_entry_points(manager))
    for plugin in extra:
        _register(manager, plugin, None)
    try:
        manager.check_pending()
    except pluggy.PluginValidationError as exc:
        raise PluginError(f"a plugin implements an unknown hook: {exc}") from None
    plugins = Plugins(manager=manager, registry=_collect(manager), failures=failures)
    for failure in failures:
        log.warning("plugin %s was not loaded: %s", failure.name, failure.reason)
    return plugins


def _disabled(environ: Mapping[str, str]) -> list[str]:
    return [n.strip() for n in environ.get(DISABLE_VARIABLE, "").split(",") if n.strip()]


def _register(manager: pluggy.PluginManager, plugin: object, name: str | None) -> None:
    if name is not None and manager.is_blocked(name):
        return
    manager.register(plugin, name=name)


def _load_entry_points(manager: pluggy.PluginManager) -> list[PluginFailure]:
    failures = []
    for entry_point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        if manager.is_blocked(entry_point.name) or manager.get_plugin(entry_point.name):
            continue
        try:
            plugin = entry_point.load()
            manager.register(plugin, name=entry_point.name)
        except Exception as exc:  # any import-time error of a third party's code
            reason = f"{type(exc).__name__}: {exc}"
            failures.append(PluginFailure(name=entry_point.name, reason=reason))
    return failures


def _collect(manager: pluggy.PluginManager) -> Registry:
    return Registry(
        stores=_gather(manager.hook.adaptsend_register_stores),
        transports=_gather(manager.hook.adaptsend_register_transports),
        alert_sinks=_gather(manager.hook.adaptsend_register_alert_sinks),
    )


def _gather(hook: Callable[..., object]) -> dict[str, Any]:
    found: dict[str, Any] = {}

    def register(name: str, factory: Any) -> None:
        # pluggy calls the last registered plugin first, so the first
        # registration seen wins: an entry point or an explicit plugin can
        # replace a built-in by registering the same name.
        found.setdefault(name, factory)

    hook(register=register)
    return found


def _lookup(table: Mapping[str, F], name: str, kind: str, plugins: Plugins) -> F:
    if name in table:
        return table[name]
    known = ", ".join(sorted(table)) or "none"
    hint = "".join(f"; plugin {f.name} failed to load ({f.reason})" for f in plugins.failures)
    raise PluginError(f"no {kind} {name!r} is registered (known: {known}){hint}")
