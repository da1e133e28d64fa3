"""What the ``table`` source asks of a store besides the Store protocol: a
ledger of which site rows were queued or rejected, and which outcomes went back.

A store that keeps no such ledger can still send; ``run --source table`` then
says in one sentence that its store cannot do this. The methods block and are
called from a worker thread of the source, possibly while the dispatcher's
thread calls the Store methods; the SQL store is safe for that.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import attrs

from adaptsend._models import Envelope, Reply, Status

#: The longest key a ledger keeps, in characters.
MAX_KEY_LEN = 255


@attrs.frozen(kw_only=True)
class SourceOutcome:
    """A message queued from a site's row that has reached a final status."""

    message_pk: int
    #: The site's key of the row, as the source recorded it.
    key: str
    status: Status
    message_id: str
    attempts: int
    last_reply: Reply | None
    finished_at: dt.datetime
    #: For a row refused at the door, never sent: the sentence saying why
    #: ("not sent: ..."). None for a message that was queued.
    rejected: str | None = None


@runtime_checkable
class SourceLedger(Protocol):
    # Keys are the source's own text for a row, at most MAX_KEY_LEN long.

    def source_states(self, source: str, keys: Sequence[str]) -> dict[str, Status]:
        """The status of the message recorded for each of ``keys`` that is known
        (``failed`` for a rejected row)."""

    def enqueue_from_source(
        self,
        source: str,
        rows: Sequence[tuple[str, Envelope]],
        *,
        sending_key: str,
        rejected: Sequence[tuple[str, str]] = (),
    ) -> dict[str, int]:
        """Queue the rows whose key ``source`` has not recorded before, each with
        its key, and record the ``rejected`` rows (key, the sentence saying why
        it is not sent) with new keys as failed messages that were never tried
        and cannot be retried, all in one transaction. Returns the new
        messages' ids by key, rejected ones included. Safe when two agents
        ingest the same rows at once: each key is recorded once.

        A rejected row's outcome is unreported until :meth:`mark_reported`,
        like any final message's, so that it goes back to the site once."""

    def unreported(self, source: str, *, limit: int) -> list[SourceOutcome]:
        """Up to ``limit`` final messages of ``source`` whose outcome has not
        been marked reported, oldest first."""

    def mark_reported(self, source: str, message_pks: Sequence[int]) -> int:
        """Mark outcomes as written back; returns how many were not marked yet."""
