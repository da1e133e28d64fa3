"""Inserting new messages and their contents, shared by every way of queueing."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Literal

from sqlalchemy import Connection, insert

from adaptsend._models import Envelope
from adaptsend.store import _postgres_fast, _rows, _sqlite_fast
from adaptsend.store import _schema as s

#: Rows per executemany batch when queueing, so memory stays flat.
ENQUEUE_CHUNK = 1000

#: The database whose own way of writing many rows a store takes (see
#: ``_sqlite_fast`` and ``_postgres_fast``), or None for the way every database takes.
FastWay = Literal["sqlite", "postgres"] | None


def insert_messages(
    conn: Connection,
    envelopes: Iterable[Envelope],
    *,
    sending_key: str,
    now: dt.datetime,
    fast: FastWay,
) -> list[int]:
    """Queue messages due ``now`` in the caller's transaction; their ids in order."""
    insert_batch = _BATCH_INSERTS[fast]
    ids: list[int] = []
    for batch in _rows.chunks(envelopes, ENQUEUE_CHUNK):
        ids.extend(insert_batch(conn, batch, sending_key=sending_key, now=now))
    return ids


def _insert_batch(
    conn: Connection, envelopes: Sequence[Envelope], *, sending_key: str, now: dt.datetime
) -> list[int]:
    stmt = insert(s.messages).returning(s.messages.c.id, sort_by_parameter_order=True)
    params = [_rows.envelope_params(e, sending_key=sending_key, now=now) for e in envelopes]
    ids = list(conn.execute(stmt, params).scalars())
    contents = [
        {"message_pk": pk, "content": e.content} for pk, e in zip(ids, envelopes, strict=True)
    ]
    conn.execute(insert(s.message_contents), contents)
    return ids


_BATCH_INSERTS = {
    None: _insert_batch,
    "sqlite": _sqlite_fast.insert_messages,
    "postgres": _postgres_fast.insert_messages,
}
