"""The PostgreSQL store's own way of queueing stores exactly what the way
every database takes would have stored; the rest of the suite runs both
ways on PostgreSQL (see conftest.py)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from adaptsend._models import Envelope
from adaptsend.store import SQLStore, _enqueue, _postgres_fast, _sources, open_store
from tests import databases

from .helpers import KEY, envelope

NOW = dt.datetime(2025, 3, 4, 5, 6, 7, 890123)

ENVELOPES = [
    envelope(1),
    envelope(2, recipients=('"quoted" <q@example.org>', "zoë@exämple.org", "back\\slash@x.org")),
    envelope(3, recipients=()),
    # Bytes that are no text, a NUL among them, and an empty message.
    Envelope(message_id="<4@x>", sender="a@x.org", recipients=("b@x",), content=b"\x00\xff\r\n"),
    Envelope(message_id="<5@x>", sender="", recipients=("{a,b}@x.org",), content=b""),
]
TABLES = ("messages", "message_contents", "source_rows")

POSTGRES_URLS = [url for url in databases.SERVER_URLS if databases.name(url) == "postgresql"]


@pytest.fixture(params=POSTGRES_URLS or [None], ids=lambda p: "postgresql" if p else "no-server")
def postgres_url(request: pytest.FixtureRequest) -> Iterator[str]:
    if request.param is None:
        pytest.skip("needs a PostgreSQL database in ADAPTSEND_TEST_STORE_URLS")
    url: str = request.param
    yield url
    databases.wipe(url)


def _stored(store: SQLStore) -> dict[str, list[Any]]:
    with store.engine.connect() as conn:
        return {
            table: conn.exec_driver_sql(f"SELECT * FROM {table} ORDER BY 1").all()
            for table in TABLES
        }


def _written(url: str, tmp_path: Path, *, postgres_fast: bool) -> dict[str, list[Any]]:
    """Every row written by queueing the envelopes, then the same again from a
    site's table, into new tables (so that the ids start afresh)."""
    store = open_store(databases.ready_database(url, tmp_path))
    fast: _enqueue.FastWay = "postgres" if postgres_fast else None
    try:
        with store.engine.begin() as conn:
            _enqueue.insert_messages(conn, ENVELOPES, sending_key=KEY, now=NOW, fast=fast)
            rows = [(f'"{i}"', e) for i, e in enumerate(ENVELOPES)]
            _sources.enqueue(conn, "table", rows, sending_key="other", now=NOW, fast=fast)
        return _stored(store)
    finally:
        store.close()


def test_the_postgres_way_stores_what_the_portable_way_does(
    postgres_url: str, tmp_path: Path
) -> None:
    fast = _written(postgres_url, tmp_path, postgres_fast=True)
    assert fast == _written(postgres_url, tmp_path, postgres_fast=False)
    assert [len(fast[table]) for table in TABLES] == [10, 10, 5]
    assert fast["message_contents"][3].content == b"\x00\xff\r\n"


def test_a_sending_key_too_long_for_its_column_is_refused_not_cut(
    postgres_url: str, tmp_path: Path
) -> None:
    store = open_store(databases.ready_database(postgres_url, tmp_path))
    try:
        assert store.postgres_fast
        with pytest.raises(sa.exc.DataError, match="too long"):
            store.enqueue([envelope(1)], sending_key="k" * 300)
        assert sum(store.counts().values()) == 0
    finally:
        store.close()


def test_the_postgres_way_is_the_default_on_postgres_through_psycopg_alone() -> None:
    server = sa.create_engine("postgresql+psycopg://mail@db.example.org/mail")
    assert SQLStore(server).postgres_fast and not SQLStore(server).sqlite_fast
    assert not SQLStore(server, postgres_fast=False).postgres_fast
    other_driver = sa.make_url("postgresql+psycopg2://mail@db.example.org/mail")
    assert not _postgres_fast.suits(other_driver.get_dialect()())
    lite = sa.create_engine("sqlite://")
    assert not SQLStore(lite).postgres_fast
    with pytest.raises(ValueError, match="sqlite"):
        SQLStore(lite, postgres_fast=True)
