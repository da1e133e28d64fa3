"""``adaptsend demo --transport graph``: the same story through Microsoft
Graph, played by :class:`~adaptsend.testing.FakeGraphServer` on 127.0.0.1.

The fake allows a number of requests at once that the agent is not told,
refuses the excess with ``429`` and a ``Retry-After``, and refuses every
request inside that window too; the agent learns the limit and sends
nothing until each window has passed. The ``graph`` transport comes from the
``adaptsend-graph`` plugin, found through its entry point like any other.
"""

from __future__ import annotations

import json
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path

import click
import trio
from rich.console import Console

from adaptsend._models import Envelope
from adaptsend.agent._agent import Agent
from adaptsend.cli._interactive import run_with_signals
from adaptsend.cli._progress import write_summary
from adaptsend.config._settings import Config, config_from_dict
from adaptsend.engine._report import RunReport
from adaptsend.plugins._manager import load_plugins
from adaptsend.testing import DEFAULT_GRAPH_TOKEN, FakeGraphServer

MAILBOX = "reports@demo.invalid"
#: Graph's answer to the excess is a pause of the whole mailbox: one second here.
RETRY_AFTER_S = 1.0


def run_graph_demo(
    envelopes: Iterable[Envelope], *, count: int, limit: int, latency_s: float, printer: object
) -> RunReport:
    """Send ``envelopes`` through a fake Graph that allows ``limit``
    requests at once; ``printer`` is a plugin that shows the cap's changes."""
    plugins = load_plugins(extra=[printer])
    if "graph" not in plugins.registry.transports:
        raise click.UsageError(
            "--transport graph needs the adaptsend-graph plugin installed "
            "(pip install adaptsend-graph, or -e plugins/graph from the repository)"
        )
    with (
        tempfile.TemporaryDirectory(prefix="adaptsend-demo-") as workdir,
        FakeGraphServer(limit=limit, latency_s=latency_s, retry_after_s=RETRY_AFTER_S) as graph,
    ):
        config = _config(Path(workdir), graph)
        click.echo(
            f"demo: a local fake of Microsoft Graph on {graph.url} allows {limit} request(s) "
            f"at once for the mailbox and answers the excess with 429 and Retry-After: "
            f"{RETRY_AFTER_S:g}; the agent starts at cap {config.limiter.initial_cap} and is "
            "not told the limit.",
            err=True,
        )
        with Agent(config, plugins=plugins) as agent:
            agent.enqueue(envelopes)
            click.echo(f"queued {count} message(s); sending:", err=True)
            console = Console(stderr=True)
            report = trio.run(
                lambda: run_with_signals(agent.dispatcher(), console=console, live=False)
            )
        write_summary(report, sys.stderr)
        stats = graph.statistics()
        click.echo(
            f"Graph: {stats.unique_messages} distinct message(s) delivered, "
            f"{stats.duplicate_deliveries} duplicate(s), {stats.throttled} request(s) refused "
            f"with 429, at most {stats.max_concurrent} at once, {graph.sent_in_windows()} sent "
            f"inside a Retry-After window ({stats.in_window} arrived in one, on their way "
            "when it opened)"
        )
    return report


def _config(workdir: Path, graph: FakeGraphServer) -> Config:
    # A token command that prints the fake's token for an hour: a real
    # provider, as a site's own token broker would be.
    token = json.dumps({"access_token": DEFAULT_GRAPH_TOKEN, "expires_in": 3600})
    return config_from_dict(
        {
            "store": {"url": f"sqlite:///{workdir / 'demo.db'}"},
            "run": {"transport": "graph"},
            "limiter": {"initial_cap": 2, "min_cap": 1, "max_cap": 8},
            "retry": {"base_delay_s": 0.5, "max_delay_s": 5},
            "plugin": {
                "graph": {
                    "mailbox": MAILBOX,
                    "base_url": graph.base_url,
                    "timeout_s": 10,
                    "oauth": {
                        "provider": "command",
                        "command": [sys.executable, "-c", f"print({token!r})"],
                    },
                }
            },
        }
    )
