"""Fixtures for the store tests: each test gets a fresh, empty store.

The suite runs against a SQLite file and every database in tests/helpers/databases.py.
On PostgreSQL it runs twice: with the database's own ways of claiming and
of writing rows, and with Oracle's (a locking cursor, and the way every
database writes rows), so that Oracle's claim runs on a real server with row
locks even where no Oracle server can run. On SQLite it runs twice too: with
the SQLite store's own way of writing rows, and with the way every other
database writes them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from adaptsend.store import SQLStore, open_store
from tests.helpers import databases
from tests.helpers.store_variants import VARIANTS, OpenStore, Variant, variant_id


@pytest.fixture(params=VARIANTS, ids=variant_id)
def variant(request: pytest.FixtureRequest) -> Variant:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
def store_url(variant: Variant, tmp_path: Path) -> Iterator[str]:
    """A URL for a database whose tables are new and empty."""
    yield databases.ready_database(variant.url, tmp_path)
    if variant.url != databases.SQLITE:
        databases.wipe(variant.url)


@pytest.fixture
def make_store(variant: Variant) -> Iterator[OpenStore]:
    """``make_store(url)``: open a store that claims and writes the way this
    variant does; every store it opened is closed after the test."""
    opened: list[SQLStore] = []

    def make(url: str) -> SQLStore:
        store = open_store(url)
        if variant.claim_style is not None:
            store.claim_style = variant.claim_style
        if variant.portable_writes:
            store.sqlite_fast = store.postgres_fast = False
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.close()


@pytest.fixture
def store(store_url: str, make_store: OpenStore) -> SQLStore:
    """An open store on ``store_url``, closed after the test."""
    return make_store(store_url)
