"""``adaptsend report --json``: the incident report as one stable JSON document.

The fields are documented in docs/operations.md ("The JSON document"). A
change that removes or renames a field, or changes its meaning, raises
:data:`FORMAT`; new fields may be added without it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from adaptsend._models import Outcome, Reply, Status
from adaptsend.report._build import IncidentReport, Timeline
from adaptsend.report._cap_series import RateSeries
from adaptsend.store._incident_api import CapSeries, MessageWait, Pause, ReplyGroup

#: The version of the document's layout.
FORMAT = 1


def report_document(report: IncidentReport) -> dict[str, Any]:
    """The report as plain JSON values."""
    timeline = report.timeline
    return {
        "format": FORMAT,
        "generated_at": _time(report.generated_at),
        "since": _time(report.since),
        "until": _time(report.until),
        "sending_key": report.sending_key,
        "statuses": {s.value: report.statuses.get(s, 0) for s in Status},
        "attempts": _outcomes(timeline.totals() if timeline else dict.fromkeys(Outcome, 0)),
        "timeline": None if timeline is None else _timeline(timeline),
        "cap": [_cap(series) for series in report.caps],
        "rate": [_rate(series) for series in report.rates],
        "failures": [_failure(group) for group in report.failures],
        "slowest": [_message(wait) for wait in report.slowest],
        "oldest_waiting": [_message(wait) for wait in report.oldest_waiting],
        "pauses": [_pause(pause, report.until) for pause in report.pauses],
    }


def _time(when: dt.datetime | None) -> str | None:
    """A naive UTC time as ISO 8601 with ``Z``."""
    return None if when is None else when.isoformat() + "Z"


def _outcomes(counts: dict[Outcome, int]) -> dict[str, int]:
    return {o.value: counts.get(o, 0) for o in Outcome}


def _timeline(timeline: Timeline) -> dict[str, Any]:
    return {
        "start": _time(timeline.start),
        "end": _time(timeline.end),
        "slice_s": timeline.width_s,
        "slices": [
            {"start": _time(bucket.start), **_outcomes(dict(bucket.counts))}
            for bucket in timeline.buckets
        ],
    }


def _cap(series: CapSeries) -> dict[str, Any]:
    return {
        "sending_key": series.sending_key,
        "agent": series.agent,
        "source": series.source,
        "points": [
            {"at": _time(point.at), "cap": point.cap, "reason": point.reason}
            for point in series.points
        ],
    }


def _rate(series: RateSeries) -> dict[str, Any]:
    return {
        "sending_key": series.sending_key,
        "agent": series.agent,
        "points": [
            {
                "at": _time(point.at),
                "per_minute": _rounded(point.per_minute),
                "reason": point.reason,
            }
            for point in series.points
        ],
    }


def _rounded(per_minute: float | None) -> float | None:
    # A rate is a product of factors: its last digits say nothing.
    return None if per_minute is None else round(per_minute, 3)


def _reply(reply: Reply | None) -> dict[str, Any] | None:
    return None if reply is None else reply.to_json()


def _failure(group: ReplyGroup) -> dict[str, Any]:
    return {
        "count": group.count,
        "outcome": group.outcome.value,
        "rule": group.rule,
        **(_reply(group.reply) or {}),
        "first_at": _time(group.first_at),
        "last_at": _time(group.last_at),
        "sample_message_ids": list(group.sample_message_ids),
    }


def _message(wait: MessageWait) -> dict[str, Any]:
    return {
        "message_id": wait.message_id,
        "sending_key": wait.sending_key,
        "status": wait.status.value,
        "queued_at": _time(wait.queued_at),
        "ended_at": _time(wait.ended_at),
        "waited_s": round(wait.waited_s, 3),
        "attempts": wait.attempts,
        "throttles": wait.throttles,
        "next_attempt_at": _time(wait.next_attempt_at),
        "last_reply": _reply(wait.last_reply),
    }


def _pause(pause: Pause, period_end: dt.datetime) -> dict[str, Any]:
    until = pause.end or period_end
    return {
        "sending_key": pause.sending_key,
        "kind": pause.kind.value,
        "start": _time(pause.start),
        "end": _time(pause.end),
        "duration_s": round((until - pause.start).total_seconds(), 3),
        "outcome_before": pause.outcome_before.value,
        "reply": _reply(pause.reply),
    }
