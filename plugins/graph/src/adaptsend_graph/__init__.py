"""adaptsend-graph: sends through Microsoft Graph instead of SMTP.

Installed, it registers the ``graph`` transport through the ``adaptsend``
entry-point group. With ``[run] transport = "graph"`` every message goes to
``POST /users/{mailbox}/sendMail`` as base64 MIME, with an app-only token
from ``[plugin.graph.oauth]`` (the same settings as ``[smtp.oauth]``): no
SMTP AUTH at all.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import trio

from adaptsend import Config, ConfigError, OAuthConfig, hookimpl, oauth_secrets, structure_settings
from adaptsend.hookspecs import TransportFactory
from adaptsend_graph._http import parse_retry_after
from adaptsend_graph._settings import OAUTH_TABLE, GraphSettings, default_scope, parse_settings
from adaptsend_graph._transport import GraphConnection, GraphTransport

__all__ = [
    "GraphConnection",
    "GraphSettings",
    "GraphTransport",
    "adaptsend_register_transports",
    "adaptsend_secrets",
    "default_scope",
    "parse_retry_after",
    "parse_settings",
]


def _transport(config: Config, threads: trio.CapacityLimiter) -> GraphTransport:
    return GraphTransport(parse_settings(config.plugin.get("graph", {})), threads=threads)


@hookimpl
def adaptsend_register_transports(register: Callable[[str, TransportFactory], None]) -> None:
    register("graph", _transport)


@hookimpl
def adaptsend_secrets(config: Config) -> list[str]:
    """The client secret that ``[plugin.graph.oauth]`` names, for adaptsend
    to hide everywhere (from settings that do not parse too: the transport
    reports the mistake when it is made)."""
    table = config.plugin.get("graph")
    raw = table.get("oauth") if isinstance(table, Mapping) else None
    if not isinstance(raw, Mapping):
        return []
    try:
        oauth = structure_settings(raw, OAuthConfig, table=OAUTH_TABLE)
    except ConfigError:
        named = {
            key: raw[key]
            for key in ("client_secret_env", "client_secret_file")
            if isinstance(raw.get(key), str)
        }
        oauth = OAuthConfig(**named)
    return oauth_secrets(oauth)
