"""A server that cannot be reached is an outage of its sending key, not the
messages' fault: they wait uncharged, one connection probes, and a run without
``--follow`` stops with exit 4 (deferred) after ``[run] outage_wait_s``."""

from __future__ import annotations

import json
import socket
import ssl
from pathlib import Path
from typing import Any

import trio
import trustme
from click.testing import CliRunner

from adaptsend import Status, config_from_dict, send_batch_async
from adaptsend.cli._main import cli
from adaptsend.testing import ThrottlingSMTPServer
from tests.helpers.databases import rows
from tests.helpers.messages import batch


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on: connects are refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def outage_config(db_url: str, port: int, **run: Any) -> dict[str, Any]:
    return {
        "store": {"url": db_url},
        "smtp": {"host": "127.0.0.1", "port": port, "timeout_s": 5},
        "retry": {"base_delay_s": 0.05, "max_delay_s": 0.2, "max_attempts": 2},
        "run": {"outage_wait_s": 0.6, **run},
    }


async def test_an_unreachable_server_defers_the_batch_and_charges_no_message(
    db_url: str,
) -> None:
    config = config_from_dict(outage_config(db_url, closed_port()))

    report = await send_batch_async(batch(5), config=config)

    assert report.run.deferred == 5
    assert not report.run.ok
    assert report.run.deferred_by is not None
    assert report.run.deferred_by.code is None
    assert report.run.deferred_by.stage.value == "connect"
    assert "refused" in report.run.deferred_by.text.lower()
    # Many probes failed, yet no message used up an attempt, and none is dead
    # although max_attempts is 2.
    assert [(r.status, r.attempts) for r in report.deferred] == [(Status.QUEUED, 0)] * 5
    assert rows(db_url, "SELECT count(*) FROM attempts") == [(0,)]
    assert rows(db_url, "SELECT status, count(*) FROM messages GROUP BY status") == [("queued", 5)]


async def test_messages_wait_through_an_outage_and_go_once_the_server_is_back(
    db_url: str,
) -> None:
    port = closed_port()
    config = config_from_dict(outage_config(db_url, port, outage_wait_s=30))
    server = ThrottlingSMTPServer(port=port)

    async def come_back_later() -> None:
        await trio.sleep(0.5)
        await trio.to_thread.run_sync(server.start)

    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(come_back_later)
            report = await send_batch_async(batch(6), config=config)
    finally:
        server.stop()

    assert report.ok
    assert report.run.deferred == 0
    assert sorted(server.deliveries.values()) == [1] * 6
    # Each message was tried once: the refused connections cost none of them.
    assert [(r.status, r.attempts) for r in report.results] == [(Status.SENT, 1)] * 6
    assert rows(db_url, "SELECT outcome, count(*) FROM attempts GROUP BY outcome") == [("sent", 6)]


def test_run_exits_4_when_the_server_stays_unreachable(tmp_path: Path) -> None:
    config = tmp_path / "adaptsend.toml"
    db = f"sqlite:///{tmp_path / 'queue.db'}"
    config.write_text(
        f"""
[store]
url = "{db}"
[smtp]
host = "127.0.0.1"
port = {closed_port()}
[retry]
base_delay_s = 0.05
max_delay_s = 0.2
[run]
outage_wait_s = 0.5
"""
    )
    line = json.dumps(
        {"from": "a@example.com", "to": ["b@example.com"], "subject": "s", "text": "t"}
    )
    runner = CliRunner()
    queued = runner.invoke(cli, ["--config", str(config), "enqueue", "--jsonl", "-"], input=line)
    assert queued.exit_code == 0, queued.output

    result = runner.invoke(cli, ["--config", str(config), "run"])

    assert result.exit_code == 4, result.output
    assert "1 message(s) wait: the server could not be reached" in result.output
    assert rows(db, "SELECT status, attempts FROM messages") == [("queued", 0)]

    as_json = runner.invoke(cli, ["--config", str(config), "run", "--json"])
    assert as_json.exit_code == 4
    summary = json.loads(as_json.stdout.strip().splitlines()[-1])
    assert summary["deferred"] == 1
    assert summary["deferred_by"]["stage"] == "connect"


async def test_a_server_silent_past_the_timeout_before_its_greeting_is_an_outage(
    db_url: str,
) -> None:
    with ThrottlingSMTPServer(greeting_delay_s=2.0) as server:
        raw = outage_config(db_url, server.port)
        raw["smtp"]["timeout_s"] = 0.2
        report = await send_batch_async(batch(3), config=config_from_dict(raw))

    assert report.run.deferred == 3
    assert report.run.deferred_by is not None
    assert report.run.deferred_by.stage.value == "connect"
    assert "timed out" in report.run.deferred_by.text
    assert rows(db_url, "SELECT count(*) FROM attempts") == [(0,)]
    assert server.delivered == 0


async def test_a_greeting_refused_with_421_is_an_outage_not_a_throttle(db_url: str) -> None:
    with ThrottlingSMTPServer(refuse_greetings=True) as server:
        report = await send_batch_async(
            batch(3), config=config_from_dict(outage_config(db_url, server.port))
        )

    assert report.run.deferred == 3
    assert report.run.deferred_by is not None
    assert (report.run.deferred_by.code, report.run.deferred_by.enhanced) == (421, "4.3.0")
    assert report.run.throttled == 0 and report.run.final_cap == 2
    assert rows(db_url, "SELECT count(*) FROM attempts") == [(0,)]


async def test_a_tls_handshake_cut_by_the_network_is_an_outage_and_passes(
    tmp_path: Path, db_url: str
) -> None:
    authority = trustme.CA()
    ca_file = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(str(ca_file))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(context)
    # Every second STARTTLS is reset before the handshake: those connections
    # never reach the server, and cost no message anything.
    with ThrottlingSMTPServer(tls_context=context, reset_tls_every=2) as server:
        raw = outage_config(db_url, server.port, outage_wait_s=30)
        raw["smtp"].update(tls="starttls", ca_file=str(ca_file))
        report = await send_batch_async(batch(6), config=config_from_dict(raw))
        resets = server.statistics().tls_resets

    assert report.ok
    assert resets >= 1
    assert sorted(server.deliveries.values()) == [1] * 6
    assert [r.attempts for r in report.results] == [1] * 6
    assert rows(db_url, "SELECT count(*) FROM attempts WHERE stage IN ('connect', 'tls')") == [(0,)]
