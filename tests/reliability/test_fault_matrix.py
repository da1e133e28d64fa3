"""Every fault the test server can inject, on every way adaptsend sends (one
command at a time, PIPELINING, PIPELINING with CHUNKING), end to end: real
SMTP on 127.0.0.1, a real SQLite file, the real agent.

What each must show: every message ends ``sent``; every message arrived; a
message arrived twice only after an attempt counted ``unknown``; and
``unknown`` attempts happen only where a fault ended a connection with no
final reply after the content went out."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs
import pytest
import trio

from adaptsend import Message, Status, send_batch_async
from adaptsend.testing import ServerStatistics, ThrottlingSMTPServer
from tests.helpers.agent_config import MakeConfig
from tests.helpers.databases import rows

MESSAGES = 40
#: Big enough that a batch written in one go outruns the socket buffers, so a
#: hang-up really cuts a write short.
BODY = "x" * 60_000

#: The server's way of sending: (pipelining, chunking).
PATHS = {"plain": (False, False), "pipelining": (True, False), "chunking": (True, True)}


@attrs.frozen(kw_only=True)
class Fault:
    #: Options for the server.
    server: dict[str, Any]
    #: How many connections the fault ended with no final reply after the
    #: content went out: only those attempts may be ``unknown``.
    silent: Callable[[ServerStatistics], int] = lambda _: 0
    #: Seconds after the start at which the server goes down for a while.
    outage_s: float | None = None
    #: Extra ``[smtp]`` settings.
    smtp: dict[str, Any] = attrs.field(factory=dict)


FAULTS = {
    "hang-up with 421 after 4": Fault(
        server={"hang_up_after": 4, "hang_up_reply": "421 4.7.0 Too many messages for this session"}
    ),
    "silent hang-up after 4": Fault(server={"hang_up_after": 4}, silent=lambda s: s.hangups),
    "cut mid-content": Fault(server={"cut_content_every": 7}, silent=lambda s: s.content_cuts),
    "reply lost after the dot": Fault(
        server={"lose_reply_every": 7}, silent=lambda s: s.replies_lost
    ),
    "reply stalled after the dot": Fault(
        server={"lose_reply_every": 9, "lose_reply_stall_s": 4.0},
        silent=lambda s: s.replies_lost,
        # Short enough to end the stall, long enough that a loaded machine's
        # ordinary replies never time out (that would be a real unknown).
        smtp={"timeout_s": 1.5},
    ),
    "greeting refused": Fault(server={"refuse_greeting_every": 3}),
    # Going down resets the connections open then: at most max_cap (8).
    "down for a moment": Fault(server={}, outage_s=0.3, silent=lambda _: 8),
    "slow answers": Fault(server={"latency_s": 0.02, "greeting_delay_s": 0.05}),
}


def messages() -> list[Message]:
    return [
        Message(
            sender="reports@example.com",
            to=(f"user{n}@example.com",),
            subject=f"report {n}",
            text=BODY,
            message_id=f"<fault-{n}@example.com>",
        )
        for n in range(MESSAGES)
    ]


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("name", FAULTS)
async def test_every_message_arrives_and_only_unknown_attempts_may_repeat(
    make_config: MakeConfig, db_url: str, path: str, name: str
) -> None:
    fault = FAULTS[name]
    pipelining, chunking = PATHS[path]
    with ThrottlingSMTPServer(pipelining=pipelining, chunking=chunking, **fault.server) as server:
        config = make_config(
            server,
            retry={"max_attempts": 30},
            run={"outage_wait_s": 30},
            smtp={"timeout_s": 5, **fault.smtp},
        )
        async with trio.open_nursery() as nursery:
            if fault.outage_s is not None:
                nursery.start_soon(_outage, server, fault.outage_s)
            report = await send_batch_async(messages(), config=config)
        stats = server.statistics()

    assert [r.status for r in report.results] == [Status.SENT] * MESSAGES
    assert len(server.deliveries) == MESSAGES
    repeats = sum(count - 1 for count in server.duplicates.values())
    unknown = report.run.unknown
    assert repeats <= unknown
    recorded = rows(db_url, "SELECT count(*) FROM attempts WHERE outcome = 'unknown'")
    assert recorded == [(unknown,)]
    assert unknown <= fault.silent(stats)
    # Reaching the server is never a message's failure.
    assert rows(db_url, "SELECT count(*) FROM attempts WHERE stage = 'connect'") == [(0,)]


async def _outage(server: ThrottlingSMTPServer, seconds: float) -> None:
    await trio.sleep(0.05)
    server.down_for(seconds)
