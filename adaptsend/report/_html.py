"""``adaptsend report --html``: the report as one self-contained HTML file.

The page holds everything it shows: its style sheet and its charts (inline
SVG from ``_svg_chart``) are in the file, and it loads nothing, runs no
script, so it opens offline and can be mailed or archived with a ticket.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from html import escape

from adaptsend._models import Outcome, Status
from adaptsend.report._build import IncidentReport, Timeline
from adaptsend.report._html_limits import limits_html
from adaptsend.report._svg_chart import Plot, chart, nice_ticks, stacked_bars
from adaptsend.report._text import (
    OUTCOME_COLOURS,
    SECTIONS,
    judged_reply,
    lasted,
    pause_end,
    pause_lasted,
    period,
    slice_label,
    tick_labels,
    when,
)
from adaptsend.store._incident_api import MessageWait

_STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; color: #222; margin: 24px auto; max-width: 1000px;
       padding: 0 16px; }
h1 { font-size: 22px; margin-bottom: 2px; }
h2 { font-size: 17px; margin: 28px 0 8px; border-bottom: 1px solid #ddd; }
h3 { font-size: 14px; margin: 12px 0 4px; font-weight: 600; }
.period, .note { color: #555; }
table { border-collapse: collapse; margin: 4px 0; }
th, td { text-align: left; padding: 3px 12px 3px 0; vertical-align: top; white-space: nowrap; }
th { border-bottom: 1px solid #bbb; font-weight: 600; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
td.reply { white-space: normal; min-width: 260px; overflow-wrap: anywhere; }
td.ids { white-space: pre-line; overflow-wrap: anywhere; font-size: 12px; }
.legend span { margin-right: 14px; white-space: nowrap; }
.legend i { display: inline-block; width: 11px; height: 11px; margin-right: 5px;
            vertical-align: -1px; }
svg.chart { display: block; max-width: 100%; height: auto; }
"""


def report_html(report: IncidentReport) -> str:
    """The whole page."""
    keys = report.sending_key or "every sending key"
    shown = period(report)
    bodies = (
        _statuses(report),
        _attempts(report.timeline),
        limits_html(report),
        _failures(report),
        _messages(report.slowest, waiting=False),
        _messages(report.oldest_waiting, waiting=True),
        _pauses(report),
    )
    sections = "".join(
        f"<section><h2>{escape(title)}</h2>{body}</section>"
        for title, body in zip(SECTIONS, bodies, strict=True)
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>adaptsend report {escape(shown)}</title><style>{_STYLE}</style></head>"
        f'<body><h1>adaptsend report</h1><p class="period">{escape(shown)} ({escape(keys)})</p>'
        f"{sections}</body></html>\n"
    )


def _table(headers: Sequence[str], rows: Iterable[Sequence[str]], numeric: set[int]) -> str:
    """A table of text cells, escaped here: columns in ``numeric`` align
    right, replies and Message-IDs wrap (a list of IDs one a line), and the
    rest keep to one line."""
    classes = [
        "n" if i in numeric else "reply" if "reply" in h else "ids" if "Message-ID" in h else ""
        for i, h in enumerate(headers)
    ]
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="{kind}">{escape(cell)}</td>'
            for kind, cell in zip(classes, row, strict=True)
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _none(text: str = "None.") -> str:
    return f'<p class="note">{escape(text)}</p>'


def _statuses(report: IncidentReport) -> str:
    rows = [(s.value, str(report.statuses.get(s, 0))) for s in Status]
    html = _table(("status", "messages"), rows, {1})
    unknown = report.timeline.totals()[Outcome.UNKNOWN] if report.timeline else 0
    if unknown:
        html += _none(
            f"{unknown} attempt(s) ended with no final reply after the content went out: "
            "those messages may have arrived twice."
        )
    return html


def _attempts(timeline: Timeline | None) -> str:
    if timeline is None:
        return _none("No attempt started in this period.")
    totals = timeline.totals()
    shown = [o for o in Outcome if totals[o]]
    stacks = [
        [
            (b.counts[o], OUTCOME_COLOURS[o], f"{b.counts[o]} {o.value} from {when(b.start)}")
            for o in shown
        ]
        for b in timeline.buckets
    ]
    top = max(b.total for b in timeline.buckets)
    ticks = nice_ticks(top)
    plot = Plot(x_max=len(timeline.buckets), y_max=ticks[-1])
    svg = chart(
        plot,
        stacked_bars(plot, stacks),
        name="attempts",
        label=f"Attempts per slice by outcome, {slice_label(timeline)}",
        x_ticks=[(i, text) for i, text in tick_labels(timeline)],
        y_ticks=ticks,
    )
    legend = "".join(
        f'<span><i style="background:{OUTCOME_COLOURS[o]}"></i>{o.value} {totals[o]}</span>'
        for o in shown
    )
    return f'<p class="note">{escape(slice_label(timeline))}</p>{svg}<p class="legend">{legend}</p>'


def _failures(report: IncidentReport) -> str:
    if not report.failures:
        return _none()
    rows = [
        (
            str(g.count),
            g.outcome.value,
            g.reply.stage.value,
            judged_reply(g.reply, g.rule),
            when(g.first_at),
            when(g.last_at),
            "\n".join(g.sample_message_ids),
        )
        for g in report.failures
    ]
    headers = ("attempts", "outcome", "at", "reply", "first", "last", "some Message-IDs")
    return _table(headers, rows, {0})


def _messages(waits: Sequence[MessageWait], *, waiting: bool) -> str:
    if not waits:
        return _none()
    rows = [
        (
            w.message_id,
            w.status.value,
            when(w.queued_at),
            when(w.next_attempt_at if waiting else w.ended_at),
            lasted(w.waited_s),
            str(w.attempts),
            str(w.throttles),
            w.last_reply.describe() if w.last_reply else "-",
        )
        for w in waits
    ]
    last = "next try" if waiting else "ended"
    headers = (
        "Message-ID",
        "status",
        "queued",
        last,
        "waited",
        "attempts",
        "throttled",
        "last reply",
    )
    return _table(headers, rows, {5, 6})


def _pauses(report: IncidentReport) -> str:
    if not report.pauses:
        return _none()
    rows = []
    for p in report.pauses:
        rows.append(
            (
                p.sending_key,
                p.kind.value,
                when(p.start),
                pause_end(p, report),
                pause_lasted(p, report),
                p.reply.describe(),
            )
        )
    headers = ("sending key", "kind", "from", "until", "lasted", "reply before")
    return _table(headers, rows, set())
