"""The store's schema as an operator handles it: by URL, with one-sentence errors.

These back ``adaptsend db``; unlike :func:`open_store` they work on a database
whose tables are missing or behind.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import sqlalchemy as sa
from alembic.util import CommandError
from sqlalchemy import Engine, exc

from adaptsend._errors import StoreError
from adaptsend.config._store_url import parse_url
from adaptsend.store import _engine, _migrate
from adaptsend.store._migrate import SchemaState
from adaptsend.store._schema import metadata


def schema_state(url: str) -> SchemaState:
    """Which revision the database at ``url`` is at."""
    with _engine_for(url) as engine, engine.connect() as conn:
        return _migrate.state(conn)


def upgrade_store(url: str, revision: str = "head") -> tuple[SchemaState, SchemaState]:
    """Bring the database at ``url`` to ``revision``; the state before and after."""
    with _engine_for(url) as engine:
        with engine.connect() as conn:
            before = _migrate.state(conn)
        if before.newer:
            raise StoreError(
                f"The store at {_shown(url)} is at schema revision {', '.join(before.current)}, "
                f"newer than this adaptsend knows ({before.head}); upgrade adaptsend."
            )
        return before, _migrate.upgrade(engine, revision)


def drop_store(url: str) -> None:
    """Drop adaptsend's tables and its schema version table from the database
    at ``url``, every row with them: a scratch database made empty for the next
    test or benchmark. Tables of others stay."""
    with _engine_for(url) as engine, engine.begin() as conn:
        metadata.drop_all(conn)
        sa.Table(_migrate.VERSION_TABLE, sa.MetaData()).drop(conn, checkfirst=True)


def upgrade_sql(url: str, *, revision: str = "head", since: str | None = None) -> str:
    """The SQL an upgrade of the database at ``url`` would run, without connecting."""
    dialect = parse_url(url).get_backend_name()
    try:
        return _migrate.upgrade_sql(dialect, revision=revision, since=since)
    except CommandError as e:
        raise StoreError(f"Cannot write the upgrade SQL: {_first_line(e)}.") from None


@contextlib.contextmanager
def _engine_for(url: str) -> Iterator[Engine]:
    engine = _engine.build_engine(parse_url(url))
    try:
        yield engine
    except exc.SQLAlchemyError as e:
        raise StoreError(f"Cannot use the store at {_shown(url)}: {_engine.reason(e)}.") from None
    except CommandError as e:
        raise StoreError(f"Cannot upgrade the store at {_shown(url)}: {_first_line(e)}.") from None
    finally:
        engine.dispose()


def _shown(url: str) -> str:
    return _engine.safe(parse_url(url))


def _first_line(error: Exception) -> str:
    lines = str(error).strip().splitlines()
    return lines[0].rstrip(".") if lines else type(error).__name__
