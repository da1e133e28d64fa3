"""Fixtures shared by the end-to-end tests: a real SQLite file per test and a
configuration aimed at a real SMTP server on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from adaptsend import Config, Message, config_from_dict
from adaptsend.store import upgrade_store
from adaptsend.testing import ThrottlingSMTPServer
from tests.helpers import databases

MakeConfig = Callable[..., Config]


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'adaptsend.db'}"


@pytest.fixture
def make_config(db_url: str) -> MakeConfig:
    """``make_config(server, limiter={...}, retry={...}, smtp={...})``: a config
    for ``server`` with short retry delays, so that tests wait little."""

    def make(server: ThrottlingSMTPServer, **sections: dict[str, Any]) -> Config:
        raw: dict[str, Any] = {
            "store": {"url": db_url},
            "smtp": {"host": server.host, "port": server.port, "timeout_s": 10},
            "limiter": {"initial_cap": 2, "min_cap": 1, "max_cap": 8},
            "retry": {"base_delay_s": 0.05, "max_delay_s": 0.5},
        }
        for name, values in sections.items():
            raw.setdefault(name, {}).update(values)
        return config_from_dict(raw)

    return make


def write_agent_config(
    directory: Path, url: str, server: ThrottlingSMTPServer, extra: str = ""
) -> Path:
    """``adaptsend.toml`` in ``directory`` for an agent process on ``url`` that
    sends to ``server`` with short retry delays; ``extra`` adds sections."""
    path = directory / "adaptsend.toml"
    path.write_text(
        f"""
[store]
url = "{url}"
[smtp]
host = "{server.host}"
port = {server.port}
timeout_s = 10
[retry]
base_delay_s = 0.05
max_delay_s = 0.2
{extra}
"""
    )
    return path


def rows(db_url: str, sql: str) -> list[tuple[Any, ...]]:
    """Read the store's SQLite file directly, as an operator would."""
    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(sa.text(sql))]
    finally:
        engine.dispose()


@pytest.fixture(params=[databases.SQLITE, *databases.SERVER_URLS], ids=databases.name)
def empty_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of each kind the tests run against (see tests/helpers/databases.py);
    a server database is emptied again afterwards."""
    yield databases.empty_database(request.param, tmp_path)
    if request.param != databases.SQLITE:
        databases.wipe(request.param)


def batch(count: int, *, to: str = "team@example.com") -> list[Message]:
    """``count`` report messages with fixed Message-IDs, so that a test can
    count deliveries per message at the server."""
    return [
        Message(
            sender="reports@example.com",
            to=(to,),
            subject=f"report {n}",
            text=f"body {n}",
            message_id=f"<report-{n}@example.com>",
        )
        for n in range(count)
    ]


@pytest.fixture
def db_ready(empty_db_url: str) -> str:
    """An empty database of each kind with the store's tables (server ones
    need ``db upgrade``)."""
    upgrade_store(empty_db_url)
    return empty_db_url
