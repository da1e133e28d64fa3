"""The ledger of site rows: which were queued as which message, which were
rejected, and which outcomes have been written back (see ``adaptsend.store._source_api``).

A rejected row is recorded as a message too, so that its key is known like
any other and every later reading skips it: a ``failed`` message that was
never tried, with no recipients and no content. Having no content is what
marks it; ``retry`` leaves such messages alone (see ``_requeue``), as there is
nothing to send.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Collection, Sequence

from sqlalchemy import ColumnElement, Connection, Exists, insert, select, update

from adaptsend._models import FINAL_STATUSES, Envelope, Status
from adaptsend.store import _enqueue, _postgres_fast, _rows
from adaptsend.store import _schema as s
from adaptsend.store._schema import message_contents as c
from adaptsend.store._schema import messages as m
from adaptsend.store._schema import source_rows as r
from adaptsend.store._source_api import SourceOutcome

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
    rejected: Sequence[tuple[str, str]] = (),
    sending_key: str,
    now: dt.datetime,
    fast: _enqueue.FastWay,
) -> dict[str, int]:
    """Queue the rows with unknown keys, and record the ``rejected`` ones (key,
    why) as rejected, in the caller's transaction; the first of each key
    counts, queued rows before rejected ones. The unique key makes a
    concurrent duplicate fail the commit. ``fast`` as for
    ``_enqueue.insert_messages``; returns the new messages' ids by key."""
    known = states(conn, source, [key for key, _ in rows] + [key for key, _ in rejected])
    fresh: dict[str, Envelope] = {}
    for key, envelope in rows:
        if key not in known:
            fresh.setdefault(key, envelope)
    refused: dict[str, str] = {}
    for key, reason in rejected:
        if key not in known and key not in fresh:
            refused.setdefault(key, reason)
    pks = _enqueue.insert_messages(
        conn, fresh.values(), sending_key=sending_key, now=now, fast=fast
    )
    new = dict(zip(fresh, pks, strict=True))
    refused_pks = _insert_rejected(conn, refused.values(), sending_key, now)
    new.update(zip(refused, refused_pks, strict=True))
    ledger = [(pk, source, key, now) for key, pk in new.items()]
    if fast == "postgres":
        _postgres_fast.insert_rows(conn, r, _LEDGER_COLUMNS, ledger)
    elif ledger:
        conn.execute(insert(r), [dict(zip(_LEDGER_COLUMNS, row, strict=True)) for row in ledger])
    return new


def _insert_rejected(
    conn: Connection, reasons: Collection[str], sending_key: str, now: dt.datetime
) -> list[int]:
    """The messages standing for rejected rows, final at once; their ids in order."""
    if not reasons:
        return []
    params = [
        {
            # Made up, and never on the wire: the row's own may be what was wrong.
            "message_id": f"<rejected.{uuid.uuid4().hex}@adaptsend.invalid>",
            "sending_key": sending_key,
            # No address of the row is trusted. SMTP's null reverse-path
            # rather than "": Oracle stores an empty string as NULL.
            "sender": "<>",
            "recipients": "[]",
            "status": Status.FAILED.value,
            "attempts": 0,
            "throttles": 0,
            "next_attempt_at": None,
            "created_at": now,
            "updated_at": now,
            "last_text": _rows.clip(reason, s.REPLY_TEXT_LEN),
        }
        for reason in reasons
    ]
    stmt = insert(m).returning(m.c.id, sort_by_parameter_order=True)
    return list(conn.execute(stmt, params).scalars())


def has_content() -> Exists:
    """Whether a message has content, which every message but a rejected row's has."""
    return select(c.c.message_pk).where(c.c.message_pk == m.c.id).exists()


def unreported(conn: Connection, source: str, *, limit: int) -> list[SourceOutcome]:
    """Final messages of ``source`` not marked reported, oldest first."""
    last = (m.c.last_code, m.c.last_enhanced, m.c.last_text, m.c.last_stage)
    query = (
        select(r.c.message_pk, r.c.source_key, m.c.status, m.c.message_id, m.c.attempts)
        .add_columns(m.c.updated_at, *last, c.c.message_pk.label("content_pk"))
        .join(m, m.c.id == r.c.message_pk)
        # A message without content stands for a rejected row (see has_content).
        .outerjoin(c, c.c.message_pk == m.c.id)
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
            rejected=(row.last_text or "not sent") if row.content_pk is None else None,
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
