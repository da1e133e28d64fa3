"""Turning a database URL into a ready engine, or into one clear error sentence."""

from __future__ import annotations

import logging
import os
import sqlite3
import stat
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, exc, pool
from sqlalchemy.engine import URL

from adaptsend._errors import StoreError

#: How long a SQLite writer waits for another one before giving up.
SQLITE_BUSY_TIMEOUT_S = 30.0
#: Sync the WAL at every commit (FULL is 2), so that a commit is on disk when it returns.
SQLITE_SYNCHRONOUS = 2
#: How long a call waits for the one connection of an in-memory database.
_IN_MEMORY_WAIT_S = 3600.0
#: A new SQLite store, which holds message bodies, is readable by its owner
#: only; SQLite gives its -wal and -shm files the same mode.
PRIVATE_MODE = 0o600

log = logging.getLogger("adaptsend.store")


def safe(url: URL) -> str:
    """The URL as it may be shown to a user: any password masked."""
    return url.render_as_string(hide_password=True)


def reason(error: exc.SQLAlchemyError) -> str:
    """The first line of what the database said, without SQLAlchemy's wrapping."""
    lines = str(getattr(error, "orig", None) or error).strip().splitlines()
    return lines[0].rstrip(".") if lines else type(error).__name__


def build_engine(url: URL) -> Engine:
    """An engine for ``url`` that worker threads may use one call at a time."""
    try:
        if url.get_backend_name() == "sqlite":
            return _sqlite_engine(url)
        return create_engine(url, pool_pre_ping=True)
    except exc.NoSuchModuleError:
        raise StoreError(
            f"The store URL {safe(url)} names a database driver that is not installed or not known."
        ) from None
    except ImportError as e:
        raise StoreError(
            f"The database driver for {safe(url)} is not installed (cannot import {e.name or e})."
        ) from None


def _sqlite_engine(url: URL) -> Engine:
    database = url.database or ""
    in_memory = database in ("", ":memory:") or database.startswith("file::memory:")
    if not in_memory and not database.startswith("file:"):
        _check_sqlite_dir(Path(database))
        _private_file(Path(database).expanduser())
    connect_args: dict[str, Any] = {
        # Calls arrive from whichever worker thread trio picks.
        "check_same_thread": False,
        "timeout": SQLITE_BUSY_TIMEOUT_S,
    }
    pool_args: dict[str, Any] = {"poolclass": pool.QueuePool}
    if in_memory:
        # An in-memory database lives in one connection, so every caller must
        # share it, and one at a time: a renewal beside another call waits
        # for that call's transaction instead of committing inside it.
        pool_args.update(pool_size=1, max_overflow=0, pool_timeout=_IN_MEMORY_WAIT_S)
    engine = create_engine(url, connect_args=connect_args, **pool_args)
    event.listen(engine, "connect", _sqlite_pragmas(wal=not in_memory))
    return engine


def _check_sqlite_dir(path: Path) -> None:
    parent = path.expanduser().absolute().parent
    if not parent.is_dir():
        raise StoreError(
            f"The directory {parent} for the SQLite store does not exist; create it "
            "or choose another path."
        )


def _private_file(path: Path) -> None:
    """Create the store file readable by its owner only, before SQLite does
    (with the umask's mode). An existing file keeps its mode: the operator
    chose it, and changing it silently could lock out a group that reads it;
    one that others can read is named in a warning."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_MODE))
        return
    except FileExistsError:
        pass
    except OSError:
        return  # SQLite reports the same problem in its own words
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return
    if mode & 0o077:
        log.warning(
            "the store %s holds message bodies and other users can read it (mode %o); chmod 600 it",
            path,
            mode,
        )


def _sqlite_pragmas(*, wal: bool) -> Any:
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            if wal:
                # Readers (reports) never block the sender, and commits are cheap.
                _use_wal(cursor)
            # A recorded outcome must survive a power loss: in WAL mode NORMAL
            # may lose the last commits (a "sent" among them, sent again).
            cursor.execute(f"PRAGMA synchronous={SQLITE_SYNCHRONOUS}")
            cursor.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_TIMEOUT_S * 1000)}")
            cursor.execute("PRAGMA foreign_keys=ON")
        finally:
            cursor.close()

    return on_connect


def _use_wal(cursor: Any) -> None:
    """Switch the file to WAL, unless it is already (it stays so once set).

    Changing the mode can fail with "database is locked" at once, without
    waiting for the busy timeout, while another connection changes it or
    writes: agents opening a new file together. Asking first leaves every file
    but a new one alone; on a new one the change is tried again.
    """
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_S
    while True:
        try:
            if cursor.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as e:
            if "locked" not in str(e) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)
