"""What people do without adaptsend: plain smtplib in threads.

These are deliberately small and honest; each returns how long it took. What
reached the server is read from the server's own statistics, not from here.
"""

from __future__ import annotations

import collections
import smtplib
import threading
import time
from collections.abc import Callable, Sequence

import trio

from adaptsend import Envelope

#: A message refused this often by a retrying pool is given up, so that a
#: baseline cannot loop forever against a server that never lets it in.
_MAX_TRIES = 1000
_TIMEOUT_S = 30.0


def _send_one(client: smtplib.SMTP, envelope: Envelope) -> None:
    client.sendmail(envelope.sender, list(envelope.recipients), envelope.content)


def _quit(client: smtplib.SMTP) -> None:
    try:
        client.quit()
    except (OSError, smtplib.SMTPException):
        client.close()


def _in_threads(count: int, target: Callable[[], None]) -> float:
    threads = [threading.Thread(target=target) for _ in range(count)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started


def naive(host: str, port: int, envelopes: Sequence[Envelope]) -> float:
    """One connection per message, all at once, no retry: what the
    application did before. A refused message is simply lost."""
    pending = collections.deque(envelopes)

    def send() -> None:
        envelope = pending.popleft()
        try:
            client = smtplib.SMTP(host, port, timeout=_TIMEOUT_S)
            _send_one(client, envelope)
            _quit(client)
        except (OSError, smtplib.SMTPException):
            pass  # logged as failed and never retried

    return _in_threads(len(envelopes), send)


def pool(host: str, port: int, envelopes: Sequence[Envelope], *, connections: int) -> float:
    """A fixed pool of persistent connections sharing one queue. A refused
    message goes back to the queue at once and its connection is replaced."""
    pending = collections.deque((envelope, 0) for envelope in envelopes)

    def worker() -> None:
        client: smtplib.SMTP | None = None
        while True:
            try:
                envelope, tries = pending.popleft()
            except IndexError:
                break
            try:
                client = client or smtplib.SMTP(host, port, timeout=_TIMEOUT_S)
                _send_one(client, envelope)
            except (OSError, smtplib.SMTPException):
                if client is not None:
                    client.close()
                client = None
                if tries + 1 < _MAX_TRIES:
                    pending.appendleft((envelope, tries + 1))
        if client is not None:
            _quit(client)

    return _in_threads(connections, worker)


def one_per_message(
    host: str, port: int, envelopes: Sequence[Envelope], *, connections: int
) -> float:
    """``connections`` threads, each opening a new connection per message:
    the same concurrency as :func:`pool` without connection reuse."""
    pending = collections.deque(envelopes)

    def worker() -> None:
        while True:
            try:
                envelope = pending.popleft()
            except IndexError:
                break
            client = smtplib.SMTP(host, port, timeout=_TIMEOUT_S)
            _send_one(client, envelope)
            _quit(client)

    return _in_threads(connections, worker)


async def trio_pool(host: str, port: int, envelopes: Sequence[Envelope], connections: int) -> None:
    """The floor of adaptsend's design: persistent smtplib connections, each
    send in a trio worker thread, and nothing else (no queue, no log)."""
    pending = collections.deque(envelopes)
    threads = trio.CapacityLimiter(connections)

    async def worker() -> None:
        client = await trio.to_thread.run_sync(smtplib.SMTP, host, port, limiter=threads)
        while pending:
            envelope = pending.popleft()
            await trio.to_thread.run_sync(_send_one, client, envelope, limiter=threads)
        await trio.to_thread.run_sync(_quit, client, limiter=threads)

    async with trio.open_nursery() as nursery:
        for _ in range(connections):
            nursery.start_soon(worker)
