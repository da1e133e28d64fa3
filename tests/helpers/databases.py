"""The databases the tests run against.

Always a SQLite file. Every URL in ADAPTSEND_TEST_STORE_URLS (space-separated)
is a scratch server database the tests may empty, as ``.ci/run`` makes one on
a real PostgreSQL server; ADAPTSEND_TEST_ORACLE_URL names a scratch Oracle
schema. adaptsend's tables, and the site tables tests make, are dropped before
and after each test that uses one. :func:`rows` reads any of them directly.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from adaptsend.store import drop_store, upgrade_store

SQLITE = "sqlite"
SERVER_URLS: list[str] = [
    *os.environ.get("ADAPTSEND_TEST_STORE_URLS", "").split(),
    *os.environ.get("ADAPTSEND_TEST_ORACLE_URL", "").split(),
]
#: Tables the tests create in a site's database.
SITE_TABLES = ("email_log",)


def name(param: str) -> str:
    """A test id that shows the database, never its password."""
    return param if param == SQLITE else sa.make_url(param).get_backend_name()


def empty_database(param: str, tmp_path: Path) -> str:
    """The URL of an empty database: a new SQLite file, or a wiped server one."""
    if param == SQLITE:
        return f"sqlite:///{tmp_path / 'adaptsend.db'}"
    wipe(param)
    return param


def ready_database(param: str, tmp_path: Path) -> str:
    """The URL of an empty database whose tables are at the newest revision."""
    url = empty_database(param, tmp_path)
    upgrade_store(url)
    return url


def wipe(url: str) -> None:
    """Drop adaptsend's tables, its version table and the tests' site tables."""
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            for table in SITE_TABLES:
                sa.Table(table, sa.MetaData()).drop(conn, checkfirst=True)
    finally:
        engine.dispose()
    drop_store(url)


def rows(db_url: str, sql: str) -> list[tuple[Any, ...]]:
    """Read a store's database directly, as an operator would."""
    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(sa.text(sql))]
    finally:
        engine.dispose()
