"""Putting final messages back in the queue (``adaptsend retry``).

A rejected row of a site's table is a final message too, but one with nothing
to send (see ``_sources``): it stays as it is, and its row is not written
back again.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from sqlalchemy import ColumnElement, Connection, update

from adaptsend._models import FINAL_STATUSES, Status
from adaptsend.store import _sources
from adaptsend.store._schema import messages as m


def requeue(
    conn: Connection, *, statuses: Iterable[Status], since: dt.datetime | None, now: dt.datetime
) -> int:
    """Put final messages with one of ``statuses`` (changed at or after
    ``since``) back to ``queued`` afresh, in the caller's transaction, and
    mark their source rows unreported; returns how many."""
    wanted = [st.value for st in statuses if st in FINAL_STATUSES]
    if not wanted:
        return 0
    which: ColumnElement[bool] = m.c.status.in_(wanted) & _sources.has_content()
    if since is not None:
        which &= m.c.updated_at >= since
    _sources.unreport(conn, which)
    stmt = (
        update(m)
        .where(which)
        .values(
            status=Status.QUEUED.value,
            attempts=0,
            throttles=0,
            next_attempt_at=now,
            updated_at=now,
            lease_owner=None,
            lease_expires_at=None,
        )
    )
    return conn.execute(stmt).rowcount
