"""A transport with OAuth settings of its own (``[plugin.NAME.oauth]``) gets
its tokens from the providers SMTP uses, through the agent: the provider
named there, the table named in its errors, every token hidden."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import pytest
import trio

from adaptsend import (
    Agent,
    ConfigError,
    Envelope,
    Message,
    OAuthConfig,
    Outcome,
    Reply,
    SendResult,
    TokenCache,
    TokenSettings,
    config_from_dict,
    hookimpl,
    send_batch_async,
    structure_settings,
)
from adaptsend.config._settings import Config
from adaptsend.plugins._manager import load_plugins
from tests.helpers.databases import rows

TOKEN = "eyJ0eXAiOiJKV1QifQ.token-for-the-http-transport"


class TokenTransport:
    """Sends nothing anywhere: each send takes a token, and the reply quotes
    it, as a careless server might."""

    sending_key = "tokens@in-process"

    def __init__(self, config: Config) -> None:
        raw = config.plugin.get("tokeny", {}).get("oauth", {})
        oauth = structure_settings(raw, OAuthConfig, table="plugin.tokeny.oauth")
        self.token_settings = TokenSettings(oauth=oauth, table="plugin.tokeny.oauth")
        self.tokens: TokenCache | None = None
        self.used: list[str] = []

    def use_tokens(self, tokens: TokenCache) -> None:
        self.tokens = tokens

    async def connect(self) -> TokenConnection:
        await trio.lowlevel.checkpoint()
        return TokenConnection(self)


@attrs.define
class TokenConnection:
    transport: TokenTransport

    async def send(self, envelope: Envelope) -> SendResult:
        tokens = self.transport.tokens
        assert tokens is not None
        token = await trio.to_thread.run_sync(tokens.token)
        self.transport.used.append(token)
        reply = Reply(code=202, text=f"Accepted with Bearer {token}")
        return SendResult(reply=reply, outcome=Outcome.SENT)

    async def close(self) -> None:
        await trio.lowlevel.checkpoint()


def plugin(made: list[TokenTransport]) -> object:
    def factory(config: Config, _threads: trio.CapacityLimiter) -> TokenTransport:
        made.append(TokenTransport(config))
        return made[-1]

    class Plugin:
        @hookimpl
        def adaptsend_register_transports(
            self, register: Callable[[str, Callable[..., Any]], None]
        ) -> None:
            register("tokeny", factory)

    return Plugin()


def config(tmp_path: Path, oauth: dict[str, Any]) -> Config:
    return config_from_dict(
        {
            "store": {"url": f"sqlite:///{tmp_path / 'queue.db'}"},
            "run": {"transport": "tokeny"},
            "plugin": {"tokeny": {"oauth": oauth}},
        }
    )


def printing(token: str) -> list[str]:
    answer = json.dumps({"access_token": token, "expires_in": 3600})
    return [sys.executable, "-c", f"print({answer!r})"]


async def test_the_transport_gets_tokens_from_the_provider_its_table_names(
    tmp_path: Path,
) -> None:
    made: list[TokenTransport] = []
    settings = config(tmp_path, {"provider": "command", "command": printing(TOKEN)})
    plugins = load_plugins(entry_points=False, extra=[plugin(made)])
    message = Message(sender="a@example.com", to="b@example.com", text="t")
    report = await send_batch_async([message], config=settings, plugins=plugins)

    assert report.ok
    assert made[0].used == [TOKEN]
    # The reply that quoted the token was stored without it.
    [(text,)] = rows(f"sqlite:///{tmp_path / 'queue.db'}", "SELECT reply_text FROM attempts")
    assert text == "Accepted with Bearer [redacted]"


def test_one_cache_serves_every_transport_of_the_agent(tmp_path: Path) -> None:
    made: list[TokenTransport] = []
    settings = config(tmp_path, {"provider": "command", "command": printing(TOKEN)})
    plugins = load_plugins(entry_points=False, extra=[plugin(made)])
    with Agent(settings, plugins=plugins) as agent:
        first, second = agent.transport, agent.open_transport()
    assert first is made[0] and second is made[1]
    assert made[0].tokens is not None and made[0].tokens is made[1].tokens


def test_a_provider_that_cannot_be_made_names_the_transports_table(tmp_path: Path) -> None:
    made: list[TokenTransport] = []
    settings = config(tmp_path, {"provider": "msal", "tenant_id": "t"})
    plugins = load_plugins(entry_points=False, extra=[plugin(made)])
    with Agent(settings, plugins=plugins) as agent, pytest.raises(ConfigError) as raised:
        _ = agent.transport
    assert str(raised.value) == '[plugin.tokeny.oauth] provider = "msal" needs client_id'
