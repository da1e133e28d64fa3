"""``adaptsend run``: drain the queue."""

from __future__ import annotations

import logging
import sys

import click
import trio
from rich.console import Console
from rich.logging import RichHandler

from adaptsend.agent._agent import Agent
from adaptsend.cli._common import exit_code, fail_cleanly, load
from adaptsend.cli._interactive import CapChangeLogger, run_with_signals
from adaptsend.cli._progress import report_json, write_summary
from adaptsend.cli._table_run import TableTotals, drain_source, table_exit_code, with_table
from adaptsend.config._redact import attach_filter
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
@click.pass_context
@fail_cleanly
def run(ctx: click.Context, source: str, follow: bool, as_json: bool) -> None:
    """Send every queued message, retrying temporary failures, until done.

    Live progress on a terminal, log lines otherwise. Ctrl-C once stops after
    the sends in progress; twice aborts.

    Exit codes: 0 all sent; 1 some failed or died; 2 usage or configuration;
    3 a fatal reply stopped the run; 4 deferred: the server could not be
    reached for [run] outage_wait_s, messages wait for the next run; 130
    interrupted.
    """
    config = load(ctx)
    if not as_json:
        logging.getLogger("adaptsend").setLevel(min(logging.INFO, logging.root.level))
    console = Console(stderr=True)
    live = console.is_terminal and not as_json
    if live:
        # Log lines must go through the console, or they tear the live panel.
        logging.root.handlers = [RichHandler(console=console, show_path=False)]
        attach_filter()
    with Agent(config, plugins=load_plugins(extra=[CapChangeLogger()])) as agent:

        async def go() -> tuple[RunReport, TableTotals | None]:
            dispatcher = agent.dispatcher(follow=follow)
            async with agent.alerting():
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
        write_summary(report, sys.stderr)
        if table is not None:
            click.echo(table.describe(), err=True)
    sys.exit(table_exit_code(exit_code(report), table))


def _warn_stranded(agent: Agent) -> None:
    """Messages queued under another sending key (the [smtp] account or host
    changed since they were queued) are never sent by this agent: say so."""
    for key, count in agent.stranded().items():
        click.echo(
            f"warning: {count} message(s) are queued under the sending key {key}, not this "
            f"agent's {agent.sending_key}; `adaptsend adopt {key}` hands them to this agent",
            err=True,
        )
