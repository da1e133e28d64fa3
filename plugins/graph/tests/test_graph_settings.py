"""``[plugin.graph]`` and ``[plugin.graph.oauth]``: one sentence for each
mistake, Graph's own scope by default (a national cloud's too), and the
client secret hidden everywhere."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from adaptsend_graph import adaptsend_secrets, default_scope, parse_retry_after, parse_settings
from click.testing import CliRunner
from conftest import MAILBOX, MakeConfig, Rows

from adaptsend import Agent, ConfigError, Message, config_from_dict, send_batch_async
from adaptsend.cli._main import cli
from adaptsend.testing import FakeGraphServer, GraphAnswer


def graph(**settings: Any) -> dict[str, Any]:
    return {"mailbox": MAILBOX, **settings}


@pytest.mark.parametrize(
    ("settings", "sentence"),
    [
        ({}, "[plugin.graph] needs mailbox, the user (UPN or id) to send as"),
        (graph(mailbx="x"), "unknown key 'mailbx' in [plugin.graph]"),
        (graph(timeout_s=0), "in [plugin.graph], timeout_s must be greater than 0, not 0.0"),
        (
            graph(base_url="http://graph.microsoft.com/v1.0"),
            "[plugin.graph] base_url must use https:// (http:// only to a loopback address "
            "such as 127.0.0.1): the token would cross the network in clear text to "
            "graph.microsoft.com",
        ),
        (
            graph(base_url="graph.microsoft.com"),
            "[plugin.graph] base_url must be an https:// URL such as "
            "https://graph.microsoft.com/v1.0, not 'graph.microsoft.com'",
        ),
        (graph(oauth={"tenant": "t"}), "unknown key 'tenant' in [plugin.graph.oauth]"),
    ],
)
def test_a_mistake_is_one_sentence_naming_the_key(settings: dict[str, Any], sentence: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_settings(settings)
    assert str(raised.value) == sentence


def test_the_scope_is_graphs_own_unless_given() -> None:
    assert parse_settings(graph()).oauth.scope == "https://graph.microsoft.com/.default"
    us = parse_settings(graph(base_url="https://graph.microsoft.us/v1.0/"))
    assert (us.base_url, us.oauth.scope) == (
        "https://graph.microsoft.us/v1.0",
        "https://graph.microsoft.us/.default",
    )
    given = parse_settings(graph(oauth={"scope": "api://custom/.default"}))
    assert given.oauth.scope == "api://custom/.default"
    assert default_scope("http://127.0.0.1:8080/v1.0") == "http://127.0.0.1:8080/.default"


def test_a_provider_that_cannot_be_made_stops_the_run_naming_the_graph_table(
    tmp_path: Path, graph_config: MakeConfig
) -> None:
    with FakeGraphServer() as fake:
        raw = graph_config(fake, graph_settings={"oauth": {"provider": "msal", "tenant_id": "t"}})
        toml = tmp_path / "adaptsend.toml"
        toml.write_text(_toml(raw))
        result = CliRunner().invoke(cli, ["--config", str(toml), "run"])
    assert result.exit_code == 2
    assert 'adaptsend: [plugin.graph.oauth] provider = "msal" needs client_id' in result.output


def _toml(raw: dict[str, Any]) -> str:
    graph_settings = raw["plugin"]["graph"]
    oauth = graph_settings.pop("oauth")
    lines = [
        f'[store]\nurl = "{raw["store"]["url"]}"',
        '[run]\ntransport = "graph"',
        "[plugin.graph]",
    ]
    lines += [f"{key} = {json.dumps(value)}" for key, value in graph_settings.items()]
    lines.append("[plugin.graph.oauth]")
    lines += [f"{key} = {json.dumps(value)}" for key, value in oauth.items()]
    return "\n".join(lines) + "\n"


async def test_the_client_secret_is_hidden_in_what_is_stored(
    graph_config: MakeConfig, rows: Rows, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "graph~client.secret-0123456789"
    monkeypatch.setenv("GRAPH_SECRET", secret)
    echo = GraphAnswer(status=400, code="ErrorInvalidRequest", message=f"bad client {secret}")
    with FakeGraphServer(answers=[echo]) as fake:
        raw = graph_config(fake)
        raw["plugin"]["graph"]["oauth"]["client_secret_env"] = "GRAPH_SECRET"
        config = config_from_dict(raw)
        assert adaptsend_secrets(config) == [secret]
        report = await send_batch_async(
            [Message(sender=MAILBOX, to="a@contoso.com", text="t")], config=config
        )
    assert not report.ok
    assert rows("SELECT reply_text FROM attempts") == [
        ("ErrorInvalidRequest: bad client [redacted]",)
    ]


def test_a_secret_is_named_even_when_the_settings_do_not_parse(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GRAPH_SECRET", "graph~client.secret-0123456789")
    config = config_from_dict(
        {"plugin": {"graph": {"oauth": {"client_secret_env": "GRAPH_SECRET", "typo": 1}}}}
    )
    assert adaptsend_secrets(config) == ["graph~client.secret-0123456789"]
    assert adaptsend_secrets(config_from_dict({})) == []


def test_the_transport_names_its_sending_key_and_token_table(tmp_path: Path) -> None:
    raw = {
        "store": {"url": f"sqlite:///{tmp_path / 'q.db'}"},
        "run": {"transport": "graph"},
        "plugin": {"graph": graph(oauth={"provider": "command", "command": ["true"]})},
    }
    with Agent(config_from_dict(raw)) as agent:
        transport = agent.transport
    assert transport.sending_key == f"graph:{MAILBOX}@graph.microsoft.com"


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("2", 2.0), ("0", 0.0), ("1.5", 1.5), ("-3", 0.0), ("soon", None), (None, None)],
)
def test_retry_after_in_seconds(value: str | None, seconds: float | None) -> None:
    assert parse_retry_after(value) == seconds


def test_retry_after_as_an_http_date() -> None:
    now = dt.datetime(2026, 1, 5, 12, 0, 0, tzinfo=dt.UTC)
    assert parse_retry_after("Mon, 05 Jan 2026 12:00:30 GMT", now=now) == 30.0
