"""Pauses in ``adaptsend report``: a quota that stops a key, and an outage
that leaves a silence in the attempts. Real SMTP on 127.0.0.1, a real SQLite
file."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import trio
from click.testing import CliRunner

from adaptsend import send_batch_async
from adaptsend._models import Outcome, utcnow
from adaptsend.cli._main import cli
from adaptsend.report._build import build_report
from adaptsend.store import open_store
from adaptsend.store._incident_api import PauseKind
from adaptsend.testing import ThrottlingSMTPServer
from tests.helpers.agent_config import MakeConfig
from tests.helpers.messages import batch
from tests.helpers.quota_messages import QUOTA_REPLY, messages
from tests.helpers.recorded_run import wait_for


async def test_a_quota_shows_as_a_pause_that_goes_on(
    make_config: MakeConfig, db_url: str, tmp_path: Path
) -> None:
    with ThrottlingSMTPServer(data_replies={"late@example.com": QUOTA_REPLY}) as server:
        config = make_config(server, limiter={"quota_pause_s": 3600})
        run = await send_batch_async(messages(100, over_quota_from=60), config=config)
    assert run.run.deferred > 0
    path = tmp_path / "report.toml"
    path.write_text(f'[store]\nurl = "{db_url}"\n')

    result = CliRunner().invoke(cli, ["--config", str(path), "report", "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    [pause] = doc["pauses"]
    assert (pause["kind"], pause["end"]) == ("quota", None)
    assert pause["reply"]["code"] == 454 and "Daily message quota" in pause["reply"]["text"]
    assert pause["duration_s"] >= 0
    assert len(doc["oldest_waiting"]) == 10
    assert {m["status"] for m in doc["oldest_waiting"]} <= {"queued", "retry"}
    text = CliRunner().invoke(cli, ["--config", str(path), "report"]).stdout
    assert "quota" in text and "still paused" in text


async def test_an_outage_shows_as_a_stall_while_messages_waited(
    make_config: MakeConfig, db_url: str
) -> None:
    outage_s = 1.5
    # When the outage was asked for, and when the server was down.
    went_down: list[dt.datetime] = []

    async def outage(server: ThrottlingSMTPServer) -> None:
        await wait_for(lambda: server.delivered >= 100)
        went_down.append(utcnow())
        server.down_for(outage_s)
        await wait_for(lambda: server.down)
        went_down.append(utcnow())

    since = utcnow()
    with ThrottlingSMTPServer(latency_s=0.005) as server:
        config = make_config(server)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(outage, server)
            run = await send_batch_async(batch(300), config=config)
    assert run.ok and run.run.sent == 300

    store = open_store(db_url)
    try:
        pauses = build_report(store, since=since, now=utcnow(), min_pause_s=1.0).pauses
        # An outage of 1.5 s is no pause by the default measure of a minute.
        assert build_report(store, since=since, now=utcnow()).pauses == ()
    finally:
        store.close()
    # Nothing was tried between the last attempt before the outage and the
    # first after the server came back: one stall spans it. (A loaded
    # machine may leave another silence of a second somewhere else.)
    asked, down = went_down
    [stall] = [
        p
        for p in pauses
        if p.start <= down and p.end is not None and p.end >= asked + dt.timedelta(seconds=outage_s)
    ]
    assert stall.kind is PauseKind.STALL
    assert stall.outcome_before in {Outcome.SENT, Outcome.TRANSIENT, Outcome.UNKNOWN}
