"""Files that hold mail are private: the SQLite store and its -wal and -shm
files, and the maildir plugin's messages, whatever the umask; an existing
store that others can read is named in a warning and left as it is."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
import trio

from adaptsend import Message, send_batch_async
from adaptsend._models import Envelope
from adaptsend.store import open_store
from adaptsend.testing import ThrottlingSMTPServer
from tests.helpers.agent_config import MakeConfig


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def store_modes(folder: Path) -> dict[str, int]:
    return {p.name: mode(p) for p in folder.glob("adaptsend.db*")}


@pytest.fixture
def lax_umask() -> Iterator[None]:
    """A umask that would make every new file world-readable (and writable)."""
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


async def test_the_store_and_its_wal_and_shm_files_are_the_owners_only(
    make_config: MakeConfig, tmp_path: Path, lax_umask: None
) -> None:
    with ThrottlingSMTPServer() as server:
        config = make_config(server)
        message = Message(sender="r@example.com", to=("t@example.com",), subject="s", text="t")
        store = open_store(config.store.url)
        try:
            report = await send_batch_async([message], config=config)
            # While a connection is open, SQLite keeps the -wal and -shm files.
            modes = store_modes(tmp_path)
        finally:
            store.close()

    assert report.ok
    assert modes == {"adaptsend.db": 0o600, "adaptsend.db-wal": 0o600, "adaptsend.db-shm": 0o600}


def test_an_existing_readable_store_is_named_and_left_alone(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "shared.db"
    path.touch()
    path.chmod(0o644)
    open_store(f"sqlite:///{path}").close()

    assert mode(path) == 0o644
    assert caplog.messages == [
        f"the store {path} holds message bodies and other users can read it (mode 644); "
        "chmod 600 it"
    ]


def test_a_private_existing_store_is_not_warned_about(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "private.db"
    open_store(f"sqlite:///{path}").close()
    open_store(f"sqlite:///{path}").close()

    assert mode(path) == 0o600
    assert caplog.messages == []


def test_maildir_messages_and_folders_are_the_owners_only(tmp_path: Path, lax_umask: None) -> None:
    maildir = pytest.importorskip("adaptsend_maildir")
    for layout in ("maildir", "eml"):
        folder = tmp_path / layout
        settings = maildir.parse_settings({"path": str(folder), "layout": layout})
        transport = maildir.MaildirTransport(settings, threads=trio.CapacityLimiter(1))
        envelope = Envelope(
            message_id=f"<{layout}@example.com>",
            sender="r@example.com",
            recipients=("t@example.com",),
            content=b"Subject: s\r\n\r\nbody\r\n",
        )
        written = transport.write_blocking(envelope)

        assert mode(written) == 0o600
        assert {mode(p) for p in folder.rglob("*") if p.is_dir()} <= {0o700}
        assert mode(folder) == 0o700
