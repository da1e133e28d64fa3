"""Inserting new messages and their contents, shared by every way of queueing."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from sqlalchemy import Connection, insert

from adaptsend._models import Envelope
from adaptsend.store import _rows
from adaptsend.store import _schema as s

#: Rows per executemany batch when queueing, so memory stays flat.
ENQUEUE_CHUNK = 1000


def insert_messages(
    conn: Connection, envelopes: Iterable[Envelope], *, sending_key: str, now: dt.datetime
) -> list[int]:
    """Queue messages due ``now`` in the caller's transaction; their ids in order."""
    stmt = insert(s.messages).returning(s.messages.c.id, sort_by_parameter_order=True)
    ids: list[int] = []
    for batch in _rows.chunks(envelopes, ENQUEUE_CHUNK):
        params = [_rows.envelope_params(e, sending_key=sending_key, now=now) for e in batch]
        batch_ids = list(conn.execute(stmt, params).scalars())
        contents = [
            {"message_pk": pk, "content": e.content} for pk, e in zip(batch_ids, batch, strict=True)
        ]
        conn.execute(insert(s.message_contents), contents)
        ids.extend(batch_ids)
    return ids
