"""Leasing due messages: one conditional UPDATE whose subquery picks the rows.

The only part that differs between databases is how the subquery keeps two
agents from picking the same rows; it lives in :func:`pick_due`.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Connection, Select, Update, select, update

from adaptsend._models import ClaimedMessage, Status
from adaptsend.store import _rows
from adaptsend.store._schema import OWNER_LEN
from adaptsend.store._schema import message_contents as c
from adaptsend.store._schema import messages as m

CLAIMABLE = (Status.QUEUED.value, Status.RETRY.value, Status.SENDING.value)


def pick_due(dialect: str, *, sending_key: str, limit: int, now: dt.datetime) -> Select[tuple[int]]:
    """The ids of up to ``limit`` due messages, oldest due first.

    ``next_attempt_at`` holds the lease expiry of ``sending`` rows, so expired
    leases come back through the same index range as queued and retry rows.
    """
    query = (
        select(m.c.id)
        .where(m.c.sending_key == sending_key, m.c.next_attempt_at <= now)
        .where(m.c.status.in_(CLAIMABLE))
        .order_by(m.c.next_attempt_at, m.c.id)
        .limit(limit)
    )
    if dialect != "sqlite":
        # SQLite runs the whole UPDATE under its single write lock; servers with
        # row locks let concurrent agents skip each other's rows instead of waiting.
        query = query.with_for_update(skip_locked=True)
    return query


def lease_statement(
    dialect: str, *, owner: str, sending_key: str, limit: int, until: dt.datetime, now: dt.datetime
) -> Update:
    """Mark the picked rows ``sending`` under ``owner``; return all a send needs but content."""
    due = pick_due(dialect, sending_key=sending_key, limit=limit, now=now)
    return (
        update(m)
        .where(m.c.id.in_(due.scalar_subquery()))
        .values(
            status=Status.SENDING.value,
            lease_owner=owner,
            lease_expires_at=until,
            next_attempt_at=until,
            updated_at=now,
        )
        .returning(
            m.c.id,
            m.c.message_id,
            m.c.sender,
            m.c.recipients,
            m.c.attempts,
            m.c.throttles,
        )
    )


def lease(
    conn: Connection, *, owner: str, sending_key: str, limit: int, lease_s: float, now: dt.datetime
) -> list[ClaimedMessage]:
    """Lease due messages in the caller's transaction; returned in id order."""
    if lease_s <= 0:
        # A zero lease would let another agent take the rows back at once.
        raise ValueError("A claim's lease must last longer than zero seconds.")
    if len(owner) > OWNER_LEN:
        raise ValueError(f"A lease owner name must be at most {OWNER_LEN} characters.")
    if limit <= 0:
        return []
    until = now + dt.timedelta(seconds=lease_s)
    stmt = lease_statement(
        conn.dialect.name, owner=owner, sending_key=sending_key, limit=limit, until=until, now=now
    )
    # RETURNING gives no order; ids follow enqueue order, close to due order.
    rows = sorted(conn.execute(stmt).all(), key=lambda r: r.id)
    contents = _contents(conn, [r.id for r in rows])
    return [_rows.claimed(r, contents[r.id]) for r in rows]


def _contents(conn: Connection, ids: list[int]) -> dict[int, bytes]:
    found: dict[int, bytes] = {}
    for batch in _rows.chunks(ids, _rows.IN_CHUNK):
        query = select(c.c.message_pk, c.c.content).where(c.c.message_pk.in_(batch))
        found.update((pk, bytes(content)) for pk, content in conn.execute(query))
    return found
