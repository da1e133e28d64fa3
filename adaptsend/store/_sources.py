"""The ledger of site rows: which were queued as which message, and which
outcomes have been written back (see ``adaptsend._source_api``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import ColumnElement, Connection, insert, select, update

from adaptsend._models import FINAL_STATUSES, Envelope, Status
from adaptsend._source_api import SourceOutcome
from adaptsend.store import _enqueue, _postgres_fast, _rows
from adaptsend.store._schema import messages as m
from adaptsend.store._schema import source_rows as r

_FINAL = sorted(status.value for status in FINAL_STATUSES)
#: The columns of a new ledger row, in the order ``enqueue`` builds them.
_LEDGER_COLUMNS = ("message_pk", "source_name", "source_key", "queued_at")


def states(conn: Connection, source: str, keys: Sequence[str]) -> dict[str, Status]:
    """The status of the message queued for each known key."""
    found: dict[str, Status] = {}
    for batch in _rows.chunks(dict.fromkeys(keys), _rows.IN_CHUNK):
        query = (
            select(r.c.source_key, m.c.status)
            .join(m, m.c.id == r.c.message_pk)
            .where(r.c.source_name == source, r.c.source_key.in_(batch))
        )
        found.update((key, Status(status)) for key, status in conn.execute(query))
    return found


def enqueue(
    conn: Connection,
    source: str,
    rows: Sequence[tuple[str, Envelope]],
    *,
    sending_key: str,
    now: dt.datetime,
    fast: _enqueue.FastWay,
) -> dict[str, int]:
    """Queue the rows with unknown keys (the first of each key) in the caller's
    transaction; the unique key makes a concurrent duplicate fail the commit.
    ``fast`` as for ``_enqueue.insert_messages``."""
    known = states(conn, source, [key for key, _ in rows])
    fresh: dict[str, Envelope] = {}
    for key, envelope in rows:
        if key not in known:
            fresh.setdefault(key, envelope)
    pks = _enqueue.insert_messages(
        conn, fresh.values(), sending_key=sending_key, now=now, fast=fast
    )
    ledger = [(pk, source, key, now) for pk, key in zip(pks, fresh, strict=True)]
    if fast == "postgres":
        _postgres_fast.insert_rows(conn, r, _LEDGER_COLUMNS, ledger)
    elif ledger:
        conn.execute(insert(r), [dict(zip(_LEDGER_COLUMNS, row, strict=True)) for row in ledger])
    return dict(zip(fresh, pks, strict=True))


def unreported(conn: Connection, source: str, *, limit: int) -> list[SourceOutcome]:
    """Final messages of ``source`` not marked reported, oldest first."""
    last = (m.c.last_code, m.c.last_enhanced, m.c.last_text, m.c.last_stage)
    query = (
        select(r.c.message_pk, r.c.source_key, m.c.status, m.c.message_id, m.c.attempts)
        .add_columns(m.c.updated_at, *last)
        .join(m, m.c.id == r.c.message_pk)
        .where(r.c.source_name == source, r.c.reported_at.is_(None), m.c.status.in_(_FINAL))
        .order_by(r.c.message_pk)
        .limit(limit)
    )
    return [
        SourceOutcome(
            message_pk=row.message_pk,
            key=row.source_key,
            status=Status(row.status),
            message_id=row.message_id,
            attempts=row.attempts,
            last_reply=_rows.last_reply(row),
            finished_at=row.updated_at,
        )
        for row in conn.execute(query)
    ]


def mark_reported(
    conn: Connection, source: str, message_pks: Sequence[int], *, now: dt.datetime
) -> int:
    """Set ``reported_at`` where it is still unset; returns how many rows."""
    stmt = (
        update(r)
        .where(r.c.source_name == source, r.c.reported_at.is_(None))
        .values(reported_at=now)
    )
    return sum(
        conn.execute(stmt.where(r.c.message_pk.in_(batch))).rowcount
        for batch in _rows.chunks(message_pks, _rows.IN_CHUNK)
    )


def unreport(conn: Connection, which: ColumnElement[bool]) -> None:
    """Forget that the outcomes of the messages matching ``which`` were written
    back: they are about to be sent again, and their new outcome goes back too."""
    ids = select(m.c.id).where(which)
    conn.execute(
        update(r)
        .where(r.c.reported_at.is_not(None), r.c.message_pk.in_(ids.scalar_subquery()))
        .values(reported_at=None)
    )
