"""``adaptsend demo --transport graph``: the story through a fake Graph, with
the transport found through its entry point."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from adaptsend.cli._main import cli


def test_the_demo_learns_the_limit_and_delivers_everything_once() -> None:
    args = [
        "demo",
        "--transport",
        "graph",
        "--messages",
        "40",
        "--limit",
        "3",
        "--latency-ms",
        "20",
    ]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "allows 3 request(s) at once for the mailbox" in result.output
    assert "Graph: 40 distinct message(s) delivered, 0 duplicate(s)" in result.output
    assert "sent inside a Retry-After window" in result.output.replace("\n", " ")


def test_without_the_plugin_the_demo_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADAPTSEND_DISABLE_PLUGINS", "graph")
    result = CliRunner().invoke(cli, ["demo", "--transport", "graph"])
    assert result.exit_code == 2
    assert "--transport graph needs the adaptsend-graph plugin installed" in result.output
