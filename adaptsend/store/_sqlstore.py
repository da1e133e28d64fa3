"""The log store on SQLAlchemy Core: SQLite by default, server databases by URL."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

import attrs
from sqlalchemy import Engine, case, exc, insert, update
from sqlalchemy.engine import Dialect

from adaptsend._errors import StoreError
from adaptsend._models import (
    AttemptRecord,
    ClaimedMessage,
    Decision,
    Envelope,
    Status,
    utcnow,
)
from adaptsend.config._store_url import parse_url
from adaptsend.store import (
    _cap_changes,
    _claim,
    _clock,
    _decide,
    _engine,
    _enqueue,
    _migrate,
    _postgres_fast,
    _purge,
    _reports,
    _requeue,
    _rows,
    _sqlite_fast,
)
from adaptsend.store import _schema as s
from adaptsend.store._api import (
    FailureGroup,
    MessageState,
    OldestUnsent,
    PurgeCounts,
    SchemaOutOfDate,
)
from adaptsend.store._budget_pauses import BudgetPauseMethods
from adaptsend.store._budgets import BudgetMethods
from adaptsend.store._cap_changes import CapChangeMethods
from adaptsend.store._incident_methods import IncidentMethods
from adaptsend.store._ledger import LedgerMethods
from adaptsend.store._limit_methods import LimitMethods


def open_store(url: str, *, upgrade: bool | None = None) -> SQLStore:
    """Open the store at ``url``, bringing its tables to the newest revision
    when ``upgrade`` is true. By default a SQLite database is created or
    upgraded as needed, and a server database must have been upgraded by
    ``adaptsend db upgrade`` (a DBA's step, with grants an agent lacks).

    Raises StoreError with one sentence, never showing a password, when the URL
    is wrong, the driver is missing, the database cannot be reached, or its
    tables are not at the revision this adaptsend needs (SchemaOutOfDate, which
    names the command that fixes it).
    """
    parsed = parse_url(url)
    engine = _engine.build_engine(parsed)
    if upgrade is None:
        # A SQLite file belongs to adaptsend alone: no DBA to ask, no one to disturb.
        upgrade = engine.dialect.name == "sqlite"
    try:
        _ready_schema(engine, _engine.safe(parsed), upgrade=upgrade)
    except exc.SQLAlchemyError as e:
        engine.dispose()
        raise StoreError(
            f"Cannot open the store at {_engine.safe(parsed)}: {_engine.reason(e)}."
        ) from None
    except StoreError:
        engine.dispose()
        raise
    return SQLStore(engine)


def _ready_schema(engine: Engine, shown: str, *, upgrade: bool) -> None:
    with engine.connect() as conn:
        found = _migrate.state(conn)
    if found.up_to_date:
        return
    if found.newer:
        raise StoreError(
            f"The store at {shown} is at schema revision {', '.join(found.current)}, newer "
            f"than this adaptsend knows ({found.head}); upgrade adaptsend."
        )
    if found.has_tables and not found.current:
        raise StoreError(
            f"The store at {shown} has adaptsend tables but no recorded schema revision "
            "(a development version made them); move them aside and start afresh."
        )
    if upgrade:
        _migrate.upgrade(engine)
        return
    if not found.current:
        raise SchemaOutOfDate(
            f"The store at {shown} has no adaptsend tables yet; run "
            f"`{_migrate.UPGRADE_COMMAND}` to create them."
        )
    raise SchemaOutOfDate(
        f"The store at {shown} is at schema revision {found.current[0]} but this adaptsend "
        f"needs {found.head}; run `{_migrate.UPGRADE_COMMAND}` to bring it up to date."
    )


def _fast_way_wanted(
    wanted: bool | None, suits: Callable[[Dialect], bool], engine: Engine, database: str
) -> bool:
    """Whether a store takes a database's own way of writing rows: by default
    where it suits the engine, and never where it does not."""
    if wanted is None:
        return suits(engine.dialect)
    if wanted and not suits(engine.dialect):
        shown = f"{engine.dialect.name}+{engine.dialect.driver}"
        raise ValueError(f"{database}'s way of writing rows cannot write to {shown}.")
    return wanted


class SQLStore(
    BudgetMethods,
    BudgetPauseMethods,
    LedgerMethods,
    LimitMethods,
    IncidentMethods,
    CapChangeMethods,
):
    """A Store on one SQLAlchemy engine, the table source's ledger (its
    methods are in ``_ledger``), the budgets agents share (``_budgets``), the
    shared rate and daily budgets (``_limit_methods``), what reports read
    (``_incident_methods``) and the history of limits (``_cap_changes``).
    Safe to call from any thread, one call at a time.

    ``claim_style`` picks how claims lock rows (see ``_claim``); by default, the
    one the database supports. Tests choose the other to run Oracle's way on
    the databases they have. ``sqlite_fast`` (on by default on SQLite) writes
    queued messages and attempts the SQLite way (see ``_sqlite_fast``);
    ``postgres_fast`` (on by default on PostgreSQL through psycopg) queues
    messages and the table source's rows, writes attempts and applies
    decisions the PostgreSQL way (see ``_postgres_fast``). Tests turn them off
    to run every database's way on SQLite and PostgreSQL.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        claim_style: _claim.ClaimStyle | None = None,
        sqlite_fast: bool | None = None,
        postgres_fast: bool | None = None,
    ) -> None:
        self.engine = engine
        self.claim_style = claim_style or _claim.style_for(engine.dialect.name)
        self.sqlite_fast = _fast_way_wanted(sqlite_fast, _sqlite_fast.suits, engine, "SQLite")
        self.postgres_fast = _fast_way_wanted(
            postgres_fast, _postgres_fast.suits, engine, "PostgreSQL"
        )

    @property
    def _fast_way(self) -> _enqueue.FastWay:
        if self.sqlite_fast:
            return "sqlite"
        return "postgres" if self.postgres_fast else None

    def enqueue(self, envelopes: Iterable[Envelope], *, sending_key: str) -> list[int]:
        """Queue messages for sending now, in one transaction; return their ids in order."""
        with self.engine.begin() as conn:
            return _enqueue.insert_messages(
                conn, envelopes, sending_key=sending_key, now=utcnow(), fast=self._fast_way
            )

    def claim(
        self, *, owner: str, sending_key: str, limit: int, lease_s: float
    ) -> list[ClaimedMessage]:
        """Lease up to ``limit`` due messages for ``owner`` (see the Store protocol)."""
        with self.engine.begin() as conn:
            return _claim.lease(
                conn,
                style=self.claim_style,
                owner=owner,
                sending_key=sending_key,
                limit=limit,
                lease_s=lease_s,
            )

    def renew(self, *, owner: str, lease_s: float) -> int:
        """Extend every lease ``owner`` holds to the database's now + ``lease_s``."""
        with self.engine.begin() as conn:
            return _claim.renew(conn, style=self.claim_style, owner=owner, lease_s=lease_s)

    def record(
        self, attempts: Sequence[AttemptRecord], decisions: Sequence[Decision], *, owner: str
    ) -> None:
        """Write attempt rows and apply ``owner``'s decisions in one transaction."""
        now = utcnow()
        with self.engine.begin() as conn:
            if self.sqlite_fast:
                _sqlite_fast.insert_attempts(conn, attempts)
            elif self.postgres_fast:
                _postgres_fast.insert_attempts(conn, attempts)
            elif attempts:
                conn.execute(insert(s.attempts), [_rows.attempt_params(r) for r in attempts])
            _decide.apply(conn, decisions, owner=owner, now=now, postgres_fast=self.postgres_fast)

    def release(self, *, owner: str, message_pks: Iterable[int] | None = None) -> int:
        """Hand back ``owner``'s untried leases; returns how many."""
        m = s.messages
        tried = (m.c.attempts > 0) | (m.c.throttles > 0)
        # Due at once by the clock the next claim judges it with.
        now = _clock.now()
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
        with self.engine.connect() as conn:
            return _claim.next_due(conn, sending_key=sending_key)

    def counts(self) -> Mapping[Status, int]:
        """Messages per status, every status present."""
        with self.engine.connect() as conn:
            return _reports.counts(conn)

    def recent_failures(self, *, since: dt.datetime, limit: int) -> list[FailureGroup]:
        """Failed attempts since ``since`` grouped by reply and rule, largest group first."""
        with self.engine.connect() as conn:
            return _reports.recent_failures(conn, since=since, limit=limit)

    def requeue(self, *, statuses: Iterable[Status], since: dt.datetime | None) -> int:
        """Put final messages with one of ``statuses`` back to ``queued`` afresh
        (not a site's rejected rows: see ``_requeue``)."""
        with self.engine.begin() as conn:
            return _requeue.requeue(conn, statuses=statuses, since=since, now=utcnow())

    def unknown_attempts(self) -> int:
        """How many attempts ended without a final reply after the content went out."""
        with self.engine.connect() as conn:
            return _reports.unknown_attempts(conn)

    def states(self, message_pks: Sequence[int]) -> list[MessageState]:
        """The current state of the given messages (unknown ids left out), in order."""
        with self.engine.connect() as conn:
            return _reports.states(conn, message_pks)

    def oldest_unsent(self, *, sending_key: str) -> OldestUnsent | None:
        """The first-queued message of ``sending_key`` that is not final yet."""
        with self.engine.connect() as conn:
            return _reports.oldest_unsent(conn, sending_key=sending_key)

    def adopt(self, *, from_key: str, to_key: str) -> int:
        """Move queued and retrying messages from one sending key to another."""
        m = s.messages
        waiting = [Status.QUEUED.value, Status.RETRY.value]
        stmt = (
            update(m)
            .where(m.c.sending_key == from_key, m.c.status.in_(waiting))
            .values(sending_key=to_key, updated_at=utcnow())
        )
        with self.engine.begin() as conn:
            return conn.execute(stmt).rowcount

    def pause_key(self, *, sending_key: str, pause_s: float) -> int:
        """Make the queued and retrying messages of ``sending_key`` due no
        sooner than the database's now + ``pause_s``."""
        m = s.messages
        until = _clock.later(pause_s)
        stmt = (
            update(m)
            .where(
                m.c.sending_key == sending_key,
                m.c.status.in_([Status.QUEUED.value, Status.RETRY.value]),
                m.c.next_attempt_at < until,
            )
            .values(next_attempt_at=until)
        )
        with self.engine.begin() as conn:
            return conn.execute(stmt).rowcount

    def unsent_by_key(self) -> dict[str, int]:
        """Messages not final yet, per sending key."""
        with self.engine.connect() as conn:
            return _reports.unsent_by_key(conn)

    def purge(self, *, before: dt.datetime, dry_run: bool = False) -> PurgeCounts:
        """Delete (or with ``dry_run`` count) final messages last changed
        before ``before``, with their rows (see the Store protocol).

        Raises StoreError when the database refuses, as it does a user without
        DELETE rights; the chunks committed before then stay deleted.
        """
        try:
            if dry_run:
                with self.engine.connect() as conn:
                    counts = _purge.count(conn, before=before)
                    changes = _cap_changes.count_old(conn, before=before)
            else:
                counts = _purge.delete_old(self.engine, before=before)
                changes = _cap_changes.delete_old(self.engine, before=before)
            return attrs.evolve(counts, cap_changes=changes)
        except exc.SQLAlchemyError as e:
            shown = _engine.safe(self.engine.url)
            raise StoreError(f"Cannot purge the store at {shown}: {_engine.reason(e)}.") from None

    def close(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()


if TYPE_CHECKING:
    # Type checkers verify here that SQLStore still fulfils the Store protocol.
    from adaptsend.store._api import Store
    from adaptsend.store._budget_api import BudgetStore
    from adaptsend.store._cap_change_api import CapChangeStore
    from adaptsend.store._day_api import RecipientStore
    from adaptsend.store._incident_api import IncidentLog
    from adaptsend.store._rate_api import RateStore
    from adaptsend.store._source_api import SourceLedger

    _conforms: type[Store] = SQLStore
    _keeps_ledger: type[SourceLedger] = SQLStore
    _shares_budgets: type[BudgetStore] = SQLStore
    _explains_runs: type[IncidentLog] = SQLStore
    _keeps_cap_changes: type[CapChangeStore] = SQLStore
    _shares_rates: type[RateStore] = SQLStore
    _counts_recipients: type[RecipientStore] = SQLStore
