"""A plugin adds a token provider through adaptsend_register_token_providers,
and the agent logs in with its tokens."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from adaptsend import Config, Message, hookimpl, send_batch_async
from adaptsend._errors import PluginError
from adaptsend.cli._common import exit_code
from adaptsend.hookspecs import TokenProviderFactory
from adaptsend.oauth._tokens import AccessToken
from adaptsend.plugins._manager import load_plugins
from adaptsend.testing import ThrottlingSMTPServer
from tests.helpers.agent_config import MakeConfig

USER = "sender@example.com"
TOKEN = "managed-identity-token-0123"


class ManagedIdentity:
    """Stands for a provider such as Azure's managed identity."""

    def __init__(self, config: Config) -> None:
        self.settings = config.plugin.get("managed-identity", {})

    def fetch(self) -> AccessToken:
        return AccessToken(value=str(self.settings["token"]), expires_in_s=3600)


class Plugin:
    @hookimpl
    def adaptsend_register_token_providers(
        self, register: Callable[[str, TokenProviderFactory], None]
    ) -> None:
        register("managed-identity", ManagedIdentity)


async def test_a_plugins_provider_is_picked_by_name(make_config: MakeConfig) -> None:
    plugins = load_plugins(entry_points=False, extra=[Plugin()], environ={})
    with ThrottlingSMTPServer(xoauth2_tokens={USER: TOKEN}) as server:
        config = make_config(
            server,
            smtp={"username": USER, "auth": "xoauth2", "oauth": {"provider": "managed-identity"}},
            plugin={"managed-identity": {"token": TOKEN}},
        )
        message = Message(sender=USER, to=("to@example.com",), subject="s", text="t")
        report = await send_batch_async([message], config=config, plugins=plugins)

    assert exit_code(report.run) == 0
    assert server.xoauth2_logins == [(USER, TOKEN, True)]
    info = {i.name: i for i in plugins.infos}
    assert info["adaptsend._oauth_plugin"].registers == {"token_providers": ("msal", "command")}


def test_an_unknown_provider_names_the_known_ones() -> None:
    plugins = load_plugins(entry_points=False, environ={})
    with pytest.raises(PluginError, match=r"no token provider 'vault' .*known: command, msal"):
        plugins.token_provider_factory("vault")
