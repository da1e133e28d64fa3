"""Calling observers so that one that raises keeps nothing else from happening.

Observer hooks run in the dispatcher's thread for every recorded message: an
exception escaping one of them would end the run with messages still leased.
So each plugin's implementation is called on its own, and what it raises is
logged and swallowed. The implementations are fetched once, when the plugins
are loaded, because this path runs for every message.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

import pluggy

log = logging.getLogger("adaptsend.plugins")

#: The same plugin failing in the same hook is logged at most this often.
LOG_EVERY_S = 60.0


class FailureLog:
    """Logs what observers raise: the first failure of a plugin in a hook with
    its traceback, later ones at most once per :data:`LOG_EVERY_S` with how
    many were left out since. Used from one thread."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        #: (who, hook) -> [when last logged, failures not logged since].
        self._seen: dict[tuple[str, str], list[float]] = {}

    def failed(self, who: str, hook: str, exc: Exception) -> None:
        """``who`` (``plugin 'name'``) raised ``exc`` in ``hook``."""
        now = self._clock()
        seen = self._seen.get((who, hook))
        if seen is None:
            self._seen[who, hook] = [now, 0]
            log.warning(
                "%s failed in %s and is skipped; sending goes on: %s",
                who,
                hook,
                _describe(exc),
                exc_info=exc,
            )
            return
        if now - seen[0] < LOG_EVERY_S:
            seen[1] += 1
            return
        log.warning(
            "%s failed in %s again and is skipped; sending goes on: %s "
            "(%d more failure(s) there not logged since the last message)",
            who,
            hook,
            _describe(exc),
            seen[1],
        )
        seen[0], seen[1] = now, 0


def _describe(exc: Exception) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _label(impl: pluggy.HookImpl) -> str:
    """``plugin 'name'``, by the name it was loaded under; a plugin object
    registered without one (pluggy then names it by its id) by its own name."""
    name = impl.plugin_name
    if name == str(id(impl.plugin)):
        name = getattr(impl.plugin, "__name__", type(impl.plugin).__name__)
    return f"plugin {name!r}"


#: One implementation: the plugin's name, the function, the arguments it takes.
_Impl = tuple[str, Callable[..., object], Sequence[str]]


class ObserverHook:
    """One observer hook's implementations, each called on its own, in the
    order pluggy would call them."""

    def __init__(self, caller: pluggy.HookCaller, failures: FailureLog) -> None:
        self.name = caller.name
        self._failures = failures
        impls = caller.get_hookimpls()
        if any(impl.hookwrapper or impl.wrapper for impl in impls):
            # A wrapper surrounds the whole call and cannot be split: the hook
            # is called through pluggy, and a failure is charged to them all.
            who = ", ".join(_label(impl) for impl in impls)
            self._impls: list[_Impl] = [(f"one of {who}", caller, ())]
            self._whole = True
        else:
            # pluggy calls the last registered first.
            self._impls = [(_label(i), i.function, i.argnames) for i in impls]
            self._impls.reverse()
            self._whole = False

    def __call__(self, **kwargs: Any) -> None:
        for who, function, argnames in self._impls:
            try:
                if self._whole:
                    function(**kwargs)
                else:
                    function(*[kwargs[name] for name in argnames])
            except Exception as exc:  # a third party's bug must not stop sending
                self._failures.failed(who, self.name, exc)


class ObserverHooks:
    """Every observer hook of a plugin manager, fetched once, and the log
    of their failures (shared with the core's own observers)."""

    def __init__(self, manager: pluggy.PluginManager) -> None:
        self.failures = FailureLog()

        def hook(name: str) -> ObserverHook:
            return ObserverHook(getattr(manager.hook, name), self.failures)

        self.attempt_recorded = hook("adaptsend_attempt_recorded")
        self.decision_recorded = hook("adaptsend_decision_recorded")
        self.cap_changed = hook("adaptsend_cap_changed")
        self.alert = hook("adaptsend_alert")
        self.reachability_changed = hook("adaptsend_reachability_changed")
