"""The questions of ``adaptsend report``, in SQL that SQLite, PostgreSQL and
Oracle all run.

A report covers a period that may hold millions of attempts. Every query
here returns a bounded result: counts come back aggregated per slice of
time and outcome, per reply or per status; the cap and the silences come
from window functions (``LAG``, ``LEAD``) that the database evaluates, so
only the attempts that mark a change cross the wire.

Expressions with bound values are computed in a subquery and grouped by
name outside it: PostgreSQL and Oracle refuse a GROUP BY whose expression
repeats a bound value, as each repetition is a parameter of its own.

A period holds the attempts that started at or after ``since`` and before
``until``; questions about messages, as they stood at ``until``, are in
``_incident_messages``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    FromClause,
    Integer,
    cast,
    desc,
    func,
    or_,
    select,
)
from sqlalchemy.sql.elements import Over
from sqlalchemy.sql.functions import FunctionElement

from adaptsend._models import Outcome, Reply
from adaptsend.store import _incident_messages, _rows
from adaptsend.store._epoch import epoch_of, epoch_seconds
from adaptsend.store._incident_api import (
    Bucket,
    CapPoint,
    CapSeries,
    Gap,
    ReplyGroup,
)
from adaptsend.store._schema import attempts as a
from adaptsend.store._schema import messages as m

#: How many Message-IDs a group of failures shows as examples.
SAMPLE_SIZE = 3
_REPLY = (a.c.reply_code, a.c.enhanced_code, a.c.reply_text)


def _attempts_of(key: str | None) -> FromClause:
    """The attempts, joined to their messages when a sending key narrows them."""
    return a if key is None else a.join(m, a.c.message_pk == m.c.id)


def _of_key(key: str | None) -> list[ColumnElement[bool]]:
    return [] if key is None else [m.c.sending_key == key]


def _started_in(since: dt.datetime, until: dt.datetime) -> list[ColumnElement[bool]]:
    """The attempt started at or after ``since`` and before ``until``."""
    return [a.c.started_at >= since, a.c.started_at < until]


def _in_key_order(call: FunctionElement[Any]) -> Over[Any]:
    """``call`` as a window over each key's attempts in start order."""
    return call.over(partition_by=m.c.sending_key, order_by=(a.c.started_at, a.c.id))


def sending_keys(conn: Connection) -> list[str]:
    """Every sending key a message was queued under."""
    # The due index leads with the key, so this reads no message row.
    query = select(m.c.sending_key).distinct().order_by(m.c.sending_key)
    return list(conn.execute(query).scalars())


def attempt_span(
    conn: Connection, *, since: dt.datetime, until: dt.datetime, key: str | None
) -> tuple[dt.datetime, dt.datetime] | None:
    """When the first and the last attempt of the period started."""
    query = (
        select(func.min(a.c.started_at), func.max(a.c.started_at))
        .select_from(_attempts_of(key))
        .where(*_started_in(since, until), *_of_key(key))
    )
    first, last = conn.execute(query).one()
    return None if first is None else (first, last)


def attempt_buckets(
    conn: Connection,
    *,
    start: dt.datetime,
    width_s: int,
    count: int,
    until: dt.datetime,
    key: str | None,
) -> list[Bucket]:
    """Attempts per outcome in ``count`` slices of ``width_s`` seconds from
    ``start``, of those that started before ``until``."""
    end = min(start + dt.timedelta(seconds=width_s * count), until)
    offset = (epoch_seconds(a.c.started_at) - epoch_of(start)) / width_s
    sliced = (
        select(cast(func.floor(offset), Integer).label("slot"), a.c.outcome)
        .select_from(_attempts_of(key))
        .where(a.c.started_at >= start, a.c.started_at < end, *_of_key(key))
        .subquery()
    )
    query = select(sliced.c.slot, sliced.c.outcome, func.count().label("n")).group_by(
        sliced.c.slot, sliced.c.outcome
    )
    counts = [dict.fromkeys(Outcome, 0) for _ in range(count)]
    for slot, outcome, n in conn.execute(query):
        # Rounding at a slice's edge may put an attempt one slice off.
        counts[min(max(int(slot), 0), count - 1)][Outcome(outcome)] += int(n)
    step = dt.timedelta(seconds=width_s)
    return [Bucket(start=start + i * step, counts=c) for i, c in enumerate(counts)]


def cap_changes(
    conn: Connection, *, since: dt.datetime, until: dt.datetime, key: str | None
) -> list[CapSeries]:
    """Per key, its first attempt of the period and every attempt after that
    in it whose cap differs from the attempt started before it."""
    seen = (
        select(
            m.c.sending_key,
            a.c.started_at,
            a.c.id,
            a.c.cap,
            _in_key_order(func.lag(a.c.cap)).label("cap_before"),
        )
        .select_from(a.join(m, a.c.message_pk == m.c.id))
        .where(*_started_in(since, until), *_of_key(key))
        .subquery()
    )
    query = (
        select(seen.c.sending_key, seen.c.started_at, seen.c.cap)
        .where(or_(seen.c.cap_before.is_(None), seen.c.cap_before != seen.c.cap))
        .order_by(seen.c.sending_key, seen.c.started_at, seen.c.id)
    )
    series: dict[str, list[CapPoint]] = {}
    for row in conn.execute(query):
        series.setdefault(row.sending_key, []).append(CapPoint(at=row.started_at, cap=row.cap))
    return [CapSeries(sending_key=k, points=tuple(points)) for k, points in series.items()]


def reply_groups(
    conn: Connection, *, since: dt.datetime, until: dt.datetime, key: str | None, limit: int
) -> list[ReplyGroup]:
    """Failed attempts of the period by reply, outcome and rule, largest group first."""
    failed = [*_started_in(since, until), a.c.outcome != Outcome.SENT.value, *_of_key(key)]
    groups = conn.execute(
        select(
            *_REPLY,
            a.c.outcome,
            a.c.rule,
            # Grouping is by reply; a reply seen at several stages shows one.
            func.min(a.c.stage).label("stage"),
            func.count().label("n"),
            func.min(a.c.started_at).label("first_at"),
            func.max(a.c.started_at).label("last_at"),
        )
        .select_from(_attempts_of(key))
        .where(*failed)
        .group_by(*_REPLY, a.c.outcome, a.c.rule)
        .order_by(desc("n"), desc("last_at"))
        .limit(limit)
    ).all()
    return [
        ReplyGroup(
            reply=_rows.reply_from(g.reply_code, g.enhanced_code, g.reply_text, g.stage),
            outcome=Outcome(g.outcome),
            count=int(g.n),
            first_at=g.first_at,
            last_at=g.last_at,
            sample_message_ids=_samples(conn, failed, g),
            rule=g.rule,
        )
        for g in groups
    ]


def _samples(conn: Connection, failed: list[ColumnElement[bool]], g: Any) -> tuple[str, ...]:
    same = [_same(column, getattr(g, column.name)) for column in (*_REPLY, a.c.outcome, a.c.rule)]
    query = (
        select(m.c.message_id)
        .join(a, a.c.message_pk == m.c.id)
        .where(*failed, *same)
        .group_by(m.c.message_id)
        .order_by(desc(func.max(a.c.started_at)), m.c.message_id)
        .limit(SAMPLE_SIZE)
    )
    return tuple(conn.execute(query).scalars())


def _same(column: ColumnElement[Any], value: object) -> ColumnElement[bool]:
    # "= NULL" matches nothing, and not every database spells IS NOT DISTINCT FROM.
    return column.is_(None) if value is None else column == value


def attempt_gaps(
    conn: Connection, *, since: dt.datetime, until: dt.datetime, key: str | None, min_gap_s: float
) -> list[Gap]:
    """Per key, each silence of ``min_gap_s`` or more between attempts of
    the period, and the key's last attempt in it (a gap with no end: the
    silence goes on to ``until`` at least)."""
    followed = (
        select(
            m.c.sending_key,
            a.c.started_at,
            a.c.outcome,
            a.c.stage,
            *_REPLY,
            # Typed, or SQLite hands back its text rather than a time.
            _in_key_order(func.lead(a.c.started_at, type_=a.c.started_at.type)).label("next_at"),
            _in_key_order(func.lead(m.c.created_at, type_=m.c.created_at.type)).label(
                "next_queued_at"
            ),
        )
        .select_from(a.join(m, a.c.message_pk == m.c.id))
        .where(*_started_in(since, until), *_of_key(key))
        .subquery()
    )
    silence = epoch_seconds(followed.c.next_at) - epoch_seconds(followed.c.started_at)
    query = (
        select(followed)
        .where(or_(followed.c.next_at.is_(None), silence >= min_gap_s))
        .order_by(followed.c.sending_key, followed.c.started_at)
    )
    waiting_then = _incident_messages.waiting_keys(conn, until=until, key=key)
    return [
        Gap(
            sending_key=row.sending_key,
            start=row.started_at,
            end=row.next_at,
            waited=(
                row.sending_key in waiting_then
                if row.next_at is None
                else row.next_queued_at <= row.started_at
            ),
            outcome_before=Outcome(row.outcome),
            reply_before=_rows.reply_from(
                row.reply_code, row.enhanced_code, row.reply_text, row.stage
            ),
        )
        for row in conn.execute(query)
    ]


def quota_replies(
    conn: Connection, *, since: dt.datetime, until: dt.datetime, key: str | None, limit: int
) -> list[tuple[str, dt.datetime, Reply]]:
    """Attempts of the period that got a quota reply, in start order."""
    query = (
        select(m.c.sending_key, a.c.started_at, a.c.stage, *_REPLY)
        .select_from(a.join(m, a.c.message_pk == m.c.id))
        .where(*_started_in(since, until), a.c.outcome == Outcome.QUOTA.value, *_of_key(key))
        .order_by(a.c.started_at, a.c.id)
        .limit(limit)
    )
    return [
        (
            row.sending_key,
            row.started_at,
            _rows.reply_from(row.reply_code, row.enhanced_code, row.reply_text, row.stage),
        )
        for row in conn.execute(query)
    ]
