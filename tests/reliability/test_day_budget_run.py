"""``[limiter] max_recipients_per_day`` end to end: real SMTP on 127.0.0.1, a
real SQLite file and every server database the tests are given. Recipients
are counted at the server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import trio
from click.testing import CliRunner, Result

from adaptsend import Agent, Message, Status, config_from_dict, send_batch_async
from adaptsend.cli._main import cli
from adaptsend.plugins._manager import load_plugins
from adaptsend.sources._compose import compose
from adaptsend.store._schema import messages
from adaptsend.testing import ThrottlingSMTPServer
from tests.helpers import databases
from tests.helpers.agent_config import write_agent_config


@pytest.fixture(params=[databases.SQLITE, *databases.SERVER_URLS], ids=databases.name)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    yield databases.ready_database(request.param, tmp_path)
    if request.param != databases.SQLITE:
        databases.wipe(request.param)


def mail(n: int, recipients: int = 1, *, domain: str = "example.org") -> Message:
    return Message(
        sender="reports@example.com",
        to=tuple(f"u{n}-{r}@{domain}" for r in range(recipients)),
        subject=f"report {n}",
        text="body",
        message_id=f"<day-{n}@example.com>",
    )


def accepted_recipients(server: ThrottlingSMTPServer) -> int:
    return sum(len(message.rcpt_tos) for message in server.received)


def invoke(config: Path, *args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(cli, ["--config", str(config), *args], input=stdin)


def statuses(url: str) -> dict[str, int]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            query = sa.select(messages.c.status, sa.func.count()).group_by(messages.c.status)
            return {status: count for status, count in conn.execute(query)}
    finally:
        engine.dispose()


def settings(url: str, server: ThrottlingSMTPServer, **limiter: Any) -> dict[str, Any]:
    return {
        "store": {"url": url},
        "smtp": {"host": server.host, "port": server.port, "timeout_s": 10},
        "limiter": {"initial_cap": 2, "max_cap": 4, **limiter},
        "retry": {"base_delay_s": 0.05, "max_delay_s": 0.2},
    }


def test_a_budget_of_ten_sends_ten_recipients_and_the_rest_wait_for_the_next_day(
    tmp_path: Path, db_url: str
) -> None:
    with ThrottlingSMTPServer() as server:
        config = write_agent_config(
            tmp_path, db_url, server, "[limiter]\nmax_recipients_per_day = 10\n"
        )
        lines = "\n".join(
            json.dumps({"from": "r@example.com", "to": [f"u{n}@example.org"], "text": "t"})
            for n in range(14)
        )
        assert invoke(config, "enqueue", "--jsonl", "-", stdin=lines).exit_code == 0
        first = invoke(config, "run")
        second = invoke(config, "run", "--json")
        shown = invoke(config, "status")
        shown_json = invoke(config, "status", "--json")

    assert first.exit_code == 4, first.output
    assert accepted_recipients(server) == 10 and len(server.received) == 10
    assert "4 message(s) wait: the daily recipient budget of " in first.output
    assert "is used up (10 of 10 recipients in the last 24 hours); the first is due at" in (
        first.output
    )
    # Nothing failed, nothing was charged an attempt: the four wait, queued.
    assert statuses(db_url) == {"sent": 10, "queued": 4}
    assert second.exit_code == 4, second.output
    summary = json.loads(second.stdout.strip().splitlines()[-1])
    assert (summary["sent"], summary["attempts"], summary["deferred"]) == (0, 0, 4)
    assert summary["waiting_for"].endswith("is used up (10 of 10 recipients in the last 24 hours)")
    assert summary["next_due"] is not None
    assert "recipients in the last 24 hours: 10 of 10 for " in shown.output
    assert "(used up: messages wait)" in shown.output
    [budget] = json.loads(shown_json.stdout)["recipient_budgets"]
    assert (budget["used"], budget["limit"]) == (10, 10)


async def test_a_message_that_does_not_fit_what_is_left_waits_and_those_behind_it_too(
    db_url: str,
) -> None:
    # One connection, so the messages are taken in the order they were queued.
    batch = [mail(0, 3), mail(1, 3), mail(2, 3), mail(3, 3), mail(4, 1)]
    with ThrottlingSMTPServer() as server:
        config = settings(db_url, server, max_recipients_per_day=10, initial_cap=1, max_cap=1)
        report = await send_batch_async(batch, config=config_from_dict(config))

    assert accepted_recipients(server) == 9
    assert [r.status for r in report.results] == [Status.SENT] * 3 + [Status.QUEUED] * 2
    assert report.run.deferred == 2 and report.run.failed == 0


async def test_a_message_with_more_recipients_than_the_day_fails_at_once_unsent(
    db_url: str,
) -> None:
    batch = [mail(0, 6), mail(1), mail(2)]
    with ThrottlingSMTPServer() as server:
        config = settings(db_url, server, max_recipients_per_day=5)
        report = await send_batch_async(batch, config=config_from_dict(config))

    assert accepted_recipients(server) == 2
    too_many, *others = report.results
    assert too_many.status is Status.FAILED
    assert too_many.last_reply is not None
    assert too_many.last_reply.text == (
        "The message has 6 recipients, more than the 5 a day that [limiter] "
        "max_recipients_per_day allows this account; it was not sent."
    )
    assert [r.status for r in others] == [Status.SENT, Status.SENT]
    assert report.run.deferred == 0


async def test_recipients_the_server_refused_are_not_counted(db_url: str) -> None:
    # Two recipients of the first message are refused for good: its one
    # accepted recipient and the two other messages make the day's three.
    refused = {f"u0-{r}@example.org": "550 5.1.1 User unknown" for r in (1, 2)}
    with ThrottlingSMTPServer(rcpt_replies=refused) as server:
        config = settings(db_url, server, max_recipients_per_day=3)
        report = await send_batch_async(
            [mail(0, 3), mail(1), mail(2)], config=config_from_dict(config)
        )

    assert accepted_recipients(server) == 3
    assert report.run.deferred == 0
    assert [r.status for r in report.results][1:] == [Status.SENT, Status.SENT]


async def test_two_agents_on_one_store_share_the_day(db_url: str) -> None:
    with ThrottlingSMTPServer(latency_s=0.01) as server:
        config = config_from_dict(settings(db_url, server, max_recipients_per_day=20))
        agents = [Agent(config, plugins=load_plugins(entry_points=False)) for _ in range(2)]
        try:
            agents[0].enqueue([compose(mail(n)) for n in range(30)])
            reports = []

            async def run(agent: Agent) -> None:
                reports.append(await agent.run())

            async with trio.open_nursery() as nursery:
                for agent in agents:
                    nursery.start_soon(run, agent)
        finally:
            for agent in agents:
                agent.close()

    assert accepted_recipients(server) == 20
    assert sum(report.sent for report in reports) == 20
    # None failed; the one that found the day used up ended deferred (the
    # other may have ended first, finding nothing due that it did not hold).
    assert not any(report.failed for report in reports)
    assert any(report.deferred >= 10 for report in reports)
    assert statuses(db_url) == {"sent": 20, "queued": 10}
