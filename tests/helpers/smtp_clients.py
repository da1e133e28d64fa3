"""Clients for the test server's tests: a message, and SMTP written by hand
over a socket for what smtplib cannot send."""

from __future__ import annotations

import smtplib
import socket
from collections.abc import Callable

from adaptsend.testing import ThrottlingSMTPServer
from bench._server import ServerProcess

SENDER = "sender@example.com"
RCPT = "rcpt@example.com"

Connect = Callable[..., smtplib.SMTP]


def message(message_id: str | None = "<1@test>") -> str:
    header = f"Message-ID: {message_id}\r\n" if message_id else ""
    return f"{header}From: {SENDER}\r\nTo: {RCPT}\r\nSubject: hello\r\n\r\nbody\r\n"


class RawClient:
    """SMTP written by hand over a socket, for what smtplib cannot send: BDAT,
    and many commands in one write."""

    def __init__(self, host: str, port: int) -> None:
        self._socket = socket.create_connection((host, port), timeout=5)
        self._lines = self._socket.makefile("rb")
        assert self.replies(1)[0].startswith("220 ")
        self.send(b"EHLO client.test\r\n")
        assert self.replies(1)[0].startswith("250 ")

    def send(self, data: bytes) -> None:
        self._socket.sendall(data)

    def replies(self, count: int) -> list[str]:
        """The next ``count`` replies, each by its last line."""
        replies: list[str] = []
        while len(replies) < count:
            line = self._lines.readline()
            if not line:
                raise ConnectionError(f"closed after {replies}")
            if line[3:4] != b"-":
                replies.append(line.decode().rstrip("\r\n"))
        return replies

    def closed(self) -> bool:
        """Whether the server has hung up (with nothing left unread)."""
        try:
            return self._lines.readline() == b""
        except ConnectionResetError:  # a dropped connection may be reset
            return True

    def close(self) -> None:
        self._lines.close()
        self._socket.close()


RawConnect = Callable[[ThrottlingSMTPServer | ServerProcess], RawClient]
