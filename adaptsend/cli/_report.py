"""``adaptsend report``: explain a period of sending to the person on call."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import click
from rich.console import Console

from adaptsend._models import utcnow
from adaptsend.agent._agent import Agent
from adaptsend.cli._common import fail_cleanly, load, parse_since
from adaptsend.report._build import ReportError, build_report, incident_log
from adaptsend.report._html import report_html
from adaptsend.report._json import report_document
from adaptsend.report._terminal import render

#: Columns for the report when it is not written to a terminal (a file, a
#: mail from cron): wide enough for a timeline chart beside its labels.
_PLAIN_WIDTH = 132


@click.command()
@click.option(
    "--since",
    metavar="WHEN",
    default="1d",
    show_default=True,
    help="Start of the period: 30m, 2h, 1d (that long ago), or an ISO date or time "
    "(UTC unless it names a zone). The period ends at --until, by default now.",
)
@click.option(
    "--until",
    metavar="WHEN",
    help="End of the period, in the same forms as --since; default: now. Last night "
    "from 22:00 to 02:00 UTC: --since 2026-12-05T22:00 --until 2026-12-06T02:00; the "
    "four hours that ended two hours ago: --since 6h --until 2h.",
)
@click.option(
    "--key",
    "sending_key",
    metavar="KEY",
    help="Only this sending key (USERNAME@HOST:PORT); default: every key.",
)
@click.option(
    "--html",
    "html_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the report to FILE as one HTML page with charts, which opens offline.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document instead.")
@click.pass_context
@fail_cleanly
def report(
    ctx: click.Context,
    since: str,
    until: str | None,
    sending_key: str | None,
    html_file: Path | None,
    as_json: bool,
) -> None:
    """Explain a period of sending: messages by status, attempts over time
    by outcome, the connection cap and the message rate with the throttles,
    failures grouped by reply, the slowest and the oldest waiting messages,
    and pauses (quota, or no attempt while messages waited).

    A period that ended before now (--until) counts the attempts that
    started in it, and the messages as they stood at its end: those that
    ended in it, and those queued that had not ended by then.

    Reads the store only; it may run while agents send.
    """
    now = utcnow()
    start = _moment(since, now=now, option="--since")
    end = now if until is None else _moment(until, now=now, option="--until")
    if until is not None and end <= start:
        raise click.BadParameter(
            f"{until!r} is not after --since {since!r}: the period must end after it starts",
            param_hint="'--until'",
        )
    with Agent(load(ctx), existing_store=True) as agent:
        incident = build_report(
            incident_log(agent.store),
            since=start,
            until=end,
            now=now,
            sending_key=sending_key,
            clean=agent.redactor.reply,
        )
    if html_file is not None:
        _write(html_file, report_html(incident))
    if as_json:
        click.echo(json.dumps(report_document(incident)))
        return
    console = Console(highlight=False, soft_wrap=False)
    if not console.is_terminal:
        console = Console(highlight=False, soft_wrap=False, width=_PLAIN_WIDTH)
    render(incident, console)
    if html_file is not None:
        click.echo(f"\nwrote {html_file}", err=True)


def _moment(value: str, *, now: dt.datetime, option: str) -> dt.datetime:
    """``--since`` or ``--until`` as naive UTC, not after ``now``."""
    try:
        moment = parse_since(value, now=now)
    except click.BadParameter as exc:
        exc.param_hint = f"'{option}'"
        raise
    assert moment is not None
    if moment > now:
        raise click.BadParameter(f"{value!r} is in the future", param_hint=f"'{option}'")
    return moment


def _write(path: Path, html: str) -> None:
    try:
        path.write_text(html, encoding="utf-8")
    except OSError as exc:
        raise ReportError(f"Cannot write the report to {path}: {exc.strerror}.") from None
