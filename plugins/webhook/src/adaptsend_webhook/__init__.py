"""adaptsend-webhook: posts adaptsend alerts to a webhook.

Installed, it registers the ``webhook`` alert sink through the ``adaptsend``
entry-point group; ``[plugin.webhook]`` in ``adaptsend.toml`` configures it.
"""

from __future__ import annotations

from collections.abc import Callable

from adaptsend import Config, ConfigError, hookimpl
from adaptsend.hookspecs import AlertSinkFactory
from adaptsend_webhook._formats import FORMATS, payload
from adaptsend_webhook._redact import secrets
from adaptsend_webhook._settings import WebhookSettings, parse_settings
from adaptsend_webhook._sink import WebhookError, WebhookSink

__all__ = [
    "FORMATS",
    "WebhookError",
    "WebhookSettings",
    "WebhookSink",
    "adaptsend_register_alert_sinks",
    "adaptsend_secrets",
    "parse_settings",
    "payload",
]


@hookimpl
def adaptsend_register_alert_sinks(register: Callable[[str, AlertSinkFactory], None]) -> None:
    register("webhook", WebhookSink.from_context)


@hookimpl
def adaptsend_secrets(config: Config) -> list[str]:
    """The webhook's URL, its token and its header values, for adaptsend to
    hide everywhere (settings that do not parse still give what they can;
    the sink reports the mistake when it is made)."""
    raw = config.plugin.get("webhook")
    if raw is None:
        return []
    try:
        settings = parse_settings(raw)
    except ConfigError:
        url, headers = raw.get("url"), raw.get("headers")
        if not isinstance(headers, dict):
            headers = {}
        texts = {name: value for name, value in headers.items() if isinstance(value, str)}
        return secrets(url if isinstance(url, str) else "", texts)
    return secrets(settings.url, settings.headers)
