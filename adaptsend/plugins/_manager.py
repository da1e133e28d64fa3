"""The plugin manager, and a typed view of what plugins registered.

Built-in plugins are loaded by the same function as entry points, from a
:class:`Candidate` that only differs in how it is imported, so the path a
plugin author takes is the one every run takes.
"""

from __future__ import annotations

import datetime as dt
import functools
import importlib
import importlib.metadata
import logging
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, TypeVar, cast

import attrs
import pluggy

from adaptsend import hookspecs
from adaptsend._errors import PluginError
from adaptsend._models import AttemptRecord, Decision, Reply
from adaptsend.config._store_url import scheme
from adaptsend.plugins._calls import ObserverHooks
from adaptsend.plugins._observers import Observer
from adaptsend.plugins._registry import Registry, collect

if TYPE_CHECKING:
    from adaptsend.alerts._model import Alert
    from adaptsend.config._settings import Config
    from adaptsend.limits._records import CapChange

log = logging.getLogger("adaptsend.plugins")

ENTRY_POINT_GROUP = "adaptsend"
DISABLE_VARIABLE = "ADAPTSEND_DISABLE_PLUGINS"

#: The plugins that ship with adaptsend itself: name -> module of hook
#: implementations. The names are the modules' names before the layout of
#: subpackages; they stay, because people type them in ``ADAPTSEND_DISABLE_PLUGINS``.
BUILTIN_PLUGINS = {
    "adaptsend._smtp_plugin": "adaptsend.transports.smtp._plugin",
    "adaptsend._store_plugin": "adaptsend.store._plugin",
    "adaptsend._alerts_plugin": "adaptsend.alerts._plugin",
    "adaptsend._oauth_plugin": "adaptsend.oauth._plugin",
}

F = TypeVar("F")


@attrs.frozen(kw_only=True)
class Candidate:
    """A plugin not yet loaded: its name, where it comes from, how to import it."""

    name: str
    load: Callable[[], object]
    distribution: str | None
    version: str | None
    builtin: bool = False


@attrs.frozen(kw_only=True)
class PluginFailure:
    """A plugin that could not be loaded, and the sentence that says why."""

    name: str
    reason: str
    distribution: str | None = None
    version: str | None = None

    def sentence(self) -> str:
        origin = f" ({self.distribution} {self.version})" if self.distribution else ""
        return f"plugin {self.name!r}{origin} could not be loaded: {self.reason}"


@attrs.frozen(kw_only=True)
class PluginInfo:
    """A loaded plugin as ``adaptsend plugins`` shows it."""

    name: str
    #: The distribution that provides it; None for an object passed in by code.
    distribution: str | None
    version: str | None
    builtin: bool
    hooks: tuple[str, ...]
    #: Names registered, by kind: stores, transports, alert_sinks, token_providers.
    registers: Mapping[str, tuple[str, ...]]


def _observer_hooks(plugins: Plugins) -> ObserverHooks:
    return ObserverHooks(plugins.manager)


@attrs.define
class Plugins:
    """A typed facade over the plugin manager: core code calls these methods,
    never ``pm.hook`` directly.

    The observer methods (:meth:`recorded`, :meth:`cap_changed`,
    :meth:`alert`, :meth:`reachability_changed`, :meth:`quota_reached`,
    :meth:`day_budget_changed`) call each plugin and each core observer
    (``adaptsend.plugins._observers``) on its own: one that raises is logged on
    ``adaptsend.plugins`` and the others are still called. They never raise.
    """

    manager: pluggy.PluginManager
    registry: Registry
    failures: list[PluginFailure]
    infos: list[PluginInfo] = attrs.field(factory=list)
    #: Entry points not loaded because ``ADAPTSEND_DISABLE_PLUGINS`` names them.
    blocked: list[str] = attrs.field(factory=list)
    observers: tuple[Observer, ...] = ()
    #: The observer hooks' implementations, fetched once: the manager must
    #: not gain or lose plugins after this is made.
    hooks: ObserverHooks = attrs.field(
        default=attrs.Factory(_observer_hooks, takes_self=True), repr=False
    )

    def with_observer(self, observer: Observer) -> Plugins:
        """The same plugins, with ``observer`` also told of every record."""
        return attrs.evolve(self, observers=(*self.observers, observer))

    def store_factory(self, url: str) -> hookspecs.StoreFactory:
        return _lookup(self.registry.stores, scheme(url), "store for URLs starting with", self)

    def transport_factory(self, name: str) -> hookspecs.TransportFactory:
        return _lookup(self.registry.transports, name, "transport", self)

    def alert_sink_factory(self, name: str) -> hookspecs.AlertSinkFactory:
        return _lookup(self.registry.alert_sinks, name, "alert sink", self)

    def token_provider_factory(self, name: str) -> hookspecs.TokenProviderFactory:
        return _lookup(self.registry.token_providers, name, "token provider", self)

    def secrets(self, config: Config) -> list[str]:
        """Every secret the plugins name for ``config`` (``adaptsend_secrets``).
        A plugin whose implementation raises is named in a warning and left out."""
        found: list[str] = []
        for impl in self.manager.hook.adaptsend_secrets.get_hookimpls():
            arguments = {"config": config}
            try:
                named = cast(
                    "Iterable[object] | None",
                    impl.function(*[arguments[name] for name in impl.argnames]),
                )
                found.extend(str(secret) for secret in named or () if secret)
            except Exception as exc:  # a third party's bug must not stop the agent
                log.warning(
                    "plugin %r failed in adaptsend_secrets, so its secrets are not hidden: %s: %s",
                    impl.plugin_name,
                    type(exc).__name__,
                    exc,
                )
        return found

    def recorded(
        self, attempts: Sequence[AttemptRecord], decision: Decision, sending_key: str
    ) -> None:
        """One message's attempts and decision were committed to the store."""
        hooks = self.hooks
        for attempt in attempts:
            hooks.attempt_recorded(attempt=attempt, sending_key=sending_key)
        hooks.decision_recorded(decision=decision, sending_key=sending_key)
        for observer in self.observers:
            for attempt in attempts:
                self._tell(observer.attempt_recorded, attempt, sending_key)
            self._tell(observer.decision_recorded, decision, sending_key)

    def cap_changed(self, sending_key: str, change: CapChange) -> None:
        """The limiter of ``sending_key`` changed its connection cap."""
        self.hooks.cap_changed(sending_key=sending_key, change=change)

    def alert(self, alert: Alert) -> None:
        """An alert was raised or resolved, before its sinks deliver it."""
        self.hooks.alert(alert=alert)

    def reachability_changed(
        self, sending_key: str, unreachable_since: dt.datetime | None, reply: Reply | None
    ) -> None:
        """The server of ``sending_key`` could not be reached since
        ``unreachable_since`` (naive UTC) with ``reply`` the latest failure,
        or (both None) it answers again."""
        self.hooks.reachability_changed(
            sending_key=sending_key, unreachable_since=unreachable_since, reply=reply
        )
        for observer in self.observers:
            self._tell(observer.reachability_changed, sending_key, unreachable_since, reply)

    def quota_reached(self, sending_key: str, reply: Reply) -> None:
        """The server of ``sending_key`` reported a quota: its sending pauses."""
        for observer in self.observers:
            self._tell(observer.quota_reached, sending_key, reply)

    def day_budget_changed(
        self, sending_key: str, full_since: dt.datetime | None, detail: str | None
    ) -> None:
        """The daily recipient budget of ``sending_key`` has been used up
        since ``full_since``, or (both None) has room again."""
        for observer in self.observers:
            self._tell(observer.day_budget_changed, sending_key, full_since, detail)

    def _tell(self, method: Callable[..., None], *args: object) -> None:
        """Call one core observer's ``method``; what it raises is logged."""
        try:
            method(*args)
        except Exception as exc:  # a bug in watching must not stop sending
            observer = type(getattr(method, "__self__", method)).__name__
            self.hooks.failures.failed(f"observer {observer}", method.__name__, exc)


def load_plugins(
    *,
    entry_points: bool = True,
    extra: Iterable[object] = (),
    environ: Mapping[str, str] | None = None,
) -> Plugins:
    """Build the plugin manager: built-ins, then entry points (unless
    ``entry_points`` is False, as tests and embedding code may ask), then
    ``extra`` plugin objects. Plugins named in ``ADAPTSEND_DISABLE_PLUGINS``
    (comma-separated) are blocked. A third-party plugin that fails to import,
    implements a hook that does not exist, or fails while registering is
    reported in :attr:`Plugins.failures` (and logged in one sentence) and the
    others load; a built-in or ``extra`` one that does raises PluginError."""
    env = os.environ if environ is None else environ
    manager = pluggy.PluginManager(hookspecs.PROJECT)
    manager.add_hookspecs(hookspecs)
    for name in _disabled(env):
        manager.set_blocked(name)
    candidates = list(_builtins())
    if entry_points:
        candidates.extend(_entry_points())
    failures: list[PluginFailure] = []
    loaded: dict[str, Candidate] = {}
    blocked: list[str] = []
    for candidate in candidates:
        if manager.is_blocked(candidate.name):
            blocked.append(candidate.name)
            continue
        failure = _load(manager, candidate)
        if failure is None:
            loaded[candidate.name] = candidate
        else:
            failures.append(failure)
    for plugin in extra:
        _register_extra(manager, plugin)
    registry, registered, broken = collect(manager, strict=_strict_names(manager, loaded))
    failures.extend(_failure(loaded[name], reason) for name, reason in broken.items())
    for failure in failures:
        log.warning("%s; going on without it", failure.sentence())
    # In registration order: built-ins, entry points, then the program's own.
    infos = [
        _info(manager, p, loaded, registered)
        for _, p in manager.list_name_plugin()
        if p is not None  # a blocked name
    ]
    return Plugins(
        manager=manager, registry=registry, failures=failures, infos=infos, blocked=blocked
    )


def _disabled(environ: Mapping[str, str]) -> list[str]:
    return [n.strip() for n in environ.get(DISABLE_VARIABLE, "").split(",") if n.strip()]


def _version() -> str | None:
    try:
        return importlib.metadata.version("adaptsend")
    except importlib.metadata.PackageNotFoundError:
        return None


def _builtins() -> Iterable[Candidate]:
    version = _version()
    for name, module in BUILTIN_PLUGINS.items():
        yield Candidate(
            name=name,
            load=functools.partial(importlib.import_module, module),
            distribution="adaptsend",
            version=version,
            builtin=True,
        )


def _entry_points() -> Iterable[Candidate]:
    for entry_point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        dist = entry_point.dist
        yield Candidate(
            name=entry_point.name,
            load=entry_point.load,
            distribution=dist.name if dist is not None else None,
            version=dist.version if dist is not None else None,
        )


def _load(manager: pluggy.PluginManager, candidate: Candidate) -> PluginFailure | None:
    """Import and register one plugin. A built-in's failure is a bug and raises."""
    taken = manager.get_plugin(candidate.name)
    if taken is not None:
        return _failure(candidate, "another plugin of that name is already loaded")
    try:
        plugin = candidate.load()
        manager.register(plugin, name=candidate.name)
        _check_hooks(manager)
    except Exception as exc:  # any error of a third party's code at import
        if candidate.builtin:
            raise
        if manager.get_plugin(candidate.name) is not None:
            manager.unregister(name=candidate.name)
        return _failure(candidate, _describe(exc))
    return None


def _check_hooks(manager: pluggy.PluginManager) -> None:
    try:
        manager.check_pending()
    except pluggy.PluginValidationError as exc:
        raise PluginError(f"it implements a hook that does not exist ({exc})") from None


def _register_extra(manager: pluggy.PluginManager, plugin: object) -> None:
    manager.register(plugin)
    try:
        manager.check_pending()
    except pluggy.PluginValidationError as exc:
        raise PluginError(f"a plugin implements an unknown hook: {exc}") from None


def _strict_names(manager: pluggy.PluginManager, loaded: Mapping[str, Candidate]) -> set[str]:
    """Plugins whose errors while registering are raised, not reported."""
    names = {manager.get_name(p) or "" for p in manager.get_plugins()}
    return {n for n in names if n not in loaded or loaded[n].builtin}


def _failure(candidate: Candidate, reason: str) -> PluginFailure:
    return PluginFailure(
        name=candidate.name,
        reason=reason,
        distribution=candidate.distribution,
        version=candidate.version,
    )


def _describe(exc: BaseException) -> str:
    if isinstance(exc, PluginError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def _info(
    manager: pluggy.PluginManager,
    plugin: object,
    loaded: Mapping[str, Candidate],
    registered: Mapping[str, Mapping[str, tuple[str, ...]]],
) -> PluginInfo:
    name = manager.get_name(plugin) or repr(plugin)
    candidate = loaded.get(name)
    hooks = sorted(caller.name for caller in manager.get_hookcallers(plugin) or ())
    return PluginInfo(
        name=name,
        distribution=candidate.distribution if candidate else None,
        version=candidate.version if candidate else None,
        builtin=bool(candidate and candidate.builtin),
        hooks=tuple(hooks),
        registers=dict(registered.get(name, {})),
    )


def _lookup(table: Mapping[str, F], name: str, kind: str, plugins: Plugins) -> F:
    if name in table:
        return table[name]
    if plugins.failures:
        # The likeliest reason is a plugin that did not load: say so first.
        likely = [f for f in plugins.failures if f.name == name] or plugins.failures
        reasons = "; ".join(f.sentence() for f in likely)
        raise PluginError(f"no {kind} {name!r} is registered: {reasons}")
    known = ", ".join(sorted(table)) or "none"
    raise PluginError(f"no {kind} {name!r} is registered (known: {known})")
