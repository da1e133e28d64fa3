"""Where a report's lines of the limits come from: the one place that decides.

**The connection cap.** A store that keeps the history of the limits
(``adaptsend.store._cap_change_api.CapChangeStore``) holds the limiter's own
record of each change: when it was decided, from what to what, and why. A
sending key with rows in the period is drawn from them
(``source="changes"``): a point at ``since`` with the cap the first change
started from, then a point per change with its reason. The first point
takes the first change's old value, not the last change before ``since``: a
change before the period may belong to a run that had ended, and a new run
starts from its own initial cap; the old value is the cap in force just
before the first change, by the record of the agent that made it.

Otherwise (a plugin's store without that history, or a key with no row in
the period: sent before the history was kept, its rows purged, or a cap
that did not move) the cap comes from attempts (``source="attempts"``):
the store keeps the cap each attempt saw (``attempts.cap``), so the line is
the cap at the key's first attempt of the period, then each attempt that
saw a different cap than the attempt started just before it. That is the
cap as sending met it: it moves a moment after the limiter's decision (the
next attempt shows it), and where batches and several agents interleave,
an attempt may show the cap of a moment before.

**The message rate** is in the history only (``kind="rate"``), so a report
shows it when the period has such rows: a point at ``since`` with the rate
the first change started from (None: unlimited), then a point per cut or
growth.

When several agents wrote a key's rows, ``_deciders`` says whether they
make one line (a shared cap, or runs one after another) or one per agent.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import attrs

from adaptsend.report._deciders import Decided, by_decider
from adaptsend.store._cap_change_api import CapChangeRecord, CapChangeStore, LimitKind
from adaptsend.store._incident_api import CapPoint, CapSeries, IncidentLog


@attrs.frozen(kw_only=True)
class RatePoint:
    """From ``at`` on, a sending key (or one agent of it) sent at most
    ``per_minute`` messages a minute; None for no limit."""

    at: dt.datetime
    per_minute: float | None
    #: ``cut`` or ``grow``; None for the first point, at the period's start.
    reason: str | None = None


@attrs.frozen(kw_only=True)
class RateSeries:
    """How the message rate of one sending key moved, and of one agent when
    the key's agents each kept a rate of their own."""

    sending_key: str
    agent: str | None
    points: tuple[RatePoint, ...]


def limit_history(
    store: IncidentLog, *, since: dt.datetime, until: dt.datetime, sending_key: str | None
) -> list[CapChangeRecord]:
    """Every change of a limit from ``since`` on and before ``until``, oldest
    first; none from a store that keeps no history of the limits."""
    if not isinstance(store, CapChangeStore):
        return []
    return store.cap_changes(since=since, until=until, sending_key=sending_key)


def cap_series(
    store: IncidentLog,
    history: Sequence[CapChangeRecord],
    *,
    since: dt.datetime,
    until: dt.datetime,
    sending_key: str | None,
) -> list[CapSeries]:
    """How the connection cap moved from ``since`` until ``until``, per
    sending key (or per agent, see ``_deciders``); ``sending_key`` None:
    every key that sent in the period. ``history`` is :func:`limit_history`'s answer."""
    changed = [
        _cap_line(line, since)
        for line in by_decider([r for r in history if r.kind is LimitKind.CONNECTIONS])
    ]
    recorded = {series.sending_key for series in changed}
    if sending_key is not None and sending_key in recorded:
        # The history covers the one key asked for: no need to scan attempts.
        return changed
    seen = store.cap_changes_from_attempts(since=since, until=until, sending_key=sending_key)
    return changed + [series for series in seen if series.sending_key not in recorded]


def rate_series(history: Sequence[CapChangeRecord], *, since: dt.datetime) -> list[RateSeries]:
    """How the message rate moved from ``since`` on, for each key (or agent)
    whose rate changed in the period."""
    return [
        RateSeries(
            sending_key=line.sending_key,
            agent=line.agent,
            points=(
                RatePoint(at=since, per_minute=line.rows[0].old_value),
                *(
                    RatePoint(at=row.changed_at, per_minute=row.new_value, reason=row.reason)
                    for row in line.rows
                ),
            ),
        )
        for line in by_decider([r for r in history if r.kind is LimitKind.RATE])
    ]


def _cap_line(line: Decided, since: dt.datetime) -> CapSeries:
    start = line.rows[0]
    # Every agent writes a cap's old value; a store that lost it still has the new one.
    first = start.new_value if start.old_value is None else start.old_value
    return CapSeries(
        sending_key=line.sending_key,
        agent=line.agent,
        source="changes",
        points=(
            CapPoint(at=since, cap=round(first)),
            *(
                CapPoint(at=row.changed_at, cap=round(row.new_value), reason=row.reason)
                for row in line.rows
            ),
        ),
    )
