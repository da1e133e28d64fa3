"""``[plugin.graph]``: the mailbox to send as, where Graph is, and
``[plugin.graph.oauth]``, the same settings as ``[smtp.oauth]``."""

from __future__ import annotations

import ipaddress
import urllib.parse
from collections.abc import Mapping
from typing import Any

import attrs

from adaptsend import ConfigError, OAuthConfig, TokenSettings, structure_settings

_WHERE = "[plugin.graph]"
TABLE = "plugin.graph"
OAUTH_TABLE = "plugin.graph.oauth"
#: Microsoft Graph's global service; national clouds have their own hosts.
DEFAULT_BASE_URL = "https://graph.microsoft.com/v1.0"
#: Exchange Online's default largest message, 35 MB.
DEFAULT_MAX_MESSAGE_BYTES = 35 * 1024 * 1024


def _positive(_inst: object, attribute: attrs.Attribute[Any], value: float) -> None:
    if value <= 0:
        raise ValueError(f"{attribute.name} must be greater than 0, not {value}")


@attrs.frozen(kw_only=True)
class GraphSettings:
    """The graph transport's settings, checked once when it is made."""

    #: The user to send as: a user principal name or an object id.
    mailbox: str = ""
    #: Graph's root with its version; another host for a national cloud.
    #: ``http://`` only to a loopback address (a test server).
    base_url: str = DEFAULT_BASE_URL
    #: Seconds to wait to connect, for each write and for the answer.
    timeout_s: float = attrs.field(default=60.0, validator=_positive)
    #: The largest message to send; a larger one fails before it is sent.
    max_message_bytes: int = attrs.field(default=DEFAULT_MAX_MESSAGE_BYTES, validator=_positive)
    #: A PEM file of CA certificates to trust instead of the system's (a
    #: proxy that inspects TLS).
    ca_file: str | None = None
    oauth: OAuthConfig = attrs.field(factory=OAuthConfig)

    @property
    def root(self) -> urllib.parse.SplitResult:
        return urllib.parse.urlsplit(self.base_url)

    @property
    def loopback(self) -> bool:
        """Whether ``base_url`` is a loopback address (where plain HTTP is allowed)."""
        return _is_loopback(self.root.hostname or "")

    @property
    def users_url(self) -> str:
        """The mailbox's own URL: ``{base_url}/users/{mailbox}``."""
        return f"{self.base_url}/users/{urllib.parse.quote(self.mailbox, safe='')}"

    @property
    def token_settings(self) -> TokenSettings:
        return TokenSettings(oauth=self.oauth, table=OAUTH_TABLE)


def parse_settings(raw: Mapping[str, Any]) -> GraphSettings:
    """Settings from the ``[plugin.graph]`` table; ConfigError names the key."""
    settings = structure_settings(raw, GraphSettings, table=TABLE)
    if not settings.mailbox.strip():
        raise ConfigError(f"{_WHERE} needs mailbox, the user (UPN or id) to send as")
    base_url = _checked_base_url(settings.base_url)
    oauth = settings.oauth
    given = raw.get("oauth")
    if not isinstance(given, Mapping) or "scope" not in given:
        # Graph's resource, at the host the tokens are for (a national
        # cloud's own); [smtp.oauth]'s default is Exchange's.
        oauth = attrs.evolve(oauth, scope=default_scope(base_url))
    return attrs.evolve(settings, mailbox=settings.mailbox.strip(), base_url=base_url, oauth=oauth)


def default_scope(base_url: str) -> str:
    """``https://graph.microsoft.com/.default`` for the global service."""
    root = urllib.parse.urlsplit(base_url)
    return f"{root.scheme}://{root.netloc}/.default"


def _checked_base_url(url: str) -> str:
    parts = urllib.parse.urlsplit(url.strip())
    host = parts.hostname or ""
    if parts.scheme not in ("https", "http") or not host or parts.query or parts.fragment:
        raise ConfigError(
            f"{_WHERE} base_url must be an https:// URL such as {DEFAULT_BASE_URL}, not {url!r}"
        )
    if parts.scheme == "http" and not _is_loopback(host):
        raise ConfigError(
            f"{_WHERE} base_url must use https:// (http:// only to a loopback address "
            f"such as 127.0.0.1): the token would cross the network in clear text to {host}"
        )
    return urllib.parse.urlunsplit(parts._replace(path=parts.path.rstrip("/")))


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
