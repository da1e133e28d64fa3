"""A minimal, fast SMTP sink for measuring clients: accepts everything and
counts what it accepted, with as little work per message as SMTP allows.
It offers PIPELINING and CHUNKING: a message comes by DATA or by BDAT
(RFC 3030), and either way is counted by its Message-ID.

Run as ``python -m bench._sink --port 0``: it prints ``host:port`` when ready,
and one JSON line of statistics (the fields of adaptsend.testing's) on
SIGUSR1 and, before it exits, on SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import re
import signal
import sys
from collections.abc import Callable

_MESSAGE_ID = re.compile(rb"^message-id:[ \t]*(\S+)", re.IGNORECASE | re.MULTILINE)
_END = b"\r\n.\r\n"
_EHLO = (
    b"250-sink\r\n250-PIPELINING\r\n250-CHUNKING\r\n250-8BITMIME\r\n"
    b"250-SIZE 52428800\r\n250 SMTPUTF8\r\n"
)
_OK = b"250 2.0.0 OK\r\n"
_REPLIES = {
    b"HELO": b"250 sink\r\n",
    b"MAIL": b"250 2.1.0 OK\r\n",
    b"RCPT": b"250 2.1.5 OK\r\n",
    b"RSET": _OK,
    b"NOOP": _OK,
    b"DATA": b"354 End data with <CR><LF>.<CR><LF>\r\n",
    b"QUIT": b"221 2.0.0 Bye\r\n",
}


class Counts:
    def __init__(self) -> None:
        self.connections = 0
        self.open = 0
        self.max_concurrent = 0
        self.deliveries: collections.Counter[bytes | None] = collections.Counter()
        #: Messages refused (the sink refuses none; the rate relay does).
        self.rejections = 0

    def to_json(self) -> str:
        delivered = sum(self.deliveries.values())
        return json.dumps(
            {
                "connections": self.connections,
                "open_connections": self.open,
                "max_concurrent": self.max_concurrent,
                "delivered": delivered,
                "unique_messages": len(self.deliveries),
                "duplicate_deliveries": delivered - len(self.deliveries),
                "rejections": self.rejections,
                "drops": 0,
                "limit": None,
            }
        )


class SinkProtocol(asyncio.Protocol):
    def __init__(self, counts: Counts) -> None:
        self._counts = counts
        self._buffer = bytearray()
        self._in_data = False
        # Size still to come of the BDAT chunk being read, and whether it ends
        # the message; earlier chunks of that message wait in _message.
        self._chunk_size: int | None = None
        self._chunk_last = False
        self._message = bytearray()
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        counts = self._counts
        counts.connections += 1
        counts.open += 1
        counts.max_concurrent = max(counts.max_concurrent, counts.open)
        transport.write(b"220 sink ESMTP\r\n")

    def connection_lost(self, exc: Exception | None) -> None:
        self._counts.open -= 1

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        while self._step():
            pass

    def _step(self) -> bool:
        """Handle one complete command or message; False when more bytes are needed."""
        assert self._transport is not None
        if self._in_data:
            end = self._buffer.find(_END)
            if end < 0:
                return False
            self._count(self._buffer, end)
            del self._buffer[: end + len(_END)]
            self._in_data = False
            self._transport.write(_OK)
            return True
        if self._chunk_size is not None:
            return self._take_chunk()
        end = self._buffer.find(b"\r\n")
        if end < 0:
            return False
        line = bytes(self._buffer[:end])
        del self._buffer[: end + 2]
        verb = line[:4].upper()
        if verb == b"BDAT":
            return self._start_chunk(line[4:].split())
        self._transport.write(_EHLO if verb == b"EHLO" else _REPLIES.get(verb, b"500 5.5.2 ?\r\n"))
        if verb == b"DATA":
            self._in_data = True
        elif verb == b"QUIT":
            self._transport.close()
            return False
        elif verb == b"RSET":
            self._message.clear()
        return True

    def _start_chunk(self, args: list[bytes]) -> bool:
        assert self._transport is not None
        if not (args and args[0].isdigit() and [a.upper() for a in args[1:]] in ([], [b"LAST"])):
            # Where a chunk of unknown size ends cannot be found: hang up.
            self._transport.write(b"501 5.5.4 Syntax: BDAT <size> [LAST]\r\n")
            self._transport.close()
            return False
        self._chunk_size = int(args[0])
        self._chunk_last = len(args) == 2
        return True

    def _take_chunk(self) -> bool:
        assert self._transport is not None and self._chunk_size is not None
        size = self._chunk_size
        if len(self._buffer) < size:
            return False
        self._chunk_size = None
        if not self._chunk_last:
            self._message += self._buffer[:size]
        elif self._message:
            self._message += self._buffer[:size]
            self._count(self._message, len(self._message))
            self._message.clear()
        else:
            # The usual single-chunk message is counted where it lies, uncopied.
            self._count(self._buffer, size)
        del self._buffer[:size]
        self._transport.write(_OK)
        return True

    def _count(self, message: bytearray, end: int) -> None:
        found = _MESSAGE_ID.search(message, 0, end)
        self._counts.deliveries[found.group(1) if found else None] += 1


async def serve(host: str, port: int) -> None:
    loop = asyncio.get_running_loop()
    counts = Counts()
    server = await loop.create_server(lambda: SinkProtocol(counts), host, port)
    await serve_until_stopped(server, counts.to_json)


async def serve_until_stopped(server: asyncio.Server, report: Callable[[], str]) -> None:
    """What a benchmark server process says, as ``bench._server.ServerProcess``
    reads it: ``host:port`` once listening, ``report()`` on SIGUSR1 and once
    more on SIGTERM or SIGINT, which stop it."""
    loop = asyncio.get_running_loop()
    bound = server.sockets[0].getsockname()
    print(f"{bound[0]}:{bound[1]}", flush=True)
    stopped = asyncio.Event()
    loop.add_signal_handler(signal.SIGUSR1, lambda: print(report(), flush=True))
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopped.set)
    await stopped.wait()
    server.close()
    print(report(), flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench._sink", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    asyncio.run(serve(args.host, args.port))


if __name__ == "__main__":
    main(sys.argv[1:])
