"""Helpers for tests of the SMTP transport over real TCP: a recording proxy
that keeps what a client wrote, envelopes, and a direct connection."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import attrs
import trio

from adaptsend._models import Envelope
from adaptsend.config._settings import SMTPConfig
from adaptsend.testing import ThrottlingSMTPServer
from adaptsend.transports._contract import SendAttempt
from adaptsend.transports.smtp._transport import SMTPConnection, SMTPTransport


@attrs.define
class Wire:
    """What a client wrote, one chunk per read on the server's side."""

    chunks: list[bytes] = attrs.field(factory=list)

    def grouped(self) -> bool:
        """Whether MAIL, RCPT and DATA ever arrived in one chunk."""
        return any(b"MAIL FROM" in c and b"RCPT TO" in c and b"DATA\r\n" in c for c in self.chunks)


@contextmanager
def recording_proxy(server: ThrottlingSMTPServer) -> Iterator[tuple[int, Wire]]:
    """A TCP proxy in front of ``server`` that keeps what clients send."""
    wire = Wire()
    listener = socket.create_server(("127.0.0.1", 0))
    stopping = threading.Event()

    def pump(source: socket.socket, sink: socket.socket, record: bool) -> None:
        # A side that resets (a TLS client hanging up) ends the pump, not the test.
        with source, sink, contextlib.suppress(OSError):
            while data := source.recv(65536):
                if record:
                    wire.chunks.append(data)
                sink.sendall(data)

    def accept() -> None:
        listener.settimeout(0.1)
        while not stopping.is_set():
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            upstream = socket.create_connection((server.host, server.port))
            threading.Thread(target=pump, args=(client, upstream.dup(), True), daemon=True).start()
            threading.Thread(target=pump, args=(upstream, client.dup(), False), daemon=True).start()

    acceptor = threading.Thread(target=accept, daemon=True)
    acceptor.start()
    try:
        yield listener.getsockname()[1], wire
    finally:
        stopping.set()
        acceptor.join()
        listener.close()


def envelope(n: int, *recipients: str) -> Envelope:
    body = f"Message-ID: <direct-{n}@example.com>\r\nSubject: {n}\r\n\r\n.dotted\r\n"
    return Envelope(
        message_id=f"<direct-{n}@example.com>",
        sender="r@example.com",
        recipients=recipients,
        content=body.encode(),
    )


async def connect(server: ThrottlingSMTPServer, port: int | None = None) -> SMTPConnection:
    config = SMTPConfig(host=server.host, port=port or server.port)
    connection = await SMTPTransport(config, threads=trio.CapacityLimiter(1)).connect()
    assert isinstance(connection, SMTPConnection)
    return connection


def received(server: ThrottlingSMTPServer) -> list[str | None]:
    return [m.message_id for m in server.received]


def big_envelope(n: int, size: int = 400_000, *recipients: str) -> Envelope:
    """A message of about ``size`` bytes, in lines as mail has them."""
    line = b"x" * 76 + b"\r\n"
    head = f"Message-ID: <big-{n}@example.com>\r\nSubject: {n}\r\n\r\n".encode()
    return Envelope(
        message_id=f"<big-{n}@example.com>",
        sender="r@example.com",
        recipients=recipients or ("a@example.com",),
        content=head + line * (size // len(line)),
    )


async def connect_to(port: int, **smtp: object) -> SMTPConnection:
    """A connection to a server on ``127.0.0.1:port``, with ``[smtp]`` settings."""
    config = SMTPConfig(host="127.0.0.1", port=port, **smtp)  # type: ignore[arg-type]
    connection = await SMTPTransport(config, threads=trio.CapacityLimiter(1)).connect()
    assert isinstance(connection, SMTPConnection)
    return connection


async def send_all(port: int, batch: list[Envelope], **smtp: object) -> list[SendAttempt]:
    """As a worker does: on the same connection until every message is reported."""
    connection = await connect_to(port, **smtp)
    reports: list[SendAttempt] = []
    while len(reports) < len(batch):
        attempts = await connection.send_many(batch[len(reports) :], budget_s=30)
        reports += attempts
        assert attempts[-1].result.connection_usable
    await connection.close()
    return reports
