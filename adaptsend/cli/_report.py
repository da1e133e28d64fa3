"""``adaptsend report``: explain a period of sending to the person on call."""

from __future__ import annotations

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
    help="Start of the period: 30m, 2h, 1d, or an ISO date or time (UTC unless it "
    "names a zone). The period ends now.",
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
    ctx: click.Context, since: str, sending_key: str | None, html_file: Path | None, as_json: bool
) -> None:
    """Explain a period of sending: messages by status, attempts over time
    by outcome, the connection cap and the message rate with the throttles,
    failures grouped by reply, the slowest and the oldest waiting messages,
    and pauses (quota, or no attempt while messages waited).

    Reads the store only; it may run while agents send.
    """
    now = utcnow()
    try:
        start = parse_since(since, now=now)
    except click.BadParameter as exc:
        exc.param_hint = "'--since'"
        raise
    assert start is not None
    if start > now:
        raise click.BadParameter(f"{since!r} is in the future", param_hint="'--since'")
    with Agent(load(ctx), existing_store=True) as agent:
        incident = build_report(
            incident_log(agent.store),
            since=start,
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


def _write(path: Path, html: str) -> None:
    try:
        path.write_text(html, encoding="utf-8")
    except OSError as exc:
        raise ReportError(f"Cannot write the report to {path}: {exc.strerror}.") from None
