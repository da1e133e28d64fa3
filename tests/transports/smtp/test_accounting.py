"""A batch that ends early is accounted message by message, over real
sockets: what the transport reports as sent is what the server accepted,
a message whose final reply was lost is unknown (once), the messages never
taken are not reported, and an idle connection the server closed is found
before anything is written."""

from __future__ import annotations

import pytest
import trio

from adaptsend._models import Envelope, Outcome, Stage
from adaptsend.transports._contract import SendAttempt
from tests.helpers.smtp_connections import big_envelope, connect_to
from tests.helpers.smtp_fault_server import FaultServer

MODES = {
    "plain": {},
    "pipelining": {"pipelining": True},
    "chunking": {"pipelining": True, "chunking": True},
}


def server(mode: str, **faults: object) -> FaultServer:
    return FaultServer(**MODES[mode], **faults)  # type: ignore[arg-type]


def _accepted(attempt: SendAttempt) -> bool:
    code = attempt.result.reply.code
    return code is not None and 200 <= code < 300


def accepted_ids(attempts: list[SendAttempt], batch: list[Envelope]) -> list[str]:
    """The Message-IDs of ``batch`` that ``attempts`` report as accepted."""
    return [e.message_id for a, e in zip(attempts, batch, strict=False) if _accepted(a)]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("closing_reply", [True, False], ids=["421", "silent"])
async def test_a_hang_up_after_four_reports_exactly_what_was_taken(
    mode: str, closing_reply: bool
) -> None:
    batch = [big_envelope(n) for n in range(10)]
    with server(mode, limit=4, closing_reply=closing_reply).running() as relay:
        connection = await connect_to(relay.port)
        attempts = await connection.send_many(batch, budget_s=30)
        await connection.close()

    assert accepted_ids(attempts, batch) == relay.delivered == [e.message_id for e in batch[:4]]
    assert all(a.result.connection_usable for a in attempts[:3])
    assert not attempts[-1].result.connection_usable
    rest = [a.result for a in attempts[4:]]
    if closing_reply:
        # The fifth was refused by the 421 and nothing after it was tried.
        assert [(r.reply.code, r.reply.stage, r.outcome) for r in rest] == [(421, Stage.MAIL, None)]
    else:
        # A fifth written in full may have been taken; one written partly not.
        assert [r.outcome for r in rest] in ([], [Outcome.UNKNOWN])


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("closing_reply", [True, False], ids=["421", "silent"])
async def test_sixty_large_messages_through_a_relay_that_hangs_up_after_four(
    mode: str, closing_reply: bool
) -> None:
    # As a worker does: what is not reported sent goes again on a new connection.
    pending = [big_envelope(n) for n in range(24)]
    reported: list[str] = []
    unknown = 0
    with server(mode, limit=4, closing_reply=closing_reply).running() as relay:
        for _ in range(40):
            if not pending:
                break
            connection = await connect_to(relay.port)
            batch = pending[:10]
            attempts = await connection.send_many(batch, budget_s=30)
            await connection.close()
            reported += accepted_ids(attempts, batch)
            unknown += sum(a.result.outcome is Outcome.UNKNOWN for a in attempts)
            done = set(accepted_ids(attempts, batch))
            pending = [e for e in pending if e.message_id not in done]

    assert not pending
    assert sorted(reported) == sorted(relay.delivered)
    # Only an unknown attempt may have been delivered twice.
    assert len(relay.delivered) - len(set(relay.delivered)) <= unknown
    # Each connection starts at most one transaction it cannot finish.
    assert relay.transactions <= 24 + unknown + relay.connections


@pytest.mark.parametrize("mode", MODES)
async def test_a_reset_after_the_final_dot_is_one_unknown(mode: str) -> None:
    batch = [big_envelope(n, 2_000) for n in range(5)]
    with server(mode, reset_after=2).running() as relay:
        connection = await connect_to(relay.port)
        attempts = await connection.send_many(batch, budget_s=30)
        await connection.close()

    assert relay.delivered == [batch[0].message_id, batch[1].message_id]
    assert [a.result.reply.code for a in attempts] == [250, None]
    last = attempts[-1].result
    assert last.outcome is Outcome.UNKNOWN
    assert last.reply.stage is Stage.DATA
    assert "may have been delivered" in last.reply.text
    assert not last.connection_usable and not last.untouched


@pytest.mark.parametrize("mode", MODES)
async def test_a_write_cut_off_inside_a_message_does_not_report_it(mode: str) -> None:
    # Far more than any socket buffers hold: the write must fail partway
    # through the third message, which the server never took.
    batch = [big_envelope(0, 2_000), big_envelope(1, 2_000), big_envelope(2, 16_000_000)]
    with server(mode, limit=2, closing_reply=False).running() as relay:
        connection = await connect_to(relay.port)
        attempts = await connection.send_many(batch, budget_s=30)
        await connection.close()

    assert relay.delivered == [batch[0].message_id, batch[1].message_id]
    assert [a.result.reply.code for a in attempts] == [250, 250]
    assert not attempts[-1].result.connection_usable


@pytest.mark.parametrize("mode", MODES)
async def test_a_first_message_cut_off_is_an_ordinary_failure(mode: str) -> None:
    batch = [big_envelope(0, 16_000_000), big_envelope(1, 2_000)]
    with server(mode, reset_after=1, limit=0, closing_reply=False).running() as relay:
        connection = await connect_to(relay.port)
        attempts = await connection.send_many(batch, budget_s=30)
        await connection.close()

    assert relay.delivered == []
    assert len(attempts) == 1
    result = attempts[0].result
    assert result.reply.code is None and result.outcome is None
    assert not result.connection_usable and not result.untouched


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("closing_reply", [True, False], ids=["421", "silent"])
async def test_an_idle_connection_closed_by_the_server_is_found_before_writing(
    mode: str, closing_reply: bool
) -> None:
    with server(mode, idle_close_s=0.05, closing_reply=closing_reply).running() as relay:
        connection = await connect_to(relay.port)
        first = await connection.send_many([big_envelope(0, 2_000)], budget_s=30)
        await trio.to_thread.run_sync(relay.idle_closed.wait, 5)
        # The 421 and the end of file are on their way over loopback.
        await trio.sleep(0.05)
        later = [big_envelope(n, 2_000) for n in range(1, 4)]
        attempts = await connection.send_many(later, budget_s=30)
        await connection.close()

    assert [a.clean for a in first] == [True]
    assert len(attempts) == 1
    result = attempts[0].result
    assert result.untouched and not result.connection_usable
    assert result.reply.code == (421 if closing_reply else None)
    assert result.reply.stage is Stage.MAIL
    # Nothing of the batch reached the server.
    assert relay.late == []
    assert relay.delivered == ["<big-0@example.com>"]


async def test_a_fresh_connection_is_not_polled_as_idle() -> None:
    with FaultServer(pipelining=True, chunking=True).running() as relay:
        connection = await connect_to(relay.port)
        attempts = await connection.send_many([big_envelope(0, 2_000)], budget_s=30)
        again = await connection.send_many([big_envelope(1, 2_000)], budget_s=30)
        await connection.close()

    assert [a.clean for a in [*attempts, *again]] == [True, True]
    assert not any(a.result.untouched for a in [*attempts, *again])
    assert relay.connections == 1
