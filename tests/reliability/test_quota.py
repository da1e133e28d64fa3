"""A quota that clears with time (a daily sending limit) is not the
messages' fault: the ones that meet it are not charged, and a run without
``--follow`` ends with its messages waiting (exit 4). Real SMTP on
127.0.0.1, a real SQLite file."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from adaptsend import Status, send_batch_async
from adaptsend.cli._main import cli
from adaptsend.testing import ThrottlingSMTPServer
from tests.helpers.agent_config import MakeConfig, write_agent_config
from tests.helpers.databases import rows
from tests.helpers.quota_messages import QUOTA_REPLY, messages


async def test_a_daily_quota_fails_no_message_and_defers_the_rest(
    make_config: MakeConfig, db_url: str
) -> None:
    with ThrottlingSMTPServer(data_replies={"late@example.com": QUOTA_REPLY}) as server:
        config = make_config(server, limiter={"quota_pause_s": 3600})
        report = await send_batch_async(messages(100, over_quota_from=60), config=config)

    statuses = [r.status for r in report.results]
    assert Status.FAILED not in statuses and Status.DEAD not in statuses
    assert report.run.sent == server.delivered == statuses.count(Status.SENT)
    assert report.run.deferred == 100 - report.run.sent
    assert report.run.deferred_by is not None and report.run.deferred_by.code == 454
    # Only the sends already under way when the first quota reply came met it,
    # and none of them was charged an attempt.
    quota = rows(db_url, "SELECT count(*) FROM attempts WHERE outcome = 'quota'")[0][0]
    assert 1 <= quota <= 8 * 2
    waiting = [r for r in report.results if r.status is not Status.SENT]
    assert {r.attempts for r in waiting} == {0}
    # The messages that met the quota wait out the pause.
    [(later,)] = rows(
        db_url,
        "SELECT count(*) FROM messages WHERE last_code = 454 "
        "AND next_attempt_at > datetime('now', '+3500 seconds')",
    )
    assert later == quota


def test_the_pause_holds_for_the_next_run_which_ends_at_once(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'queue.db'}"
    with ThrottlingSMTPServer(data_reply=QUOTA_REPLY) as server:
        config = write_agent_config(tmp_path, db, server)
        lines = "\n".join(
            json.dumps({"from": "a@example.com", "to": [f"u{n}@example.com"], "text": "t"})
            for n in range(10)
        )
        runner = CliRunner()
        queued = runner.invoke(
            cli, ["--config", str(config), "enqueue", "--jsonl", "-"], input=lines
        )
        assert queued.exit_code == 0, queued.output

        first = runner.invoke(cli, ["--config", str(config), "run"])
        refused = server.rejections + len(server.received)  # nothing was accepted
        second = runner.invoke(cli, ["--config", str(config), "run", "--json"])

    assert first.exit_code == 4, first.output
    assert "10 message(s) wait: the server reports a quota (454 4.7.0" in first.output
    # Every waiting message, not only those that met the quota, waits out the pause.
    [(waiting, later)] = rows(
        db,
        "SELECT count(*), sum(next_attempt_at > datetime('now', '+3500 seconds')) "
        "FROM messages WHERE status IN ('queued', 'retry') AND attempts = 0",
    )
    assert (waiting, later) == (10, 10)
    assert second.exit_code == 4, second.output
    summary = json.loads(second.stdout.strip().splitlines()[-1])
    assert (summary["attempts"], summary["deferred"]) == (0, 10)
    assert summary["next_due"] is not None
    assert refused == 0
