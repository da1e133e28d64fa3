"""The incident report: one period of sending, gathered from the store.

:func:`build_report` asks the store (an :class:`~adaptsend.store._incident_api.IncidentLog`)
its questions and puts the answers together; the terminal, HTML and JSON
views only show what is here.

A period runs from ``since`` up to ``until`` (the present, unless the report
is of a period that ended before): the attempts that started in it, and the
messages as they stood at ``until`` (see ``IncidentLog``).

The timeline covers the attempts of the period, from the first to the last,
not the whole period: a run of ten minutes in a day reads as ten minutes.
It is cut into at most :data:`SLICES` slices of a round width (1 s, 5 s,
1 min, 15 min, 1 h, ...) that starts on a multiple of that width.
"""

from __future__ import annotations

import bisect
import datetime as dt
import math
from collections.abc import Callable, Mapping, Sequence

import attrs

from adaptsend._errors import AdaptsendError
from adaptsend._models import Outcome, Reply, Status
from adaptsend.report._cap_series import RateSeries, cap_series, limit_history, rate_series
from adaptsend.store._incident_api import (
    Bucket,
    CapSeries,
    Gap,
    IncidentLog,
    MessageWait,
    Pause,
    PauseKind,
    ReplyGroup,
)

#: The most slices a timeline is cut into: a terminal line holds them.
SLICES = 60
#: Round slice widths, in seconds; past a day, whole days.
_WIDTHS_S = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200)
_DAY_S = 86400
#: Groups of failures, slowest and oldest messages shown.
TOP = 10
#: A silence shorter than this between attempts is not a pause.
MIN_PAUSE_S = 60.0
#: Quota replies read per period: each one pauses its key, so there are few.
_QUOTA_REPLIES = 1000
_EPOCH = dt.datetime(1970, 1, 1)


class ReportError(AdaptsendError):
    """A report cannot be made as asked."""


class UnknownSendingKey(ReportError):
    """``--key`` names a sending key no message was queued under."""


@attrs.frozen(kw_only=True)
class Timeline:
    """The attempts of the period in equal slices of time."""

    width_s: int
    buckets: tuple[Bucket, ...]

    @property
    def start(self) -> dt.datetime:
        return self.buckets[0].start

    @property
    def end(self) -> dt.datetime:
        return self.buckets[-1].start + dt.timedelta(seconds=self.width_s)

    def totals(self) -> dict[Outcome, int]:
        """Attempts per outcome over the whole timeline."""
        return {o: sum(b.counts[o] for b in self.buckets) for o in Outcome}


@attrs.frozen(kw_only=True)
class IncidentReport:
    """What happened from ``since`` until ``until``."""

    #: When the report was made; ``until`` or after it.
    generated_at: dt.datetime
    since: dt.datetime
    until: dt.datetime
    #: The one key reported on; None for every key.
    sending_key: str | None
    statuses: Mapping[Status, int]
    #: None when no attempt started in the period.
    timeline: Timeline | None
    caps: tuple[CapSeries, ...]
    #: The message rate's moves, when the store recorded any in the period.
    rates: tuple[RateSeries, ...]
    failures: tuple[ReplyGroup, ...]
    slowest: tuple[MessageWait, ...]
    oldest_waiting: tuple[MessageWait, ...]
    pauses: tuple[Pause, ...]


def build_report(
    store: IncidentLog,
    *,
    since: dt.datetime,
    now: dt.datetime,
    until: dt.datetime | None = None,
    sending_key: str | None = None,
    clean: Callable[[Reply], Reply] = lambda reply: reply,
    min_pause_s: float = MIN_PAUSE_S,
) -> IncidentReport:
    """The report of the period from ``since`` until ``until`` (by default
    ``now``, the time the report is made; naive UTC).

    ``clean`` is applied to every reply shown (the CLI hides secrets with
    it). Raises :class:`UnknownSendingKey` when ``sending_key`` is given and
    no message was queued under it.
    """
    if sending_key is not None:
        _check_key(store, sending_key)
    end = now if until is None else until
    span = store.attempt_span(since=since, until=end, sending_key=sending_key)
    history = limit_history(store, since=since, until=end, sending_key=sending_key)
    return IncidentReport(
        generated_at=now,
        since=since,
        until=end,
        sending_key=sending_key,
        statuses=store.status_counts(since=since, until=end, sending_key=sending_key),
        timeline=None if span is None else _timeline(store, span, end, sending_key),
        caps=tuple(cap_series(store, history, since=since, until=end, sending_key=sending_key)),
        rates=tuple(rate_series(history, since=since)),
        failures=tuple(
            attrs.evolve(group, reply=clean(group.reply))
            for group in store.reply_groups(
                since=since, until=end, sending_key=sending_key, limit=TOP
            )
        ),
        slowest=tuple(
            _cleaned(wait, clean)
            for wait in store.slowest_messages(
                since=since, until=end, sending_key=sending_key, limit=TOP
            )
        ),
        oldest_waiting=tuple(
            _cleaned(wait, clean)
            for wait in store.oldest_waiting(until=end, sending_key=sending_key, limit=TOP)
        ),
        pauses=tuple(
            attrs.evolve(pause, reply=clean(pause.reply))
            for pause in find_pauses(
                store, since=since, until=end, sending_key=sending_key, min_pause_s=min_pause_s
            )
        ),
    )


def incident_log(store: object) -> IncidentLog:
    """``store`` as the questions a report asks; raises :class:`ReportError`
    for a store (a plugin's) that cannot answer them."""
    if not isinstance(store, IncidentLog):
        raise ReportError(
            "The configured store cannot answer a report's questions: its plugin "
            "does not read back the history of attempts."
        )
    return store


def _check_key(store: IncidentLog, sending_key: str) -> None:
    known = store.sending_keys()
    if sending_key in known:
        return
    listed = ", ".join(known) if known else "none yet"
    raise UnknownSendingKey(
        f"No message in the store was queued under the sending key {sending_key!r} "
        f"(its keys: {listed})."
    )


def _cleaned(wait: MessageWait, clean: Callable[[Reply], Reply]) -> MessageWait:
    if wait.last_reply is None:
        return wait
    return attrs.evolve(wait, last_reply=clean(wait.last_reply))


def slice_width(span_s: float, slices: int = SLICES) -> int:
    """The smallest round width that cuts ``span_s`` seconds, from a slice
    boundary on, into at most ``slices`` slices."""
    # A span starting anywhere in its first slice covers at most (slices - 1)
    # widths after that slice's start.
    for width in _WIDTHS_S:
        if span_s <= (slices - 1) * width:
            return width
    return math.ceil(span_s / ((slices - 1) * _DAY_S)) * _DAY_S


def _timeline(
    store: IncidentLog,
    span: tuple[dt.datetime, dt.datetime],
    until: dt.datetime,
    sending_key: str | None,
) -> Timeline:
    first, last = span
    width = slice_width((last - first).total_seconds())
    offset_s = (first - _EPOCH).total_seconds()
    start = _EPOCH + dt.timedelta(seconds=math.floor(offset_s / width) * width)
    count = int((last - start).total_seconds() // width) + 1
    buckets = store.attempt_buckets(
        start=start, width_s=width, count=count, until=until, sending_key=sending_key
    )
    return Timeline(width_s=width, buckets=tuple(buckets))


def find_pauses(
    store: IncidentLog,
    *,
    since: dt.datetime,
    until: dt.datetime,
    sending_key: str | None,
    min_pause_s: float,
) -> list[Pause]:
    """The silences of ``min_pause_s`` or more in a key's attempts of the
    period while its messages waited: a quota pause when a quota reply came
    within ``min_pause_s`` before the silence began, else a stall. A
    silence that went on to ``until`` is a pause with no end (it lasted at
    least until ``until``)."""
    quotas: dict[str, list[tuple[dt.datetime, Reply]]] = {}
    for key, at, reply in store.quota_replies(
        since=since, until=until, sending_key=sending_key, limit=_QUOTA_REPLIES
    ):
        quotas.setdefault(key, []).append((at, reply))
    found = []
    for gap in store.attempt_gaps(
        since=since, until=until, sending_key=sending_key, min_gap_s=min_pause_s
    ):
        quota = _quota_before(quotas.get(gap.sending_key, []), gap.start, min_pause_s)
        if not _is_pause(gap, quota, until, min_pause_s):
            continue
        if quota is None:
            kind, start, reply = PauseKind.STALL, gap.start, gap.reply_before
        else:
            # The key paused at the quota reply; sends under way then ended after it.
            kind, (start, reply) = PauseKind.QUOTA, quota
        found.append(
            Pause(
                sending_key=gap.sending_key,
                kind=kind,
                start=start,
                end=gap.end,
                reply=reply,
                outcome_before=gap.outcome_before,
            )
        )
    return sorted(found, key=lambda pause: pause.start)


def _quota_before(
    replies: Sequence[tuple[dt.datetime, Reply]], at: dt.datetime, within_s: float
) -> tuple[dt.datetime, Reply] | None:
    """The latest quota reply at or before ``at`` (when, reply), if it came
    within ``within_s`` of it."""
    i = bisect.bisect_right([when for when, _ in replies], at)
    if i == 0:
        return None
    when, reply = replies[i - 1]
    return (when, reply) if (at - when).total_seconds() <= within_s else None


def _is_pause(
    gap: Gap, quota: tuple[dt.datetime, Reply] | None, until: dt.datetime, min_pause_s: float
) -> bool:
    if not gap.waited:
        # Nothing was waiting: the key was idle, not paused.
        return False
    if gap.end is not None:
        return True
    # The key's last attempt of the period: a pause that went on to its end,
    # once it is long enough by then.
    return quota is not None or (until - gap.start).total_seconds() >= min_pause_s


def cap_per_slice(series: CapSeries, timeline: Timeline) -> list[float | None]:
    """The lowest cap in force during each slice (None before the line's
    first point), so that a short dip still shows."""
    return lowest_per_slice([(p.at, float(p.cap)) for p in series.points], timeline)


def rate_per_slice(series: RateSeries, timeline: Timeline) -> list[float | None]:
    """The lowest message rate in force during each slice: ``math.inf``
    while there was no limit, None before the line's first point."""
    steps = [(p.at, math.inf if p.per_minute is None else p.per_minute) for p in series.points]
    return lowest_per_slice(steps, timeline)


def lowest_per_slice(
    steps: Sequence[tuple[dt.datetime, float]], timeline: Timeline
) -> list[float | None]:
    """The lowest of the (from when, value) steps in force during each slice."""
    times = [at for at, _ in steps]
    values = [value for _, value in steps]
    lowest: list[float | None] = []
    for bucket in timeline.buckets:
        end = bucket.start + dt.timedelta(seconds=timeline.width_s)
        # The step in force at the slice's start, and every step inside it.
        first = max(bisect.bisect_right(times, bucket.start) - 1, 0)
        inside = values[first : bisect.bisect_left(times, end)]
        lowest.append(min(inside) if inside else None)
    return lowest
