"""Agents without ``--follow`` on one queue end as soon as nothing is due for
them: the messages other live agents hold are theirs to finish."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from adaptsend.testing import ThrottlingSMTPServer
from tests.helpers.agent_config import write_agent_config
from tests.helpers.agent_processes import summary
from tests.helpers.command_line import cli_ok, enqueue_batch, status_counts

MESSAGES = 300


def test_three_agents_without_follow_all_end_soon_after_the_last_delivery(
    tmp_path: Path, server_db_url: str, agents: Callable[..., subprocess.Popen[str]]
) -> None:
    with ThrottlingSMTPServer(limit=3, latency_s=0.02) as server:
        extra = "[limiter]\ninitial_cap = 2\n[run]\npoll_interval_s = 0.1\n"
        config = write_agent_config(tmp_path, server_db_url, server, extra)
        cli_ok(config, "db", "upgrade")
        enqueue_batch(config, MESSAGES)
        procs = [agents(config, "--json") for _ in range(3)]
        # Each agent ends by itself; none waits for the leases the others hold.
        last_delivery = _wait_for_exits(procs, lambda: server.delivered >= MESSAGES)
        ended = time.monotonic()
        results = [summary(proc) for proc in procs]
        counts = status_counts(config)

    assert [code for code, _ in results] == [0, 0, 0]
    assert counts["sent"] == MESSAGES
    assert len(server.deliveries) == MESSAGES and server.duplicates == {}
    assert sum(report["sent"] for _, report in results) == MESSAGES
    assert last_delivery is not None
    # Not a timing bound on the machine's speed: before, two of the agents
    # sat idle until the others' leases (300 s then) ran out.
    assert ended - last_delivery < 30


def _wait_for_exits(
    procs: list[subprocess.Popen[str]], delivered: Callable[[], bool], timeout_s: float = 120
) -> float | None:
    """Wait until every process has exited; returns when ``delivered()``
    first held (None if it never did)."""
    deadline = time.monotonic() + timeout_s
    first: float | None = None
    while any(proc.poll() is None for proc in procs):
        assert time.monotonic() < deadline, "the agents did not end"
        if first is None and delivered():
            first = time.monotonic()
        time.sleep(0.05)
    return first if first is not None or not delivered() else time.monotonic()
