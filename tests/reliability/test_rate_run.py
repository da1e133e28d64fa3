"""``[limiter] max_per_minute`` end to end: real SMTP on 127.0.0.1, a real
SQLite file, the real dispatcher. Times are lower bounds only: a rate limit
can only make a run slower, and so can a slow machine."""

from __future__ import annotations

import trio

from adaptsend import Agent, send_batch_async
from adaptsend.limits._rate import RateBudget
from adaptsend.plugins._manager import load_plugins
from adaptsend.sources._compose import compose
from adaptsend.testing import ThrottlingSMTPServer
from tests.helpers.agent_config import MakeConfig
from tests.helpers.databases import rows
from tests.helpers.messages import batch
from tests.helpers.observers import StopAfter


async def test_20_messages_at_600_a_minute_take_the_rate_and_arrive_once(
    make_config: MakeConfig,
) -> None:
    burst = RateBudget(600).capacity
    with ThrottlingSMTPServer() as server:
        config = make_config(server, limiter={"max_per_minute": 600})
        started = trio.current_time()
        report = await send_batch_async(batch(20), config=config)
        elapsed = trio.current_time() - started

    assert report.ok
    assert len(server.deliveries) == 20
    assert set(server.deliveries.values()) == {1}
    # The burst goes at once, then 10 a second.
    assert elapsed >= (20 - burst) / 10


async def test_a_stop_ends_the_wait_for_the_rate(make_config: MakeConfig, db_url: str) -> None:
    # One message every 10 s: the second worker waits for its token when the
    # first send's record stops the run.
    stopper = StopAfter(1)
    with ThrottlingSMTPServer() as server:
        config = make_config(server, limiter={"max_per_minute": 6})
        with Agent(config, plugins=load_plugins(entry_points=False, extra=[stopper])) as agent:
            agent.enqueue(compose(m) for m in batch(3))
            stopper.dispatcher = agent.dispatcher()
            report = await stopper.dispatcher.run()

    assert report.interrupted
    # Nothing was sent after the stop: the waiting send gave up its turn.
    assert report.sent == 1
    assert len(server.deliveries) == 1
    queued = "SELECT count(*) FROM messages WHERE status = 'queued' AND lease_owner IS NULL"
    assert rows(db_url, queued) == [(2,)]
