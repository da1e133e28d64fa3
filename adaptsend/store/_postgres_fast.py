"""Bulk writes on PostgreSQL that send each column, or a batch's ids, as one array.

SQLAlchemy inserts a page of rows on PostgreSQL as one INSERT with a VALUES
list of up to a thousand rows. psycopg keeps the conversion of a statement's
placeholders only for short statements (4096 characters and 50 parameters),
so it parsed that text again, in Python, for every page: more than half of
queueing's time, and more than the database's own work. The contents and
the table source's ledger rows, which need no RETURNING, went through
psycopg's executemany: one statement execution per row.

Here an insert is one short statement whose text never changes: each column
goes as one array, and ``unnest`` turns the arrays back into rows. psycopg
converts and prepares that text once per connection. The arrays go in its
binary format, which it builds without quoting every element as the text
format does.

Attempt rows go in the same way; SQLAlchemy's executemany ran one statement
per row. A decision shared by many messages gives their ids as one array
(``= ANY``), not as an ``IN`` list as long as the group, whose text psycopg
parsed again for every batch. The other decisions still run one statement
per message: a single UPDATE joined with arrays of ids and values was faster
on analyzed tables, but before PostgreSQL had statistics it chose a nested
loop that read all the arrays again for every message, and was slower.

Only PostgreSQL through psycopg takes this path (``SQLStore.postgres_fast``):
``%b`` placeholders are psycopg's own. Other drivers, and Oracle, take
SQLAlchemy's way (``_enqueue``, ``_decide``), whose statements stay as they were.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Column, Connection, String, Table, make_url
from sqlalchemy.engine import Dialect

from adaptsend._models import AttemptRecord, Envelope, Status
from adaptsend.store import _rows
from adaptsend.store import _schema as s

#: The driver whose placeholders these statements use.
_DRIVER = "psycopg"
_DIALECT: Dialect = make_url(f"postgresql+{_DRIVER}://").get_dialect()()


def suits(dialect: Dialect) -> bool:
    """Whether ``dialect`` is PostgreSQL with the driver these statements are written for."""
    return dialect.name == "postgresql" and dialect.driver == _DRIVER


def insert_messages(
    conn: Connection, envelopes: Sequence[Envelope], *, sending_key: str, now: dt.datetime
) -> list[int]:
    """Queue messages due ``now`` in the caller's transaction; their ids in order."""
    if not envelopes:
        return []
    rows = [_rows.envelope_row(e, sending_key=sending_key, now=now) for e in envelopes]
    # The rows go in in their order, so the identity numbers them upwards
    # (SQLAlchemy's ordered RETURNING on PostgreSQL counts on this as well):
    # sorted, the ids are in the order of the envelopes.
    ids = sorted(insert_rows(conn, s.messages, _rows.MESSAGE_COLUMNS, rows, returning="id"))
    contents = [(pk, e.content) for pk, e in zip(ids, envelopes, strict=True)]
    insert_rows(conn, s.message_contents, ("message_pk", "content"), contents)
    return ids


def insert_attempts(conn: Connection, records: Sequence[AttemptRecord]) -> None:
    """Write attempt rows in the caller's transaction."""
    rows = [_rows.attempt_row(r, started_at=r.started_at) for r in records]
    insert_rows(conn, s.attempts, _rows.ATTEMPT_COLUMNS, rows)


def insert_rows(
    conn: Connection,
    table: Table,
    columns: tuple[str, ...],
    rows: Sequence[tuple[Any, ...]],
    *,
    returning: str | None = None,
) -> list[Any]:
    """Insert ``rows`` of ``columns`` in one statement, in their order;
    the ``returning`` column of the new rows, if asked for."""
    if not rows:
        return []
    arrays = tuple(list(column) for column in zip(*rows, strict=True))
    result = conn.exec_driver_sql(_insert_sql(table, columns, returning), arrays)
    return list(result.scalars()) if returning else []


@functools.lru_cache(maxsize=64)
def _insert_sql(table: Table, columns: tuple[str, ...], returning: str | None) -> str:
    """An INSERT of the rows whose columns the arrays give, in the arrays' order."""
    quote = _DIALECT.identifier_preparer.quote
    names = ", ".join(quote(name) for name in columns)
    arrays = ", ".join(f"%b::{_array_type(table.c[name])}" for name in columns)
    sql = (
        f"INSERT INTO {quote(table.name)} ({names}) SELECT {names} "
        f"FROM unnest({arrays}) WITH ORDINALITY AS given ({names}, row_no) ORDER BY row_no"
    )
    return f"{sql} RETURNING {quote(returning)}" if returning else sql


def update_leased(
    conn: Connection, values: Mapping[str, Any], pks: Sequence[int], *, owner: str
) -> None:
    """Set the columns of ``values`` in the messages of ``pks`` whose lease
    ``owner`` holds, in one statement."""
    sql = _update_sql(tuple(values))
    conn.exec_driver_sql(sql, (*values.values(), list(pks), owner))


@functools.lru_cache(maxsize=64)
def _update_sql(columns: tuple[str, ...]) -> str:
    """An UPDATE of ``columns`` in the messages whose ids the array after
    their values gives, where the last parameter holds the lease."""
    quote = _DIALECT.identifier_preparer.quote
    table = s.messages
    sets = ", ".join(f"{quote(name)} = %b::{_type(table.c[name])}" for name in columns)
    # The lease check of ``_decide``: an owner that lost its lease changes nothing.
    return (
        f"UPDATE {quote(table.name)} SET {sets} WHERE id = ANY(%b::{_array_type(table.c.id)}) "
        f"AND lease_owner = %b AND status = '{Status.SENDING.value}'"
    )


def _array_type(column: Column[Any]) -> str:
    """The type of an array of ``column``'s values."""
    return f"{_type(column)}[]"


def _type(column: Column[Any]) -> str:
    """The type of ``column``'s values as a parameter. Without a length: a cast
    to VARCHAR(n) would cut a longer value, which the statement itself refuses."""
    type_ = column.type
    if isinstance(type_, String):
        type_ = type(type_)()
    return type_.compile(dialect=_DIALECT)
