"""The limits in the HTML report: a chart of the connection cap per line
(see ``_cap_series``), then, when the store recorded any, one of the message
rate. Both are drawn over the attempts' timeline, with the slices where the
provider refused for load marked under them, as in the terminal.

A line may start before the timeline (the limiter's record starts at the
period's start, the timeline at its first attempt) or change after it ends
(a last step of growth after the last attempt began): such points are drawn
at the timeline's edge, so that every point of the JSON has its vertex.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from html import escape

import attrs

from adaptsend.report._build import IncidentReport, Timeline
from adaptsend.report._cap_series import RateSeries
from adaptsend.report._svg_chart import Plot, chart, dots, nice_ticks, spans, step_line
from adaptsend.report._text import (
    CAP_COLOUR,
    RATE_COLOUR,
    THROTTLE_COLOUR,
    per_minute,
    slice_label,
    throttles_per_slice,
    tick_labels,
    when,
    whose,
)
from adaptsend.store._incident_api import CapSeries


def limits_html(report: IncidentReport) -> str:
    """The section's body: the cap charts, their notes, and the rate charts."""
    timeline = report.timeline
    if timeline is None or not report.caps:
        return '<p class="note">None.</p>'
    top = max(p.cap for series in report.caps for p in series.points)
    parts = [
        _legend((CAP_COLOUR, "connection cap"), (THROTTLE_COLOUR, "slices with refusals for load"))
    ]
    for series in report.caps:
        name = whose(series.sending_key, series.agent)
        parts.append(f"<h3>{escape(name)}</h3>{_cap_chart(series, timeline, top)}")
    sources = {series.source for series in report.caps}
    if "changes" in sources:
        parts.append(
            _note(
                "The cap as the limiter recorded each change: a dot per change, whose "
                "tooltip says when, from what to what, and why."
            )
        )
    if "attempts" in sources:
        parts.append(
            _note(
                "The cap as each attempt saw it when it began; it shows a change at the next "
                "attempt after the limiter made it."
            )
        )
    if report.rates:
        parts.append(_rates(report.rates, timeline))
    return "".join(parts)


def _legend(*entries: tuple[str, str]) -> str:
    shown = "".join(
        f'<span><i style="background:{colour}"></i>{escape(text)}</span>'
        for colour, text in entries
    )
    return f'<p class="legend">{shown}</p>'


def _note(text: str) -> str:
    return f'<p class="note">{escape(text)}</p>'


def _x(at: dt.datetime, timeline: Timeline) -> float:
    """Seconds from the timeline's start, kept within the timeline."""
    span = len(timeline.buckets) * timeline.width_s
    return min(max((at - timeline.start).total_seconds(), 0.0), float(span))


def _refusals(timeline: Timeline) -> list[tuple[float, float, str]]:
    width = timeline.width_s
    return [
        (i * width, (i + 1) * width, f"{n} refused for load from {when(timeline.buckets[i].start)}")
        for i, n in enumerate(throttles_per_slice(timeline))
        if n
    ]


@attrs.frozen
class _Axes:
    """A chart's drawing area: the timeline in seconds across, ``ticks`` up."""

    plot: Plot
    ticks: list[float]

    @classmethod
    def over(cls, timeline: Timeline, y_top: float) -> _Axes:
        ticks = nice_ticks(y_top)
        span = len(timeline.buckets) * timeline.width_s
        return cls(Plot(x_max=span, y_max=ticks[-1], height=180), ticks)


def _chart(
    axes: _Axes,
    timeline: Timeline,
    body: list[str],
    *,
    name: str,
    sending_key: str,
    agent: str | None,
) -> str:
    """The chart of one line's limit, ``body`` drawn over the marks of refusals."""
    plot, width = axes.plot, timeline.width_s
    what = "Connection cap" if name == "cap" else "Message rate"
    owner = whose(sending_key, agent)
    attributes = {"data-sending-key": sending_key}
    if agent is not None:
        attributes["data-agent"] = agent
    return chart(
        plot,
        [*spans(plot, _refusals(timeline), colour=THROTTLE_COLOUR, name="throttle-mark"), *body],
        name=name,
        label=f"{what} of {owner}, {slice_label(timeline)}",
        x_ticks=[(i * width, text) for i, text in tick_labels(timeline)],
        y_ticks=axes.ticks,
        attributes=attributes,
    )


def _cap_chart(series: CapSeries, timeline: Timeline, top: int) -> str:
    axes = _Axes.over(timeline, top + 1)
    plot = axes.plot
    steps = [(_x(p.at, timeline), float(p.cap)) for p in series.points]
    body = [step_line(plot, steps, x_end=plot.x_max, colour=CAP_COLOUR, name="cap")]
    if series.source == "changes":
        changes = [
            (x, cap, f"{when(p.at)}: {before.cap} to {p.cap} ({p.reason})")
            for (x, cap), p, before in zip(
                steps[1:], series.points[1:], series.points, strict=False
            )
        ]
        body += dots(plot, changes, colour=CAP_COLOUR, name="cap-change")
    return _chart(
        axes, timeline, body, name="cap", sending_key=series.sending_key, agent=series.agent
    )


def _rates(rates: Sequence[RateSeries], timeline: Timeline) -> str:
    limited = [p.per_minute for s in rates for p in s.points if p.per_minute is not None]
    # Room above the highest rate for the dashed line of no limit.
    top = max(limited, default=1.0) * 1.2
    parts = [
        _legend((RATE_COLOUR, "message rate, messages a minute")),
        _note("Dashed along the top while the rate had no limit."),
    ]
    for series in rates:
        name = whose(series.sending_key, series.agent)
        parts.append(f"<h3>{escape(name)}</h3>{_rate_chart(series, timeline, top)}")
    return "".join(parts)


def _rate_chart(series: RateSeries, timeline: Timeline, top: float) -> str:
    axes = _Axes.over(timeline, top)
    plot = axes.plot
    points = series.points
    xs = [_x(p.at, timeline) for p in points]
    ys = [plot.y_max if p.per_minute is None else p.per_minute for p in points]
    # One line for each stretch with a limit, one dashed at the top without.
    stretches: list[tuple[bool, list[tuple[float, float]], float]] = []
    for x, y, end, point in zip(xs, ys, [*xs[1:], plot.x_max], points, strict=True):
        unlimited = point.per_minute is None
        if stretches and stretches[-1][0] == unlimited:
            stretches[-1] = (unlimited, [*stretches[-1][1], (x, y)], end)
        else:
            stretches.append((unlimited, [(x, y)], end))
    body = [
        step_line(
            plot,
            steps,
            x_end=end,
            colour=RATE_COLOUR,
            name="rate-unlimited" if unlimited else "rate",
            tip="no limit" if unlimited else None,
            dashed=unlimited,
        )
        for unlimited, steps, end in stretches
    ]
    changes = [
        (
            x,
            y,
            f"{when(p.at)}: {per_minute(before.per_minute)} to {per_minute(p.per_minute)}"
            f" a minute ({p.reason})",
        )
        for x, y, p, before in zip(xs[1:], ys[1:], points[1:], points, strict=False)
    ]
    body += dots(plot, changes, colour=RATE_COLOUR, name="rate-change")
    return _chart(
        axes, timeline, body, name="rate", sending_key=series.sending_key, agent=series.agent
    )
