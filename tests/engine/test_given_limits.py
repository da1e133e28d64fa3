"""Limits handed to the dispatcher from outside: real SMTP on 127.0.0.1 that
hides a limit of two connections, a real SQLite store, and a connection
limiter with settings the configuration does not have."""

from __future__ import annotations

import datetime as dt

import attrs
import pytest

from adaptsend import Agent
from adaptsend.config._settings import LimiterConfig
from adaptsend.limits._local import AIMDLimiter
from adaptsend.plugins._manager import load_plugins
from adaptsend.sources._compose import compose
from adaptsend.store import open_store
from adaptsend.store._cap_change_api import LimitKind
from adaptsend.testing import ThrottlingSMTPServer
from tests.helpers.agent_config import MakeConfig
from tests.helpers.messages import batch

MESSAGES = 40


async def test_a_run_keeps_to_the_limiter_it_is_given(make_config: MakeConfig) -> None:
    with ThrottlingSMTPServer(limit=2, latency_s=0.02) as server:
        # The configuration's own limiter would open six at once and be refused.
        config = make_config(server, limiter={"initial_cap": 6, "max_cap": 8})
        with Agent(config, plugins=load_plugins(environ={})) as agent:
            agent.enqueue(compose(m) for m in batch(MESSAGES))
            limiter = AIMDLimiter(LimiterConfig(initial_cap=2, min_cap=1, max_cap=2))
            limits = attrs.evolve(agent.limits(), limiter=limiter)
            report = await agent.dispatcher(limits=limits).run()

    assert report.ok and report.sent == MESSAGES
    assert len(server.deliveries) == MESSAGES
    assert set(server.deliveries.values()) == {1}
    assert server.rejections == 0
    assert server.max_concurrent <= 2
    held = limiter.statistics()
    assert held.successes == MESSAGES
    assert (held.cap, held.open_connections, held.slots_in_use) == (2, 0, 0)
    assert report.final_cap == 2


async def test_the_run_hears_of_the_given_limiters_cuts(
    make_config: MakeConfig, db_url: str
) -> None:
    # Listeners are added after the limiter is made: its cuts must still
    # reach the run's report and the store's history of the limits.
    with ThrottlingSMTPServer(limit=2, latency_s=0.02) as server:
        config = make_config(server, limiter={"initial_cap": 2, "max_cap": 2})
        with Agent(config, plugins=load_plugins(environ={})) as agent:
            agent.enqueue(compose(m) for m in batch(MESSAGES))
            settings = LimiterConfig(initial_cap=4, min_cap=1, max_cap=4, probe_interval_s=600)
            limiter = AIMDLimiter(settings)
            limits = attrs.evolve(agent.limits(), limiter=limiter)
            report = await agent.dispatcher(limits=limits).run()

    assert report.ok and len(server.deliveries) == MESSAGES
    assert set(server.deliveries.values()) == {1}
    assert server.rejections >= 1
    changes = limiter.statistics().changes
    assert changes >= 1
    assert report.cap_changes == changes
    store = open_store(db_url)
    try:
        recorded = store.cap_changes(since=dt.datetime(2000, 1, 1))
    finally:
        store.close()
    assert len(recorded) == changes
    assert {(c.kind, c.agent) for c in recorded} == {(LimitKind.CONNECTIONS, limits.owner)}
    assert recorded[0].old_value == 4 and recorded[0].reason == "throttle"


async def test_limits_of_another_sending_key_are_refused(make_config: MakeConfig) -> None:
    with ThrottlingSMTPServer() as server:
        agent = Agent(make_config(server), plugins=load_plugins(environ={}))
        with agent, pytest.raises(ValueError, match="someone@elsewhere"):
            agent.dispatcher(limits=attrs.evolve(agent.limits(), sending_key="someone@elsewhere"))


async def test_limits_that_serve_a_run_are_refused_to_a_second_one(
    make_config: MakeConfig,
) -> None:
    with ThrottlingSMTPServer() as server:
        agent = Agent(make_config(server), plugins=load_plugins(environ={}))
        with agent:
            limits = agent.limits()
            agent.dispatcher(limits=limits)
            with pytest.raises(ValueError) as refused:
                agent.dispatcher(limits=limits)
    assert str(refused.value) == (
        "These limits serve a run already; make new ones (Agent.limits()) for another run."
    )
