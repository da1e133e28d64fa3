"""The log store on SQLAlchemy Core: SQLite by default, server databases by URL."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

from sqlalchemy import Engine, case, exc, func, insert, select, update

from adaptsend._errors import StoreError
from adaptsend._models import (
    FINAL_STATUSES,
    AttemptRecord,
    ClaimedMessage,
    Decision,
    Envelope,
    Status,
    utcnow,
)
from adaptsend._store_api import FailureGroup, MessageState, SchemaOutOfDate
from adaptsend.store import _claim, _decide, _engine, _reports, _rows
from adaptsend.store import _schema as s

#: Rows per executemany batch when queueing, so memory stays flat.
ENQUEUE_CHUNK = 1000


def open_store(url: str) -> SQLStore:
    """Open (and for a new database, create) the store at ``url``.

    Raises StoreError with one sentence, never showing a password, when the URL
    is wrong, the driver is missing or the database cannot be reached.
    """
    parsed = _engine.parse_url(url)
    engine = _engine.build_engine(parsed)
    try:
        _prepare_schema(engine)
    except exc.SQLAlchemyError as e:
        engine.dispose()
        reason = str(getattr(e, "orig", None) or e).splitlines()[0]
        raise StoreError(f"Cannot open the store at {_engine.safe(parsed)}: {reason}.") from None
    except StoreError:
        engine.dispose()
        raise
    return SQLStore(engine)


def _prepare_schema(engine: Engine) -> None:
    s.metadata.create_all(engine)
    with engine.begin() as conn:
        found = conn.execute(select(func.max(s.schema_info.c.revision))).scalar()
        if found is None:
            conn.execute(insert(s.schema_info).values(revision=s.SCHEMA_REVISION))
        elif found < s.SCHEMA_REVISION:
            raise SchemaOutOfDate(
                f"The store's tables are at revision {found} but this adaptsend needs "
                f"revision {s.SCHEMA_REVISION}; upgrade the database first."
            )
        elif found > s.SCHEMA_REVISION:
            raise StoreError(
                f"The store's tables are at revision {found}, newer than this adaptsend "
                f"knows ({s.SCHEMA_REVISION}); upgrade adaptsend."
            )


class SQLStore:
    """A Store on one SQLAlchemy engine. Safe to call from any thread, one call at a time."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def enqueue(self, envelopes: Iterable[Envelope], *, sending_key: str) -> list[int]:
        """Queue messages for sending now, in one transaction; return their ids in order."""
        now = utcnow()
        stmt = insert(s.messages).returning(s.messages.c.id, sort_by_parameter_order=True)
        ids: list[int] = []
        with self.engine.begin() as conn:
            for batch in _rows.chunks(envelopes, ENQUEUE_CHUNK):
                params = [_rows.envelope_params(e, sending_key=sending_key, now=now) for e in batch]
                batch_ids = list(conn.execute(stmt, params).scalars())
                contents = [
                    {"message_pk": pk, "content": e.content}
                    for pk, e in zip(batch_ids, batch, strict=True)
                ]
                conn.execute(insert(s.message_contents), contents)
                ids.extend(batch_ids)
        return ids

    def claim(
        self, *, owner: str, sending_key: str, limit: int, lease_s: float, now: dt.datetime
    ) -> list[ClaimedMessage]:
        """Lease up to ``limit`` due messages for ``owner`` (see the Store protocol)."""
        with self.engine.begin() as conn:
            return _claim.lease(
                conn, owner=owner, sending_key=sending_key, limit=limit, lease_s=lease_s, now=now
            )

    def record(
        self, attempts: Sequence[AttemptRecord], decisions: Sequence[Decision], *, owner: str
    ) -> None:
        """Write attempt rows and apply ``owner``'s decisions in one transaction."""
        now = utcnow()
        with self.engine.begin() as conn:
            if attempts:
                conn.execute(insert(s.attempts), [_rows.attempt_params(r) for r in attempts])
            _decide.apply(conn, decisions, owner=owner, now=now)

    def release(self, *, owner: str, message_pks: Iterable[int] | None = None) -> int:
        """Hand back ``owner``'s untried leases; returns how many."""
        m = s.messages
        tried = (m.c.attempts > 0) | (m.c.throttles > 0)
        now = utcnow()
        stmt = (
            update(m)
            .where(m.c.lease_owner == owner, m.c.status == Status.SENDING.value)
            .values(
                status=case((tried, Status.RETRY.value), else_=Status.QUEUED.value),
                lease_owner=None,
                lease_expires_at=None,
                next_attempt_at=now,
                updated_at=now,
            )
        )
        with self.engine.begin() as conn:
            if message_pks is None:
                return conn.execute(stmt).rowcount
            return sum(
                conn.execute(stmt.where(m.c.id.in_(ids))).rowcount
                for ids in _rows.chunks(message_pks, _rows.IN_CHUNK)
            )

    def next_due(self, *, sending_key: str) -> dt.datetime | None:
        """When the earliest unfinished message of ``sending_key`` becomes due."""
        m = s.messages
        # Final rows have no due time, so the smallest one belongs to an unfinished row.
        query = select(func.min(m.c.next_attempt_at)).where(m.c.sending_key == sending_key)
        with self.engine.connect() as conn:
            return conn.execute(query).scalar()

    def counts(self) -> Mapping[Status, int]:
        """Messages per status, every status present."""
        with self.engine.connect() as conn:
            return _reports.counts(conn)

    def recent_failures(self, *, since: dt.datetime, limit: int) -> list[FailureGroup]:
        """Failed attempts since ``since`` grouped by reply, largest group first."""
        with self.engine.connect() as conn:
            return _reports.recent_failures(conn, since=since, limit=limit)

    def requeue(self, *, statuses: Iterable[Status], since: dt.datetime | None) -> int:
        """Put final messages with one of ``statuses`` back to ``queued`` afresh."""
        m = s.messages
        wanted = [st.value for st in statuses if st in FINAL_STATUSES]
        if not wanted:
            return 0
        now = utcnow()
        stmt = (
            update(m)
            .where(m.c.status.in_(wanted))
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
        if since is not None:
            stmt = stmt.where(m.c.updated_at >= since)
        with self.engine.begin() as conn:
            return conn.execute(stmt).rowcount

    def states(self, message_pks: Sequence[int]) -> list[MessageState]:
        """The current state of the given messages (unknown ids left out), in order."""
        with self.engine.connect() as conn:
            return _reports.states(conn, message_pks)

    def close(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()


if TYPE_CHECKING:
    # Type checkers verify here that SQLStore still fulfils the Store protocol.
    from adaptsend._store_api import Store

    _conforms: type[Store] = SQLStore
