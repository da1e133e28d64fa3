"""A run keeps its promises when its own parts misbehave: leases that would
run out while messages wait, a transport that raises, a message too old to
keep trying. Real SMTP on 127.0.0.1, a real SQLite file."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import trio

from adaptsend import Status, hookimpl, send_batch_async
from adaptsend._models import Envelope
from adaptsend.config._settings import Config
from adaptsend.plugins._manager import load_plugins
from adaptsend.testing import ThrottlingSMTPServer
from adaptsend.transports._contract import Connection, SendResult
from adaptsend.transports.smtp._transport import SMTPTransport
from tests.helpers.agent_config import MakeConfig
from tests.helpers.databases import rows
from tests.helpers.messages import batch


async def test_leases_are_renewed_while_messages_wait_their_turn(
    make_config: MakeConfig, db_url: str
) -> None:
    # One connection, 0.4 s a message: the last of 6 messages waits 2 s in
    # the buffer, longer than its 0.9 s lease. Without renewal the run
    # claimed them again and delivered them twice.
    with ThrottlingSMTPServer(latency_s=0.4) as server:
        config = make_config(
            server,
            limiter={"initial_cap": 1, "min_cap": 1, "max_cap": 1},
            run={"lease_s": 0.9},
        )
        report = await send_batch_async(batch(6), config=config)

    assert report.ok
    assert report.run.sent == 6
    assert sorted(server.deliveries.values()) == [1] * 6
    assert rows(db_url, "SELECT count(*) FROM attempts") == [(6,)]


class _Broken(Exception):
    pass


class _BrokenConnection:
    """Raises for the message whose Message-ID is ``poison``; sends the rest."""

    def __init__(self, inner: Connection, poison: str) -> None:
        self._inner = inner
        self._poison = poison

    async def send(self, envelope: Envelope) -> SendResult:
        if envelope.message_id == self._poison:
            raise _Broken("a bug in the transport")
        return await self._inner.send(envelope)

    async def close(self) -> None:
        await self._inner.close()


class _BrokenTransport:
    def __init__(self, config: Config, threads: trio.CapacityLimiter, poison: str) -> None:
        self._inner = SMTPTransport(config.smtp, threads=threads)
        self.sending_key = self._inner.sending_key
        self._poison = poison

    async def connect(self) -> _BrokenConnection:
        return _BrokenConnection(await self._inner.connect(), self._poison)


def _broken_plugin(poison: str) -> object:
    class Plugin:
        @hookimpl
        def adaptsend_register_transports(
            self, register: Callable[[str, Callable[..., Any]], None]
        ) -> None:
            register("broken", lambda config, threads: _BrokenTransport(config, threads, poison))

    return Plugin()


async def test_a_transport_that_raises_fails_that_message_and_the_run_goes_on(
    make_config: MakeConfig, db_url: str
) -> None:
    messages = batch(5)
    poison = "<report-2@example.com>"
    with ThrottlingSMTPServer() as server:
        config = make_config(server, run={"transport": "broken"}, retry={"max_attempts": 2})
        plugins = load_plugins(entry_points=False, extra=[_broken_plugin(poison)])
        report = await send_batch_async(messages, config=config, plugins=plugins)

    statuses = {r.message_id: r.status for r in report.results}
    assert statuses.pop(poison) is Status.DEAD
    assert set(statuses.values()) == {Status.SENT}
    assert sorted(server.deliveries) == sorted(statuses)
    failures = rows(
        db_url, "SELECT outcome, rule, reply_text FROM attempts WHERE outcome != 'sent'"
    )
    text = "the transport failed while sending: _Broken: a bug in the transport"
    assert failures == [("transient", "transport-error", text)] * 2
    assert rows(db_url, "SELECT count(*) FROM messages WHERE status = 'sending'") == [(0,)]


async def test_a_message_past_max_age_is_dead_at_its_next_failure(
    make_config: MakeConfig, db_url: str
) -> None:
    with ThrottlingSMTPServer(data_reply="451 4.3.0 Try again later") as server:
        config = make_config(server, retry={"max_age_s": 0.001, "max_attempts": 8})
        report = await send_batch_async(batch(2), config=config)

    assert [(r.status, r.attempts) for r in report.results] == [(Status.DEAD, 1)] * 2
    assert report.run.dead == 2
