"""A ``Retry-After`` one agent gets is the mailbox's, for every agent on the
store that shares its cap: Graph goes on counting the mailbox's requests
until the window is over, whichever agent sends them.

Two agents send as one mailbox through the fake Graph server (real sockets)
on one store: a SQLite file shared on purpose, and every server database the
tests are given. The first request is refused with a long ``Retry-After``;
the second agent gets messages to send only after the refusal, and what it
sends inside the window is counted at the server."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
import trio
from conftest import MakeConfig

from adaptsend import Agent, Message, config_from_dict
from adaptsend.plugins._manager import load_plugins
from adaptsend.sources._compose import compose
from adaptsend.store import drop_store, upgrade_store
from adaptsend.testing import FakeGraphServer
from adaptsend.testing.graph import throttled

Reports = Callable[[int], list[Message]]

#: The refusal's Retry-After: the window every agent must keep out of.
RETRY_AFTER_S = 8
#: Requests that arrive this soon after the window opened were on their way
#: (or sent before the next read of the budget, within half a second): not
#: counted. Generous: the second agent starts later than this.
ON_THE_WAY_S = 2.0
MESSAGES = 7


#: A SQLite file, and every scratch server database the tests are given
#: (space-separated), which they may empty.
DATABASES = ["sqlite", *os.environ.get("ADAPTSEND_TEST_STORE_URLS", "").split()]


def _name(url: str) -> str:
    return url if url == "sqlite" else sa.make_url(url).get_backend_name()


@pytest.fixture(params=DATABASES, ids=_name)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """One store for both agents, its tables new: a SQLite file shared on purpose."""
    url = f"sqlite:///{tmp_path / 'shared.db'}" if request.param == "sqlite" else request.param
    if url == request.param:
        drop_store(url)
    upgrade_store(url)
    yield url
    if url == request.param:
        drop_store(url)


async def wait_for(condition: Callable[[], bool], timeout_s: float = 120.0) -> None:
    """Poll until ``condition`` holds; fail rather than hang."""
    with trio.fail_after(timeout_s):
        while True:
            if condition():
                return
            await trio.sleep(0.02)


async def test_a_retry_after_pauses_every_agent_that_shares_the_cap(
    graph_config: MakeConfig, store_url: str, reports: Reports
) -> None:
    refusal = throttled(str(RETRY_AFTER_S))
    messages = reports(MESSAGES)
    with FakeGraphServer(limit=None, answers=[refusal]) as graph:
        raw = graph_config(
            graph,
            store={"url": store_url},
            # Four connections at once: without the shared pause, the second
            # agent sends several requests into the window before its own 429.
            limiter={"shared": True, "initial_cap": 4, "max_cap": 4},
            run={"poll_interval_s": 0.05},
        )
        first, second = (Agent(config_from_dict(raw), plugins=load_plugins()) for _ in range(2))
        try:
            first.enqueue([compose(messages[0])])
            runs = [first.dispatcher(follow=True)]
            async with trio.open_nursery() as nursery:
                nursery.start_soon(runs[0].run)
                await wait_for(lambda: any(r.status == 429 for r in graph.requests))
                await trio.sleep(ON_THE_WAY_S)
                first.enqueue([compose(m) for m in messages[1:]])
                runs.append(second.dispatcher(follow=True))
                nursery.start_soon(runs[1].run)
                await wait_for(lambda: sum(graph.deliveries.values()) >= MESSAGES)
                for run in runs:
                    run.stop()
        finally:
            first.close()
            second.close()

    # Every message went once, after the window.
    assert graph.deliveries == {m.message_id: 1 for m in messages}
    [refused] = [r for r in graph.requests if r.status == 429 and r.in_window_s is None]
    sent = [r for r in graph.requests if r.status != 429]
    assert min(r.arrived_at for r in sent) >= refused.arrived_at + RETRY_AFTER_S
    # Nothing was sent into the window once the agents could know of it: the
    # second agent took the pause from the store before its first request.
    assert graph.sent_in_windows(on_the_way_s=ON_THE_WAY_S) == 0
