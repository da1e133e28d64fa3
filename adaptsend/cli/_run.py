"""``adaptsend run``: drain the queue."""

from __future__ import annotations

import logging
import sys

import attrs
import click
import trio
from rich.console import Console
from rich.logging import RichHandler

from adaptsend.agent._agent import Agent
from adaptsend.cli._common import exit_code, fail_cleanly, load, log_format_option, tell
from adaptsend.cli._interactive import CapChangeLogger, run_with_signals
from adaptsend.cli._log_format import LogFormat, logs_as_json, use_log_format
from adaptsend.cli._progress import report_json, summary_lines
from adaptsend.cli._table_run import TableTotals, drain_source, table_exit_code, with_table
from adaptsend.config._redact import attach_filter
from adaptsend.config._settings import Config
from adaptsend.engine._report import RunReport
from adaptsend.plugins._manager import load_plugins


@click.command()
@click.option(
    "--source",
    type=click.Choice(["queue", "table"]),
    default="queue",
    show_default=True,
    help="Where messages come from: 'queue' drains the store's own queue; 'table' "
    "first queues the rows [source.table] selects and writes their outcomes back.",
)
@click.option("--follow", is_flag=True, help="Keep running and send new messages as they come.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON object.")
@click.option(
    "--metrics-port",
    type=click.IntRange(0, 65535),
    metavar="PORT",
    help="Serve Prometheus metrics at http://127.0.0.1:PORT/metrics while the run "
    "lasts (default: [metrics] port; [metrics] address picks another address).",
)
@log_format_option()
@click.pass_context
@fail_cleanly
def run(
    ctx: click.Context,
    source: str,
    follow: bool,
    as_json: bool,
    metrics_port: int | None,
    log_format: LogFormat | None,
) -> None:
    """Send every queued message, retrying temporary failures, until done.

    Live progress on a terminal, log lines otherwise (JSON lines with
    --log-format json). Ctrl-C once stops after the sends in progress; twice
    aborts.

    Exit codes: 0 all sent; 1 some failed or died; 2 usage or configuration;
    3 a fatal reply stopped the run; 4 deferred: messages wait for the next
    run (the server out of reach for [run] outage_wait_s, a quota, or the
    daily recipient budget used up); 130 interrupted.
    """
    if log_format is not None:
        use_log_format(log_format)
    config = _with_metrics_port(load(ctx), metrics_port)
    if not as_json:
        logging.getLogger("adaptsend").setLevel(min(logging.INFO, logging.root.level))
    console = Console(stderr=True)
    live = console.is_terminal and not as_json and not logs_as_json()
    if live:
        # Log lines must go through the console, or they tear the live panel.
        logging.root.handlers = [RichHandler(console=console, show_path=False)]
        attach_filter()
    with Agent(config, plugins=load_plugins(extra=[CapChangeLogger()])) as agent:

        async def go() -> tuple[RunReport, TableTotals | None]:
            dispatcher = agent.dispatcher(follow=follow)
            async with agent.alerting(), agent.keeping_metrics():
                return await drain_source(
                    source,
                    agent,
                    lambda: run_with_signals(
                        dispatcher,
                        console=None if as_json else console,
                        live=live,
                    ),
                    follow=follow,
                )

        report, table = trio.run(go)
        _warn_stranded(agent)
    if as_json:
        click.echo(with_table(report_json(report), table))
    else:
        for line in summary_lines(report):
            tell(line, level=logging.INFO)
        if table is not None:
            tell(table.describe(), level=logging.INFO)
    sys.exit(table_exit_code(exit_code(report), table))


def _with_metrics_port(config: Config, port: int | None) -> Config:
    if port is None:
        return config
    return attrs.evolve(config, metrics=attrs.evolve(config.metrics, port=port))


def _warn_stranded(agent: Agent) -> None:
    """Messages queued under another sending key (the [smtp] account or host
    changed since they were queued) are never sent by this agent: say so."""
    for key, count in agent.stranded().items():
        tell(
            f"warning: {count} message(s) are queued under the sending key {key}, not this "
            f"agent's {agent.sending_key}; `adaptsend adopt {key}` hands them to this agent"
        )
