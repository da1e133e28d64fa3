"""The SQL store's answers to ``adaptsend report``
(``adaptsend.store._incident_api.IncidentLog``). The SQL is in ``_incident``."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator

from sqlalchemy import Connection, Engine, exc

from adaptsend._errors import StoreError
from adaptsend._models import Reply, Status
from adaptsend.store import _engine, _incident, _incident_messages
from adaptsend.store._incident_api import Bucket, CapSeries, Gap, MessageWait, ReplyGroup


class IncidentMethods:
    """Mixed into SQLStore, which gives the engine."""

    engine: Engine

    @contextlib.contextmanager
    def _reading(self) -> Iterator[Connection]:
        """A connection for one question; a database's refusal becomes one sentence."""
        try:
            with self.engine.connect() as conn:
                yield conn
        except exc.SQLAlchemyError as e:
            shown = _engine.safe(self.engine.url)
            raise StoreError(f"Cannot read the store at {shown}: {_engine.reason(e)}.") from None

    def sending_keys(self) -> list[str]:
        """Every sending key any message in the store was queued under."""
        with self._reading() as conn:
            return _incident.sending_keys(conn)

    def attempt_span(
        self, *, since: dt.datetime, until: dt.datetime, sending_key: str | None
    ) -> tuple[dt.datetime, dt.datetime] | None:
        """When the first and the last attempt of the period started."""
        with self._reading() as conn:
            return _incident.attempt_span(conn, since=since, until=until, key=sending_key)

    def status_counts(
        self, *, since: dt.datetime, until: dt.datetime, sending_key: str | None
    ) -> dict[Status, int]:
        """Messages per status at ``until``: those that ended in the period,
        and all that were queued and waited then."""
        with self._reading() as conn:
            return _incident_messages.status_counts(conn, since=since, until=until, key=sending_key)

    def attempt_buckets(
        self,
        *,
        start: dt.datetime,
        width_s: int,
        count: int,
        until: dt.datetime,
        sending_key: str | None,
    ) -> list[Bucket]:
        """Attempts before ``until`` per outcome in ``count`` slices of
        ``width_s`` seconds from ``start``."""
        with self._reading() as conn:
            return _incident.attempt_buckets(
                conn, start=start, width_s=width_s, count=count, until=until, key=sending_key
            )

    def cap_changes_from_attempts(
        self, *, since: dt.datetime, until: dt.datetime, sending_key: str | None
    ) -> list[CapSeries]:
        """Per key, the cap at its first attempt of the period and at each
        attempt that saw another cap than the one before it."""
        with self._reading() as conn:
            return _incident.cap_changes(conn, since=since, until=until, key=sending_key)

    def reply_groups(
        self, *, since: dt.datetime, until: dt.datetime, sending_key: str | None, limit: int
    ) -> list[ReplyGroup]:
        """Failed attempts of the period by reply, outcome and rule, largest group first."""
        with self._reading() as conn:
            return _incident.reply_groups(
                conn, since=since, until=until, key=sending_key, limit=limit
            )

    def slowest_messages(
        self, *, since: dt.datetime, until: dt.datetime, sending_key: str | None, limit: int
    ) -> list[MessageWait]:
        """Messages that ended in the period, longest from queueing to end first."""
        with self._reading() as conn:
            return _incident_messages.slowest_messages(
                conn, since=since, until=until, key=sending_key, limit=limit
            )

    def oldest_waiting(
        self, *, until: dt.datetime, sending_key: str | None, limit: int
    ) -> list[MessageWait]:
        """Messages waiting at ``until``, first queued first, as they stood then."""
        with self._reading() as conn:
            return _incident_messages.oldest_waiting(
                conn, until=until, key=sending_key, limit=limit
            )

    def attempt_gaps(
        self, *, since: dt.datetime, until: dt.datetime, sending_key: str | None, min_gap_s: float
    ) -> list[Gap]:
        """Per key, each silence of ``min_gap_s`` or more between attempts
        of the period, and the key's last attempt in it (a gap with no end)."""
        with self._reading() as conn:
            return _incident.attempt_gaps(
                conn, since=since, until=until, key=sending_key, min_gap_s=min_gap_s
            )

    def quota_replies(
        self, *, since: dt.datetime, until: dt.datetime, sending_key: str | None, limit: int
    ) -> list[tuple[str, dt.datetime, Reply]]:
        """Attempts of the period that got a quota reply, in start order."""
        with self._reading() as conn:
            return _incident.quota_replies(
                conn, since=since, until=until, key=sending_key, limit=limit
            )
