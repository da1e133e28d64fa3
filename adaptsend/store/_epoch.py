"""A stored time as seconds since 1970, in each database's own spelling.

Reports count attempts per slice of time and measure silences between them
in SQL, so that a busy day's attempts are aggregated by the database rather
than read row by row. The three databases share no way to turn a timestamp
into a number; this construct writes each one's.

Oracle's spelling goes through DATE and so drops fractions of a second; the
reports use it for slices of a second or more.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Float
from sqlalchemy.exc import CompileError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

_UNIX_EPOCH = dt.datetime(1970, 1, 1)


class epoch_seconds(FunctionElement[float]):
    """``epoch_seconds(column)``: the naive UTC time in ``column`` as seconds
    since 1970-01-01, a floating-point number."""

    type = Float()
    name = "epoch_seconds"
    inherit_cache = True


def _argument(element: epoch_seconds, compiler: SQLCompiler, **kw: Any) -> str:
    [column] = element.clauses
    return compiler.process(column, **kw)


@compiles(epoch_seconds)
def _unknown(element: epoch_seconds, compiler: SQLCompiler, **kw: Any) -> str:
    raise CompileError(f"reports know SQLite, PostgreSQL and Oracle, not {compiler.dialect.name}")


@compiles(epoch_seconds, "sqlite")
def _sqlite(element: epoch_seconds, compiler: SQLCompiler, **kw: Any) -> str:
    # SQLite keeps times as text and counts in whole milliseconds. Whole
    # seconds, then the seconds of the minute with milliseconds ("07.250"),
    # give the time exactly to the millisecond; julianday() * 86400 would be
    # off by a little, and put an attempt on a slice's edge in the slice before.
    x = _argument(element, compiler, **kw)
    return (
        f"(CAST(strftime('%s', {x}) AS INTEGER) - CAST(strftime('%S', {x}) AS INTEGER)"
        f" + CAST(strftime('%f', {x}) AS REAL))"
    )


@compiles(epoch_seconds, "postgresql")
def _postgresql(element: epoch_seconds, compiler: SQLCompiler, **kw: Any) -> str:
    # EXTRACT gives numeric; as a double it mixes with the bound floats.
    return f"CAST(EXTRACT(EPOCH FROM {_argument(element, compiler, **kw)}) AS DOUBLE PRECISION)"


@compiles(epoch_seconds, "oracle")
def _oracle(element: epoch_seconds, compiler: SQLCompiler, **kw: Any) -> str:
    # DATE minus DATE is a number of days; a TIMESTAMP minus one is an interval.
    return f"((CAST({_argument(element, compiler, **kw)} AS DATE) - DATE '1970-01-01') * 86400)"


def epoch_of(when: dt.datetime) -> float:
    """A naive UTC time as seconds since 1970, as :class:`epoch_seconds` counts."""
    return (when - _UNIX_EPOCH).total_seconds()
