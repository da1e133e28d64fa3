"""Several ``adaptsend run --follow`` processes on one PostgreSQL queue share one
connection budget: together they keep at most the learned cap open, so the
provider sees no more connections than its limit and a brief probe."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa

from adaptsend import Agent, load_config, load_plugins
from adaptsend.limits._shared import SharedLimiter
from adaptsend.store._schema import sending_budgets
from adaptsend.testing import ThrottlingSMTPServer
from tests.helpers.agent_config import write_agent_config
from tests.helpers.agent_processes import summary, wait_until
from tests.helpers.command_line import cli_ok, enqueue_batch, status_counts

#: The server's hidden limit, and what the agents may open together: the
#: limit, plus one connection while they probe whether it has risen.
LIMIT = 3
MESSAGES = 300


def write_config(tmp_path: Path, url: str, server: ThrottlingSMTPServer) -> Path:
    # The default max_cap (8): the agents must learn the limit, not be told it.
    extra = "[limiter]\ninitial_cap = 2\nprobe_interval_s = 2\n[run]\npoll_interval_s = 0.1\n"
    return write_agent_config(tmp_path, url, server, extra)


def _dispatchers_share(config: Path) -> bool:
    with Agent(load_config(config), plugins=load_plugins(entry_points=False)) as agent:
        return isinstance(agent.dispatcher().limiter, SharedLimiter)


def _budget_caps(url: str) -> list[tuple[int, int | None]]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            query = sa.select(sending_budgets.c.cap, sending_budgets.c.ceiling)
            return [(cap, ceiling) for cap, ceiling in conn.execute(query)]
    finally:
        engine.dispose()


def test_three_agents_keep_the_servers_limit_together_and_send_each_message_once(
    tmp_path: Path, server_db_url: str, agents: Callable[..., subprocess.Popen[str]]
) -> None:
    with ThrottlingSMTPServer(limit=LIMIT, latency_s=0.02) as server:
        config = write_config(tmp_path, server_db_url, server)
        cli_ok(config, "db", "upgrade")
        assert _dispatchers_share(config), "a PostgreSQL store shares its budget by default"
        procs = [agents(config, "--follow", "--json") for _ in range(3)]
        # Followers poll an empty queue; give them time to start before work comes.
        time.sleep(1.5)
        enqueue_batch(config, MESSAGES)
        wait_until(lambda: status_counts(config)["sent"] == MESSAGES, timeout_s=120)
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        results = [summary(proc) for proc in procs]

    assert [code for code, _ in results] == [130, 130, 130]
    assert server.delivered == MESSAGES and server.duplicates == {}
    assert len(server.deliveries) == MESSAGES
    assert sum(report["sent"] for _, report in results) == MESSAGES
    assert server.max_concurrent <= LIMIT + 1
    # One budget for the one sending key, and it learned where the limit is.
    [(cap, ceiling)] = _budget_caps(server_db_url)
    assert cap <= LIMIT + 1 and ceiling is not None and ceiling <= LIMIT + 1
