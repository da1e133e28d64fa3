"""The SMTP client's socket below smtplib: writes that count the bytes that
went out, and a look at an idle connection that does not wait.

smtplib's own ``send`` writes with ``sendall``, which says nothing about how
far a failed write got; a batch needs to know which of its messages were
written in full before the connection broke.
"""

from __future__ import annotations

import select
import smtplib
import socket
import ssl

from adaptsend._models import Reply, Stage
from adaptsend.classify._classifier import parse_reply
from adaptsend.transports.smtp._wire import CLOSING, describe, discard

#: How long to wait for the rest of a line the server began on an idle
#: connection; it is dropped either way, so a short wait is enough.
_IDLE_READ_S = 1.0


def write_counted(client: smtplib.SMTP, data: bytes) -> tuple[int, OSError | None]:
    """Write ``data`` to the server. Returns how many bytes went out and the
    error that stopped the write (None when all of it went).

    Each ``send`` waits at most the socket's timeout for room, so the timeout
    bounds a write that makes no progress, not a large batch as a whole.
    """
    sock = client.sock
    if sock is None:
        return 0, smtplib.SMTPServerDisconnected("the connection is already closed")
    view = memoryview(data)
    written = 0
    try:
        while written < len(view):
            written += sock.send(view[written:])
    except OSError as exc:
        return written, exc
    return written, None


def idle_end(client: smtplib.SMTP) -> Reply | None:
    """How the server ended a connection while it sat idle between batches,
    or None if it did not (nothing to read, no hang-up). Never waits when the
    connection is quiet: one zero-timeout poll.

    The server's 421 is the reply when it sent one (an idle timeout); other
    ends are a local error (code None). A connection found ended is closed.
    """
    sock = client.sock
    if sock is None:
        return Reply(code=None, text="The connection was already closed.", stage=Stage.MAIL)
    if not _readable(sock):
        return None
    sock.settimeout(_IDLE_READ_S)
    try:
        code, text = client.getreply()
    except OSError as exc:
        reply = Reply(
            code=None,
            text=f"The server closed the connection while it was idle ({describe(exc)}).",
            stage=Stage.MAIL,
        )
    else:
        reply = parse_reply(code, text, Stage.MAIL)
        if code != CLOSING:
            said = f"The server spoke unasked while the connection was idle: {reply.describe()}"
            reply = Reply(code=None, text=said, stage=Stage.MAIL)
    discard(client)
    return reply


def _readable(sock: socket.socket) -> bool:
    """Whether reading would not block: a reply, an end of file or a reset."""
    if isinstance(sock, ssl.SSLSocket) and sock.pending():
        return True
    if not hasattr(select, "poll"):  # Windows
        readable, _, _ = select.select([sock], [], [], 0)
        return bool(readable)
    # poll, not select: select cannot watch a descriptor above 1023.
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    return bool(poller.poll(0))
