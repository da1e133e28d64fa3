"""The SQL store's half that the table source uses: its ledger of site rows
(``adaptsend.store._source_api.SourceLedger``). The SQL is in ``_sources``."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Engine, exc

from adaptsend._models import Envelope, Status, utcnow
from adaptsend.store import _enqueue, _sources
from adaptsend.store._source_api import SourceOutcome


class LedgerMethods:
    """Mixed into SQLStore, which gives the engine and its way of writing rows."""

    engine: Engine

    @property
    def _fast_way(self) -> _enqueue.FastWay:
        raise NotImplementedError

    def source_states(self, source: str, keys: Sequence[str]) -> dict[str, Status]:
        """The status of the message recorded for each of ``keys`` that is known."""
        with self.engine.connect() as conn:
            return _sources.states(conn, source, keys)

    def enqueue_from_source(
        self,
        source: str,
        rows: Sequence[tuple[str, Envelope]],
        *,
        sending_key: str,
        rejected: Sequence[tuple[str, str]] = (),
    ) -> dict[str, int]:
        """Queue the rows, and record the rejected ones, whose key is new to
        ``source``; return the new ids by key."""
        try:
            return self._enqueue_from_source(source, rows, rejected, sending_key)
        except exc.IntegrityError:
            # Another agent recorded some of these keys first; now they are known.
            return self._enqueue_from_source(source, rows, rejected, sending_key)

    def _enqueue_from_source(
        self,
        source: str,
        rows: Sequence[tuple[str, Envelope]],
        rejected: Sequence[tuple[str, str]],
        sending_key: str,
    ) -> dict[str, int]:
        with self.engine.begin() as conn:
            return _sources.enqueue(
                conn,
                source,
                rows,
                rejected=rejected,
                sending_key=sending_key,
                now=utcnow(),
                fast=self._fast_way,
            )

    def unreported(self, source: str, *, limit: int) -> list[SourceOutcome]:
        """Final messages of ``source`` whose outcome is not written back yet."""
        with self.engine.connect() as conn:
            return _sources.unreported(conn, source, limit=limit)

    def mark_reported(self, source: str, message_pks: Sequence[int]) -> int:
        """Mark the outcomes of ``message_pks`` as written back."""
        with self.engine.begin() as conn:
            return _sources.mark_reported(conn, source, message_pks, now=utcnow())
