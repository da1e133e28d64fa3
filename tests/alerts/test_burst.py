"""A burst of 432 replies from the throttling test server, watched by a rule
that alerts through the webhook plugin (found through its entry point) to a
real HTTP server on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable
from typing import Any

import trio

from adaptsend import Agent, Message
from adaptsend.plugins._manager import load_plugins
from adaptsend.sources._compose import compose
from adaptsend.testing import HTTPReceiver, ReceivedRequest, ThrottlingSMTPServer
from tests.helpers.agent_config import MakeConfig

BATCH = 60


def batch() -> list[Message]:
    return [
        Message(
            sender="reports@example.com",
            to=("team@example.com",),
            subject=f"report {n}",
            text="body",
            message_id=f"<burst-{n}@example.com>",
        )
        for n in range(BATCH)
    ]


async def run_until(config: Any, done: Callable[[], object], *, timeout_s: float = 30.0) -> None:
    """Run with ``--follow`` until ``done()`` (called in a thread) returns."""
    with Agent(config, plugins=load_plugins(environ={})) as agent:
        agent.enqueue(compose(m) for m in batch())
        dispatcher = agent.dispatcher(follow=True)
        async with agent.alerting(), trio.open_nursery() as nursery:
            nursery.start_soon(dispatcher.run)
            with trio.fail_after(timeout_s):
                await trio.to_thread.run_sync(done)
            dispatcher.stop()


def burst_config(
    make_config: MakeConfig, server: ThrottlingSMTPServer, receiver: HTTPReceiver, **rule: Any
) -> Any:
    throttling = {
        "name": "throttling",
        "when": "throttled",
        "threshold": 5,
        "window_s": 1.0,
        "cooldown_s": 60.0,
        "sinks": ["webhook"],
        **rule,
    }
    return make_config(
        server,
        limiter={"initial_cap": 2, "min_cap": 1, "max_cap": 4},
        run={"poll_interval_s": 0.1},
        alerts={"rules": [throttling], "drain_s": 5},
        plugin={"webhook": {"url": f"{receiver.url}/hooks/T0K3N", "retry_delay_s": 0}},
    )


async def test_a_burst_alerts_once_through_the_webhook_and_resolves_after_it(
    make_config: MakeConfig,
) -> None:
    # Every connection is refused with 432 for the first 0.8 s, none after.
    with (
        ThrottlingSMTPServer(schedule=[(0, 0), (0.8, None)], latency_s=0.005) as server,
        HTTPReceiver() as receiver,
    ):
        config = burst_config(make_config, server, receiver)
        await run_until(config, lambda: receiver.wait_for_requests(2, timeout_s=25))
        await trio.sleep(0.5)  # anything more would come now
        requests = receiver.requests

    assert server.rejections >= 5
    assert len(server.deliveries) == BATCH
    assert set(server.deliveries.values()) == {1}
    assert [r.path for r in requests] == ["/hooks/T0K3N"] * 2
    fired, resolved = (r.json() for r in requests)
    assert (fired["rule"], fired["when"]) == ("throttling", "throttled")
    assert fired["severity"] == "warning"
    assert fired["count"] >= 5
    assert fired["threshold"] == 5
    assert fired["window_s"] == 1.0
    assert fired["top_replies"][0]["code"] == 432
    assert fired["top_replies"][0]["enhanced"] == "4.3.2"
    assert "Concurrent connections limit exceeded" in fired["top_replies"][0]["text"]
    assert fired["sample_message_ids"]
    assert set(fired["sample_message_ids"]) <= {f"<burst-{n}@example.com>" for n in range(BATCH)}
    assert fired["sending_key"] == f"anonymous@{server.host}:{server.port}"
    assert resolved["severity"] == "resolved"
    assert resolved["count"] < 5
    assert "back below the threshold of 5" in resolved["summary"]


async def test_a_burst_longer_than_the_cooldown_alerts_once_per_cooldown(
    make_config: MakeConfig,
) -> None:
    with (
        ThrottlingSMTPServer(schedule=[(0, 0), (4.0, None)], latency_s=0.005) as server,
        HTTPReceiver() as receiver,
    ):
        config = burst_config(make_config, server, receiver, cooldown_s=0.7)

        def until_resolved() -> list[ReceivedRequest]:
            while True:
                requests = receiver.wait_for_requests(len(receiver.requests) + 1, timeout_s=25)
                if requests[-1].json()["severity"] == "resolved":
                    return requests

        await run_until(config, until_resolved)
        requests = receiver.requests

    alerts = [r.json() for r in requests]
    assert [a["severity"] for a in alerts][-1] == "resolved"
    firing = [a for a in alerts if a["severity"] != "resolved"]
    assert len(firing) >= 2
    assert "still over the threshold" in firing[1]["summary"]
    times = [dt.datetime.fromisoformat(a["raised_at"]) for a in firing]
    gaps = [(later - earlier).total_seconds() for earlier, later in itertools.pairwise(times)]
    assert min(gaps) >= 0.7 - 0.05
    assert len(server.deliveries) == BATCH
