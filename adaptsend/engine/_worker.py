"""A connection worker: holds one connection slot, opens one connection, and
sends message after message on it until it is idle, refused or no longer
allowed by the cap.

On a fast server a worker sends a few messages per thread call (a *batch*):
handing each send to a thread and back costs more than the send itself there.
A batch is sized to last about :data:`BATCH_SECONDS`, so on a server that
takes tens of milliseconds per message every batch is one message, and no
outcome waits long for its judgement (its record, the limiter's signal).
"""

from __future__ import annotations

import collections
import contextlib
import itertools
from collections.abc import Callable

import trio

from adaptsend._models import ClaimedMessage, Outcome, utcnow
from adaptsend.engine._heed import heed
from adaptsend.engine._judge import AttemptContext, Judgement
from adaptsend.engine._transport_calls import ConnectFailure, connect, send
from adaptsend.engine._worker_host import SessionEnd, WorkerHost
from adaptsend.limits._local import Slot
from adaptsend.limits._outage import unreachable
from adaptsend.transports._contract import (
    BatchConnection,
    Connection,
    SendAttempt,
    SendResult,
)

#: How long one batch of sends may last. Short enough that a cut of the cap or
#: a stop reaches a busy connection within a blink, and that a crash loses
#: the records of at most this much sending per connection.
BATCH_SECONDS = 0.02
#: The most messages in one batch; on a fast server the time above decides first.
MAX_BATCH = 32

Pending = collections.deque[ClaimedMessage]


async def run_worker(
    host: WorkerHost,
    messages: trio.MemoryReceiveChannel[ClaimedMessage],
    results: trio.MemorySendChannel[Judgement],
    *,
    on_exit: Callable[[], None],
) -> None:
    """Take messages and send them, one connection at a time, until the
    messages end or the cap no longer has room for this worker."""
    # Messages taken from the channel and not yet tried: a batch cut short
    # leaves some, and they stay with this worker for its next connection.
    pending: Pending = collections.deque()
    try:
        async with messages, results:
            while True:
                if not pending:
                    message = await _next_message(host, messages)
                    if message is None:
                        return
                    pending.append(message)
                session = _Session(host, messages, results, pending)
                end = await session.run()
                if host.stopping:
                    # Whatever is still pending was never tried: the
                    # dispatcher hands its lease back.
                    return
                if end is SessionEnd.DONE or (end is SessionEnd.RETIRE and not pending):
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

    def __init__(
        self,
        host: WorkerHost,
        messages: trio.MemoryReceiveChannel[ClaimedMessage],
        results: trio.MemorySendChannel[Judgement],
        pending: Pending,
    ) -> None:
        self._host = host
        self._messages = messages
        self._results = results
        self._pending = pending
        # Seconds per message on this connection, once a send has been timed.
        self._per_message_s: float | None = None
        # Whether the open connection sends batches.
        self._batching = False
        # The message rate's epoch when the batch being judged started.
        self._rate_epoch = host.rate.epoch

    async def run(self) -> SessionEnd:
        """Send the pending messages and those that follow, on one connection."""
        limiter = self._host.limiter
        async with contextlib.AsyncExitStack() as held:
            slot = await self._take_slot(held)
            if slot is None:
                return SessionEnd.CLOSED
            connection: Connection | None = None
            try:
                while True:
                    connection, keep = await self._deliver(slot, connection)
                    if not keep or connection is None:
                        return self._closing_end()
                    if limiter.over_cap():
                        return SessionEnd.RETIRE
                    if self._host.stopping or self._host.outage.down:
                        # A quota's pause: the provider's slot is not needed.
                        return SessionEnd.CLOSED
                    if not self._pending:
                        end = await self._wait_next()
                        if end is not None:
                            return end
            finally:
                if connection is not None:
                    with trio.CancelScope(shield=True):
                        await connection.close()
                    limiter.connection_closed(slot)

    async def _take_slot(self, held: contextlib.AsyncExitStack) -> Slot | None:
        """A connection slot, held until ``held`` closes, once the server can
        be tried (see ``limits._outage``); None once the run is stopping, even while
        waiting (a shared budget's slot may not free up for a long time, nor
        a server come back)."""
        host = self._host
        slot: Slot | None = None
        turn = False
        with trio.CancelScope() as waiting:
            host.slot_waits.add(waiting)
            try:
                await host.outage.wait_turn()
                turn = True
                slot = await held.enter_async_context(host.limiter.slot())
            finally:
                host.slot_waits.discard(waiting)
        if slot is None or host.stopping:
            if turn:
                host.outage.gave_up()
            return None
        return slot

    def _closing_end(self) -> SessionEnd:
        return SessionEnd.RETIRE if self._host.limiter.over_cap() else SessionEnd.CLOSED

    async def _wait_next(self) -> SessionEnd | None:
        """Wait for the next message (into the pending queue); the end of the
        session instead when none comes."""
        try:
            # A busy run has the next message waiting already: take it without
            # setting up the idle timeout.
            ready = self._messages.receive_nowait()
        except (trio.WouldBlock, trio.EndOfChannel):
            pass
        else:
            self._host.message_taken()
            self._pending.append(ready)
            return None
        deadline = trio.current_time() + self._host.idle_close_s
        while trio.current_time() < deadline:
            with trio.move_on_at(deadline) as idle:
                self._host.idle_waits.add(idle)
                try:
                    message = await _next_message(self._host, self._messages)
                finally:
                    self._host.idle_waits.discard(idle)
                if message is None:
                    return SessionEnd.DONE
                self._pending.append(message)
                return None
            # Woken by a cut: an idle connection over the cap goes now rather
            # than hold one of the provider's slots until its idle time is up.
            if self._host.limiter.over_cap():
                return SessionEnd.RETIRE
        # An idle connection still takes one of the provider's slots.
        return SessionEnd.CLOSED

    async def _deliver(
        self, slot: Slot, connection: Connection | None
    ) -> tuple[Connection | None, bool]:
        """Send the next batch of pending messages, connecting first if
        needed. Returns the connection to go on with (None if it is gone) and
        whether to go on at all."""
        reused = connection is not None
        if connection is None:
            if not await self._paused_out():
                return None, False
            connection, keep = await self._open(slot)
            if connection is None:
                return None, keep
            # Checked once per connection: a protocol check is not cheap.
            self._batching = isinstance(connection, BatchConnection)
        batch = await self._admit(slot)
        if batch is None or (batch and not await self._paused_out()):
            # The run stopped while this batch waited for the budgets or the
            # server's pause, or the cap was cut meanwhile.
            return connection, False
        if not batch:
            # Its messages can never fit the day's recipient budget: failed, unsent.
            return connection, True
        attempts, context = await self._send(connection, batch)
        if self._unreachable(attempts[0].result):
            # Connecting inside the send failed: an outage, as in _open.
            await self._drop(slot, connection)
            self._host.outage.failed(self._host.judge.clean(attempts[0].result.reply))
            return None, True
        if reused and attempts[0].result.untouched:
            # The server closed the idle connection before our first command:
            # nothing was sent, so reconnect and try once more without counting it.
            await self._drop(slot, connection)
            return await self._deliver(slot, None)
        # Every attempt is judged, also those after one that ends the
        # connection: a transport that sent the batch in one write reports
        # what the server did with each message.
        ended = fatal = False
        for attempt in attempts:
            message = self._pending.popleft()
            timed = AttemptContext(
                started_at=attempt.started_at,
                duration_s=attempt.duration_s,
                cap=context.cap,
                in_flight=context.in_flight,
            )
            judgement = await self._judge(slot, message, attempt.result, timed)
            ended |= not attempt.result.connection_usable or judgement.signal in _ENDING
            fatal |= judgement.signal is Outcome.FATAL
        if ended:
            await self._drop(slot, connection)
            return None, not fatal
        return connection, True

    async def _open(self, slot: Slot) -> tuple[Connection | None, bool]:
        """Connect. A server that cannot be reached is an outage, charged to
        no message (they stay pending); any other failure is judged as the
        first pending message's attempt. The result says whether the worker
        may go on."""
        host = self._host
        context = self._context()
        self._rate_epoch = host.rate.epoch
        opening = trio.current_time()
        connection, failure = await self._connect(slot)
        if connection is not None:
            host.outage.reached(since=opening)
            return connection, True
        assert failure is not None
        if failure.result.outcome is None and unreachable(
            failure.result.reply, host.judge.classify(failure.result.reply).outcome
        ):
            # The outage's reply reaches alerts and logs: secrets hidden first.
            host.outage.failed(host.judge.clean(failure.result.reply))
            host.limiter.connection_closed(slot)
            return None, True
        # The server answered (a throttle, a refusal, a bad password): it is there.
        host.outage.reached(since=opening)
        message = self._pending.popleft()
        judgement = await self._judge(slot, message, failure.result, context)
        # Judged first, so that a throttle counts this connection as open.
        host.limiter.connection_closed(slot)
        return None, judgement.signal not in _ENDING

    async def _paused_out(self) -> bool:
        """Wait out the server's pause, if one is in force. False when the
        run stopped meanwhile, or when the cut that came with the pause left
        this worker over the cap: it must not send when the pause ends."""
        pause = self._host.retry_after
        if not pause.paused:
            return True
        return await pause.wait() and not self._host.limiter.over_cap()

    def _unreachable(self, result: SendResult) -> bool:
        """Whether a send found the server out of reach before any of it went
        out (a transport that connects inside its sends, such as HTTP's)."""
        if not result.untouched:
            return False
        return unreachable(
            result.reply, result.outcome or self._host.judge.classify(result.reply).outcome
        )

    def _batch(self) -> list[ClaimedMessage]:
        """The pending messages to send in one go, topped up from the channel
        with messages already waiting there (never waiting for more)."""
        size = self._batch_size()
        if size == 1:
            return [self._pending[0]]
        while len(self._pending) < size and not self._host.stopping:
            try:
                self._pending.append(self._messages.receive_nowait())
            except (trio.WouldBlock, trio.EndOfChannel):
                break
            self._host.message_taken()
        return list(itertools.islice(self._pending, size))

    async def _admit(self, slot: Slot) -> list[ClaimedMessage] | None:
        """The next batch, cut to the message-rate tokens there are, waiting
        for the first; None once the run stops. A message that can never fit
        the day's recipient budget (the run charged the others when it
        claimed them) fails here, unsent. A batch the server never saw (an
        idle connection it had closed) pays the rate again: it errs slow."""
        host, batch = self._host, self._batch()
        day = host.recipients
        if day is not None:
            for message in [m for m in batch if day.never_fits(m)]:
                self._pending.remove(message)
                batch.remove(message)
                await self._judge(slot, message, day.refusal(message), self._context())
        if not batch:
            return []
        taken = await host.rate.take(len(batch))
        self._rate_epoch = host.rate.epoch
        return batch[:taken] or None

    def _batch_size(self) -> int:
        if self._per_message_s is None or not self._batching or self._host.outage.down:
            # During a pause the probe is one message.
            return 1
        fits = int(BATCH_SECONDS / max(self._per_message_s, 1e-6))
        return max(1, min(MAX_BATCH, fits))

    async def _connect(self, slot: Slot) -> tuple[Connection | None, ConnectFailure | None]:
        """Open a connection; on failure the slot's connection stays counted
        as open until the caller has judged the failure."""
        self._host.limiter.connection_opened(slot)
        return await connect(self._host.transport)

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
        self, connection: Connection, batch: list[ClaimedMessage]
    ) -> tuple[list[SendAttempt], AttemptContext]:
        host = self._host
        host.sends_starting(batch)
        host.sending(+1)
        context = self._context()
        try:
            budget_s = BATCH_SECONDS if self._batching else None
            attempts = await send(connection, batch, budget_s=budget_s, at=context.started_at)
        finally:
            host.sending(-1)
        self._per_message_s = sum(a.duration_s for a in attempts) / len(attempts)
        return attempts, context

    async def _judge(
        self,
        slot: Slot,
        message: ClaimedMessage,
        result: SendResult,
        context: AttemptContext,
    ) -> Judgement:
        host = self._host
        judgement = host.judge.judge(message, result, context)
        heed(host, slot, message, result, judgement, rate_epoch=self._rate_epoch)
        try:
            self._results.send_nowait(judgement)
        except trio.WouldBlock:
            # Only when the recorder is behind; a judged send must reach it
            # even while the run is being cancelled.
            with trio.CancelScope(shield=True):
                await self._results.send(judgement)
        return judgement


_ENDING = frozenset({Outcome.FATAL, Outcome.THROTTLED, Outcome.QUOTA})
