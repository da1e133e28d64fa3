"""Access tokens for a transport that reads its OAuth settings from a table of
its own (Microsoft Graph's ``[plugin.graph.oauth]``) instead of ``[smtp.oauth]``.

The settings are the same (:class:`OAuthConfig`) and so are the providers:
the one ``provider`` names is made by the factory registered for it, given
the configuration with this table's settings in the place of
``[smtp.oauth]``, so that ``msal``, ``command`` and a plugin's own provider
all serve a transport as they serve SMTP. The agent makes one cache per
table, shared by its transports, hides every token it hands out, and gives
the cache to the transport (:class:`TokenUser`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable

import attrs

from adaptsend._errors import ConfigError
from adaptsend.config._oauth import OAuthConfig
from adaptsend.config._settings import Config
from adaptsend.oauth._msal import client_secret
from adaptsend.oauth._tokens import TokenCache
from adaptsend.plugins._manager import Plugins

#: The table the built-in providers name in their sentences.
_SMTP_TABLE = "[smtp.oauth]"


@attrs.frozen(kw_only=True)
class TokenSettings:
    """OAuth settings of a transport, and the table they come from."""

    oauth: OAuthConfig
    #: As errors name it: ``"plugin.graph.oauth"``.
    table: str


@runtime_checkable
class TokenUser(Protocol):
    """A transport that authenticates with OAuth 2.0 access tokens. The agent
    reads :attr:`token_settings` once it has made the transport, and hands
    it the cache its requests take their tokens from."""

    @property
    def token_settings(self) -> TokenSettings: ...

    def use_tokens(self, tokens: TokenCache) -> None: ...


def token_cache(
    settings: TokenSettings,
    *,
    config: Config,
    plugins: Plugins,
    on_token: Callable[[str], None],
) -> TokenCache:
    """A cache whose tokens come from the provider ``settings`` name; raises
    ConfigError naming ``settings.table`` for settings the provider cannot use.
    ``on_token`` hears each token before it is used."""
    factory = plugins.token_provider_factory(settings.oauth.provider)
    scoped = attrs.evolve(config, smtp=attrs.evolve(config.smtp, oauth=settings.oauth))
    try:
        provider = factory(scoped)
    except ConfigError as exc:
        # The providers speak of [smtp.oauth]; the person wrote this table.
        raise ConfigError(str(exc).replace(_SMTP_TABLE, f"[{settings.table}]")) from None
    return TokenCache(provider, on_token=on_token)


def oauth_secrets(oauth: OAuthConfig) -> list[str]:
    """The secrets ``oauth`` names (the client secret read from its
    variable or file), for a plugin's ``adaptsend_secrets``; none when it
    cannot be read (the provider reports that when it is made)."""
    secret = client_secret(oauth)
    return [secret] if secret else []
