"""Registers the built-in ``log`` and ``email`` alert sinks."""

from __future__ import annotations

from collections.abc import Callable

from adaptsend.alerts._email import EmailSink
from adaptsend.alerts._model import LogSink
from adaptsend.hookspecs import AlertSinkFactory, hookimpl


@hookimpl
def adaptsend_register_alert_sinks(register: Callable[[str, AlertSinkFactory], None]) -> None:
    register("log", LogSink)
    register("email", EmailSink)
