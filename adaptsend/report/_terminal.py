"""``adaptsend report`` on a terminal: rich tables with charts of block characters.

Each chart is one line with a character per slice of the timeline, so that
the attempts, the cap and the throttle marks line up column for column.
"""

from __future__ import annotations

import math

from rich import box
from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from adaptsend._models import Outcome, Status
from adaptsend.report._build import IncidentReport, Timeline, cap_per_slice, rate_per_slice
from adaptsend.report._text import (
    CAP_COLOUR,
    OUTCOME_COLOURS,
    RATE_COLOUR,
    SECTIONS,
    THROTTLE_COLOUR,
    judged_reply,
    lasted,
    pause_end,
    pause_lasted,
    per_minute,
    period,
    reasons,
    slice_label,
    sparkline,
    throttles_per_slice,
    when,
)
from adaptsend.store._incident_api import MessageWait

_NONE = Text("none", style="dim")


def render(report: IncidentReport, console: Console) -> None:
    """Print the report: a heading, then one titled section after another."""
    console.print(_heading(report))
    bodies = (
        _statuses(report),
        _attempts(report.timeline),
        _limits(report),
        _failures(report),
        _messages(report.slowest, waiting=False),
        _messages(report.oldest_waiting, waiting=True),
        _pauses(report),
    )
    for title, body in zip(SECTIONS, bodies, strict=True):
        console.print()
        console.print(Text(title, style="bold underline"))
        console.print(body)


def _heading(report: IncidentReport) -> Text:
    keys = report.sending_key or "every sending key"
    return Text.assemble(
        ("adaptsend report", "bold"),
        f"  {period(report)}  ({keys})",
    )


#: Columns of free text, which wrap (a Message-ID anywhere: a person copies
#: it whole); every other column keeps to one line.
_WRAPPING = frozenset({"reply", "last reply", "reply before", "Message-ID", "changes by reason"})


def _add_row(table: Table, *cells: str | Text) -> None:
    """A row of plain text: a reply such as ``[redacted]`` or ``[Hostname=x]``
    must show as it is, not be read as rich's markup."""
    table.add_row(*(Text(cell) if isinstance(cell, str) else cell for cell in cells))


def _table(*columns: str) -> Table:
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for column in columns:
        wraps = column in _WRAPPING
        table.add_column(column, no_wrap=not wraps, overflow="fold" if wraps else "ellipsis")
    return table


def _statuses(report: IncidentReport) -> RenderableType:
    table = _table("status", "messages")
    for status in Status:
        _add_row(table, status.value, str(report.statuses.get(status, 0)))
    totals = report.timeline.totals() if report.timeline else {}
    unknown = totals.get(Outcome.UNKNOWN, 0)
    if not unknown:
        return table
    note = Text(
        f"{unknown} attempt(s) ended with no final reply after the content went out: "
        "those messages may have arrived twice.",
        style="yellow",
    )
    return Group(table, note)


def _attempts(timeline: Timeline | None) -> RenderableType:
    if timeline is None:
        return Text("No attempt started in this period.", style="dim")
    totals = timeline.totals()
    table = _table("outcome", "attempts", "most in a slice", slice_label(timeline))
    for outcome in Outcome:
        if not totals[outcome]:
            continue
        per_slice = [b.counts[outcome] for b in timeline.buckets]
        chart = Text(sparkline(per_slice), style=OUTCOME_COLOURS[outcome])
        _add_row(table, outcome.value, str(totals[outcome]), str(max(per_slice)), chart)
    return table


def _limits(report: IncidentReport) -> RenderableType:
    timeline = report.timeline
    if timeline is None or not report.caps:
        return _NONE
    parts: list[RenderableType] = [_caps(report, timeline)]
    parts.extend(_sources(report))
    if report.rates:
        parts += [Text(), _rates(report, timeline)]
    return Group(*parts)


def _key_cell(sending_key: str, agent: str | None) -> str:
    # The agent on a line of its own: the charts keep their width.
    return sending_key if agent is None else f"{sending_key}\nagent {agent}"


def _caps(report: IncidentReport, timeline: Timeline) -> Table:
    table = _table("sending key", "first", "lowest", "highest", "last", "changes", "cap per slice")
    top = max(point.cap for series in report.caps for point in series.points)
    for series in report.caps:
        caps = [p.cap for p in series.points]
        chart = Text(sparkline(cap_per_slice(series, timeline), top), style=CAP_COLOUR)
        _add_row(
            table,
            _key_cell(series.sending_key, series.agent),
            str(caps[0]),
            str(min(caps)),
            str(max(caps)),
            str(caps[-1]),
            str(len(caps) - 1),
            chart,
        )
    _refusals(table, timeline)
    return table


def _rates(report: IncidentReport, timeline: Timeline) -> Table:
    table = _table(
        "sending key", "first", "lowest", "highest", "last", "changes", "messages a minute"
    )
    limited = [p.per_minute for s in report.rates for p in s.points if p.per_minute is not None]
    top = max(limited, default=0.0)
    for series in report.rates:
        rates = [p.per_minute for p in series.points]
        known = [r for r in rates if r is not None]
        per_slice = rate_per_slice(series, timeline)
        # No limit reads as the top of the scale, marked apart.
        drawn = sparkline([top if r == math.inf else r for r in per_slice], top)
        chart = Text()
        for char, rate in zip(drawn, per_slice, strict=True):
            chart.append("∞" if rate == math.inf else char, style=RATE_COLOUR)
        _add_row(
            table,
            _key_cell(series.sending_key, series.agent),
            per_minute(rates[0]),
            per_minute(min(known, default=None)),
            per_minute(None if None in rates else max(known)),
            per_minute(rates[-1]),
            str(len(rates) - 1),
            chart,
        )
    _refusals(table, timeline)
    return table


def _refusals(table: Table, timeline: Timeline) -> None:
    throttled = throttles_per_slice(timeline)
    marks = "".join("▴" if n else " " for n in throttled)
    _add_row(
        table, "refused for load", "", "", "", "", str(sum(throttled)), Text(marks, THROTTLE_COLOUR)
    )


def _sources(report: IncidentReport) -> list[RenderableType]:
    """Where each cap line comes from; for the limiter's record, its reasons."""
    table = _table("sending key", "cap read from", "changes by reason")
    for series in report.caps:
        changes = series.source == "changes"
        _add_row(
            table,
            _key_cell(series.sending_key, series.agent),
            "the limiter's record" if changes else "attempts",
            reasons([p.reason for p in series.points]) if changes else "-",
        )
    shown: list[RenderableType] = [Text(), table]
    if any(series.source == "attempts" for series in report.caps):
        shown.append(
            Text(
                "attempts: the cap each attempt saw when it began; "
                "a change shows at the next attempt after it.",
                "dim",
            )
        )
    return shown


def _failures(report: IncidentReport) -> RenderableType:
    if not report.failures:
        return _NONE
    table = _table("attempts", "outcome", "at", "reply", "first", "last")
    for group in report.failures:
        _add_row(
            table,
            str(group.count),
            Text(group.outcome.value, style=OUTCOME_COLOURS[group.outcome]),
            group.reply.stage.value,
            judged_reply(group.reply, group.rule),
            when(group.first_at),
            when(group.last_at),
        )
    return table


def _messages(waits: tuple[MessageWait, ...], *, waiting: bool) -> RenderableType:
    if not waits:
        return _NONE
    columns: tuple[str, ...] = ("Message-ID", "status", "queued")
    if waiting:
        columns += ("waited", "tries", "next try", "last reply")
    else:
        columns += ("ended", "waited", "tries")
    table = _table(*columns)
    for wait in waits:
        # Attempts, and throttled ones apart: those do not use up the retry budget.
        tries = f"{wait.attempts}+{wait.throttles}t" if wait.throttles else str(wait.attempts)
        row = [wait.message_id, wait.status.value, when(wait.queued_at)]
        if waiting:
            last = wait.last_reply.describe() if wait.last_reply else "-"
            row += [lasted(wait.waited_s), tries, when(wait.next_attempt_at), last]
        else:
            row += [when(wait.ended_at), lasted(wait.waited_s), tries]
        _add_row(table, *row)
    return table


def _pauses(report: IncidentReport) -> RenderableType:
    if not report.pauses:
        return _NONE
    table = _table("sending key", "kind", "from", "until", "lasted", "reply before")
    for pause in report.pauses:
        _add_row(
            table,
            pause.sending_key,
            pause.kind.value,
            when(pause.start),
            pause_end(pause, report),
            pause_lasted(pause, report),
            pause.reply.describe(),
        )
    return table
