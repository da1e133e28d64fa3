"""Leasing due messages in one short transaction, so no lock outlives the claim.

A claim marks rows ``sending`` under an owner until a lease expiry, which it
also writes to ``next_attempt_at``: a dead agent's rows come due again when
their leases run out. A live agent renews its leases (:func:`renew`), and a
claim never takes back the claiming owner's own rows, even with their lease
run out: they are in that agent's hands still, and sending them again would
send them twice. Expiry is judged on the database's clock (``_clock``).

How the rows are picked so that two agents never pick the same one depends on
the database:

- ``"update"`` (SQLite, PostgreSQL): one UPDATE whose subquery picks the rows.
  SQLite runs it under its single write lock; PostgreSQL's subquery takes
  ``FOR UPDATE SKIP LOCKED``, so concurrent agents skip each other's rows
  instead of waiting for them.
- ``"cursor"`` (Oracle): Oracle refuses ``FOR UPDATE`` in a subquery, and with
  ``FETCH FIRST`` (ORA-02014). Its ``SKIP LOCKED`` locks a row when it is
  fetched, so the query has no row limit, the claim fetches ``limit`` rows,
  and a second UPDATE marks exactly those.
"""

from __future__ import annotations

import datetime as dt
from operator import itemgetter
from typing import Any, Literal

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Connection,
    Float,
    Integer,
    Select,
    Update,
    bindparam,
    func,
    select,
    update,
)

from adaptsend._models import ClaimedMessage, Status
from adaptsend.store import _clock, _rows
from adaptsend.store._schema import OWNER_LEN
from adaptsend.store._schema import message_contents as c
from adaptsend.store._schema import messages as m

CLAIMABLE = (Status.QUEUED.value, Status.RETRY.value, Status.SENDING.value)
ClaimStyle = Literal["update", "cursor"]
#: What a send needs of the message row; the content is read apart.
_CLAIMED_COLUMNS = (
    m.c.id,
    m.c.message_id,
    m.c.sender,
    m.c.recipients,
    m.c.attempts,
    m.c.throttles,
    m.c.created_at,
)
_SENDING = Status.SENDING.value


def style_for(dialect: str) -> ClaimStyle:
    """The way of claiming that ``dialect`` supports."""
    return "cursor" if dialect == "oracle" else "update"


def _due(
    sending_key: str | BindParameter[str], owner: str | BindParameter[str]
) -> ColumnElement[bool]:
    # ``next_attempt_at`` holds the lease expiry of ``sending`` rows, so expired
    # leases come back through the same index range as queued and retry rows.
    # An owner's own rows stay its own: it still holds them in memory.
    return (
        (m.c.sending_key == sending_key)
        & (m.c.next_attempt_at <= _clock.now())
        & m.c.status.in_(CLAIMABLE)
        & ((m.c.status != _SENDING) | (m.c.lease_owner != owner))
    )


def _lease_values(owner: Any, lease_s: Any) -> dict[str, Any]:
    until = _clock.later(lease_s)
    return {
        "status": _SENDING,
        "lease_owner": owner,
        "lease_expires_at": until,
        "next_attempt_at": until,
        "updated_at": _clock.now(),
    }


def _lease_update() -> Update:
    """The ``"update"`` claim: mark the picked rows and return them.

    The subquery picks the ids of up to ``limit`` due messages, oldest due
    first, locked and skipping rows another transaction holds (SQLite has no
    such clause and leaves it out). Built once, with every value a parameter:
    building it cost more than running it. Parameter names differ from column
    names, which SQLAlchemy reserves for SET.
    """
    owner: BindParameter[str] = bindparam("p_owner")
    due = (
        select(m.c.id)
        .where(_due(bindparam("p_key"), owner))
        .order_by(m.c.next_attempt_at, m.c.id)
        .limit(bindparam("p_limit", type_=Integer()))
        .with_for_update(skip_locked=True)
    )
    return (
        update(m)
        .where(m.c.id.in_(due.scalar_subquery()))
        .values(_lease_values(owner, bindparam("p_lease_s", type_=Float())))
        .returning(*_CLAIMED_COLUMNS)
    )


_LEASE = _lease_update()
#: The contents of a list of messages (kept under ``_rows.IN_CHUNK`` ids).
_CONTENTS = select(c.c.message_pk, c.c.content).where(
    c.c.message_pk.in_(bindparam("p_ids", expanding=True))
)


def locking_query(*, sending_key: str, owner: str) -> Select[Any]:
    """The ``"cursor"`` claim's query: every due row, locked as it is fetched.

    The order matches ``ix_messages_due``, so the database reads the index in
    order and stops when the claim stops fetching; nothing is sorted.
    """
    return (
        select(*_CLAIMED_COLUMNS)
        .where(_due(sending_key, owner))
        .order_by(m.c.next_attempt_at, m.c.id)
        .with_for_update(skip_locked=True)
    )


def mark_statement(ids: list[int], *, owner: str, lease_s: float) -> Update:
    """The ``"cursor"`` claim's second step: lease the rows it fetched."""
    return update(m).where(m.c.id.in_(ids)).values(_lease_values(owner, lease_s))


def lease(
    conn: Connection,
    *,
    style: ClaimStyle,
    owner: str,
    sending_key: str,
    limit: int,
    lease_s: float,
) -> list[ClaimedMessage]:
    """Lease due messages in the caller's transaction; returned in id order."""
    if lease_s <= 0:
        # A zero lease would let another agent take the rows back at once.
        raise ValueError("A claim's lease must last longer than zero seconds.")
    if len(owner) > OWNER_LEN:
        raise ValueError(f"A lease owner name must be at most {OWNER_LEN} characters.")
    if limit <= 0:
        return []
    if style == "update":
        params = dict(p_owner=owner, p_key=sending_key, p_limit=limit, p_lease_s=lease_s)
        rows = list(conn.execute(_LEASE, params).all())
    else:
        rows = _lease_by_cursor(conn, owner, sending_key, limit, lease_s=lease_s)
    # RETURNING gives no order; ids follow enqueue order, close to due order.
    rows.sort(key=itemgetter(0))
    ids = [r[0] for r in rows]
    contents = _contents(conn, ids)
    return [_rows.claimed(r, contents[pk]) for pk, r in zip(ids, rows, strict=True)]


def _lease_by_cursor(
    conn: Connection,
    owner: str,
    sending_key: str,
    limit: int,
    *,
    lease_s: float,
) -> list[_rows.AnyRow]:
    with conn.execute(locking_query(sending_key=sending_key, owner=owner)) as result:
        # The driver may fetch (and so lock) a few rows beyond these; they are
        # free again when the claim commits a moment later.
        rows = list(result.fetchmany(limit))
    for ids in _rows.chunks([r.id for r in rows], _rows.IN_CHUNK):
        conn.execute(mark_statement(ids, owner=owner, lease_s=lease_s))
    return rows


def _contents(conn: Connection, ids: list[int]) -> dict[int, bytes]:
    found: dict[int, bytes] = {}
    for batch in _rows.chunks(ids, _rows.IN_CHUNK):
        rows = conn.execute(_CONTENTS, {"p_ids": batch}).all()
        found.update((pk, bytes(content)) for pk, content in rows)
    return found


def _held_by(owner: str | BindParameter[str]) -> ColumnElement[bool]:
    return (m.c.lease_owner == owner) & (m.c.status == _SENDING)


def _renew_update() -> Update:
    """The ``"update"`` renewal: extend every lease of ``p_owner`` that no
    other transaction is changing. Skipping rather than waiting keeps a
    renewal from ever waiting on (or deadlocking with) the owner's own record
    of an outcome, which ends those leases anyway."""
    owner: BindParameter[str] = bindparam("p_owner")
    mine = select(m.c.id).where(_held_by(owner)).with_for_update(skip_locked=True)
    until = _clock.later(bindparam("p_lease_s", type_=Float()))
    return (
        update(m)
        .where(m.c.id.in_(mine.scalar_subquery()))
        .values(lease_expires_at=until, next_attempt_at=until)
    )


_RENEW = _renew_update()


def renew(conn: Connection, *, style: ClaimStyle, owner: str, lease_s: float) -> int:
    """Extend ``owner``'s leases to the database's now + ``lease_s`` in the
    caller's transaction; returns how many."""
    if lease_s <= 0:
        raise ValueError("A lease must last longer than zero seconds.")
    if style == "update":
        renewed: int = conn.execute(_RENEW, {"p_owner": owner, "p_lease_s": lease_s}).rowcount
        return renewed
    # Oracle allows FOR UPDATE only at the top level: lock by cursor, then mark.
    locking = select(m.c.id).where(_held_by(owner)).with_for_update(skip_locked=True)
    ids = list(conn.execute(locking).scalars())
    until = _clock.later(lease_s)
    return sum(
        conn.execute(
            update(m)
            .where(m.c.id.in_(batch), _held_by(owner))
            .values(lease_expires_at=until, next_attempt_at=until)
        ).rowcount
        for batch in _rows.chunks(ids, _rows.IN_CHUNK)
    )


def next_due(conn: Connection, *, sending_key: str) -> dt.datetime | None:
    """When the earliest unfinished message of ``sending_key`` that no live
    lease holds becomes due; None when there is none."""
    # Final rows have no due time; a live lease is another agent's business
    # (or the caller's own, which it renews), so only an expired one counts.
    unheld = (m.c.status != _SENDING) | (m.c.next_attempt_at <= _clock.now())
    query = select(func.min(m.c.next_attempt_at)).where(m.c.sending_key == sending_key, unheld)
    due: dt.datetime | None = conn.execute(query).scalar()
    return due
