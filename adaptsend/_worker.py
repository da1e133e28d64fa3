"""A connection worker: holds one connection slot, opens one connection, and
sends message after message on it until it is idle, refused or no longer
allowed by the cap."""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import Protocol

import attrs
import trio

from adaptsend._decide import AttemptContext, Judge, Judgement
from adaptsend._limiter import Slot
from adaptsend._limiters import Limiter
from adaptsend._models import ClaimedMessage, Outcome, Reply, Stage, utcnow
from adaptsend._smtp import SMTPConfigurationError
from adaptsend._transport import Connection, SendResult, Transport, TransportError


class WorkerHost(Protocol):
    """What a worker needs from the dispatcher that runs it."""

    limiter: Limiter
    transport: Transport
    judge: Judge
    idle_close_s: float

    @property
    def stopping(self) -> bool: ...

    def stop(self, *, fatal: Reply | None = None) -> None: ...

    def message_taken(self) -> None: ...

    @property
    def in_flight(self) -> int: ...

    def sending(self, delta: int) -> None: ...


class SessionEnd(enum.Enum):
    #: The connection closed (idle, refused, broken); the worker goes on.
    CLOSED = "closed"
    #: The cap was cut below the number of workers: this worker retires.
    RETIRE = "retire"
    #: No more messages will come.
    DONE = "done"


async def run_worker(
    host: WorkerHost,
    messages: trio.MemoryReceiveChannel[ClaimedMessage],
    results: trio.MemorySendChannel[Judgement],
    *,
    on_exit: Callable[[], None],
) -> None:
    """Take messages and send them, one connection at a time, until the
    messages end or the cap no longer has room for this worker."""
    try:
        async with messages, results:
            while True:
                message = await _next_message(host, messages)
                if message is None:
                    return
                session = _Session(host, results)
                if await session.run(message, messages) is not SessionEnd.CLOSED:
                    return
    finally:
        on_exit()


async def _next_message(
    host: WorkerHost, messages: trio.MemoryReceiveChannel[ClaimedMessage]
) -> ClaimedMessage | None:
    """The next message to send, or None when there are none. Once the run is
    stopping, messages still in the channel are left unsent; the dispatcher
    hands their leases back."""
    while True:
        try:
            message = await messages.receive()
        except trio.EndOfChannel:
            return None
        host.message_taken()
        if not host.stopping:
            return message


class _Session:
    """One connection's life, from slot to close."""

    def __init__(self, host: WorkerHost, results: trio.MemorySendChannel[Judgement]) -> None:
        self._host = host
        self._results = results

    async def run(
        self, message: ClaimedMessage, messages: trio.MemoryReceiveChannel[ClaimedMessage]
    ) -> SessionEnd:
        limiter = self._host.limiter
        async with limiter.slot() as slot:
            next_message: ClaimedMessage | None = message
            connection: Connection | None = None
            try:
                while next_message is not None:
                    connection, keep = await self._deliver(slot, connection, next_message)
                    if not keep or connection is None:
                        return self._closing_end()
                    if limiter.over_cap():
                        return SessionEnd.RETIRE
                    if self._host.stopping:
                        return SessionEnd.CLOSED
                    next_message, end = await self._wait_next(messages)
                    if end is not None:
                        return end
                return SessionEnd.CLOSED
            finally:
                if connection is not None:
                    with trio.CancelScope(shield=True):
                        await connection.close()
                    limiter.connection_closed(slot)

    def _closing_end(self) -> SessionEnd:
        return SessionEnd.RETIRE if self._host.limiter.over_cap() else SessionEnd.CLOSED

    async def _wait_next(
        self, messages: trio.MemoryReceiveChannel[ClaimedMessage]
    ) -> tuple[ClaimedMessage | None, SessionEnd | None]:
        try:
            # A busy run has the next message waiting already: take it without
            # setting up the idle timeout.
            ready = messages.receive_nowait()
        except (trio.WouldBlock, trio.EndOfChannel):
            pass
        else:
            self._host.message_taken()
            return ready, None
        with trio.move_on_after(self._host.idle_close_s):
            message = await _next_message(self._host, messages)
            if message is None:
                return None, SessionEnd.DONE
            return message, None
        # An idle connection still takes one of the provider's slots.
        return None, SessionEnd.CLOSED

    async def _deliver(
        self, slot: Slot, connection: Connection | None, message: ClaimedMessage
    ) -> tuple[Connection | None, bool]:
        """Send ``message``, connecting first if needed. Returns the connection
        to go on with (None if it is gone) and whether to go on at all."""
        reused = connection is not None
        if connection is None:
            context = self._context()
            connection, failure = await self._connect(slot)
            if connection is None:
                assert failure is not None
                forced = Outcome.FATAL if failure.configuration_error else None
                judgement = await self._judge(
                    slot, message, failure.result, context, outcome=forced
                )
                # Judged first, so that a throttle counts this connection as open.
                self._host.limiter.connection_closed(slot)
                return None, judgement.signal not in {Outcome.FATAL, Outcome.THROTTLED}
        result, context = await self._send(connection, message)
        if reused and _stale(result):
            # The server closed the idle connection before our MAIL: nothing
            # was sent, so reconnect and try once more without counting it.
            await self._drop(slot, connection)
            return await self._deliver(slot, None, message)
        judgement = await self._judge(slot, message, result, context)
        if not result.connection_usable or judgement.signal in {Outcome.FATAL, Outcome.THROTTLED}:
            await self._drop(slot, connection)
            return None, judgement.signal is not Outcome.FATAL
        return connection, True

    async def _connect(self, slot: Slot) -> tuple[Connection | None, _ConnectFailure | None]:
        """Open a connection; on failure the slot's connection stays counted
        as open until the caller has judged the failure."""
        self._host.limiter.connection_opened(slot)
        try:
            return await self._host.transport.connect(), None
        except TransportError as exc:
            result = SendResult(reply=exc.reply, connection_usable=False)
            configuration = isinstance(exc, SMTPConfigurationError)
            return None, _ConnectFailure(result=result, configuration_error=configuration)

    async def _drop(self, slot: Slot, connection: Connection) -> None:
        with trio.CancelScope(shield=True):
            await connection.close()
        self._host.limiter.connection_closed(slot)

    def _context(self) -> AttemptContext:
        """What the agent knows as an attempt starts: the cap, and the sends in
        flight counting this one."""
        return AttemptContext(
            started_at=utcnow(),
            duration_s=0.0,
            cap=self._host.limiter.cap,
            in_flight=self._host.in_flight,
        )

    async def _send(
        self, connection: Connection, message: ClaimedMessage
    ) -> tuple[SendResult, AttemptContext]:
        start = trio.current_time()
        self._host.sending(+1)
        context = self._context()
        try:
            result = await connection.send(message.envelope)
        finally:
            self._host.sending(-1)
        return result, attrs.evolve(context, duration_s=trio.current_time() - start)

    async def _judge(
        self,
        slot: Slot,
        message: ClaimedMessage,
        result: SendResult,
        context: AttemptContext,
        *,
        outcome: Outcome | None = None,
    ) -> Judgement:
        host = self._host
        judgement = host.judge.judge(message, result, context, outcome=outcome)
        if judgement.signal is Outcome.THROTTLED:
            host.limiter.record_throttle(slot)
        elif judgement.signal is Outcome.SENT:
            host.limiter.record_success(slot)
        elif judgement.signal is Outcome.FATAL:
            host.stop(fatal=result.reply)
        try:
            self._results.send_nowait(judgement)
        except trio.WouldBlock:
            # Only when the recorder is behind; a judged send must reach it
            # even while the run is being cancelled.
            with trio.CancelScope(shield=True):
                await self._results.send(judgement)
        return judgement


@attrs.frozen(kw_only=True)
class _ConnectFailure:
    result: SendResult
    #: The server cannot do what the configuration asks: stop the run.
    configuration_error: bool


def _stale(result: SendResult) -> bool:
    reply = result.reply
    return reply.code is None and reply.stage is Stage.MAIL and not result.connection_usable
