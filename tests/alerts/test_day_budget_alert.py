"""The ``day_budget`` alert on real SMTP over 127.0.0.1 and a real SQLite
file: a run that follows the queue and waits for room in the daily recipient
budget says so through a sink; a run that does not follow ends deferred,
with no alert."""

from __future__ import annotations

from typing import Any

import trio
from rich.console import Console

from adaptsend import Agent, Severity, Status
from adaptsend.cli._progress import line, panel
from adaptsend.plugins._manager import load_plugins
from adaptsend.sources._compose import compose
from adaptsend.testing import RecordingSink, ThrottlingSMTPServer
from tests.helpers.agent_config import MakeConfig
from tests.helpers.messages import batch


def day_config(make_config: MakeConfig, server: ThrottlingSMTPServer, **alerts: Any) -> Any:
    return make_config(
        server,
        limiter={"max_recipients_per_day": 2},
        run={"poll_interval_s": 0.05},
        alerts={"sinks": ["recording"], **alerts},
    )


async def test_a_following_run_that_waits_for_room_alerts_with_how_far_the_day_is_used(
    make_config: MakeConfig,
) -> None:
    sink = RecordingSink()
    rule = {"name": "day_budget", "when": "day_budget", "threshold": 0.3}
    with ThrottlingSMTPServer() as server:
        config = day_config(make_config, server, rules=[rule])
        with Agent(config, plugins=load_plugins(entry_points=False, extra=[sink])) as agent:
            agent.enqueue(compose(m) for m in batch(4))
            dispatcher = agent.dispatcher(follow=True)
            async with agent.alerting(), trio.open_nursery() as nursery:
                nursery.start_soon(dispatcher.run)
                [alert] = await trio.to_thread.run_sync(sink.wait_for_alerts, 1, 30.0)
                waiting = dispatcher.statistics()
                dispatcher.stop()
            counts = agent.store.counts()

    assert server.delivered == 2
    assert (alert.rule, alert.when, alert.severity) == (
        "day_budget",
        "day_budget",
        Severity.WARNING,
    )
    key = alert.sending_key
    assert alert.summary.startswith(
        f"the daily recipient budget of {key} is used up "
        "(2 of 2 recipients in the last 24 hours); messages have waited "
    )
    assert alert.summary.endswith(" s for room (threshold 0.3 s)")
    # The two that did not fit wait in the queue, uncharged.
    assert counts[Status.QUEUED] == 2
    # What a person watching the run sees meanwhile.
    used_up = (
        f"the daily recipient budget of {key} is used up (2 of 2 recipients in the last 24 hours)"
    )
    assert waiting.day_used_up == used_up
    assert line(waiting).endswith(" day_budget=used_up")
    shown = Console(width=200, record=True)
    shown.print(panel(waiting))
    assert f"{used_up}; messages wait for room" in shown.export_text()


async def test_a_run_without_follow_ends_deferred_and_raises_no_alert(
    make_config: MakeConfig,
) -> None:
    sink = RecordingSink()
    with ThrottlingSMTPServer() as server:
        config = day_config(make_config, server)
        with Agent(config, plugins=load_plugins(entry_points=False, extra=[sink])) as agent:
            agent.enqueue(compose(m) for m in batch(4))
            report = await agent.run()

    assert server.delivered == 2
    assert report.deferred == 2
    assert sink.alerts == []
