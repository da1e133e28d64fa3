"""The message rate learnt from "too fast" replies, end to end: real SMTP on
127.0.0.1 against a server that refuses more than R messages a second, a
real SQLite file, the real dispatcher. Nothing about the rate is configured.
Times are lower bounds only."""

from __future__ import annotations

import logging

import pytest
import trio

from adaptsend import send_batch_async
from tests.helpers.agent_config import MakeConfig
from tests.helpers.messages import batch
from tests.helpers.rate_limited_server import RateLimitedSMTPServer

#: Low enough that any machine sends faster than this over loopback, so the
#: server always has something to refuse.
PER_SECOND = 20
COUNT = 100


async def test_too_fast_replies_cut_the_rate_not_the_cap(
    make_config: MakeConfig, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="adaptsend.run")
    with RateLimitedSMTPServer(per_second=PER_SECOND) as server:
        config = make_config(server, limiter={"initial_cap": 4, "max_cap": 4})
        started = trio.current_time()
        report = await send_batch_async(batch(COUNT), config=config)
        elapsed = trio.current_time() - started

    run = report.run
    assert run.ok
    # Every message arrives, once.
    assert len(server.deliveries) == COUNT
    assert set(server.deliveries.values()) == {1}
    # The rate was learnt with few refusals, each recorded as outcome rate
    # (the benchmark holds the tighter 5% target; a test leaves room).
    assert 1 <= run.rate_limited == server.rate_refusals <= COUNT * 0.1
    # ... and none of them cut the connection cap.
    assert run.throttled == 0
    assert run.cap_changes == 0
    assert run.final_cap == 4
    # The server's limit held: no faster than it allows.
    assert elapsed >= COUNT / PER_SECOND - 1
    cuts = [r.getMessage() for r in caplog.records if "message rate" in r.getMessage()]
    assert cuts and "unlimited" in cuts[0] and "cut" in cuts[0]
