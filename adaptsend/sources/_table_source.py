"""The ``table`` source: a site's own table of messages to send.

The site's query selects the rows; each row whose key the store's ledger has
not seen is composed and queued, with its key, in one transaction, so a row is
queued once however often the query returns it and however many agents read
it. ``on_queued`` then lets the site mark the row handed over. A row that
cannot become a message is recorded in the same transaction as rejected, a
failed message at once, so that it too is read, logged and reported once.
Outcomes go back once messages are final: ``on_sent`` or ``on_failed`` runs in
the site's database, then the ledger marks the outcome reported. A crash
between those two commits runs the statement again next time, never skips it.

Every method blocks; the run calls them in a worker thread.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import attrs
from sqlalchemy import Connection, TextClause, exc, text

from adaptsend._errors import ConfigError, MessageError, SourceError
from adaptsend._models import Envelope, Status
from adaptsend.config._source import TableSourceConfig
from adaptsend.config._store_url import parse_url
from adaptsend.sources._compose import compose
from adaptsend.sources._ingest import Rejected
from adaptsend.sources._table_rows import (
    Row,
    check_columns,
    describe_key,
    key_value,
    lowered,
    message_from_row,
    row_key,
)
from adaptsend.store import _engine
from adaptsend.store._source_api import SourceLedger, SourceOutcome

log = logging.getLogger("adaptsend.source.table")

#: Rows read, queued and written back per transaction.
BATCH = 500


@attrs.frozen(kw_only=True)
class IngestResult:
    """What one reading of the site's table did."""

    queued: int = 0
    #: Rows the ledger had queued or rejected before.
    known: int = 0
    rejected: tuple[Rejected, ...] = ()

    def __add__(self, other: IngestResult) -> IngestResult:
        return IngestResult(
            queued=self.queued + other.queued,
            known=self.known + other.known,
            rejected=self.rejected + other.rejected,
        )


class _Statement:
    """A site's statement, given only the parameters it names."""

    def __init__(self, sql: str) -> None:
        self.clause: TextClause = text(sql)
        self.names = frozenset(self.clause.compile().params)

    def run(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        conn.execute(self.clause, [{k: v for k, v in r.items() if k in self.names} for r in rows])


class TableSource:
    """Reads one ``[source.table]`` into ``ledger`` (the store) and writes
    outcomes back. Use :meth:`close` when done."""

    def __init__(
        self,
        config: TableSourceConfig,
        *,
        ledger: SourceLedger,
        store_url: str,
        sending_key: str,
    ) -> None:
        if not config.query.strip():
            raise ConfigError(
                "[source.table] needs a query: the SELECT that returns the rows to send."
            )
        url = parse_url(config.url or store_url)
        self.config = config
        self._ledger = ledger
        self._sending_key = sending_key
        self._shown = _engine.safe(url)
        self._engine = _engine.build_engine(url)
        self._query = text(config.query)
        self._on = {
            name: _Statement(sql)
            for name in ("on_queued", "on_sent", "on_failed")
            if (sql := getattr(config, name))
        }
        self._unkeyed_seen: set[str] = set()

    def close(self) -> None:
        self._engine.dispose()

    # -- reading ---------------------------------------------------------------

    def ingest(self) -> IngestResult:
        """Queue every row the query returns that was not queued before."""
        total = IngestResult()
        with self._site("read the rows of"), self._engine.connect() as conn:
            options = {"stream_results": True, "yield_per": BATCH}
            result = conn.execution_options(**options).execute(self._query)
            check_columns(result.keys(), self.config.columns)
            for rows in result.mappings().partitions(BATCH):
                total += self._ingest_batch([lowered(row) for row in rows])
        return total

    def _ingest_batch(self, rows: list[dict[str, Any]]) -> IngestResult:
        keyed, unkeyed = self._keys(rows)
        known = self._ledger.source_states(self.config.name, [key for key, _ in keyed])
        fresh: list[tuple[str, Envelope]] = []
        rejected: list[tuple[str, Rejected]] = []
        for key, row in keyed:
            if key in known:
                continue
            try:
                message = message_from_row(
                    row, self.config.columns, default_sender=self.config.default_sender
                )
                fresh.append((key, compose(message)))
            except MessageError as e:
                where = describe_key(row, self.config.columns)
                rejected.append((key, Rejected(where=where, reason=str(e))))
        new = self._ledger.enqueue_from_source(
            self.config.name,
            fresh,
            sending_key=self._sending_key,
            rejected=[(key, _not_sent(r)) for key, r in rejected],
        )
        # Rows another agent recorded in the meantime are its to mark and report.
        refused = [r for key, r in rejected if key in new] + self._unkeyed(unkeyed)
        for rejection in refused:
            # Logged now: once recorded, a rejected row is never read again.
            log.warning("not queued: %s", rejection.describe())
        queued = [self._queued(key, envelope) for key, envelope in fresh if key in new]
        self._write("mark queued rows in", [("on_queued", queued)])
        return IngestResult(
            queued=sum(1 for key, _ in fresh if key in new),
            known=sum(1 for key, _ in keyed if key in known),
            rejected=tuple(refused),
        )

    def _keys(self, rows: list[dict[str, Any]]) -> tuple[list[tuple[str, Row]], list[Rejected]]:
        keyed: list[tuple[str, Row]] = []
        unkeyed: list[Rejected] = []
        for row in rows:
            try:
                keyed.append((row_key(row, self.config.columns), row))
            except MessageError as e:
                where = describe_key(row, self.config.columns)
                unkeyed.append(Rejected(where=where, reason=str(e)))
        return keyed, unkeyed

    def _queued(self, key: str, envelope: Envelope) -> dict[str, Any]:
        return {"key": key_value(key), "message_id": envelope.message_id}

    def _unkeyed(self, rejected: Sequence[Rejected]) -> list[Rejected]:
        """Those of the rows without a usable key not seen before by this
        source object. With no key, the ledger cannot keep them, and no
        statement can name them: they are logged once per run, and the next
        run logs them again."""
        new = [r for r in rejected if r.where not in self._unkeyed_seen]
        self._unkeyed_seen.update(r.where for r in new)
        return new

    # -- writing back ------------------------------------------------------------

    def write_back(self) -> int:
        """Write the outcome of every final message not yet reported; returns how many."""
        total = 0
        while outcomes := self._ledger.unreported(self.config.name, limit=BATCH):
            sent = [_outcome(o) for o in outcomes if o.status is Status.SENT]
            # Rejected rows are failed messages that were never tried.
            failed = [_outcome(o) for o in outcomes if o.status is not Status.SENT]
            self._write("write back outcomes to", [("on_sent", sent), ("on_failed", failed)])
            self._ledger.mark_reported(self.config.name, [o.message_pk for o in outcomes])
            total += len(outcomes)
        return total

    def _write(self, action: str, work: Sequence[tuple[str, Sequence[Mapping[str, Any]]]]) -> None:
        """Run the configured statements among ``work`` in one site transaction."""
        todo = [(self._on[name], rows) for name, rows in work if name in self._on and rows]
        if not todo:
            return
        with self._site(action), self._engine.begin() as conn:
            for statement, rows in todo:
                statement.run(conn, rows)

    @contextlib.contextmanager
    def _site(self, action: str) -> Iterator[None]:
        try:
            yield
        except exc.SQLAlchemyError as e:
            raise SourceError(
                f"Cannot {action} the [source.table] database at {self._shown}: "
                f"{_engine.reason(e)}."
            ) from None


def _not_sent(rejection: Rejected) -> str:
    return f"not sent: {rejection.reason}"


def _outcome(outcome: SourceOutcome) -> dict[str, Any]:
    if outcome.rejected is not None:
        return {
            "key": key_value(outcome.key),
            "status": "rejected",
            "reply": outcome.rejected,
            "code": None,
            "attempts": 0,
            # The store made one up; no message went out under it.
            "message_id": None,
            "finished_at": outcome.finished_at,
        }
    reply = outcome.last_reply
    return {
        "key": key_value(outcome.key),
        "status": outcome.status.value,
        "reply": reply.describe() if reply is not None else "",
        "code": reply.code if reply is not None else None,
        "attempts": outcome.attempts,
        "message_id": outcome.message_id,
        "finished_at": outcome.finished_at,
    }
