"""Recipient limits over real sockets: a message goes in transactions of at
most ``[smtp] max_recipients``, and the recipients a server refuses as too
many (``452 4.5.3``) go in the next transaction of the same message, on the
same connection. Every recipient gets the message exactly once, and the
caller gets one result per message."""

from __future__ import annotations

import collections

import pytest

from adaptsend import Status, send_batch_async
from adaptsend._models import Envelope, Reply
from adaptsend.transports.smtp._parts import too_many
from tests.helpers.agent_config import MakeConfig
from tests.helpers.databases import rows
from tests.helpers.smtp_connections import big_envelope, send_all
from tests.helpers.smtp_fault_server import FaultServer

MODES = {
    "plain": {},
    "pipelining": {"pipelining": True},
    "chunking": {"pipelining": True, "chunking": True},
}


def to_many(n: int, count: int) -> Envelope:
    recipients = tuple(f"r{i}@example.com" for i in range(count))
    return big_envelope(n, 2_000, *recipients)


def received_once(relay: FaultServer, batch: list[Envelope]) -> bool:
    """Whether every recipient of every message got it exactly once."""
    got = collections.Counter(
        (message_id, r)
        for message_id, rcpts in zip(relay.delivered, relay.recipients, strict=True)
        for r in rcpts
    )
    wanted = collections.Counter((e.message_id, r) for e in batch for r in e.recipients)
    return got == wanted


@pytest.mark.parametrize(
    ("reply", "verdict"),
    [
        (Reply(code=452, text="Too many recipients", enhanced="4.5.3"), True),
        (Reply(code=452, text="4.5.3 Too many recipients"), True),
        (Reply(code=452, text="Error: too many recipients"), True),
        (Reply(code=452, text="Insufficient system storage", enhanced="4.3.1"), False),
        (Reply(code=550, text="Too many recipients", enhanced="5.5.3"), False),
    ],
)
def test_what_counts_as_too_many_recipients(reply: Reply, verdict: bool) -> None:
    assert too_many(reply) is verdict


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("max_recipients", [None, 1000], ids=["default", "1000"])
async def test_ten_thousand_recipients_through_a_server_that_takes_500(
    mode: str, max_recipients: int | None
) -> None:
    message = to_many(0, 10_000)
    smtp = {} if max_recipients is None else {"max_recipients": max_recipients}
    server = FaultServer(**MODES[mode], max_recipients=500)  # type: ignore[arg-type]
    with server.running() as relay:
        [attempt] = await send_all(relay.port, [message], **smtp)

    result = attempt.result
    assert (result.reply.code, result.refused, result.outcome) == (250, {}, None)
    assert result.connection_usable
    assert received_once(relay, [message])
    # Transactions of the configured size (100), or as many as the server takes.
    assert relay.transactions == (100 if max_recipients is None else 20)
    assert relay.connections == 1


@pytest.mark.parametrize("mode", MODES)
async def test_recipients_refused_as_too_many_inside_a_batch_go_in_another_transaction(
    mode: str,
) -> None:
    batch = [to_many(0, 3), to_many(1, 12), to_many(2, 4), to_many(3, 7)]
    with FaultServer(**MODES[mode], max_recipients=5).running() as relay:  # type: ignore[arg-type]
        attempts = await send_all(relay.port, batch)

    assert [(a.result.reply.code, a.result.refused) for a in attempts] == [(250, {})] * 4
    assert received_once(relay, batch)
    assert relay.connections == 1


@pytest.mark.parametrize("mode", MODES)
async def test_other_refusals_in_a_split_message_are_reported_as_ever(mode: str) -> None:
    message = to_many(0, 12)
    with FaultServer(**MODES[mode], max_recipients=5).running() as relay:  # type: ignore[arg-type]
        [attempt] = await send_all(relay.port, [message], max_recipients=4)

    assert attempt.result.reply.code == 250 and not attempt.result.refused
    assert relay.transactions == 3
    assert [len(r) for r in relay.recipients] == [4, 4, 4]


async def test_fifty_recipients_against_five_per_transaction_end_to_end(
    make_config: MakeConfig, db_url: str
) -> None:
    message = to_many(0, 50)
    with FaultServer(pipelining=True, chunking=True, max_recipients=5).running() as relay:
        config = make_config(relay, smtp={"max_recipients": 100})  # type: ignore[arg-type]
        report = await send_batch_async([message, big_envelope(1, 2_000)], config=config)

    assert [r.status for r in report.results] == [Status.SENT, Status.SENT]
    assert [r.attempts for r in report.results] == [1, 1]
    assert received_once(relay, [message, big_envelope(1, 2_000)])
    assert rows(db_url, "SELECT outcome, count(*) FROM attempts GROUP BY outcome") == [("sent", 2)]
