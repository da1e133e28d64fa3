"""Read-only questions about the queue, for status reports and the CLI."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, desc, func, select

from adaptsend._models import Outcome, Status
from adaptsend.store import _rows
from adaptsend.store._api import FailureGroup, MessageState, OldestUnsent
from adaptsend.store._schema import attempts as a
from adaptsend.store._schema import messages as m

#: How many Message-IDs a failure group shows as examples.
SAMPLE_SIZE = 3


def counts(conn: Connection) -> dict[Status, int]:
    """Messages per status, with zeros for statuses no message has."""
    rows = conn.execute(select(m.c.status, func.count()).group_by(m.c.status))
    found: dict[str, int] = {status: n for status, n in rows}
    return {status: int(found.get(status.value, 0)) for status in Status}


def states(conn: Connection, message_pks: Sequence[int]) -> list[MessageState]:
    """The state of each given message that exists, in the given order."""
    cols = (m.c.id, m.c.message_id, m.c.status, m.c.attempts, m.c.throttles)
    last = (m.c.last_code, m.c.last_enhanced, m.c.last_text, m.c.last_stage)
    by_id: dict[int, MessageState] = {}
    for ids in _rows.chunks(dict.fromkeys(message_pks), _rows.IN_CHUNK):
        for row in conn.execute(select(*cols, *last).where(m.c.id.in_(ids))):
            by_id[row.id] = MessageState(
                id=row.id,
                message_id=row.message_id,
                status=Status(row.status),
                attempts=row.attempts,
                throttles=row.throttles,
                last_reply=_rows.last_reply(row),
            )
    return [by_id[pk] for pk in message_pks if pk in by_id]


def recent_failures(conn: Connection, *, since: dt.datetime, limit: int) -> list[FailureGroup]:
    """Failed attempts since ``since`` grouped by reply and the rule that
    judged it, largest group first."""
    failed = and_(a.c.started_at >= since, a.c.outcome != Outcome.SENT.value)
    key = (a.c.reply_code, a.c.enhanced_code, a.c.reply_text, a.c.rule)
    groups = conn.execute(
        select(
            *key,
            # Grouping is by reply and rule; a reply seen at several stages shows one.
            func.min(a.c.stage).label("stage"),
            func.count().label("n"),
            func.max(a.c.started_at).label("last_at"),
        )
        .where(failed)
        .group_by(*key)
        .order_by(desc("n"), desc("last_at"))
        .limit(limit)
    ).all()
    return [_group(conn, failed, g) for g in groups]


def _group(conn: Connection, failed: ColumnElement[bool], g: _rows.AnyRow) -> FailureGroup:
    same_reply = and_(
        _same(a.c.reply_code, g.reply_code),
        _same(a.c.enhanced_code, g.enhanced_code),
        _same(a.c.reply_text, g.reply_text),
        _same(a.c.rule, g.rule),
    )
    samples = conn.execute(
        select(m.c.message_id)
        .join(a, a.c.message_pk == m.c.id)
        .where(failed, same_reply)
        .group_by(m.c.message_id)
        .order_by(desc(func.max(a.c.started_at)), m.c.message_id)
        .limit(SAMPLE_SIZE)
    ).scalars()
    return FailureGroup(
        reply=_rows.reply_from(g.reply_code, g.enhanced_code, g.reply_text, g.stage),
        count=int(g.n),
        last_at=g.last_at,
        sample_message_ids=tuple(samples),
        rule=g.rule,
    )


def _same(column: ColumnElement[Any], value: object) -> ColumnElement[bool]:
    # "= NULL" matches nothing, and not every database spells IS NOT DISTINCT FROM.
    return column.is_(None) if value is None else column == value


def oldest_unsent(conn: Connection, *, sending_key: str) -> OldestUnsent | None:
    """The first-queued message of ``sending_key`` that is not final yet."""
    # Final rows have no due time, so this reads only the unfinished ones.
    row = conn.execute(
        select(m.c.message_id, m.c.created_at, m.c.status)
        .where(m.c.sending_key == sending_key, m.c.next_attempt_at.is_not(None))
        .order_by(m.c.created_at, m.c.id)
        .limit(1)
    ).first()
    if row is None:
        return None
    return OldestUnsent(
        message_id=row.message_id, queued_at=row.created_at, status=Status(row.status)
    )


def unsent_by_key(conn: Connection) -> dict[str, int]:
    """Messages not final yet, per sending key."""
    # Final rows have no due time; the due index covers (sending_key, due).
    rows = conn.execute(
        select(m.c.sending_key, func.count())
        .where(m.c.next_attempt_at.is_not(None))
        .group_by(m.c.sending_key)
    )
    return {key: count for key, count in rows}


def unknown_attempts(conn: Connection) -> int:
    """How many attempts have the outcome ``unknown`` (possibly delivered)."""
    # A count over the attempts, kept without an index of its own: every
    # attempt written would pay for one, and this is asked by a person now
    # and then (``adaptsend status``), on a table that purges keep bounded.
    query = select(func.count()).where(a.c.outcome == Outcome.UNKNOWN.value)
    return int(conn.execute(query).scalar_one())
