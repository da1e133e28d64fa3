"""Where a report's cap timeline comes from: the one place that decides.

Today the store keeps the cap each attempt saw (``attempts.cap``), so the
timeline is read from attempts: the cap at a key's first attempt of the
period, then each attempt that saw a different cap than the attempt started
just before it. That is the cap as sending met it. It moves a moment after
the limiter's decision (the next attempt shows it), and where batches and
several agents interleave, an attempt may show the cap of a moment before.

A store that records every cap change itself (old cap, new cap, reason)
gives the exact timeline with reasons; the report then takes it from there,
and only this function changes.
"""

from __future__ import annotations

import datetime as dt

from adaptsend.store._incident_api import CapSeries, IncidentLog


def cap_series(
    store: IncidentLog, *, since: dt.datetime, sending_key: str | None
) -> list[CapSeries]:
    """Per sending key, how its connection cap moved from ``since`` on
    (``sending_key`` None: every key that sent in the period)."""
    return store.cap_changes_from_attempts(since=since, sending_key=sending_key)
