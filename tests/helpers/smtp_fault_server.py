"""A small SMTP server written on plain sockets, for faults that need control
over bytes and timing: hanging up after so many messages (with or without a
421), resetting the connection after a message's content arrived, closing a
connection that sat idle, taking so many recipients per transaction, not
offering SMTPUTF8. It speaks just enough SMTP for smtplib and for our
PIPELINING and CHUNKING batches, and counts what it accepted."""

from __future__ import annotations

import re
import socket
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import BinaryIO

import attrs

_MESSAGE_ID = re.compile(rb"(?im)^Message-ID:\s*(<[^>]*>)")
_BDAT = re.compile(rb"(?i)^BDAT (\d+)( LAST)?\r\n$")

#: Small, so that a client cannot park a large batch in our receive buffer:
#: a write beyond what the server reads fails partway.
_RECEIVE_BUFFER = 64 * 1024


class _HungUp(Exception):
    """The connection was ended on purpose."""


@attrs.define
class FaultServer:
    pipelining: bool = False
    chunking: bool = False
    #: Messages accepted on one connection, after which the next command
    #: ends it: with a 421 when ``closing_reply`` is set, silently if not.
    limit: int | None = None
    closing_reply: bool = True
    #: Reset the connection (no reply) right after this message's content
    #: arrived (counted per connection, from 1); the message counts as delivered.
    reset_after: int | None = None
    #: Close a connection that waits this long for a command after a message.
    idle_close_s: float | None = None
    #: Recipients one transaction takes; more get ``452 4.5.3``.
    max_recipients: int | None = None
    #: Offer SMTPUTF8 (RFC 6531); without it a MAIL asking for it is refused.
    smtputf8: bool = False
    #: The SIZE to offer in EHLO (RFC 1870), if any.
    size: int | None = None

    #: Each delivery's recipients, in order, over all connections.
    recipients: list[tuple[str, ...]] = attrs.field(factory=list)
    #: Every command line received (content excluded), as bytes.
    commands: list[bytes] = attrs.field(factory=list)

    #: Message-IDs of the messages accepted, in order, over all connections.
    delivered: list[str] = attrs.field(factory=list)
    #: MAIL commands received: transactions the client started.
    transactions: int = 0
    #: Bytes a client wrote after its connection was closed for being idle.
    late: list[bytes] = attrs.field(factory=list)
    idle_closed: threading.Event = attrs.field(factory=threading.Event)
    connections: int = 0
    port: int = 0
    _listener: socket.socket | None = None
    _threads: list[threading.Thread] = attrs.field(factory=list)
    _stopping: threading.Event = attrs.field(factory=threading.Event)

    @property
    def host(self) -> str:
        return "127.0.0.1"

    @contextmanager
    def running(self) -> Iterator[FaultServer]:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _RECEIVE_BUFFER)
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.settimeout(0.02)
        self._listener, self.port = listener, listener.getsockname()[1]
        acceptor = threading.Thread(target=self._accept, daemon=True)
        acceptor.start()
        try:
            yield self
        finally:
            self._stopping.set()
            acceptor.join(5)
            listener.close()
            for thread in self._threads:
                thread.join(5)

    def _accept(self) -> None:
        assert self._listener is not None
        while not self._stopping.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            conn.settimeout(None)
            self.connections += 1
            # Each reply goes out as it is written: a reset must not take
            # replies still held back for the client's acknowledgement.
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket) -> None:
        reader = conn.makefile("rb")
        try:
            _Session(self, conn, reader).run()
        except (_HungUp, OSError):
            pass
        finally:
            reader.close()
            conn.close()


class _Session:
    def __init__(self, server: FaultServer, conn: socket.socket, reader: BinaryIO) -> None:
        self.server = server
        self.conn = conn
        self.reader = reader
        self.accepted = 0
        self.rcpt_tos: list[str] = []

    def reply(self, line: str) -> None:
        self.conn.sendall(line.encode() + b"\r\n")

    def run(self) -> None:
        self.reply("220 faults ESMTP")
        while line := self.next_command():
            self.server.commands.append(line)
            verb = line.split(b" ", 1)[0].strip().upper()
            if verb in (b"MAIL", b"RSET") and self.accepted == self.server.limit:
                self.hang_up_at_limit()
            if verb == b"EHLO":
                self.reply("".join(self.extensions()))
            elif verb == b"MAIL":
                self.mail(line)
            elif verb == b"RCPT":
                self.rcpt(line)
            elif verb == b"DATA":
                self.reply("354 Go ahead")
                self.content(self.dotted())
            elif verb == b"BDAT":
                self.content(self.chunk(line))
            elif verb == b"QUIT":
                self.reply("221 Bye")
                return
            else:  # HELO, RSET, NOOP
                self.rcpt_tos = []
                self.reply("250 OK")

    def extensions(self) -> list[str]:
        server = self.server
        extensions = ["PIPELINING"] * server.pipelining + ["CHUNKING"] * server.chunking
        extensions += ["SMTPUTF8"] * server.smtputf8
        extensions += [f"SIZE {server.size}"] * (server.size is not None)
        *first, last = ["faults", *extensions]
        return [*(f"250-{x}\r\n" for x in first), f"250 {last}"]

    def mail(self, line: bytes) -> None:
        self.rcpt_tos = []
        if not line.isascii() and b" SMTPUTF8" not in line.upper():
            self.reply("553 5.6.7 Non-ASCII address without SMTPUTF8")
            return
        self.server.transactions += 1
        self.reply("250 2.1.0 OK")

    def rcpt(self, line: bytes) -> None:
        if len(self.rcpt_tos) == self.server.max_recipients:
            self.reply("452 4.5.3 Too many recipients")
            return
        address = line.split(b"<", 1)[1].rsplit(b">", 1)[0]
        self.rcpt_tos.append(address.decode())
        self.reply("250 OK")

    def next_command(self) -> bytes:
        idle = self.server.idle_close_s
        waiting = idle is not None and self.accepted > 0
        self.conn.settimeout(idle if waiting else None)
        try:
            return self.reader.readline()
        except TimeoutError:
            self.close_idle()
            raise _HungUp from None
        finally:
            self.conn.settimeout(None)

    def close_idle(self) -> None:
        if self.server.closing_reply:
            self.reply("421 4.4.2 Idle too long, closing")
        self.conn.shutdown(socket.SHUT_WR)
        self.server.idle_closed.set()
        # Whatever the client still writes is kept, until it hangs up.
        self.conn.settimeout(5)
        while data := self.conn.recv(65536):
            self.server.late.append(data)

    def hang_up_at_limit(self) -> None:
        if self.server.closing_reply:
            self.reply("421 4.7.0 Too many messages on one connection, closing")
        raise _HungUp

    def dotted(self) -> bytes:
        lines = []
        while (line := self.reader.readline()) != b".\r\n":
            if not line:
                raise _HungUp
            lines.append(line[1:] if line.startswith(b".") else line)
        return b"".join(lines)

    def chunk(self, command: bytes) -> bytes:
        match = _BDAT.match(command)
        assert match is not None and match.group(2), command
        size = int(match.group(1))
        content = self.reader.read(size)
        if len(content) < size:
            raise _HungUp
        return content

    def content(self, content: bytes) -> None:
        found = _MESSAGE_ID.search(content)
        self.server.delivered.append(found.group(1).decode() if found else "?")
        self.server.recipients.append(tuple(self.rcpt_tos))
        self.rcpt_tos = []
        self.accepted += 1
        if self.accepted == self.server.reset_after:
            self.conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            raise _HungUp
        self.reply("250 2.0.0 Accepted")
