"""Fixtures for the graph transport's tests: a real SQLite file per test, and
a configuration aimed at a fake Graph server on 127.0.0.1 whose tokens come
from a real token command."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from adaptsend import Message
from adaptsend.testing import DEFAULT_GRAPH_TOKEN, FakeGraphServer

MAILBOX = "reports@contoso.com"

MakeConfig = Callable[..., dict[str, Any]]
Rows = Callable[[str], list[tuple[Any, ...]]]


def token_command(token: str = DEFAULT_GRAPH_TOKEN) -> list[str]:
    """A ``command`` token provider that prints ``token`` for an hour."""
    answer = json.dumps({"access_token": token, "expires_in": 3600})
    return [sys.executable, "-c", f"print({answer!r})"]


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'queue.db'}"


@pytest.fixture
def graph_config(db_url: str) -> MakeConfig:
    """``graph_config(graph, graph_settings={...}, limiter={...})``: settings
    for ``graph`` with short retry delays; ``graph_settings`` go into
    ``[plugin.graph]``, other sections are merged into theirs."""

    def make(
        graph: FakeGraphServer,
        *,
        graph_settings: dict[str, Any] | None = None,
        **sections: dict[str, Any],
    ) -> dict[str, Any]:
        settings: dict[str, Any] = {
            "mailbox": MAILBOX,
            "base_url": graph.base_url,
            "timeout_s": 10,
            "oauth": {"provider": "command", "command": token_command()},
        }
        settings.update(graph_settings or {})
        raw: dict[str, Any] = {
            "store": {"url": db_url},
            "run": {"transport": "graph"},
            "limiter": {"initial_cap": 2, "min_cap": 1, "max_cap": 8},
            "retry": {"base_delay_s": 0.05, "max_delay_s": 0.5},
            "plugin": {"graph": settings},
        }
        for name, values in sections.items():
            raw.setdefault(name, {}).update(values)
        return raw

    return make


@pytest.fixture
def rows(db_url: str) -> Rows:
    """Read the store's SQLite file directly, as an operator would."""

    def read(sql: str) -> list[tuple[Any, ...]]:
        engine = sa.create_engine(db_url)
        try:
            with engine.connect() as connection:
                return [tuple(r) for r in connection.execute(sa.text(sql))]
        finally:
            engine.dispose()

    return read


@pytest.fixture
def reports() -> Callable[[int], list[Message]]:
    """``reports(n)``: n report messages with fixed Message-IDs."""

    def make(count: int) -> list[Message]:
        return [
            Message(
                sender=MAILBOX,
                to=("team@contoso.com",),
                subject=f"Nightly report {n}",
                text=f"Report {n} is ready.",
                message_id=f"<report-{n}@contoso.com>",
            )
            for n in range(count)
        ]

    return make
