"""``adaptsend run`` as a separate process, stopped the way cron, systemd or a
person stops it: SIGTERM or Ctrl-C lets the sends in progress finish, hands the
rest back, and exits 130; nothing is lost or sent twice."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

from adaptsend.testing import ThrottlingSMTPServer
from tests.helpers.agent_config import write_sqlite_agent_config
from tests.helpers.agent_processes import start_run, wait_until
from tests.helpers.command_line import enqueue_batch, invoke, jsonl, status_counts
from tests.helpers.databases import rows


def test_sigterm_finishes_sends_in_progress_and_hands_back_the_rest(tmp_path: Path) -> None:
    with ThrottlingSMTPServer(latency_s=0.1) as server:
        config = write_sqlite_agent_config(tmp_path, server)
        enqueue_batch(config, 60)
        agent = start_run(config, "--json")
        wait_until(lambda: server.delivered >= 4)
        agent.send_signal(signal.SIGTERM)
        out, err = agent.communicate(timeout=30)

        assert agent.returncode == 130, err
        summary = json.loads(out.strip().splitlines()[-1])
        assert summary["interrupted"] is True
        assert summary["sent"] == server.delivered
        counts = status_counts(config)
        assert counts["sending"] == 0
        assert counts["sent"] == server.delivered
        assert counts["queued"] == 60 - server.delivered

        second = start_run(config, "--json")
        second.communicate(timeout=60)

    assert second.returncode == 0
    assert len(server.deliveries) == 60
    assert set(server.deliveries.values()) == {1}


def test_a_second_signal_aborts_and_hands_back_every_untouched_lease(tmp_path: Path) -> None:
    # Two connections, each end of DATA taking 1.5 s: at the abort each holds
    # one message mid-send, and the feeder has leased more ahead of them.
    limiter = "[limiter]\ninitial_cap = 2\nmin_cap = 2\nmax_cap = 2\n"
    with ThrottlingSMTPServer(latency_s=1.5) as server:
        config = write_sqlite_agent_config(tmp_path, server, extra=limiter)
        enqueue_batch(config, 30)
        agent = start_run(config, "--json")
        wait_until(lambda: server.delivered >= 2 and server.open_connections == 2)
        agent.send_signal(signal.SIGTERM)
        time.sleep(0.2)
        agent.send_signal(signal.SIGTERM)
        agent.communicate(timeout=30)
        counts = status_counts(config)

    assert agent.returncode != 0
    # Only the two sends in progress may have delivered: they stay leased
    # until their lease expires; every other unsent message is queued again.
    assert counts["sending"] <= 2
    assert counts["sent"] + counts["sending"] + counts["queued"] + counts["retry"] == 30
    assert counts["queued"] + counts["retry"] >= 30 - server.delivered - 2


def test_follow_sends_messages_queued_while_it_runs(tmp_path: Path) -> None:
    with ThrottlingSMTPServer() as server:
        config = write_sqlite_agent_config(tmp_path, server, extra="[run]\npoll_interval_s = 0.1\n")
        agent = start_run(config, "--follow", "--json")
        try:
            for wave in range(3):
                batch = [f"w{wave}-{n}@example.com" for n in range(5)]
                invoke(config, "enqueue", "--jsonl", "-", stdin=jsonl(*batch))
                wait_until(lambda wave=wave: server.delivered == 5 * (wave + 1))
        finally:
            agent.send_signal(signal.SIGINT)
            out, _ = agent.communicate(timeout=30)

    assert agent.returncode == 130
    assert json.loads(out.strip().splitlines()[-1])["sent"] == 15
    db = f"sqlite:///{tmp_path / 'queue.db'}"
    assert rows(db, "SELECT status, count(*) FROM messages GROUP BY status") == [("sent", 15)]
