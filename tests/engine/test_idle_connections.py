"""Idle connections and the cap: an open connection takes one of the
provider's slots even when it sends nothing, so a cut of the cap must close
the idle ones it leaves over the cap at once, not after ``idle_close_s``."""

from __future__ import annotations

import time

import trio

from adaptsend import Agent
from adaptsend.plugins._manager import load_plugins
from adaptsend.sources._compose import compose
from adaptsend.testing import ThrottlingSMTPServer
from tests.helpers.agent_config import MakeConfig
from tests.helpers.messages import batch


def wait_until(condition: object, timeout_s: float) -> bool:
    assert callable(condition)
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


async def test_a_cut_closes_idle_connections_over_the_new_cap(make_config: MakeConfig) -> None:
    # Each end of DATA takes 0.3 s, so three workers hold three connections.
    with ThrottlingSMTPServer(latency_s=0.3) as server:
        config = make_config(
            server,
            limiter={"initial_cap": 3, "min_cap": 1, "max_cap": 3, "idle_close_s": 60},
            run={"poll_interval_s": 0.05},
            # The refused message is not tried again, so nothing but the cut
            # can end the other two connections' idle wait.
            retry={"max_throttles": 1},
        )
        with Agent(config, plugins=load_plugins(environ={})) as agent:
            messages = [compose(m) for m in batch(4)]
            agent.enqueue(messages[:3])
            dispatcher = agent.dispatcher(follow=True)
            async with trio.open_nursery() as nursery:
                nursery.start_soon(dispatcher.run)
                three_idle = await trio.to_thread.run_sync(
                    wait_until, lambda: server.delivered == 3 and server.open_connections == 3, 10
                )
                # Now every connection is over the limit: the next send is
                # refused, and the cap is cut from 3 to 1 with two connections
                # idle.
                server.set_limit(0)
                agent.enqueue(messages[3:])
                closed = await trio.to_thread.run_sync(
                    wait_until, lambda: server.rejections == 1 and server.open_connections == 0, 5
                )
                left_open = server.open_connections
                dispatcher.stop()
                server.set_limit(None)

    assert three_idle
    assert closed, f"{left_open} connection(s) still open 5 s after the cut"
    assert dispatcher.limiter.cap == 1
