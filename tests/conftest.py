"""Fixtures shared by the end-to-end tests: a real SQLite file per test and a
configuration aimed at a real SMTP server on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from adaptsend import Config, config_from_dict
from adaptsend.store import upgrade_store
from adaptsend.testing import ThrottlingSMTPServer
from tests.helpers import databases
from tests.helpers.agent_config import MakeConfig
from tests.helpers.recorded_run import RecordedRun, record_run


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


@pytest.fixture(params=[databases.SQLITE, *databases.SERVER_URLS], ids=databases.name)
def empty_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of each kind the tests run against (see tests/helpers/databases.py);
    a server database is emptied again afterwards."""
    yield databases.empty_database(request.param, tmp_path)
    if request.param != databases.SQLITE:
        databases.wipe(request.param)


@pytest.fixture
def db_ready(empty_db_url: str) -> str:
    """An empty database of each kind with the store's tables (server ones
    need ``db upgrade``)."""
    upgrade_store(empty_db_url)
    return empty_db_url


@pytest.fixture(scope="session")
def recorded_run(tmp_path_factory: pytest.TempPathFactory) -> RecordedRun:
    """A real run through a hidden limit that falls and rises, recorded once
    for the tests of ``adaptsend report`` (see tests/helpers/recorded_run.py)."""
    return record_run(tmp_path_factory.mktemp("recorded-run"))
