"""The database's clock, read in SQL: one clock that every agent's lease meets.

Agents on several machines disagree about the time; a lease written by one
and judged by another on its own clock would end early or late by their
difference (an agent 12 s ahead took slots that were still held). So every
lease expiry is written and compared with the time the database computes in
the same statement:

- PostgreSQL: ``now()`` (the transaction's start) in UTC;
- Oracle: ``SYS_EXTRACT_UTC(SYSTIMESTAMP)``;
- SQLite: the machine's UTC clock as SQLite reads it (one file serves one
  machine), written in the text SQLAlchemy stores for a time, so that it
  compares with the stored times as text.

PostgreSQL's ``now()`` stays the same for a whole transaction; every
statement here is in a short one.

Times are naive UTC, as in every column of the store.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import DateTime, Float, bindparam, exc
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.elements import BindParameter, ColumnElement
from sqlalchemy.sql.functions import FunctionElement

#: SQLite's time to the millisecond, padded to the microseconds SQLAlchemy
#: writes: to the millisecond's end, so that a time the process wrote in this
#: millisecond (a message queued just now) is not yet to come.
_SQLITE_NOW = "strftime('%Y-%m-%d %H:%M:%f', 'now'{}) || '999'"
_POSTGRES_NOW = "(now() AT TIME ZONE 'UTC')"
_ORACLE_NOW = "SYS_EXTRACT_UTC(SYSTIMESTAMP)"


class _Now(FunctionElement[dt.datetime]):
    """The database's time now."""

    type = DateTime()
    name = "db_now"
    inherit_cache = True


class _Later(FunctionElement[dt.datetime]):
    """The database's time now plus the seconds of the one argument."""

    type = DateTime()
    name = "db_later"
    inherit_cache = True


def now() -> ColumnElement[dt.datetime]:
    """The database's time, naive UTC."""
    return _Now()


def later(seconds: float | BindParameter[Any]) -> ColumnElement[dt.datetime]:
    """The database's time ``seconds`` from now (a number, or a parameter
    that a built-once statement fills in), naive UTC."""
    if not isinstance(seconds, BindParameter):
        seconds = bindparam(None, seconds, type_=Float())
    return _Later(seconds)


@compiles(_Now)
@compiles(_Later)
def _unknown(element: FunctionElement[Any], compiler: Any, **kw: Any) -> str:
    dialect = compiler.dialect.name
    raise exc.CompileError(f"The store does not know how to read the clock of {dialect}.")


@compiles(_Now, "postgresql")
def _postgres_now(element: _Now, compiler: Any, **kw: Any) -> str:
    return _POSTGRES_NOW


@compiles(_Later, "postgresql")
def _postgres_later(element: _Later, compiler: Any, **kw: Any) -> str:
    seconds = compiler.process(element.clauses, **kw)
    return f"({_POSTGRES_NOW} + make_interval(secs => {seconds}))"


@compiles(_Now, "oracle")
def _oracle_now(element: _Now, compiler: Any, **kw: Any) -> str:
    return _ORACLE_NOW


@compiles(_Later, "oracle")
def _oracle_later(element: _Later, compiler: Any, **kw: Any) -> str:
    seconds = compiler.process(element.clauses, **kw)
    # TIMESTAMP + INTERVAL DAY TO SECOND is a TIMESTAMP.
    return f"({_ORACLE_NOW} + NUMTODSINTERVAL({seconds}, 'SECOND'))"


@compiles(_Now, "sqlite")
def _sqlite_now(element: _Now, compiler: Any, **kw: Any) -> str:
    return f"({_SQLITE_NOW.format('')})"


@compiles(_Later, "sqlite")
def _sqlite_later(element: _Later, compiler: Any, **kw: Any) -> str:
    seconds = compiler.process(element.clauses, **kw)
    # printf, not the number's own text: SQLite's modifiers take no exponent.
    shift = ", printf('%.6f seconds', " + seconds + ")"
    return f"({_SQLITE_NOW.format(shift)})"
