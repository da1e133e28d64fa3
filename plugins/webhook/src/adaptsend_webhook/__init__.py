"""adaptsend-webhook: posts adaptsend alerts to a webhook.

Installed, it registers the ``webhook`` alert sink through the ``adaptsend``
entry-point group; ``[plugin.webhook]`` in ``adaptsend.toml`` configures it.
"""

from __future__ import annotations

from collections.abc import Callable

from adaptsend import hookimpl
from adaptsend.hookspecs import AlertSinkFactory
from adaptsend_webhook._formats import FORMATS, payload
from adaptsend_webhook._settings import WebhookSettings, parse_settings
from adaptsend_webhook._sink import WebhookError, WebhookSink

__all__ = [
    "FORMATS",
    "WebhookError",
    "WebhookSettings",
    "WebhookSink",
    "adaptsend_register_alert_sinks",
    "parse_settings",
    "payload",
]


@hookimpl
def adaptsend_register_alert_sinks(register: Callable[[str, AlertSinkFactory], None]) -> None:
    register("webhook", WebhookSink.from_context)
