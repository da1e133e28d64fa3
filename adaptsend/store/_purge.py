"""Deleting old history: final messages with their content, attempts and source rows.

A purge goes through the old messages in chunks of ``CHUNK``, one transaction
each, so that however much history goes, no transaction grows large and no
agent waits long for one. Between chunks it rests as long as the chunk took:
SQLite has one write lock, and agents waiting for it must get their turn.

A message may change while the purge looks at it: ``adaptsend retry`` puts
final messages back in the queue and marks their source rows unreported. So on
PostgreSQL and Oracle each chunk first locks the rows it will delete, skipping
any that another transaction holds; a purge never waits for a row, and so never
deadlocks with a retry, and what it skipped waits for the next purge. SQLite has
no row locks: there the chunk's first DELETE takes the write lock, and every
DELETE checks again that its messages may go.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection, Engine, Select, delete, func, select

from adaptsend._models import FINAL_STATUSES
from adaptsend.store import _rows
from adaptsend.store._api import PurgeCounts
from adaptsend.store._schema import attempts as a
from adaptsend.store._schema import message_contents as c
from adaptsend.store._schema import messages as m
from adaptsend.store._schema import source_rows as r

#: Messages deleted per transaction.
CHUNK = 2000

_FINAL = sorted(status.value for status in FINAL_STATUSES)
_NONE = PurgeCounts(messages=0, attempts=0, source_rows=0)


def purgeable(before: dt.datetime) -> ColumnElement[bool]:
    """Final messages last changed before ``before``, except those whose
    outcome the table source has still to write back to the site's row."""
    unreported = select(r.c.message_pk).where(r.c.message_pk == m.c.id, r.c.reported_at.is_(None))
    return m.c.status.in_(_FINAL) & (m.c.updated_at < before) & ~unreported.exists()


def count(conn: Connection, *, before: dt.datetime) -> PurgeCounts:
    """What :func:`delete_old` would delete now."""
    doomed = select(m.c.id).where(purgeable(before))
    messages = select(func.count()).select_from(m).where(purgeable(before))
    attempts = select(func.count()).select_from(a).where(a.c.message_pk.in_(doomed))
    source_rows = select(func.count()).select_from(r).where(r.c.message_pk.in_(doomed))
    return PurgeCounts(
        messages=conn.execute(messages).scalar_one(),
        attempts=conn.execute(attempts).scalar_one(),
        source_rows=conn.execute(source_rows).scalar_one(),
    )


def delete_old(engine: Engine, *, before: dt.datetime) -> PurgeCounts:
    """Delete the purgeable messages and their rows, a chunk per transaction."""
    total = _NONE
    after: int | None = None
    while True:
        started = time.monotonic()
        with engine.begin() as conn:
            ids = list(conn.execute(_next_chunk(before, after)).scalars())
            for batch in _rows.chunks(ids, _rows.IN_CHUNK):
                total = _plus(total, _delete(conn, _lock(conn, batch, before), before))
        if len(ids) < CHUNK:
            return total
        # Messages this chunk skipped would head the next one again; going on
        # after its last id ends the purge however long they stay locked.
        after = ids[-1]
        time.sleep(time.monotonic() - started)


def _next_chunk(before: dt.datetime, after: int | None) -> Select[Any]:
    which = purgeable(before)
    if after is not None:
        which &= m.c.id > after
    return select(m.c.id).where(which).order_by(m.c.id).limit(CHUNK)


def _lock(conn: Connection, ids: Sequence[int], before: dt.datetime) -> list[int]:
    """Lock those of ``ids`` that may still go, and their source rows; leave
    out any message whose row or source row another transaction holds."""
    held = list(
        conn.execute(
            select(m.c.id)
            .where(m.c.id.in_(ids), purgeable(before))
            .with_for_update(skip_locked=True)
        ).scalars()
    )
    if not held:
        return []
    linked = list(conn.execute(select(r.c.message_pk).where(r.c.message_pk.in_(held))).scalars())
    if not linked:
        return held
    lock_linked = select(r.c.message_pk).where(r.c.message_pk.in_(linked))
    # A source row held elsewhere belongs to a retry that is marking it unreported.
    busy = set(linked) - set(conn.execute(lock_linked.with_for_update(skip_locked=True)).scalars())
    return [pk for pk in held if pk not in busy]


def _delete(conn: Connection, ids: Sequence[int], before: dt.datetime) -> PurgeCounts:
    """Delete the messages ``ids`` that may still go, children first."""
    if not ids:
        return _NONE
    # Checked again in every statement: on SQLite, ``ids`` were read before
    # this transaction took the write lock.
    doomed = select(m.c.id).where(m.c.id.in_(ids), purgeable(before))
    attempts = conn.execute(delete(a).where(a.c.message_pk.in_(doomed))).rowcount
    conn.execute(delete(c).where(c.c.message_pk.in_(doomed)))
    source_rows = conn.execute(delete(r).where(r.c.message_pk.in_(doomed))).rowcount
    messages = conn.execute(delete(m).where(m.c.id.in_(ids), purgeable(before))).rowcount
    return PurgeCounts(messages=messages, attempts=attempts, source_rows=source_rows)


def _plus(x: PurgeCounts, y: PurgeCounts) -> PurgeCounts:
    return PurgeCounts(
        messages=x.messages + y.messages,
        attempts=x.attempts + y.attempts,
        source_rows=x.source_rows + y.source_rows,
    )
