"""``adaptsend demo``: the whole story on one machine in a few seconds.

A local SMTP server refuses connections over a limit the agent is not told,
the way Microsoft 365 does; the agent queues a batch, finds the limit, retries
every refusal and delivers each message exactly once.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import click
import trio
from rich.console import Console

from adaptsend._models import Message
from adaptsend.agent._agent import Agent
from adaptsend.cli._common import exit_code, fail_cleanly
from adaptsend.cli._demo_graph import run_graph_demo
from adaptsend.cli._interactive import run_with_signals
from adaptsend.cli._progress import describe_change, write_summary
from adaptsend.config._settings import Config, LimiterConfig, RetryConfig, SMTPConfig, StoreConfig
from adaptsend.hookspecs import hookimpl
from adaptsend.limits._records import CapChange
from adaptsend.plugins._manager import load_plugins
from adaptsend.sources._compose import compose
from adaptsend.testing import ThrottlingSMTPServer


class _CapChangePrinter:
    @hookimpl
    def adaptsend_cap_changed(self, sending_key: str, change: CapChange) -> None:
        click.echo(f"  {describe_change(change)}", err=True)


@click.command()
@click.option("--messages", default=100, show_default=True, help="How many messages to send.")
@click.option("--limit", default=3, show_default=True, help="The server's hidden connection limit.")
@click.option("--latency-ms", default=30, show_default=True, help="The server's delay per message.")
@click.option(
    "--transport",
    type=click.Choice(["smtp", "graph"]),
    default="smtp",
    show_default=True,
    help="SMTP, or Microsoft Graph's sendMail (a local fake; needs adaptsend-graph).",
)
@fail_cleanly
def demo(messages: int, limit: int, latency_ms: int, transport: str) -> None:
    """Send a batch through a local server that throttles like Microsoft 365.

    Needs no configuration and touches nothing outside a temporary directory.
    """
    if messages < 1 or limit < 1 or latency_ms < 0:
        raise click.UsageError("--messages and --limit must be at least 1, --latency-ms 0 or more")
    if transport == "graph":
        envelopes = (compose(_demo_message(n)) for n in range(messages))
        report = run_graph_demo(
            envelopes,
            count=messages,
            limit=limit,
            latency_s=latency_ms / 1000,
            printer=_CapChangePrinter(),
        )
        sys.exit(exit_code(report))
    with (
        tempfile.TemporaryDirectory(prefix="adaptsend-demo-") as workdir,
        ThrottlingSMTPServer(limit=limit, latency_s=latency_ms / 1000) as server,
    ):
        config = _demo_config(Path(workdir), server.host, server.port)
        click.echo(
            f"demo: a local SMTP server on {server.host}:{server.port} allows {limit} "
            "concurrent connection(s) and answers the excess with 432 4.3.2; "
            f"the agent starts at cap {config.limiter.initial_cap} and is not told the limit.",
            err=True,
        )
        plugins = load_plugins(entry_points=False, extra=[_CapChangePrinter()])
        with Agent(config, plugins=plugins) as agent:
            agent.enqueue(compose(_demo_message(n)) for n in range(messages))
            click.echo(f"queued {messages} message(s); sending:", err=True)
            console = Console(stderr=True)
            report = trio.run(
                lambda: run_with_signals(agent.dispatcher(), console=console, live=False)
            )
        write_summary(report, sys.stderr)
        stats = server.statistics()
        click.echo(
            f"server: {len(server.deliveries)} distinct message(s) delivered, "
            f"{len(server.duplicates)} duplicate(s), {stats.rejections} connection(s) "
            f"refused with 432, at most {stats.max_concurrent} open at once"
        )
    sys.exit(exit_code(report))


def _demo_config(workdir: Path, host: str, port: int) -> Config:
    return Config(
        store=StoreConfig(url=f"sqlite:///{workdir / 'demo.db'}"),
        smtp=SMTPConfig(host=host, port=port, timeout_s=10),
        limiter=LimiterConfig(initial_cap=2, min_cap=1, max_cap=8),
        retry=RetryConfig(base_delay_s=0.5, max_delay_s=5),
    )


def _demo_message(number: int) -> Message:
    return Message(
        sender="reports@demo.invalid",
        to=(f"team{number % 7}@demo.invalid",),
        subject=f"Nightly report {number + 1}",
        text=f"Report {number + 1} is ready.\n",
    )
