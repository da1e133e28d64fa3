"""Bulk inserts on SQLite that hand rows to the driver as they are.

SQLAlchemy's executemany turns each row into a dict of parameters, checks it
and converts every value in Python; on SQLite, whose own work per row is a
few microseconds, that cost more than the insert itself. Here the Core
statement is compiled once, times are passed in the text SQLAlchemy stores
for them, and the rows written are the same.

An executemany also runs one statement step per row, and SQLite's driver
lets go of the GIL for every step: while the sending threads wait for it,
each step hands it over and waits to get it back, which cost more than the
row. So each statement inserts many rows at once.

Only SQLite takes this path (``SQLStore.sqlite_fast``); the other databases
need SQLAlchemy's handling of their drivers (Oracle's input sizes and
RETURNING INTO, for one).
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Sequence
from itertools import chain
from typing import Any

from sqlalchemy import Connection, Table, func, insert, select
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Dialect

from adaptsend._errors import StoreError
from adaptsend._models import AttemptRecord, Envelope
from adaptsend.store import _rows
from adaptsend.store import _schema as s

#: SQLite numbers new rows past the largest id only below this one.
_LARGEST_ROWID = 2**63 - 1
#: Parameters per statement that every SQLite build allows (newer ones allow more).
_MAX_PARAMETERS = 999
_DIALECT = sqlite.dialect()


def suits(dialect: Dialect) -> bool:
    """Whether ``dialect`` is SQLite with the driver these statements are compiled for."""
    return dialect.name == "sqlite" and dialect.paramstyle == _DIALECT.paramstyle


def insert_messages(
    conn: Connection, envelopes: Sequence[Envelope], *, sending_key: str, now: dt.datetime
) -> list[int]:
    """Queue messages due ``now`` in the caller's transaction; their ids in order."""
    if not envelopes:
        return []
    stamp = _stored_time(conn.dialect)(now)
    rows = [_rows.envelope_row(e, sending_key=sending_key, now=stamp) for e in envelopes]
    _insert(conn, s.messages, _rows.MESSAGE_COLUMNS, rows)
    # SQLite gives a new row the id after the largest one, and no other writer
    # can insert while this transaction holds the write lock: the new rows have
    # the last ids, in the order they were given.
    last = conn.execute(select(func.max(s.messages.c.id))).scalar_one()
    if last >= _LARGEST_ROWID:
        # Past it SQLite picks ids at random, and these ids would be wrong.
        raise StoreError("The store's message ids have reached SQLite's largest row id.")
    ids = list(range(last - len(rows) + 1, last + 1))
    contents = [(pk, e.content) for pk, e in zip(ids, envelopes, strict=True)]
    _insert(conn, s.message_contents, ("message_pk", "content"), contents)
    return ids


def insert_attempts(conn: Connection, records: Sequence[AttemptRecord]) -> None:
    """Write attempt rows in the caller's transaction."""
    stamp = _stored_time(conn.dialect)
    rows = [_rows.attempt_row(r, started_at=stamp(r.started_at)) for r in records]
    _insert(conn, s.attempts, _rows.ATTEMPT_COLUMNS, rows)


def _stored_time(dialect: Dialect) -> Callable[[dt.datetime], str]:
    """The text SQLAlchemy stores for a time in the store's columns."""
    processor = s.messages.c.created_at.type.dialect_impl(dialect).bind_processor(dialect)
    if processor is None:
        raise AssertionError("SQLite's DateTime is expected to store times as text")
    return processor


def _insert(
    conn: Connection, table: Table, columns: tuple[str, ...], rows: list[tuple[Any, ...]]
) -> None:
    for batch in _rows.chunks(rows, _MAX_PARAMETERS // len(columns)):
        sql = _insert_sql(table, columns, len(batch))
        conn.exec_driver_sql(sql, tuple(chain.from_iterable(batch)))


@functools.lru_cache(maxsize=256)
def _insert_sql(table: Table, columns: tuple[str, ...], rows: int) -> str:
    """An INSERT of ``rows`` rows of ``columns``, given in that order."""
    compiled = insert(table).compile(dialect=_DIALECT, column_keys=list(columns))
    if tuple(compiled.positiontup or ()) != columns:
        raise AssertionError(f"{columns} are not in the order of {table.name}'s columns")
    head, one_row = str(compiled).split(" VALUES ")
    return f"{head} VALUES {', '.join([one_row] * rows)}"
