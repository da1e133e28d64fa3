"""Shared message-rate buckets: tokens taken on the database's clock.

A take is one short transaction: an UPDATE that locks the key's row (every
database lets one transaction at a time change a row, so agents taking at
once take in turn), a read of the row with the database's time, and an
UPDATE with what is left. The refill is worked out in Python from the two
times, so the SQL is the same on every database. The first UPDATE comes
before any read, so SQLite takes its write lock at once instead of turning
a reader into a writer.

PostgreSQL's ``now()`` is the time its transaction began, before it waited
for the lock: a take that waited may read a time older than the one the
previous take wrote. The refill then counts no time at all, and the
bucket's time never goes back: tokens come late by the wait, never early.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Connection, Engine, exc, insert, select, update

from adaptsend._errors import StoreError
from adaptsend.limits._rate import bucket_capacity
from adaptsend.store import _clock
from adaptsend.store._rate_api import TokenGrant
from adaptsend.store._rows import AnyRow
from adaptsend.store._schema import message_rates as r

#: Tries at making a key's row when other agents make it at the same moment.
_TRIES = 3
#: A refill that ends exactly on time may fall short of a token by a rounding error.
_ROUNDING = 1e-9


def take(
    engine: Engine, *, sending_key: str, per_minute: float, least: int, most: int
) -> TokenGrant:
    """Take between ``least`` and ``most`` tokens from the key's bucket, or none."""
    capacity = bucket_capacity(per_minute)
    if not 1 <= least <= min(most, capacity):
        raise ValueError(f"cannot take {least} to {most} tokens from a bucket of {capacity:g}")
    for _ in range(_TRIES):
        try:
            with engine.begin() as conn:
                if not _lock(conn, sending_key):
                    _make(conn, sending_key, per_minute, capacity)
                return _take_locked(conn, sending_key, per_minute, least, most)
        except exc.IntegrityError:
            # Another agent made the row first: take from it.
            continue
    raise StoreError(f"The message rate of {sending_key} could not be read or created.")


def _lock(conn: Connection, sending_key: str) -> bool:
    stmt = update(r).where(r.c.sending_key == sending_key).values(version=r.c.version + 1)
    return conn.execute(stmt).rowcount == 1


def _make(conn: Connection, sending_key: str, per_minute: float, capacity: float) -> None:
    values = {
        "sending_key": sending_key,
        "per_minute": per_minute,
        "tokens": capacity,
        "refilled_at": _clock.now(),
        "version": 0,
    }
    conn.execute(insert(r).values(values))


def _take_locked(
    conn: Connection, sending_key: str, per_minute: float, least: int, most: int
) -> TokenGrant:
    query = select(r, _clock.now().label("clock_now")).where(r.c.sending_key == sending_key)
    row = conn.execute(query).one()
    tokens, refilled_at = _refilled(row, capacity=bucket_capacity(per_minute))
    if tokens + _ROUNDING >= least:
        granted = min(most, int(tokens + _ROUNDING))
        grant = TokenGrant(granted=granted)
        tokens -= granted
    else:
        grant = TokenGrant(granted=0, wait_s=(least - tokens) / (per_minute / 60))
    conn.execute(
        update(r)
        .where(r.c.sending_key == sending_key)
        .values(tokens=tokens, refilled_at=refilled_at, per_minute=per_minute)
    )
    return grant


def _refilled(row: AnyRow, *, capacity: float) -> tuple[float, dt.datetime]:
    """The tokens the bucket holds at the database's now, and that time (never
    earlier than the last refill), refilled at the rate it had until now."""
    earned_s = max(0.0, (row.clock_now - row.refilled_at).total_seconds())
    tokens = min(capacity, row.tokens + earned_s * row.per_minute / 60)
    return tokens, max(row.refilled_at, row.clock_now)
