"""A server's ``Retry-After`` pauses the whole sending key: no connection
opens and no send starts, on any connection, until it has passed; sends
already under way finish. And a send that finds the server out of reach
before anything went out is an outage, charged to no message.

The transport here is in process (an HTTP-like one whose verdicts are its
own), so that the moment of every send is known exactly; a real SQLite file
keeps the queue."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import pytest
import trio
import trio.testing

from adaptsend import (
    Envelope,
    Outcome,
    Reply,
    SendResult,
    Stage,
    Status,
    TransportError,
    config_from_dict,
    hookimpl,
    send_batch_async,
)
from adaptsend.config._settings import Config
from adaptsend.limits._retry_after import RetryAfter
from adaptsend.plugins._manager import load_plugins
from tests.helpers.databases import rows
from tests.helpers.messages import batch

ACCEPTED = Reply(code=202, text="Accepted", stage=Stage.DATA)
THROTTLED = Reply(code=429, text="ApplicationThrottled: over its concurrency limit")
UNREACHABLE = Reply(code=None, text="cannot reach the server: refused", stage=Stage.CONNECT)


@attrs.define
class Script:
    """What the transport does, and what it saw (in trio time)."""

    #: The n-th send (counting from 1) is refused with this Retry-After.
    refuse_send: int | None = None
    #: The first connect is refused with this Retry-After.
    refuse_connect: bool = False
    #: The first sends find the server out of reach before anything went out.
    unreachable_sends: int = 0
    retry_after_s: float = 1.0
    send_s: float = 0.05
    starts: list[float] = attrs.field(factory=list)
    connects: list[float] = attrs.field(factory=list)
    #: When the refusal was handed back to the agent, and how many sends
    #: had started by then.
    refused_at: float | None = None
    started_before_refusal: int = 0
    delivered: list[str] = attrs.field(factory=list)


class ScriptedConnection:
    def __init__(self, script: Script) -> None:
        self._script = script

    async def send(self, envelope: Envelope) -> SendResult:
        script = self._script
        if script.unreachable_sends > 0:
            script.unreachable_sends -= 1
            await trio.lowlevel.checkpoint()
            return SendResult(
                reply=UNREACHABLE,
                outcome=Outcome.TRANSIENT,
                untouched=True,
                connection_usable=False,
            )
        script.starts.append(trio.current_time())
        number = len(script.starts)
        await trio.sleep(script.send_s)
        if number == script.refuse_send:
            script.refused_at = trio.current_time()
            script.started_before_refusal = len(script.starts)
            return SendResult(
                reply=THROTTLED, outcome=Outcome.THROTTLED, retry_after_s=script.retry_after_s
            )
        script.delivered.append(envelope.message_id)
        return SendResult(reply=ACCEPTED, outcome=Outcome.SENT)

    async def close(self) -> None:
        await trio.lowlevel.checkpoint()


class ScriptedTransport:
    sending_key = "scripted@in-process"

    def __init__(self, script: Script) -> None:
        self._script = script

    async def connect(self) -> ScriptedConnection:
        script = self._script
        script.connects.append(trio.current_time())
        if script.refuse_connect and len(script.connects) == 1:
            script.refused_at = trio.current_time()
            raise TransportError(
                THROTTLED, outcome=Outcome.THROTTLED, retry_after_s=script.retry_after_s
            )
        await trio.lowlevel.checkpoint()
        return ScriptedConnection(script)


def plugin_for(script: Script) -> object:
    class Plugin:
        @hookimpl
        def adaptsend_register_transports(
            self, register: Callable[[str, Callable[..., Any]], None]
        ) -> None:
            register("scripted", lambda _config, _threads: ScriptedTransport(script))

    return Plugin()


def scripted_config(tmp_path: Path, *, cap: int) -> Config:
    return config_from_dict(
        {
            "store": {"url": f"sqlite:///{tmp_path / 'queue.db'}"},
            "run": {"transport": "scripted"},
            "limiter": {"initial_cap": cap, "min_cap": 1, "max_cap": cap},
            "retry": {"base_delay_s": 0.05, "max_delay_s": 0.5},
        }
    )


async def run(script: Script, tmp_path: Path, *, cap: int, count: int) -> Any:
    plugins = load_plugins(entry_points=False, extra=[plugin_for(script)])
    config = scripted_config(tmp_path, cap=cap)
    return await send_batch_async(batch(count), config=config, plugins=plugins)


async def test_nothing_starts_on_any_connection_until_the_retry_after_has_passed(
    tmp_path: Path,
) -> None:
    script = Script(refuse_send=3, retry_after_s=1.0)
    report = await run(script, tmp_path, cap=3, count=12)

    assert report.ok
    assert sorted(script.delivered) == sorted(m.message_id for m in batch(12))
    assert script.refused_at is not None
    # Every send that started after the refusal came back started a whole
    # Retry-After later; those that started before it were on their way.
    assert len(script.starts) == 12 + 1
    later = script.starts[script.started_before_refusal :]
    assert len(later) >= 12 + 1 - 5
    assert min(later) >= script.refused_at + 1.0
    # The refused message was charged a throttle, not an attempt.
    [refused] = [r for r in report.results if r.throttles]
    assert (refused.status, refused.attempts, refused.throttles) == (Status.SENT, 1, 1)


async def test_a_connection_refused_with_a_retry_after_pauses_every_connection(
    tmp_path: Path,
) -> None:
    script = Script(refuse_connect=True, retry_after_s=1.0, send_s=0.0)
    report = await run(script, tmp_path, cap=2, count=6)

    assert report.ok and len(script.delivered) == 6
    assert script.refused_at is not None
    opened_later = [t for t in script.connects if t > script.refused_at]
    assert opened_later and min(opened_later) >= script.refused_at + 1.0
    assert min(script.starts) >= script.refused_at + 1.0
    db = f"sqlite:///{tmp_path / 'queue.db'}"
    assert rows(db, "SELECT outcome, reply_code FROM attempts WHERE outcome != 'sent'") == [
        ("throttled", 429)
    ]


async def test_a_send_that_cannot_reach_the_server_charges_no_message(tmp_path: Path) -> None:
    script = Script(unreachable_sends=3, send_s=0.0)
    report = await run(script, tmp_path, cap=1, count=4)

    assert report.ok and len(script.delivered) == 4
    assert {r.attempts for r in report.results} == {1}
    db = f"sqlite:///{tmp_path / 'queue.db'}"
    assert rows(db, "SELECT outcome, count(*) FROM attempts GROUP BY outcome") == [("sent", 4)]


async def test_a_pause_only_grows_and_a_stop_ends_the_wait(
    autojump_clock: trio.testing.MockClock,
) -> None:
    started: list[tuple[float, Reply]] = []
    pause = RetryAfter(on_pause=lambda seconds, reply: started.append((seconds, reply)))
    assert not pause.paused and await pause.wait()
    pause.pause(5.0, THROTTLED)
    pause.pause(2.0, THROTTLED)  # ends sooner: changes nothing
    pause.pause(float("nan"), THROTTLED)
    assert pause.left_s() == pytest.approx(5.0)
    assert await pause.wait()
    assert trio.current_time() == pytest.approx(5.0)
    pause.pause(10.0, THROTTLED)
    pause.pause(12.0, THROTTLED)  # lengthens the pause in force, announced once
    assert started == [(5.0, THROTTLED), (10.0, THROTTLED)]

    results: list[bool] = []

    async def waiter() -> None:
        results.append(await pause.wait())

    async with trio.open_nursery() as nursery:
        nursery.start_soon(waiter)
        await trio.sleep(1.0)
        pause.stop()
    assert results == [False]
    assert trio.current_time() == pytest.approx(6.0)
    assert not await pause.wait()
