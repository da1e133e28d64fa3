"""Words, times and colours that the terminal and HTML views of a report share."""

from __future__ import annotations

import collections
import datetime as dt
from collections.abc import Sequence

from adaptsend._models import Outcome, Reply
from adaptsend.report._build import IncidentReport, Timeline
from adaptsend.store._incident_api import Pause

#: One colour per outcome, the same in the terminal and in the charts: green
#: for sent, warm colours for what slows sending, dark ones for what stops it.
OUTCOME_COLOURS = {
    Outcome.SENT: "#2e8b57",
    Outcome.THROTTLED: "#d62728",
    Outcome.RATE: "#ff7f0e",
    Outcome.TRANSIENT: "#e6b800",
    Outcome.UNKNOWN: "#9467bd",
    Outcome.QUOTA: "#8c564b",
    Outcome.PERMANENT: "#555555",
    Outcome.FATAL: "#111111",
}
#: The cap line, the message rate's line, and the marks of slices where the
#: provider refused for load.
CAP_COLOUR = "#1f5fbf"
RATE_COLOUR = "#17becf"
THROTTLE_COLOUR = OUTCOME_COLOURS[Outcome.THROTTLED]
#: The outcomes that cut the cap or the message rate: the throttle marks.
THROTTLES = (Outcome.THROTTLED, Outcome.RATE)

SECTIONS = (
    "Messages by status",
    "Attempts over time",
    "Connection cap and message rate",
    "Failures by reply",
    "Slowest messages",
    "Oldest waiting messages",
    "Pauses",
)


def judged_reply(reply: Reply, rule: str | None) -> str:
    """``550 5.1.1 ... (rule permanent)``: a failure's reply and the rule that
    judged it, so a reader can look the rule up (docs/replies.md). Attempts
    recorded before rules were kept show the reply alone."""
    shown = reply.describe()
    return shown if rule is None else f"{shown} (rule {rule})"


def when(moment: dt.datetime | None) -> str:
    """A naive UTC time to the second, or a dash for none."""
    return "-" if moment is None else moment.strftime("%Y-%m-%d %H:%M:%S")


def period(report: IncidentReport) -> str:
    """``2026-12-05 22:00:00 - 2026-12-06 02:00:00 UTC``, and when the report
    was made if the period ended before."""
    shown = f"{when(report.since)} - {when(report.until)} UTC"
    if report.until < report.generated_at:
        shown += f", made {when(report.generated_at)}"
    return shown


def pause_end(pause: Pause, report: IncidentReport) -> str:
    """When a pause ended; for one that went on to the period's end, that it
    did (it may have lasted longer)."""
    if pause.end is not None:
        return when(pause.end)
    return "still paused" if report.until >= report.generated_at else "still paused at the end"


def pause_lasted(pause: Pause, report: IncidentReport) -> str:
    """How long a pause lasted, up to the period's end at most."""
    return lasted(((pause.end or report.until) - pause.start).total_seconds())


def lasted(seconds: float) -> str:
    """A duration a person reads at a glance: ``0.4 s``, ``12 s``, ``3 min 5 s``."""
    if seconds < 10:
        return f"{seconds:.1f}".removesuffix(".0") + " s"
    whole = round(seconds)
    for unit_s, unit, sub_s, sub in ((86400, "d", 3600, "h"), (3600, "h", 60, "min")):
        if whole >= unit_s:
            big, rest = divmod(whole, unit_s)
            return f"{big} {unit} {rest // sub_s} {sub}" if rest >= sub_s else f"{big} {unit}"
    if whole >= 60:
        minutes, rest = divmod(whole, 60)
        return f"{minutes} min {rest} s" if rest else f"{minutes} min"
    return f"{whole} s"


def per_minute(rate: float | None) -> str:
    """A message rate as a person reads it: ``417.5``, ``120``, ``unlimited``."""
    return "unlimited" if rate is None else f"{rate:.1f}".removesuffix(".0")


def whose(sending_key: str, agent: str | None) -> str:
    """A line's name: the sending key, and the agent whose own limit it is."""
    return sending_key if agent is None else f"{sending_key}, agent {agent}"


def reasons(given: Sequence[str | None]) -> str:
    """How many changes had each reason, most first: ``growth 20, throttle 3``."""
    counts = collections.Counter(r for r in given if r is not None)
    return ", ".join(f"{reason} {n}" for reason, n in counts.most_common())


def slice_label(timeline: Timeline) -> str:
    """``2026-11-29 21:40:00 - 21:45:00 UTC, 5 s a slice``."""
    start, end = timeline.start, timeline.end
    shown_end = end.strftime("%H:%M:%S") if end.date() == start.date() else when(end)
    return f"{when(start)} - {shown_end} UTC, {lasted(timeline.width_s)} a slice"


def tick_labels(timeline: Timeline, ticks: int = 6) -> list[tuple[int, str]]:
    """About ``ticks`` (slice index, label) pairs for a time axis, on whole slices."""
    count = len(timeline.buckets)
    step = max(1, -(-count // ticks))
    several_days = timeline.end - timeline.start > dt.timedelta(days=1)
    fmt = "%m-%d %H:%M" if several_days else "%H:%M" if timeline.width_s >= 60 else "%H:%M:%S"
    return [(i, timeline.buckets[i].start.strftime(fmt)) for i in range(0, count, step)]


def throttles_per_slice(timeline: Timeline) -> list[int]:
    """Refusals that cut the cap or the rate, in each slice."""
    return [sum(b.counts[o] for o in THROTTLES) for b in timeline.buckets]


def sparkline(values: Sequence[float | None], top: float | None = None) -> str:
    """One block character per value, its height relative to ``top`` (by
    default the largest value); a blank for zero or none."""
    blocks = "▁▂▃▄▅▆▇█"
    highest = top if top is not None else max((v for v in values if v), default=0)
    if not highest:
        return " " * len(values)
    chars = []
    for value in values:
        if not value:
            chars.append(" ")
        else:
            level = round(value / highest * (len(blocks) - 1))
            chars.append(blocks[min(max(level, 0), len(blocks) - 1)])
    return "".join(chars)
