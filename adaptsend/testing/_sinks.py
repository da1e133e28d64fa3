"""An alert sink that keeps what it is given, for tests of rules and plugins."""

from __future__ import annotations

import threading
from collections.abc import Callable

from adaptsend.alerts._model import Alert, AlertSink, SinkContext
from adaptsend.hookspecs import AlertSinkFactory, hookimpl


class RecordingSink:
    """Keeps every alert delivered to it, and registers itself as a plugin::

        sink = RecordingSink()  # registered as the "recording" sink
        agent = Agent(config, plugins=load_plugins(extra=[sink]))
        ...
        [alert] = sink.wait_for_alerts(1)

    ``hold``: each delivery first waits for this event (a slow sink).
    ``fail``: each delivery raises after recording the attempt (a broken sink).
    """

    def __init__(
        self,
        name: str = "recording",
        *,
        hold: threading.Event | None = None,
        fail: bool = False,
    ) -> None:
        self.name = name
        self.hold = hold
        self.fail = fail
        self.contexts: list[SinkContext] = []
        self._alerts: list[Alert] = []
        self._attempts = 0
        self._changed = threading.Condition()

    @hookimpl
    def adaptsend_register_alert_sinks(
        self, register: Callable[[str, AlertSinkFactory], None]
    ) -> None:
        register(self.name, self._factory)

    def _factory(self, context: SinkContext) -> AlertSink:
        self.contexts.append(context)
        return self

    def deliver(self, alert: Alert) -> None:
        if self.hold is not None:
            self.hold.wait()
        with self._changed:
            self._attempts += 1
            if not self.fail:
                self._alerts.append(alert)
            self._changed.notify_all()
        if self.fail:
            raise RuntimeError(f"the {self.name} sink was told to fail")

    @property
    def alerts(self) -> list[Alert]:
        """Alerts delivered so far, oldest first. A copy."""
        with self._changed:
            return list(self._alerts)

    @property
    def attempts(self) -> int:
        """Deliveries tried, failed ones included."""
        with self._changed:
            return self._attempts

    def wait_for_alerts(self, count: int, timeout_s: float = 5.0) -> list[Alert]:
        """Block until at least ``count`` alerts were delivered; return them all.
        Raises TimeoutError if they do not come in time."""
        with self._changed:
            if not self._changed.wait_for(lambda: len(self._alerts) >= count, timeout_s):
                raise TimeoutError(f"{len(self._alerts)} alert(s) came, not {count}")
            return list(self._alerts)
