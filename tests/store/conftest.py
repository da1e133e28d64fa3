"""Fixtures for the store tests: each test gets a fresh, empty store.

The suite runs against a SQLite file. Set ADAPTSEND_TEST_STORE_URLS to a
space-separated list of further database URLs (for instance a PostgreSQL
scratch database) to run it against those too; their tables are dropped after
each test.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from adaptsend.store import SQLStore, open_store
from adaptsend.store._schema import metadata

_EXTRA_URLS = os.environ.get("ADAPTSEND_TEST_STORE_URLS", "").split()


@pytest.fixture(params=["sqlite", *_EXTRA_URLS])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL for an empty database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'adaptsend.db'}"
        return
    _drop_tables(request.param)
    yield request.param
    _drop_tables(request.param)


def _drop_tables(url: str) -> None:
    store = open_store(url)
    metadata.drop_all(store.engine)
    store.close()


@pytest.fixture
def store(store_url: str) -> Iterator[SQLStore]:
    """An open store on ``store_url``, closed after the test."""
    s = open_store(store_url)
    yield s
    s.close()
