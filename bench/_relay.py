"""A relay that allows so many messages a second, as Amazon SES does, and
so many a day: each message takes ``--latency-ms`` to answer; past
``--per-second`` accepted messages in one second (whole seconds from the
first message) every further one is refused with SES's "too fast" reply,
and once ``--quota`` messages were accepted every later one is refused with
Exchange Online's daily quota reply. No PIPELINING, no CHUNKING: one
command, one reply.

Run as ``python -m bench._relay --port 0 --per-second 20 --latency-ms 20``: it
prints ``host:port`` when ready, and one JSON line of statistics (the fields of
adaptsend.testing's; ``rejections`` counts the "too fast" and quota replies)
on SIGUSR1 and, before it exits, on SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys

from adaptsend.testing._rate_gate import PerSecondGate
from bench._sink import Counts, serve_until_stopped

_MESSAGE_ID = re.compile(rb"^message-id:[ \t]*(\S+)", re.IGNORECASE | re.MULTILINE)
RATE_REPLY = b"454 4.7.0 Throttling failure: Maximum sending rate exceeded\r\n"
QUOTA_REPLY = (
    b"554 5.2.0 STOREDRV.Submission.Exception:SubmissionQuotaExceededException; "
    b"Failed to process message due to a permanent exception\r\n"
)
_REPLIES = {
    b"EHLO": b"250-relay\r\n250 8BITMIME\r\n",
    b"HELO": b"250 relay\r\n",
    b"MAIL": b"250 2.1.0 OK\r\n",
    b"RCPT": b"250 2.1.5 OK\r\n",
    b"RSET": b"250 2.0.0 OK\r\n",
    b"NOOP": b"250 2.0.0 OK\r\n",
    b"DATA": b"354 End data with <CR><LF>.<CR><LF>\r\n",
    b"QUIT": b"221 2.0.0 Bye\r\n",
}


class Relay(Counts):
    def __init__(self, per_second: int | None, latency_s: float, quota: int | None) -> None:
        super().__init__()
        self.gate = PerSecondGate(per_second)
        self.latency_s = latency_s
        self.quota = quota

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.open += 1
        self.max_concurrent = max(self.max_concurrent, self.open)
        try:
            writer.write(b"220 relay ESMTP\r\n")
            while line := await reader.readline():
                verb = line[:4].upper()
                if verb == b"DATA":
                    writer.write(_REPLIES[verb])
                    content = await reader.readuntil(b"\r\n.\r\n")
                    await asyncio.sleep(self.latency_s)
                    writer.write(self._end_of_data(content))
                elif verb == b"QUIT":
                    writer.write(_REPLIES[verb])
                    break
                else:
                    writer.write(_REPLIES.get(verb, b"500 5.5.2 ?\r\n"))
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self.open -= 1
            writer.close()

    def _end_of_data(self, content: bytes) -> bytes:
        if self.quota is not None and sum(self.deliveries.values()) >= self.quota:
            self.rejections += 1
            return QUOTA_REPLY
        if not self.gate.admit():
            self.rejections += 1
            return RATE_REPLY
        found = _MESSAGE_ID.search(content)
        self.deliveries[found.group(1) if found else None] += 1
        return b"250 2.0.0 OK\r\n"


async def serve(host: str, port: int, relay: Relay) -> None:
    server = await asyncio.start_server(relay.serve, host, port)
    await serve_until_stopped(server, relay.to_json)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench._relay", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--per-second", type=int, default=None, help="Unlimited when not given.")
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--quota", type=int, default=None, help="Messages accepted in all.")
    args = parser.parse_args(argv)
    relay = Relay(args.per_second, args.latency_ms / 1000, args.quota)
    asyncio.run(serve(args.host, args.port, relay))


if __name__ == "__main__":
    main(sys.argv[1:])
