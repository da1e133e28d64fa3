"""Showing a run to a person: a live panel on a terminal, plain lines elsewhere."""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import TextIO

import trio
from rich.console import Console
from rich.live import Live
from rich.table import Table

from adaptsend._models import Reply, Stage
from adaptsend.classify._classifier import hint_for
from adaptsend.engine._report import DispatcherStatistics, RunReport
from adaptsend.limits._records import CapChange

log = logging.getLogger("adaptsend.run")

#: How often a plain (non-terminal) progress line is written.
PLAIN_INTERVAL_S = 10.0


def panel(stats: DispatcherStatistics) -> Table:
    table = Table.grid(padding=(0, 2))
    for _ in range(7):
        table.add_column(justify="right")
    table.add_row("cap", "open", "in flight", "sent", "retrying", "failed/dead", "rate")
    table.add_row(
        str(stats.cap),
        str(stats.open_connections),
        str(stats.in_flight),
        str(stats.sent),
        str(stats.retrying),
        f"{stats.failed}/{stats.dead}",
        f"{stats.rate:.1f}/s",
    )
    if stats.unreachable_s is not None:
        table.add_row(f"paused for {stats.unreachable_s:.0f}s (outage or quota); messages wait")
    if stats.day_used_up is not None:
        table.add_row(f"{stats.day_used_up}; messages wait for room")
    return table


def line(stats: DispatcherStatistics) -> str:
    text = (
        f"cap={stats.cap} open={stats.open_connections} in_flight={stats.in_flight} "
        f"sent={stats.sent} retrying={stats.retrying} failed={stats.failed} "
        f"dead={stats.dead} throttled={stats.throttled} unknown={stats.unknown} "
        f"rate={stats.rate:.1f}/s"
    )
    if stats.unreachable_s is not None:
        text += f" unreachable_for={stats.unreachable_s:.0f}s"
    if stats.day_used_up is not None:
        text += " day_budget=used_up"
    return text


async def show_progress(
    read: object, console: Console, *, live: bool, interval_s: float = 0.25
) -> None:
    """Show ``read()`` (a callable returning statistics) until cancelled."""
    assert callable(read)
    if live:
        with Live(panel(read()), console=console, transient=False, auto_refresh=False) as view:
            try:
                while True:
                    await trio.sleep(interval_s)
                    view.update(panel(read()), refresh=True)
            finally:
                # The run has ended: leave its final numbers on the screen.
                view.update(panel(read()), refresh=True)
    while True:
        await trio.sleep(PLAIN_INTERVAL_S)
        log.info("%s", line(read()))


def describe_change(change: CapChange) -> str:
    ceiling = f", ceiling {change.ceiling}" if change.ceiling is not None else ""
    return f"cap {change.old_cap} -> {change.new_cap} ({change.reason.value}{ceiling})"


def summary_lines(report: RunReport) -> list[str]:
    lines = [
        f"sent {report.sent}, failed {report.failed}, dead {report.dead}, "
        f"throttled attempts {report.throttled}, attempts {report.attempts} "
        f"in {report.elapsed_s:.1f}s; final cap {report.final_cap} "
        f"after {report.cap_changes} cap change(s)"
    ]
    if report.unknown:
        lines.append(
            f"{report.unknown} attempt(s) with no final reply after the content went out: "
            "their messages were sent again and may have arrived twice"
        )
    if report.released:
        lines.append(f"{report.released} message(s) left queued for the next run")
    if report.deferred:
        why = _why_waiting(report.deferred_by, report.next_due, report.waiting_for)
        lines.append(f"{report.deferred} message(s) wait: {why}")
    if report.fatal is not None:
        lines.append(f"stopped: {report.fatal.describe()} (at {report.fatal.stage.value})")
        hint = hint_for(report.fatal)
        if hint is not None:
            lines.append(f"what to do: {hint}")
    if report.interrupted:
        lines.append("stopped on request")
    return lines


def report_json(report: RunReport) -> str:
    return json.dumps(
        {
            "sent": report.sent,
            "failed": report.failed,
            "dead": report.dead,
            "throttled": report.throttled,
            "attempts": report.attempts,
            "released": report.released,
            "elapsed_s": round(report.elapsed_s, 3),
            "final_cap": report.final_cap,
            "cap_changes": report.cap_changes,
            "fatal": _reply_json(report.fatal),
            "hint": hint_for(report.fatal) if report.fatal is not None else None,
            "interrupted": report.interrupted,
            "unknown": report.unknown,
            "deferred": report.deferred,
            "deferred_by": _reply_json(report.deferred_by),
            "next_due": report.next_due.isoformat() + "Z" if report.next_due else None,
            "waiting_for": report.waiting_for,
        }
    )


def _why_waiting(reply: Reply | None, next_due: dt.datetime | None, waiting_for: str | None) -> str:
    if reply is None and next_due is not None:
        when = f"the first is due at {next_due:%Y-%m-%d %H:%M:%S} UTC; run again then"
        return f"{waiting_for}; {when}" if waiting_for else when
    # An outage is a failure to connect; a quota is the server's answer to a message.
    if reply is not None and reply.stage not in (Stage.CONNECT, Stage.TLS):
        return f"the server reports a quota ({reply.describe()}); they go after the pause"
    last = f" ({reply.describe()})" if reply is not None else ""
    return f"the server could not be reached{last}; run again later"


def _reply_json(reply: Reply | None) -> dict[str, object] | None:
    return None if reply is None else reply.to_json()


def write_summary(report: RunReport, out: TextIO) -> None:
    for text in summary_lines(report):
        print(text, file=out)
