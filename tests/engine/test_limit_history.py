"""The history of limits end to end: real SMTP on 127.0.0.1 that hides a
limit, the real dispatcher, and the rows it leaves in the store's
``cap_changes`` table."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
import trio

from adaptsend import Agent, send_batch_async
from adaptsend.plugins._manager import load_plugins
from adaptsend.sources._compose import compose
from adaptsend.store import open_store
from adaptsend.store._cap_change_api import CapChangeRecord, LimitKind
from adaptsend.store._schema import sending_budgets
from adaptsend.testing import ThrottlingSMTPServer
from tests.helpers.agent_config import MakeConfig
from tests.helpers.messages import batch
from tests.helpers.rate_limited_server import RateLimitedSMTPServer

LONG_AGO = dt.datetime(2000, 1, 1)


def history(url: str) -> list[CapChangeRecord]:
    store = open_store(url)
    try:
        return store.cap_changes(since=LONG_AGO)
    finally:
        store.close()


async def test_a_hidden_limit_shows_as_the_cap_rising_falling_and_rising_again(
    make_config: MakeConfig, db_url: str
) -> None:
    started = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    with ThrottlingSMTPServer(limit=3, latency_s=0.005) as server:
        config = make_config(server, limiter={"initial_cap": 2, "probe_interval_s": 0.2})
        report = await send_batch_async(batch(300), config=config)
        key = f"anonymous@{server.host}:{server.port}"  # no [smtp] username

    assert report.ok and server.rejections >= 1
    changes = history(db_url)
    # Every change the run counted is on record, each in order, one after the other.
    assert len(changes) == report.run.cap_changes
    assert {(c.kind, c.sending_key) for c in changes} == {(LimitKind.CONNECTIONS, key)}
    assert all(started <= c.changed_at for c in changes)
    assert [c.changed_at for c in changes] == sorted(c.changed_at for c in changes)
    assert [c.old_value for c in changes[1:]] == [c.new_value for c in changes[:-1]]
    # One agent made them all, and says on which machine.
    assert len({c.agent for c in changes}) == 1
    # From the initial cap up past the limit, a cut at the refusal, then up again.
    assert changes[0].old_value == 2
    falls = [i for i, c in enumerate(changes) if c.new_value < c.old_value]
    assert falls, "no cut was recorded"
    first_fall = changes[falls[0]]
    assert first_fall.reason == "throttle" and first_fall.ceiling is not None
    assert any(c.new_value > c.old_value for c in changes[: falls[0]])
    assert any(c.new_value > c.old_value for c in changes[falls[0] + 1 :])


async def test_a_shared_cap_records_each_decision_once_by_the_agent_that_made_it(
    make_config: MakeConfig, db_url: str
) -> None:
    with ThrottlingSMTPServer(limit=3, latency_s=0.01) as server:
        config = make_config(
            server, limiter={"initial_cap": 2, "probe_interval_s": 0.2, "shared": True}
        )
        plugins = load_plugins(entry_points=False)
        with Agent(config, plugins=plugins) as first, Agent(config, plugins=plugins) as second:
            first.enqueue(compose(m) for m in batch(150))
            dispatchers = [first.dispatcher(), second.dispatcher()]
            async with trio.open_nursery() as nursery:
                for dispatcher in dispatchers:
                    nursery.start_soon(dispatcher.run)

    assert server.delivered == 150 and server.rejections >= 1
    changes = history(db_url)
    # Each decision bumps the shared budget's version once: one row each.
    engine = sa.create_engine(db_url)
    with engine.connect() as conn:
        [version] = conn.execute(sa.select(sending_budgets.c.version)).scalars()
    engine.dispose()
    assert len(changes) == version
    assert any(c.reason == "throttle" for c in changes)
    assert {c.agent for c in changes} <= {d.owner for d in dispatchers}


async def test_too_fast_replies_leave_the_rate_cut_on_record(
    make_config: MakeConfig, db_url: str
) -> None:
    with RateLimitedSMTPServer(per_second=20) as server:
        config = make_config(server, limiter={"initial_cap": 4, "max_cap": 4})
        report = await send_batch_async(batch(100), config=config)

    assert report.ok and server.rate_refusals >= 1
    rates = [c for c in history(db_url) if c.kind is LimitKind.RATE]
    first = rates[0]
    # Unlimited until the first refusal, then cut below what was delivered.
    assert (first.old_value, first.reason) == (None, "cut")
    assert first.ceiling is not None and 0 < first.new_value < first.ceiling
    assert [c.old_value for c in rates[1:]] == [c.new_value for c in rates[:-1]]
