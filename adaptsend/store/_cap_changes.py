"""The SQL store's history of the limits, in the ``cap_changes`` table
(``adaptsend.store._cap_change_api.CapChangeStore``): written, read by period, and
trimmed by the purge."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Engine, delete, func, insert, select

from adaptsend.store import _rows
from adaptsend.store._cap_change_api import CapChangeRecord, LimitKind
from adaptsend.store._schema import cap_changes as cc

#: Rows deleted per transaction by a purge.
CHUNK = 2000


class CapChangeMethods:
    """Mixed into SQLStore, which gives the engine."""

    engine: Engine

    def record_cap_changes(self, changes: Sequence[CapChangeRecord]) -> None:
        """Write ``changes`` in one transaction."""
        with self.engine.begin() as conn:
            write(conn, changes)

    def cap_changes(
        self,
        *,
        since: dt.datetime,
        until: dt.datetime | None = None,
        sending_key: str | None = None,
    ) -> list[CapChangeRecord]:
        """The changes made in ``[since, until)``, of one key if given, oldest first."""
        with self.engine.connect() as conn:
            return read(conn, since=since, until=until, sending_key=sending_key)


def write(conn: Connection, changes: Sequence[CapChangeRecord]) -> None:
    if changes:
        conn.execute(insert(cc), [_params(change) for change in changes])


def _params(change: CapChangeRecord) -> dict[str, Any]:
    return {
        "sending_key": change.sending_key,
        "agent": change.agent,
        "changed_at": change.changed_at,
        "kind": change.kind.value,
        "old_value": change.old_value,
        "new_value": change.new_value,
        "reason": change.reason,
        "ceiling": change.ceiling,
    }


def read(
    conn: Connection,
    *,
    since: dt.datetime,
    until: dt.datetime | None,
    sending_key: str | None,
) -> list[CapChangeRecord]:
    which = cc.c.changed_at >= since
    if until is not None:
        which &= cc.c.changed_at < until
    if sending_key is not None:
        which &= cc.c.sending_key == sending_key
    stmt = select(cc).where(which).order_by(cc.c.changed_at, cc.c.id)
    return [_record(row) for row in conn.execute(stmt)]


def _record(row: _rows.AnyRow) -> CapChangeRecord:
    return CapChangeRecord(
        sending_key=row.sending_key,
        agent=row.agent,
        changed_at=row.changed_at,
        kind=LimitKind(row.kind),
        old_value=row.old_value,
        new_value=row.new_value,
        reason=row.reason,
        ceiling=row.ceiling,
    )


def count_old(conn: Connection, *, before: dt.datetime) -> int:
    """How many changes :func:`delete_old` would delete now."""
    stmt = select(func.count()).select_from(cc).where(cc.c.changed_at < before)
    return int(conn.execute(stmt).scalar_one())


def delete_old(engine: Engine, *, before: dt.datetime) -> int:
    """Delete the changes made before ``before``, a chunk per transaction,
    resting between chunks as ``_purge`` does; returns how many went."""
    deleted = 0
    while True:
        started = time.monotonic()
        with engine.begin() as conn:
            chunk = select(cc.c.id).where(cc.c.changed_at < before).order_by(cc.c.id).limit(CHUNK)
            ids = list(conn.execute(chunk).scalars())
            for batch in _rows.chunks(ids, _rows.IN_CHUNK):
                deleted += conn.execute(delete(cc).where(cc.c.id.in_(batch))).rowcount
        if len(ids) < CHUNK:
            return deleted
        time.sleep(time.monotonic() - started)
