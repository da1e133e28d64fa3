"""``[plugin.webhook]``: where to post, in which format, how patiently.

The URL of a chat webhook is a secret (the token is in its path), so it is
never shown: not in repr, not in errors, not in logs. It can come from an
environment variable named by ``url_env`` instead of the file.
"""

from __future__ import annotations

import os
import urllib.parse
from collections.abc import Mapping
from typing import Any, Literal

import attrs

from adaptsend import ConfigError, structure_settings

Format = Literal["json", "slack", "teams"]
_WHERE = "[plugin.webhook]"


def _positive(_inst: object, attribute: attrs.Attribute[Any], value: float) -> None:
    if value <= 0:
        raise ValueError(f"{attribute.name} must be greater than 0, not {value}")


def _not_negative(_inst: object, attribute: attrs.Attribute[Any], value: float) -> None:
    if value < 0:
        raise ValueError(f"{attribute.name} must not be negative, not {value}")


@attrs.frozen(kw_only=True)
class WebhookSettings:
    """The webhook sink's settings, checked once when the sink is made."""

    url: str = attrs.field(default="", repr=False)
    #: The name of an environment variable that holds the URL (used when
    #: ``url`` is not given): keeps the token out of the config file.
    url_env: str | None = None
    #: ``json`` posts the alert as it is; ``slack`` and ``teams`` post the
    #: message shape those incoming webhooks expect.
    format: Format = "json"
    timeout_s: float = attrs.field(default=10.0, validator=_positive)
    #: Tries per alert; a timeout, a network error, 408, 429 and 5xx are retried.
    attempts: int = attrs.field(default=3, validator=_positive)
    #: Wait before the second try; doubled for each later one.
    retry_delay_s: float = attrs.field(default=1.0, validator=_not_negative)
    #: Extra request headers, such as an Authorization token. Never shown.
    headers: Mapping[str, str] = attrs.field(factory=dict, repr=False)
    verify_tls: bool = True


def parse_settings(
    raw: Mapping[str, Any], *, environ: Mapping[str, str] | None = None
) -> WebhookSettings:
    """Settings from the ``[plugin.webhook]`` table; ConfigError names the key."""
    settings = structure_settings(raw, WebhookSettings, table="plugin.webhook")
    if not settings.url and settings.url_env:
        env = os.environ if environ is None else environ
        url = env.get(settings.url_env, "")
        if not url:
            raise ConfigError(f"{_WHERE} url_env names {settings.url_env}, which is not set")
        settings = attrs.evolve(settings, url=url)
    _check_url(settings.url)
    return settings


def _check_url(url: str) -> None:
    if not url:
        raise ConfigError(f"{_WHERE} needs url (or url_env, the variable that holds it)")
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        # The URL itself is not repeated: it may hold a token.
        raise ConfigError(f"{_WHERE} url must be an http:// or https:// URL with a host")


def redact(url: str) -> str:
    """``https://hooks.example.com/…``: enough to tell which webhook, no token."""
    parts = urllib.parse.urlsplit(url)
    port = f":{parts.port}" if parts.port else ""
    hidden = "/…" if parts.path.strip("/") or parts.query else ""
    return f"{parts.scheme}://{parts.hostname}{port}{hidden}"
