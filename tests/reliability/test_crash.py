"""``kill -9`` at a random moment: the leases of the killed run expire within
``lease_s``, the next run sends what is left, and the only messages the
server gets twice are those it took while their outcome was not yet written.
Real agent processes, a real SQLite file, SMTP on 127.0.0.1."""

from __future__ import annotations

import random
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from adaptsend.testing import ThrottlingSMTPServer
from tests.helpers.agent_config import write_agent_config
from tests.helpers.agent_processes import summary, wait_until
from tests.helpers.command_line import cli_ok, enqueue_batch
from tests.helpers.databases import rows

MESSAGES = 300
LEASE_S = 1.5


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_run_killed_at_a_random_moment_is_finished_by_the_next_one(
    tmp_path: Path, seed: int, agents: Callable[..., subprocess.Popen[str]]
) -> None:
    chance = random.Random(seed)
    db = f"sqlite:///{tmp_path / 'queue.db'}"
    with ThrottlingSMTPServer(limit=3, latency_s=0.01, pipelining=True, chunking=True) as server:
        config = write_agent_config(
            tmp_path, db, server, f"[run]\nlease_s = {LEASE_S}\npoll_interval_s = 0.1\n"
        )
        enqueue_batch(config, MESSAGES)
        doomed = agents(config, "--json")
        kill_after = chance.randint(1, MESSAGES // 2)
        wait_until(lambda: server.delivered >= kill_after)
        time.sleep(chance.uniform(0.0, 0.2))
        doomed.kill()
        doomed.communicate()
        # What the store knows at the moment of death.
        leased = {m for (m,) in rows(db, "SELECT message_id FROM messages WHERE status='sending'")}
        taken_unrecorded = leased & set(server.deliveries)

        # The leases run out within lease_s of the death (the killed run
        # renewed them at most lease_s / 3 before it); a run after that sends
        # everything left. The margin keeps the survivor clear of the expiry.
        time.sleep(LEASE_S + 0.5)
        code, report = summary(agents(config, "--json"))
        status = cli_ok(config, "status", "--json")

    assert code == 0, report
    assert '"sent": 300' in status
    assert len(server.deliveries) == MESSAGES
    # Exactly the messages the server took whose outcome the killed run had
    # not written went out twice; nothing else did.
    assert set(server.duplicates) == taken_unrecorded
    assert set(server.duplicates.values()) <= {2}
