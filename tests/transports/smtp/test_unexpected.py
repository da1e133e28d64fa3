"""What no SMTP conversation plans for, against real servers: an error that
is no network failure (content that is not bytes, from a broken plugin)
becomes the failed attempt of the message it stopped, and a server that goes
quiet after the final dot leaves the message unknown."""

from __future__ import annotations

import attrs
import pytest

from adaptsend._models import Outcome, Stage
from adaptsend.testing import ThrottlingSMTPServer
from adaptsend.transports._contract import SendAttempt, TransportError
from tests.helpers.smtp_connections import big_envelope, connect_to
from tests.helpers.smtp_fault_server import FaultServer

MODES = {
    "plain": {},
    "pipelining": {"pipelining": True},
    "chunking": {"pipelining": True, "chunking": True},
}
# A broken plugin's data: content that is not bytes. (An address that is not
# ASCII is no error: see test_smtp_hostile.py.)
NOT_BYTES = attrs.evolve(big_envelope(1, 2_000), content=None)  # type: ignore[arg-type]


@pytest.mark.parametrize("mode", MODES)
async def test_an_error_inside_a_send_is_that_messages_failed_attempt(mode: str) -> None:
    batch = [big_envelope(0, 2_000), NOT_BYTES, big_envelope(2, 2_000)]
    reports: list[SendAttempt] = []
    with FaultServer(**MODES[mode]).running() as relay:  # type: ignore[arg-type]
        # As a worker does: on until the broken message has been reported.
        while len(reports) < 2:
            connection = await connect_to(relay.port)
            reports += await connection.send_many(batch[len(reports) :], budget_s=30)  # type: ignore[arg-type]
            await connection.close()

    good, bad = reports[0].result, reports[1].result
    assert good.reply.code == 250
    assert bad.reply.code is None and bad.outcome is None
    assert "TypeError" in bad.reply.text and "unexpected" in bad.reply.text
    assert not bad.connection_usable and not bad.untouched
    assert relay.delivered == ["<big-0@example.com>"]


async def test_an_error_while_connecting_is_a_transport_error() -> None:
    with FaultServer().running() as relay, pytest.raises(TransportError) as raised:
        await connect_to(relay.port, local_hostname="zoë.example.com")

    assert raised.value.reply.code is None
    assert "UnicodeEncodeError" in raised.value.reply.text


@pytest.mark.parametrize("mode", MODES)
async def test_a_timeout_after_the_final_dot_is_unknown(mode: str) -> None:
    with ThrottlingSMTPServer(stall_s=5, stall_stage="data", **MODES[mode]) as server:  # type: ignore[arg-type]
        # Long enough for a loaded machine to greet, far shorter than the stall.
        connection = await connect_to(server.port, timeout_s=1.0)
        attempts = await connection.send_many([big_envelope(0, 2_000)], budget_s=30)
        await connection.close()

    assert len(attempts) == 1
    result = attempts[0].result
    assert result.outcome is Outcome.UNKNOWN
    assert (result.reply.code, result.reply.stage) == (None, Stage.DATA)
    assert "timed out" in result.reply.text and "may have been delivered" in result.reply.text
    assert not result.connection_usable
