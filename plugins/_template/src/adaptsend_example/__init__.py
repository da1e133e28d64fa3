"""adaptsend-example: appends every alert to a JSON Lines file.

A template for plugins. It shows the three things every plugin does: a hook
implementation that registers a factory, settings read from ``[plugin.NAME]``
with adaptsend's strict rules, and an object whose methods adaptsend calls.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path

import attrs

from adaptsend import Alert, SinkContext, hookimpl, structure_settings
from adaptsend.hookspecs import AlertSinkFactory


@attrs.frozen(kw_only=True)
class ExampleSettings:
    """``[plugin.example]`` in adaptsend.toml."""

    path: str = "alerts.jsonl"


class ExampleSink:
    """Appends each alert as one JSON line. ``deliver`` runs in a worker
    thread and may block; an exception it raises is logged by adaptsend."""

    def __init__(self, settings: ExampleSettings) -> None:
        self.path = Path(settings.path)
        self._lock = threading.Lock()

    @classmethod
    def from_context(cls, context: SinkContext) -> ExampleSink:
        # A mistake in the settings is a ConfigError naming the key.
        return cls(structure_settings(context.settings, ExampleSettings, table="plugin.example"))

    def deliver(self, alert: Alert) -> None:
        line = json.dumps(alert.to_json()) + "\n"
        with self._lock, self.path.open("a", encoding="utf-8") as handle:
            handle.write(line)


@hookimpl
def adaptsend_register_alert_sinks(register: Callable[[str, AlertSinkFactory], None]) -> None:
    register("example", ExampleSink.from_context)
