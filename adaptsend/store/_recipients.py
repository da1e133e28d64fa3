"""Recipients charged against a key's daily budget, counted on the database's clock.

A charge is one short transaction: an UPDATE of the key's ``day_budgets``
row first, which locks it (so charges of one key are made one at a time, and
each sees the ones before it), then the agent's settlement, the sum of the
charges that still count, and the new charge if its first message fits.
The first statement writes, so SQLite takes its write lock at once instead
of turning a reader into a writer.

A renewed charge counts from then: ``charged_at`` moves to the database's
now. Agents delete no rows: a new charge is written over the oldest charge
of its key that no longer counts, if there is one, so a key has about as
many rows as pages of messages it sent in a day.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Integer,
    bindparam,
    case,
    exc,
    func,
    insert,
    select,
    update,
)

from adaptsend._errors import StoreError
from adaptsend.store import _clock
from adaptsend.store._day_api import COUNTED_S, DayUsage, RecipientGrant, Settlement
from adaptsend.store._schema import day_budgets as d
from adaptsend.store._schema import recipient_charges as rc

#: Tries at making a key's row when other agents make it at the same moment.
_TRIES = 3


def charge(
    engine: Engine,
    *,
    sending_key: str,
    day_limit: int,
    sizes: Sequence[int],
    settlement: Settlement,
) -> RecipientGrant:
    """Apply ``settlement``, then charge the first messages whose ``sizes`` fit."""
    if not sizes or not all(1 <= size <= day_limit for size in sizes):
        raise ValueError(f"cannot charge messages of {list(sizes)} recipients to {day_limit} a day")
    for _ in range(_TRIES):
        try:
            with engine.begin() as conn:
                if not _lock(conn, sending_key, day_limit):
                    _make(conn, sending_key, day_limit)
                _settle(conn, settlement)
                return _charge_locked(conn, sending_key, day_limit, sizes)
        except exc.IntegrityError:
            # Another agent made the row first: charge against it.
            continue
    raise StoreError(f"The daily recipient budget of {sending_key} could not be read or created.")


def settle(engine: Engine, *, settlement: Settlement) -> None:
    """Give recipients back, and finish charges."""
    if settlement:
        with engine.begin() as conn:
            _settle(conn, settlement)


def usage(engine: Engine) -> list[DayUsage]:
    """The daily budget of every key that has one."""
    used = (
        select(func.coalesce(func.sum(rc.c.recipients), 0))
        .where(rc.c.sending_key == d.c.sending_key, _counting())
        .scalar_subquery()
    )
    query = select(d.c.sending_key, d.c.day_limit, used.label("used")).order_by(d.c.sending_key)
    with engine.connect() as conn:
        return [
            DayUsage(sending_key=row.sending_key, used=int(row.used), day_limit=row.day_limit)
            for row in conn.execute(query)
        ]


def _counting() -> ColumnElement[bool]:
    return rc.c.charged_at > _clock.later(-COUNTED_S)


def _lock(conn: Connection, sending_key: str, day_limit: int) -> bool:
    stmt = (
        update(d)
        .where(d.c.sending_key == sending_key)
        .values(version=d.c.version + 1, day_limit=day_limit, updated_at=_clock.now())
    )
    return conn.execute(stmt).rowcount == 1


def _make(conn: Connection, sending_key: str, day_limit: int) -> None:
    values = {
        "sending_key": sending_key,
        "day_limit": day_limit,
        "version": 0,
        "updated_at": _clock.now(),
    }
    conn.execute(insert(d).values(values))


def _settle(conn: Connection, settlement: Settlement) -> None:
    given = sorted(settlement.given_back.items())
    rows = [{"charge_id": pk, "back": n} for pk, n in given if n > 0]
    if rows:
        back = bindparam("back", type_=Integer())
        stmt = (
            update(rc)
            .where(rc.c.id == bindparam("charge_id"))
            .values(recipients=case((rc.c.recipients > back, rc.c.recipients - back), else_=0))
        )
        conn.execute(stmt, rows)
    if settlement.renewed:
        renew = update(rc).where(rc.c.id == bindparam("charge_id")).values(charged_at=_clock.now())
        conn.execute(renew, [{"charge_id": pk} for pk in sorted(settlement.renewed)])


def _charge_locked(
    conn: Connection, sending_key: str, day_limit: int, sizes: Sequence[int]
) -> RecipientGrant:
    key = rc.c.sending_key == sending_key
    counted = select(func.coalesce(func.sum(rc.c.recipients), 0)).where(key, _counting())
    used = int(conn.execute(counted).scalar_one())
    room = day_limit - used
    count = granted = 0
    while count < len(sizes) and granted + sizes[count] <= room:
        granted += sizes[count]
        count += 1
    if not count:
        wait_s = _wait_for(conn, sending_key, needed=used + sizes[0] - day_limit)
        return RecipientGrant(charge_id=None, messages=0, granted=0, used=used, wait_s=wait_s)
    charge_id = _write_charge(conn, sending_key, granted)
    return RecipientGrant(
        charge_id=int(charge_id), messages=count, granted=granted, used=used + granted
    )


def _write_charge(conn: Connection, sending_key: str, recipients: int) -> int:
    """Write a charge of ``recipients`` now, over the key's oldest charge that
    no longer counts if there is one; its id."""
    values = {"charged_at": _clock.now(), "recipients": recipients}
    spent = (
        select(rc.c.id)
        .where(rc.c.sending_key == sending_key, rc.c.charged_at <= _clock.later(-COUNTED_S))
        .order_by(rc.c.charged_at)
        .limit(1)
    )
    reused = conn.execute(spent).scalar_one_or_none()
    if reused is not None:
        conn.execute(update(rc).where(rc.c.id == reused).values(values))
        return int(reused)
    made = conn.execute(insert(rc).values(sending_key=sending_key, **values))
    [charge_id] = made.inserted_primary_key or (None,)
    if charge_id is None:
        raise StoreError(f"The database gave no id for a charge of {sending_key}'s recipients.")
    return int(charge_id)


def _wait_for(conn: Connection, sending_key: str, *, needed: int) -> float:
    """Seconds until charges of ``needed`` recipients stop counting, oldest first."""
    now: dt.datetime = conn.execute(select(_clock.now())).scalar_one()
    query = (
        select(rc.c.charged_at, rc.c.recipients)
        .where(rc.c.sending_key == sending_key, rc.c.recipients > 0, _counting())
        .order_by(rc.c.charged_at)
    )
    freed = 0
    for charged_at, recipients in conn.execute(query):
        freed += recipients
        if freed >= needed:
            ends = charged_at + dt.timedelta(seconds=COUNTED_S)
            return max(0.0, float((ends - now).total_seconds()))
    # Not reached: a message has at most the limit, so the charges counted free enough.
    return COUNTED_S
