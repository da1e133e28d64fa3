"""Several ``adaptsend run`` processes on one queue, as a site runs them on
several machines: every message goes out exactly once, and the messages of an
agent killed mid-run are sent by another once their leases expire."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from adaptsend._models import utcnow
from adaptsend.store._schema import attempts, messages
from adaptsend.testing import ThrottlingSMTPServer
from tests.helpers.agent_config import write_agent_config
from tests.helpers.agent_processes import summary, wait_until
from tests.helpers.command_line import cli_ok, enqueue_batch, status_counts


def write_config(tmp_path: Path, url: str, server: ThrottlingSMTPServer, run: str = "") -> Path:
    limiter = "[limiter]\ninitial_cap = 2\nmax_cap = 4\nprobe_interval_s = 2\n"
    return write_agent_config(
        tmp_path, url, server, f"{limiter}[run]\npoll_interval_s = 0.1\n{run}"
    )


def test_three_following_agents_send_every_message_exactly_once(
    tmp_path: Path, empty_db_url: str, agents: Callable[..., subprocess.Popen[str]]
) -> None:
    with ThrottlingSMTPServer(limit=3, latency_s=0.02) as server:
        config = write_config(tmp_path, empty_db_url, server)
        cli_ok(config, "db", "upgrade")
        procs = [agents(config, "--follow", "--json") for _ in range(3)]
        # Followers poll an empty queue; give them time to start before work comes.
        time.sleep(1.5)
        enqueue_batch(config, 300)
        wait_until(lambda: status_counts(config)["sent"] == 300)
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        results = [summary(proc) for proc in procs]

    assert [code for code, _ in results] == [130, 130, 130]
    assert server.delivered == 300 and server.duplicates == {}
    assert len(server.deliveries) == 300
    assert sum(report["sent"] for _, report in results) == 300
    # Every agent claimed from the queue. Until agents share one connection
    # budget through the database, one of them may find all the server's
    # slots taken and send nothing; what it claimed went back and out once.
    assert all(report["attempts"] > 0 for _, report in results)


def _leases(url: str) -> list[Any]:
    engine = sa.create_engine(url)
    query = sa.select(
        messages.c.id, messages.c.message_id, messages.c.lease_owner, messages.c.lease_expires_at
    ).where(messages.c.status == "sending")
    with engine.connect() as conn:
        rows = list(conn.execute(query))
    engine.dispose()
    return rows


def _leases_expired(url: str, orphans: list[Any]) -> bool:
    """Whether every orphan's lease has run out by the database's clock."""
    engine = sa.create_engine(url)
    query = sa.select(sa.func.count()).where(
        messages.c.id.in_([row.id for row in orphans]),
        messages.c.lease_expires_at > utcnow(),
    )
    with engine.connect() as conn:
        live = conn.execute(query).scalar_one()
    engine.dispose()
    return live == 0


def _first_attempts(url: str, message_pks: list[int]) -> dict[int, Any]:
    engine = sa.create_engine(url)
    query = (
        sa.select(attempts.c.message_pk, sa.func.min(attempts.c.started_at))
        .where(attempts.c.message_pk.in_(message_pks))
        .group_by(attempts.c.message_pk)
    )
    with engine.connect() as conn:
        found = {pk: started for pk, started in conn.execute(query)}
    engine.dispose()
    return found


def test_an_agent_killed_mid_run_leaves_leases_another_agent_finishes(
    tmp_path: Path, empty_db_url: str, agents: Callable[..., subprocess.Popen[str]]
) -> None:
    with ThrottlingSMTPServer(latency_s=0.1) as server:
        config = write_config(tmp_path, empty_db_url, server, run="lease_s = 2")
        cli_ok(config, "db", "upgrade")
        enqueue_batch(config, 60)
        doomed = agents(config)
        wait_until(lambda: server.delivered >= 10)
        doomed.kill()
        doomed.communicate()
        killed_at = server.delivered
        orphans = _leases(empty_db_url)
        # Until its leases expire, the killed agent looks alive: a run started
        # before then sends the rest and leaves those to the next run.
        wait_until(lambda: _leases_expired(empty_db_url, orphans))
        survivor = agents(config, "--json")
        code, report = summary(survivor)
        counts = status_counts(config)

    assert orphans, "the killed agent held no leases"
    assert code == 0 and counts["sent"] == 60
    assert len(server.deliveries) == 60 and report["sent"] >= 60 - killed_at
    # Only sends in flight when the agent died can have gone out twice: those
    # on its connections (max_cap) and those delivered but not yet recorded.
    orphan_ids = {row.message_id for row in orphans}
    assert set(server.duplicates) <= orphan_ids
    assert sum(n - 1 for n in server.duplicates.values()) <= 2 * 4
    # Nobody tried an orphan before its lease ran out.
    first_tries = _first_attempts(empty_db_url, [row.id for row in orphans])
    for row in orphans:
        assert first_tries[row.id] >= row.lease_expires_at
