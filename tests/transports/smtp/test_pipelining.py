"""PIPELINING (RFC 2920) and batched sends against real servers: commands go
out together only when the server offers it, and every refusal inside a group
is matched to the right message and recipient, with the connection staying
in step for the messages after it."""

from __future__ import annotations

import pytest
import trio

from adaptsend import Message, Status, send_batch_async
from adaptsend.testing import ThrottlingSMTPServer
from tests.helpers.agent_config import MakeConfig
from tests.helpers.databases import rows
from tests.helpers.messages import batch
from tests.helpers.smtp_connections import connect, envelope, received, recording_proxy

BAD = "nobody@example.com"
NO_SUCH_USER = "550 5.1.1 No such user"


def to(*recipients: str, n: int = 0) -> Message:
    return Message(
        sender="reports@example.com",
        to=recipients,
        subject=f"report {n}",
        text=f"body {n}",
        message_id=f"<mixed-{n}@example.com>",
    )


async def test_commands_go_out_together_when_the_server_offers_pipelining(
    make_config: MakeConfig,
) -> None:
    with ThrottlingSMTPServer(pipelining=True) as server, recording_proxy(server) as (port, wire):
        config = make_config(server, smtp={"port": port}, limiter={"initial_cap": 1, "max_cap": 1})
        report = await send_batch_async(batch(30), config=config)

    assert report.ok
    assert server.delivered == 30 and not server.duplicates
    assert wire.grouped()


async def test_commands_wait_for_replies_without_pipelining(make_config: MakeConfig) -> None:
    with ThrottlingSMTPServer() as server, recording_proxy(server) as (port, wire):
        report = await send_batch_async(batch(5), config=make_config(server, smtp={"port": port}))

    assert report.ok
    assert not wire.grouped()


async def test_pipelining_can_be_turned_off(make_config: MakeConfig) -> None:
    with ThrottlingSMTPServer(pipelining=True) as server, recording_proxy(server) as (port, wire):
        config = make_config(server, smtp={"port": port, "pipelining": False})
        report = await send_batch_async(batch(5), config=config)

    assert report.ok
    assert not wire.grouped()


async def test_refusals_inside_a_group_land_on_the_right_message(
    make_config: MakeConfig, db_url: str
) -> None:
    messages = [
        to("a@example.com", n=0),
        to(BAD, n=1),
        to("b@example.com", BAD, n=2),
        *(to(f"r{n}@example.com", n=n) for n in range(3, 40)),
    ]
    with ThrottlingSMTPServer(pipelining=True, rcpt_replies={BAD: NO_SUCH_USER}) as server:
        config = make_config(server, limiter={"initial_cap": 1, "max_cap": 1})
        report = await send_batch_async(messages, config=config)

    statuses = [r.status for r in report.results]
    # The second and third end failed for the refused recipient; the third
    # was still delivered to its other one.
    assert statuses == [Status.SENT, Status.FAILED, Status.FAILED, *[Status.SENT] * 37]
    assert server.delivered == 39 and not server.duplicates
    assert [m.rcpt_tos for m in server.received if m.message_id == "<mixed-2@example.com>"] == [
        ("b@example.com",)
    ]
    refused = rows(db_url, "SELECT recipient, reply_code FROM attempts WHERE recipient IS NOT NULL")
    assert refused == [(BAD, 550), (BAD, 550)]


async def test_a_throttle_at_mail_with_pipelining_loses_and_repeats_nothing(
    make_config: MakeConfig,
) -> None:
    with ThrottlingSMTPServer(pipelining=True, limit=2, throttle_stage="mail") as server:
        report = await send_batch_async(batch(60), config=make_config(server))

    assert report.ok
    assert server.delivered == 60 and not server.duplicates
    assert server.max_concurrent >= 3  # the limit was met, so the throttle path ran


@pytest.mark.parametrize("stage", ["mail", "rcpt", "data"])
async def test_a_throttle_on_a_kept_connection_keeps_it_in_step(
    make_config: MakeConfig, stage: str
) -> None:
    # The refused command's followers still get their own replies, which
    # must be read before the next transaction's.
    with ThrottlingSMTPServer(
        pipelining=True, limit=1, throttle_stage=stage, close_after_throttle=False
    ) as server:
        report = await send_batch_async(batch(40), config=make_config(server))

    assert report.ok
    assert server.delivered == 40 and not server.duplicates
    assert server.rejections >= 1


async def test_a_refused_mail_keeps_the_connection_in_step(make_config: MakeConfig) -> None:
    # Every RCPT and the DATA behind a refused MAIL get their own replies;
    # read them all and one connection serves the whole batch.
    with ThrottlingSMTPServer(
        pipelining=True,
        limit=0,
        throttle_stage="mail",
        throttle_reply="550 5.7.1 Sender not allowed",
        close_after_throttle=False,
    ) as server:
        config = make_config(server, limiter={"initial_cap": 1, "max_cap": 1})
        report = await send_batch_async(batch(10), config=config)

    assert [r.status for r in report.results] == [Status.FAILED] * 10
    assert server.connections == 1


async def test_a_refused_end_of_data_is_judged_and_retried(
    make_config: MakeConfig, db_url: str
) -> None:
    with ThrottlingSMTPServer(pipelining=True, data_reply="451 4.3.0 Try later") as server:
        config = make_config(server, retry={"max_attempts": 2})
        report = await send_batch_async(batch(3), config=config)

    assert [r.status for r in report.results] == [Status.DEAD] * 3
    assert rows(db_url, "SELECT DISTINCT outcome, stage, reply_code FROM attempts") == [
        ("transient", "data", 451)
    ]


async def test_send_many_stops_after_the_first_unclean_attempt() -> None:
    with ThrottlingSMTPServer(pipelining=True, rcpt_replies={BAD: NO_SUCH_USER}) as server:
        connection = await connect(server)
        envelopes = [envelope(0, "a@example.com"), envelope(1, BAD), envelope(2, "c@example.com")]
        first = await connection.send_many(envelopes, budget_s=10)
        rest = await connection.send_many(envelopes[len(first) :], budget_s=10)
        await connection.close()

    assert [a.result.reply.code for a in first] == [250, 550]
    assert [a.clean for a in first] == [True, False]
    assert [a.result.reply.code for a in rest] == [250]
    assert [m.message_id for m in server.received] == [
        "<direct-0@example.com>",
        "<direct-2@example.com>",
    ]
    # Dot-stuffing undone by the server: the body arrives as written.
    assert all(b"\r\n.dotted\r\n" in m.raw for m in server.received)


async def test_send_many_with_no_budget_sends_one() -> None:
    with ThrottlingSMTPServer(pipelining=True) as server:
        connection = await connect(server)
        attempts = await connection.send_many(
            [envelope(n, "a@example.com") for n in range(3)], budget_s=0
        )
        await connection.close()

    assert len(attempts) == 1
    assert server.delivered == 1


async def test_a_message_goes_out_with_the_next_messages_commands() -> None:
    with ThrottlingSMTPServer(pipelining=True) as server, recording_proxy(server) as (port, wire):
        connection = await connect(server, port)
        envelopes = [envelope(n, "a@example.com") for n in range(4)]
        attempts = await connection.send_many(envelopes, budget_s=10)
        await connection.close()

    assert [a.clean for a in attempts] == [True] * 4
    assert received(server) == [e.message_id for e in envelopes]
    # One write per message after the first: its content, then the next
    # message's MAIL, RCPT and DATA, with no wait in between.
    assert sum(b"\r\n.\r\nMAIL FROM:<r@example.com>" in c for c in wire.chunks) == 3


@pytest.mark.parametrize("refusal", ["554 5.6.0 Content refused", "421 4.3.2 Closing"])
async def test_a_refused_content_leaves_the_next_message_unsent(refusal: str) -> None:
    # The next message's DATA was already taken when the refusal came: only
    # hanging up keeps that message from being sent empty-handed.
    with ThrottlingSMTPServer(pipelining=True, data_replies={BAD: refusal}) as server:
        envelopes = [envelope(0, "a@example.com"), envelope(1, BAD), envelope(2, "c@example.com")]
        connection = await connect(server)
        attempts = await connection.send_many(envelopes, budget_s=10)
        closing = trio.current_time()
        await connection.close()
        # Hung up already: a QUIT would have been taken as content and waited
        # out the reply timeout (a minute).
        assert trio.current_time() - closing < 30
        again = await connect(server)
        rest = await again.send_many(envelopes[len(attempts) :], budget_s=10)
        await again.close()

    assert [str(a.result.reply.code) for a in attempts] == ["250", refusal[:3]]
    assert not attempts[1].result.connection_usable
    assert [a.result.reply.code for a in rest] == [250]
    assert received(server) == ["<direct-0@example.com>", "<direct-2@example.com>"]
    assert server.connections == 2


async def test_a_refused_content_keeps_the_connection_when_the_next_message_cannot_start() -> None:
    # The next message's only recipient is refused, so its DATA is too: RSET
    # ends it and the connection goes on.
    refused_content = "c@example.com"
    with ThrottlingSMTPServer(
        pipelining=True,
        data_replies={refused_content: "554 5.6.0 Content refused"},
        rcpt_replies={BAD: NO_SUCH_USER},
    ) as server:
        envelopes = [envelope(0, refused_content), envelope(1, BAD), envelope(2, "d@example.com")]
        connection = await connect(server)
        attempts = await connection.send_many(envelopes, budget_s=10)
        second = await connection.send_many(envelopes[1:2], budget_s=10)
        third = await connection.send_many(envelopes[2:], budget_s=10)
        await connection.close()

    assert [a.result.reply.code for a in attempts] == [554]
    assert attempts[0].result.connection_usable
    assert [a.result.reply.code for a in [*second, *third]] == [550, 250]
    assert received(server) == ["<direct-2@example.com>"]
    assert server.connections == 1
