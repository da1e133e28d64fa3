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

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NamedTuple

import pytest

from adaptsend.store import SQLStore, open_store
from adaptsend.store._claim import ClaimStyle, style_for
from tests.helpers import databases


class Variant(NamedTuple):
    url: str
    #: Claim this way rather than the database's own.
    claim_style: ClaimStyle | None = None
    #: Write rows as every database does, not in the database's own way.
    portable_writes: bool = False


_VARIANTS = [Variant(databases.SQLITE), Variant(databases.SQLITE, portable_writes=True)]
for _url in databases.SERVER_URLS:
    _VARIANTS.append(Variant(_url))
    if style_for(databases.name(_url)) != "cursor":
        _VARIANTS.append(Variant(_url, "cursor", portable_writes=True))

OpenStore = Callable[[str], SQLStore]


def _variant_id(variant: Variant) -> str:
    extra = ("-cursor-claim" if variant.claim_style else "") + (
        "-portable-writes" if variant.portable_writes else ""
    )
    return databases.name(variant.url) + extra


#: For a test of row locks: each server database, with its own way of claiming.
on_servers = pytest.mark.parametrize(
    "variant",
    [v for v in _VARIANTS if v.url != databases.SQLITE and v.claim_style is None],
    ids=_variant_id,
    indirect=True,
)
#: For a test that needs SQLite itself.
on_sqlite = pytest.mark.parametrize(
    "variant", [Variant(databases.SQLITE)], ids=_variant_id, indirect=True
)


@pytest.fixture(params=_VARIANTS, ids=_variant_id)
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
