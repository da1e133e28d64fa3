"""Writing messages to files, as a transport.

A message is written to a temporary name first and renamed into place only
when complete, so a reader never sees half a message, and a message is
reported sent only once it is on disk. A failed write is a local error with no
reply code, which adaptsend retries like any temporary failure.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import socket
import time
import uuid
from pathlib import Path

import trio

from adaptsend import ConfigError, Envelope, Reply, SendResult
from adaptsend_maildir._settings import MaildirSettings

_UNSAFE = re.compile(r"[^A-Za-z0-9@._-]+")
#: Longest part of a file name taken from the Message-ID.
_NAME_PART = 80
#: Modes of what this transport creates: mail is private (a mail server's
#: delivery agents do the same).
_PRIVATE_FILE = 0o600
_PRIVATE_DIR = 0o700


class MaildirTransport:
    """Delivers to ``[plugin.maildir] path``; one sending key per folder."""

    def __init__(self, settings: MaildirSettings, *, threads: trio.CapacityLimiter) -> None:
        self.settings = settings
        self.folder = settings.folder
        self.sending_key = f"maildir:{self.folder}"
        self._threads = threads
        self._prepare()

    def _prepare(self) -> None:
        # Checked when the transport is made, so that a wrong path stops the
        # run at once with one sentence instead of failing every message.
        subfolders = ("tmp", "new", "cur") if self.settings.layout == "maildir" else ("",)
        try:
            # New folders are the owner's only, as the files in them (mkdir
            # gives ``mode`` to the last folder only, so each is made alone).
            self.folder.mkdir(mode=_PRIVATE_DIR, parents=True, exist_ok=True)
            for name in subfolders:
                (self.folder / name).mkdir(mode=_PRIVATE_DIR, exist_ok=True)
        except OSError as exc:
            raise ConfigError(
                f"[plugin.maildir] path: cannot make the folder {self.folder}: {exc.strerror}"
            ) from None

    async def connect(self) -> MaildirConnection:
        return MaildirConnection(self)

    def write_blocking(self, envelope: Envelope) -> Path:
        """Write one message; return where it is. Blocks; raises OSError."""
        if self.settings.layout == "maildir":
            content = _with_envelope(envelope).replace(b"\r\n", b"\n")
            final = self.folder / "new" / _maildir_name()
            scratch = self.folder / "tmp" / final.name
        else:
            content = _with_envelope(envelope)
            final = self.folder / _eml_name(envelope.message_id)
            scratch = self.folder / f".{final.name}.tmp"
        # Messages are private: readable by the owner only, whatever the umask.
        descriptor = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_EXCL, _PRIVATE_FILE)
        with open(descriptor, "wb") as handle:
            handle.write(content)
            if self.settings.fsync:
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(scratch, final)
        return final


class MaildirConnection:
    """Nothing to open or close: each send is one file."""

    def __init__(self, transport: MaildirTransport) -> None:
        self._transport = transport

    async def send(self, envelope: Envelope) -> SendResult:
        """Write the message in a worker thread. A cancelled send still runs
        to its end: the file may have been written or not, never half."""
        transport = self._transport
        try:
            where = await trio.to_thread.run_sync(
                transport.write_blocking, envelope, limiter=transport._threads
            )
        except OSError as exc:
            reply = Reply(code=None, text=f"cannot write to {transport.folder}: {exc.strerror}")
            return SendResult(reply=reply, connection_usable=False)
        return SendResult(reply=Reply(code=250, enhanced="2.0.0", text=f"written to {where}"))

    async def close(self) -> None:
        await trio.lowlevel.checkpoint()


def _with_envelope(envelope: Envelope) -> bytes:
    """Headers that a delivery agent adds, so the reader sees the envelope
    (Bcc recipients included) as well as the message."""
    lines = [f"Return-Path: <{envelope.sender}>"]
    lines.extend(f"Delivered-To: {recipient}" for recipient in envelope.recipients)
    return "".join(f"{line}\r\n" for line in lines).encode() + envelope.content


def _maildir_name() -> str:
    # The Maildir convention: time, something unique, host.
    host = socket.gethostname().replace("/", "\\057").replace(":", "\\072")
    return f"{int(time.time())}.{uuid.uuid4().hex}.{host}"


def _eml_name(message_id: str) -> str:
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
    safe = _UNSAFE.sub("_", message_id.strip("<>"))[:_NAME_PART] or "message"
    return f"{stamp}-{safe}-{uuid.uuid4().hex[:8]}.eml"
