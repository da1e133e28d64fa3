"""Fixtures for the store tests: each test gets a fresh, empty store.

The suite runs against a SQLite file and every database in tests/databases.py.
On PostgreSQL it runs twice: with the claim the database uses, and with
Oracle's way of claiming (a locking cursor), so that Oracle's claim runs on a
real server with row locks even where no Oracle server can run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from adaptsend.store import SQLStore, open_store
from adaptsend.store._claim import ClaimStyle, style_for
from tests import databases

_VARIANTS: list[tuple[str, ClaimStyle | None]] = [(databases.SQLITE, None)]
for _url in databases.SERVER_URLS:
    _VARIANTS.append((_url, None))
    if style_for(databases.name(_url)) != "cursor":
        _VARIANTS.append((_url, "cursor"))

OpenStore = Callable[[str], SQLStore]


def _variant_id(variant: tuple[str, ClaimStyle | None]) -> str:
    url, style = variant
    return databases.name(url) + ("-cursor-claim" if style else "")


#: For a test of row locks: each server database, with its own way of claiming.
on_servers = pytest.mark.parametrize(
    "variant",
    [v for v in _VARIANTS if v[0] != databases.SQLITE and v[1] is None],
    ids=_variant_id,
    indirect=True,
)
#: For a test that needs SQLite itself.
on_sqlite = pytest.mark.parametrize(
    "variant", [(databases.SQLITE, None)], ids=_variant_id, indirect=True
)


@pytest.fixture(params=_VARIANTS, ids=_variant_id)
def variant(request: pytest.FixtureRequest) -> tuple[str, ClaimStyle | None]:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
def store_url(variant: tuple[str, ClaimStyle | None], tmp_path: Path) -> Iterator[str]:
    """A URL for a database whose tables are new and empty."""
    param, _ = variant
    yield databases.ready_database(param, tmp_path)
    if param != databases.SQLITE:
        databases.wipe(param)


@pytest.fixture
def make_store(variant: tuple[str, ClaimStyle | None]) -> Iterator[OpenStore]:
    """``make_store(url)``: open a store that claims the way this variant does;
    every store it opened is closed after the test."""
    opened: list[SQLStore] = []

    def make(url: str) -> SQLStore:
        store = open_store(url)
        style = variant[1]
        if style is not None:
            store.claim_style = style
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.close()


@pytest.fixture
def store(store_url: str, make_store: OpenStore) -> SQLStore:
    """An open store on ``store_url``, closed after the test."""
    return make_store(store_url)
