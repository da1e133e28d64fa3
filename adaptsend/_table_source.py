"""The ``table`` source: a site's own table of messages to send.

The site's query selects the rows; each row whose key the store's ledger has
not seen is composed and queued, with its key, in one transaction, so a row is
queued once however often the query returns it and however many agents read
it. ``on_queued`` then lets the site mark the row handed over. Outcomes go back
once messages are final: ``on_sent`` or ``on_failed`` runs in the site's
database, then the ledger marks the outcome reported. A crash between those two
commits runs the statement again next time, never skips it.

Every method blocks; the run calls them in a worker thread.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import attrs
from sqlalchemy import Connection, TextClause, exc, text

from adaptsend._compose import compose
from adaptsend._config_source import TableSourceConfig
from adaptsend._errors import ConfigError, MessageError, SourceError
from adaptsend._ingest import Rejected
from adaptsend._models import Envelope, Status, utcnow
from adaptsend._source_api import SourceLedger, SourceOutcome
from adaptsend._table_rows import (
    Row,
    check_columns,
    describe_key,
    key_value,
    lowered,
    message_from_row,
    row_key,
)
from adaptsend.store import _engine

log = logging.getLogger("adaptsend.source.table")

#: Rows read, queued and written back per transaction.
BATCH = 500


@attrs.frozen(kw_only=True)
class IngestResult:
    """What one reading of the site's table did."""

    queued: int = 0
    #: Rows the ledger had queued before.
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
        url = _engine.parse_url(config.url or store_url)
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
        self._reported_rejections: set[str] = set()

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
        keyed, rejected = self._keys(rows)
        known = self._ledger.source_states(self.config.name, [key for key, _ in keyed])
        fresh: list[tuple[str, Envelope]] = []
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
            self.config.name, fresh, sending_key=self._sending_key
        )
        # Rows another agent queued in the meantime are its to mark.
        queued = [self._queued(key, envelope) for key, envelope in fresh if key in new]
        self._write("mark queued rows in", [("on_queued", queued)])
        self._report_rejections(rejected)
        return IngestResult(
            queued=len(new),
            known=sum(1 for key, _ in keyed if key in known),
            rejected=tuple(r for _, r in rejected),
        )

    def _keys(
        self, rows: list[dict[str, Any]]
    ) -> tuple[list[tuple[str, Row]], list[tuple[str | None, Rejected]]]:
        keyed: list[tuple[str, Row]] = []
        rejected: list[tuple[str | None, Rejected]] = []
        for row in rows:
            try:
                keyed.append((row_key(row, self.config.columns), row))
            except MessageError as e:
                where = describe_key(row, self.config.columns)
                rejected.append((None, Rejected(where=where, reason=str(e))))
        return keyed, rejected

    def _queued(self, key: str, envelope: Envelope) -> dict[str, Any]:
        return {"key": key_value(key), "message_id": envelope.message_id}

    def _report_rejections(self, rejected: Sequence[tuple[str | None, Rejected]]) -> None:
        """Log each rejected row once per run and tell the site through
        ``on_failed``; the row is not queued, so it stays out of the ledger."""
        new = [(k, r) for k, r in rejected if r.where not in self._reported_rejections]
        for _, rejection in new:
            log.warning("not queued: %s", rejection.describe())
            self._reported_rejections.add(rejection.where)
        params = [self._rejected(key, r) for key, r in new if key is not None]
        self._write("write back rejected rows to", [("on_failed", params)])

    def _rejected(self, key: str, rejection: Rejected) -> dict[str, Any]:
        return {
            "key": key_value(key),
            "status": "rejected",
            "reply": f"not sent: {rejection.reason}",
            "code": None,
            "attempts": 0,
            "message_id": None,
            "finished_at": utcnow(),
        }

    # -- writing back ------------------------------------------------------------

    def write_back(self) -> int:
        """Write the outcome of every final message not yet reported; returns how many."""
        total = 0
        while outcomes := self._ledger.unreported(self.config.name, limit=BATCH):
            sent = [_outcome(o) for o in outcomes if o.status is Status.SENT]
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


def _outcome(outcome: SourceOutcome) -> dict[str, Any]:
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
