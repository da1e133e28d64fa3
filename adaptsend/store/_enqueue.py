"""Inserting new messages and their contents, shared by every way of queueing."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

from sqlalchemy import Connection, insert

from adaptsend._models import Envelope
from adaptsend.store import _rows, _sqlite_fast
from adaptsend.store import _schema as s

#: Rows per executemany batch when queueing, so memory stays flat.
ENQUEUE_CHUNK = 1000


def insert_messages(
    conn: Connection,
    envelopes: Iterable[Envelope],
    *,
    sending_key: str,
    now: dt.datetime,
    sqlite_fast: bool,
) -> list[int]:
    """Queue messages due ``now`` in the caller's transaction; their ids in order.
    ``sqlite_fast`` takes the SQLite store's way (see ``_sqlite_fast``)."""
    insert_batch = _sqlite_fast.insert_messages if sqlite_fast else _insert_batch
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
