"""Applying a batch of decisions with as few statements as the values allow."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Sequence
from operator import attrgetter
from typing import Any

import attrs
from sqlalchemy import ColumnElement, Connection, Update, bindparam, update

from adaptsend._models import Decision, Status
from adaptsend.store import _postgres_fast, _rows
from adaptsend.store._schema import messages as m

#: A group of decisions this large is cheaper as one UPDATE ... WHERE id IN (...).
MIN_SHARED = 4


#: Everything of a decision but its message: decisions alike in these set
#: identical values.
_shape = attrgetter(*(f.name for f in attrs.fields(Decision) if f.name != "message_pk"))


def apply(
    conn: Connection,
    decisions: Sequence[Decision],
    *,
    owner: str,
    now: dt.datetime,
    postgres_fast: bool = False,
) -> None:
    """Apply ``owner``'s decisions in the caller's transaction; a message whose
    lease ``owner`` no longer holds is left alone. ``postgres_fast`` gives the
    ids of a shared statement as one array (see ``_postgres_fast``)."""
    # Most decisions in a batch are alike ("sent, first attempt, 250 OK"), so
    # rows that get identical values share one statement.
    alike: dict[tuple[Any, ...], list[Decision]] = {}
    for d in decisions:
        alike.setdefault(_shape(d), []).append(d)
    singles: list[tuple[dict[str, Any], int]] = []
    for group in alike.values():
        values = _rows.decision_values(group[0], now=now)
        if len(group) >= MIN_SHARED:
            pks = [d.message_pk for d in group]
            _apply_shared(conn, values, pks, owner=owner, postgres_fast=postgres_fast)
        else:
            singles.extend((values, d.message_pk) for d in group)
    _apply_singles(conn, singles, owner=owner)


def _held_by(owner: ColumnElement[Any] | str) -> ColumnElement[bool]:
    # The lease check turns a decision from an agent that lost its lease into a no-op.
    return (m.c.lease_owner == owner) & (m.c.status == Status.SENDING.value)


#: Built once: building it cost more than running it. The SET clause is made
#: from the columns each execution gives values for.
_SHARED = update(m).where(
    _held_by(bindparam("p_owner")), m.c.id.in_(bindparam("p_ids", expanding=True))
)


def _apply_shared(
    conn: Connection, values: dict[str, Any], pks: list[int], *, owner: str, postgres_fast: bool
) -> None:
    if postgres_fast:
        _postgres_fast.update_leased(conn, values, pks, owner=owner)
        return
    for batch in _rows.chunks(pks, _rows.IN_CHUNK):
        conn.execute(_SHARED, {**values, "p_owner": owner, "p_ids": batch})


def _apply_singles(
    conn: Connection, singles: list[tuple[dict[str, Any], int]], *, owner: str
) -> None:
    # Rows setting the same columns run as one executemany.
    by_columns: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for values, pk in singles:
        params = {f"p_{k}": v for k, v in values.items()}
        params.update(p_id=pk, p_owner=owner)
        by_columns.setdefault(tuple(values), []).append(params)
    for columns, params_list in by_columns.items():
        conn.execute(_single_statement(columns), params_list)


@functools.cache
def _single_statement(columns: tuple[str, ...]) -> Update:
    # Made once per set of columns (a run meets only a few): building the
    # statement cost more than running it for a small batch.
    # Parameter names differ from column names: SQLAlchemy reserves those for SET.
    return (
        update(m)
        .where(m.c.id == bindparam("p_id"), _held_by(bindparam("p_owner")))
        .values({c: bindparam(f"p_{c}") for c in columns})
    )
