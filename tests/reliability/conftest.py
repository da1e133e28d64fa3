"""Fixtures for the tests that run agents as processes of their own."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.helpers import databases
from tests.helpers.agent_processes import start_run


@pytest.fixture
def agents() -> Iterator[Callable[..., subprocess.Popen[str]]]:
    """``agents(config, *args)`` starts ``adaptsend run``; all are gone after the test."""
    started: list[subprocess.Popen[str]] = []

    def start(config: Path, *args: str) -> subprocess.Popen[str]:
        proc = start_run(config, *args)
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()


@pytest.fixture(
    params=databases.SERVER_URLS or [None], ids=lambda p: databases.name(p) if p else "no-server"
)
def server_db_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A scratch server database: several machines' agents need one."""
    if request.param is None:
        pytest.skip("needs a server database in ADAPTSEND_TEST_STORE_URLS")
    url: str = request.param
    databases.wipe(url)
    yield url
    databases.wipe(url)
