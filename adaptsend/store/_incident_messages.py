"""The report's questions about messages, as they stood at the end of a period.

A message row holds its present state only, and ``updated_at`` moves with
every change of it (a claim, an outcome, a requeue). So a row last changed
before the period's end (``until``) shows its state at that end exactly. A
row changed after it shows what happened later; what it was at ``until``
is read from its attempts that started before then:

- it had not ended (whatever its status now);
- its status was ``retry`` if an attempt before ``until`` counted against
  it (any outcome but ``quota`` and ``fatal``, which send a message back as
  it was), else ``queued``. A claim under way at ``until`` reads as one of
  these, not as ``sending``;
- its attempts and throttles, and its latest reply, are those of the
  attempts before ``until``; when it was due next is not known.

A message that ``adaptsend retry`` took back from ``failed`` or ``dead``
after ``until`` counts as waiting at ``until``: the row no longer says it
had ended. With ``until`` the present, every row is unchanged since, and
these are the messages' present states.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import attrs
from sqlalchemy import (
    ColumnElement,
    Connection,
    and_,
    case,
    desc,
    exists,
    func,
    literal,
    or_,
    select,
)

from adaptsend._models import FINAL_STATUSES, Outcome, Reply, Status
from adaptsend.store import _rows
from adaptsend.store._epoch import epoch_seconds
from adaptsend.store._incident_api import MessageWait
from adaptsend.store._schema import attempts as a
from adaptsend.store._schema import messages as m

_FINAL = sorted(s.value for s in FINAL_STATUSES)
_WAITING = sorted(s.value for s in Status if s not in FINAL_STATUSES)
#: Outcomes that send a message back untouched: no attempt counted.
_UNCOUNTED = sorted(o.value for o in (Outcome.QUOTA, Outcome.FATAL))
_THROTTLES = sorted(o.value for o in (Outcome.THROTTLED, Outcome.RATE))

_MESSAGE_COLUMNS = (
    m.c.id,
    m.c.message_id,
    m.c.sending_key,
    m.c.status,
    m.c.created_at,
    m.c.updated_at,
    m.c.next_attempt_at,
    m.c.attempts,
    m.c.throttles,
    m.c.last_code,
    m.c.last_enhanced,
    m.c.last_text,
    m.c.last_stage,
)


def _of_key(key: str | None) -> list[ColumnElement[bool]]:
    return [] if key is None else [m.c.sending_key == key]


def _ended_in(since: dt.datetime, until: dt.datetime) -> ColumnElement[bool]:
    """The message ended (sent, failed, dead) at or after ``since``, before ``until``."""
    return and_(m.c.status.in_(_FINAL), m.c.updated_at >= since, m.c.updated_at < until)


def waiting_at(until: dt.datetime) -> ColumnElement[bool]:
    """The message was queued before ``until`` and had not ended by then."""
    not_ended = or_(m.c.status.in_(_WAITING), m.c.updated_at >= until)
    return and_(m.c.created_at < until, not_ended)


def _status_at(until: dt.datetime) -> ColumnElement[Any]:
    """The message's status at ``until`` (see the module's docstring)."""
    counted = exists().where(
        a.c.message_pk == m.c.id, a.c.started_at < until, a.c.outcome.not_in(_UNCOUNTED)
    )
    return case(
        (m.c.updated_at < until, m.c.status),
        (counted, literal(Status.RETRY.value)),
        else_=literal(Status.QUEUED.value),
    )


def status_counts(
    conn: Connection, *, since: dt.datetime, until: dt.datetime, key: str | None
) -> dict[Status, int]:
    """Messages per status at ``until``: those that ended in the period, and
    every one queued before ``until`` that had not ended by then."""
    # Grouped by name outside: the status expression repeats a bound value.
    then = (
        select(_status_at(until).label("status_then"))
        .where(or_(_ended_in(since, until), waiting_at(until)), *_of_key(key))
        .subquery()
    )
    query = select(then.c.status_then, func.count()).group_by(then.c.status_then)
    found = {status: int(n) for status, n in conn.execute(query)}
    return {status: found.get(status.value, 0) for status in Status}


def waiting_keys(conn: Connection, *, until: dt.datetime, key: str | None) -> set[str]:
    """The sending keys with a message waiting at ``until``."""
    query = select(m.c.sending_key).distinct().where(waiting_at(until), *_of_key(key))
    return set(conn.execute(query).scalars())


def slowest_messages(
    conn: Connection, *, since: dt.datetime, until: dt.datetime, key: str | None, limit: int
) -> list[MessageWait]:
    """Messages that ended in the period, longest from queueing to end first."""
    waited = (epoch_seconds(m.c.updated_at) - epoch_seconds(m.c.created_at)).label("waited_s")
    query = (
        select(*_MESSAGE_COLUMNS, waited)
        .where(_ended_in(since, until), *_of_key(key))
        .order_by(desc("waited_s"), m.c.id)
        .limit(limit)
    )
    return [
        _wait(row, status=row.status, ended_at=row.updated_at, waited_s=row.waited_s)
        for row in conn.execute(query)
    ]


def oldest_waiting(
    conn: Connection, *, until: dt.datetime, key: str | None, limit: int
) -> list[MessageWait]:
    """Messages waiting at ``until``, first queued first, as they stood then."""
    query = (
        select(*_MESSAGE_COLUMNS, _status_at(until).label("status_then"))
        .where(waiting_at(until), *_of_key(key))
        .order_by(m.c.created_at, m.c.id)
        .limit(limit)
    )
    rows = list(conn.execute(query))
    changed = [row.id for row in rows if row.updated_at >= until]
    before = _attempts_before(conn, changed, until) if changed else {}
    waits = []
    for row in rows:
        waited_s = (until - row.created_at).total_seconds()
        wait = _wait(row, status=row.status_then, ended_at=None, waited_s=waited_s)
        if row.id in before:
            attempts, throttles, reply = before[row.id]
            wait = attrs.evolve(
                wait,
                attempts=attempts,
                throttles=throttles,
                next_attempt_at=None,
                last_reply=reply,
            )
        waits.append(wait)
    return waits


def _wait(row: Any, *, status: str, ended_at: dt.datetime | None, waited_s: float) -> MessageWait:
    """A message row as the report shows it: ended at ``ended_at``, or
    waiting (with when it is due next) when that is None."""
    return MessageWait(
        message_id=row.message_id,
        sending_key=row.sending_key,
        status=Status(status),
        queued_at=row.created_at,
        ended_at=ended_at,
        waited_s=max(0.0, float(waited_s)),
        attempts=row.attempts,
        throttles=row.throttles,
        next_attempt_at=row.next_attempt_at if ended_at is None else None,
        last_reply=_rows.last_reply(row),
    )


def _attempts_before(
    conn: Connection, pks: list[int], until: dt.datetime
) -> dict[int, tuple[int, int, Reply | None]]:
    """Per message: attempts and throttles counted before ``until``, and the
    reply of its latest attempt before then."""
    before = [a.c.message_pk.in_(pks), a.c.started_at < until]
    throttle = a.c.outcome.in_(_THROTTLES)
    counted = and_(a.c.outcome.not_in(_UNCOUNTED), ~throttle)
    tally = select(
        a.c.message_pk,
        func.sum(case((counted, 1), else_=0)).label("tries"),
        func.sum(case((throttle, 1), else_=0)).label("throttles"),
    )
    found: dict[int, tuple[int, int, Reply | None]] = dict.fromkeys(pks, (0, 0, None))
    for row in conn.execute(tally.where(*before).group_by(a.c.message_pk)):
        found[row.message_pk] = (int(row.tries or 0), int(row.throttles or 0), None)
    latest = (
        select(
            a.c.message_pk,
            a.c.stage,
            a.c.reply_code,
            a.c.enhanced_code,
            a.c.reply_text,
            func.row_number()
            .over(partition_by=a.c.message_pk, order_by=(desc(a.c.started_at), desc(a.c.id)))
            .label("newest"),
        )
        .where(*before)
        .subquery()
    )
    for row in conn.execute(select(latest).where(latest.c.newest == 1)):
        reply = _rows.reply_from(row.reply_code, row.enhanced_code, row.reply_text, row.stage)
        tries, throttles, _ = found[row.message_pk]
        found[row.message_pk] = (tries, throttles, reply)
    return found
