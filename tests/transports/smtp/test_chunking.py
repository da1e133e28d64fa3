"""CHUNKING (RFC 3030) with PIPELINING against real servers: a batch goes out
in one write, each message is judged by its own replies (also after a
refusal), and a connection that ends mid-batch leaves the messages it never
answered to be sent again, once."""

from __future__ import annotations

import attrs
import pytest

from adaptsend import Status, send_batch_async
from adaptsend.testing import ThrottlingSMTPServer
from tests.helpers.agent_config import MakeConfig
from tests.helpers.databases import rows
from tests.helpers.messages import batch
from tests.helpers.smtp_connections import connect, envelope, received, recording_proxy

BAD = "nobody@example.com"
NO_SUCH_USER = "550 5.1.1 No such user"
REFUSED_CONTENT = "554 5.6.0 Content refused"


def chunking_server(**options: object) -> ThrottlingSMTPServer:
    return ThrottlingSMTPServer(pipelining=True, chunking=True, **options)  # type: ignore[arg-type]


async def test_a_batch_goes_out_in_one_write() -> None:
    with chunking_server() as server, recording_proxy(server) as (port, wire):
        connection = await connect(server, port)
        envelopes = [envelope(n, "a@example.com") for n in range(5)]
        attempts = await connection.send_many(envelopes, budget_s=10)
        await connection.close()

    assert [a.clean for a in attempts] == [True] * 5
    assert received(server) == [e.message_id for e in envelopes]
    assert any(c.count(b"BDAT ") == 5 for c in wire.chunks)
    # BDAT content goes as it is: no dot doubling for the server to undo.
    assert [m.raw for m in server.received] == [e.content for e in envelopes]


async def test_each_message_of_a_batch_is_judged_by_its_own_replies() -> None:
    refused_content = "c@example.com"
    with chunking_server(
        rcpt_replies={BAD: NO_SUCH_USER}, data_replies={refused_content: REFUSED_CONTENT}
    ) as server:
        envelopes = [
            envelope(0, "a@example.com"),
            envelope(1, BAD),
            envelope(2, refused_content),
            envelope(3, "b@example.com", BAD),
            envelope(4, "d@example.com"),
        ]
        connection = await connect(server)
        attempts = await connection.send_many(envelopes, budget_s=10)
        again = await connection.send_many([envelope(5, "e@example.com")], budget_s=10)
        await connection.close()

    assert [a.result.reply.code for a in attempts] == [250, 550, 554, 250, 250]
    assert [sorted(a.result.refused) for a in attempts] == [[], [BAD], [], [BAD], []]
    assert all(a.result.connection_usable for a in attempts)
    assert [a.clean for a in again] == [True]
    assert received(server) == [
        "<direct-0@example.com>",
        "<direct-3@example.com>",
        "<direct-4@example.com>",
        "<direct-5@example.com>",
    ]
    assert server.connections == 1


async def test_a_connection_dropped_mid_batch_leaves_the_rest_untried() -> None:
    with chunking_server(drop_after_data=3) as server:
        envelopes = [envelope(n, "a@example.com") for n in range(5)]
        connection = await connect(server)
        attempts = await connection.send_many(envelopes, budget_s=10)
        await connection.close()

    # The third end of data got no reply: unknown, so retried; the two after
    # it were never answered and are not reported.
    assert [a.result.reply.code for a in attempts] == [250, 250, None]
    assert not attempts[-1].result.connection_usable
    assert received(server) == ["<direct-0@example.com>", "<direct-1@example.com>"]


async def test_a_batch_of_mixed_outcomes_is_recorded_message_by_message(
    make_config: MakeConfig, db_url: str
) -> None:
    messages = [attrs.evolve(m, to=(f"r{n}@example.com",)) for n, m in enumerate(batch(40))]
    refused = {f"r{n}@example.com": NO_SUCH_USER for n in range(5, 8)}
    with chunking_server(rcpt_replies=refused) as server:
        config = make_config(server, limiter={"initial_cap": 1, "max_cap": 1})
        report = await send_batch_async(messages, config=config)

    statuses = [r.status for r in report.results]
    assert statuses == [*[Status.SENT] * 5, *[Status.FAILED] * 3, *[Status.SENT] * 32]
    assert server.delivered == 37 and not server.duplicates
    assert rows(db_url, "SELECT count(*) FROM attempts") == [(40,)]


async def test_a_throttle_mid_batch_loses_and_repeats_nothing(make_config: MakeConfig) -> None:
    with chunking_server(limit=2) as server:
        report = await send_batch_async(batch(200), config=make_config(server))

    assert report.ok
    assert server.delivered == 200 and not server.duplicates
    assert server.rejections >= 1


@pytest.mark.parametrize("stage", ["mail", "rcpt", "data"])
async def test_a_throttle_on_a_kept_connection_keeps_the_batch_in_step(
    make_config: MakeConfig, stage: str
) -> None:
    with chunking_server(limit=1, throttle_stage=stage, close_after_throttle=False) as server:
        report = await send_batch_async(batch(60), config=make_config(server))

    assert report.ok
    assert server.delivered == 60 and not server.duplicates
    assert server.rejections >= 1


async def test_dropped_connections_mid_batch_lose_and_repeat_nothing(
    make_config: MakeConfig,
) -> None:
    with chunking_server(drop_after_data=7) as server:
        report = await send_batch_async(batch(100), config=make_config(server))

    assert report.ok
    assert server.delivered == 100 and not server.duplicates


async def test_chunking_can_be_turned_off(make_config: MakeConfig) -> None:
    with chunking_server() as server, recording_proxy(server) as (port, wire):
        config = make_config(server, smtp={"port": port, "chunking": False})
        report = await send_batch_async(batch(5), config=config)

    assert report.ok
    assert not any(b"BDAT" in c for c in wire.chunks)
    assert wire.grouped()
