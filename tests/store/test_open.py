"""Opening a store: URLs, errors worth one sentence, SQLite settings."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from adaptsend.store import StoreError, open_store, schema_state
from tests.helpers.store_builders import KEY, enqueue


def test_a_new_sqlite_file_is_created_with_its_tables(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    store = open_store(f"sqlite:///{path}")
    assert enqueue(store, 1) == [1]
    store.close()
    assert path.exists()
    # Opening it again keeps what is there.
    store = open_store(f"sqlite:///{path}")
    assert store.states([1])[0].message_id == "<0@adaptsend.test>"
    store.close()
    assert schema_state(f"sqlite:///{path}").up_to_date


def test_sqlite_settings(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'a.db'}")
    names = ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")
    # Two connections at once, as a renewal beside a record uses: each is set up alike.
    with store.engine.connect() as first, store.engine.connect() as second:
        pragmas = [
            {name: conn.exec_driver_sql(f"PRAGMA {name}").scalar() for name in names}
            for conn in (first, second)
        ]
    store.close()
    for pragma in pragmas:
        assert pragma["journal_mode"] == "wal"
        # FULL: a recorded "sent" is on disk when the commit returns, even in WAL mode.
        assert pragma["synchronous"] == 2
        assert pragma["foreign_keys"] == 1
        assert (pragma["busy_timeout"] or 0) > 0


def test_an_in_memory_store_is_shared_between_threads() -> None:
    store = open_store("sqlite://")
    enqueue(store, 2)
    counts: list[int] = []
    t = threading.Thread(
        target=lambda: counts.append(
            len(store.claim(owner="a", sending_key=KEY, limit=5, lease_s=5))
        )
    )
    t.start()
    t.join(timeout=30)
    store.close()
    assert counts == [2]


def test_a_missing_directory_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "no" / "such"
    with pytest.raises(StoreError, match="does not exist") as info:
        open_store(f"sqlite:///{missing / 'adaptsend.db'}")
    assert str(missing) in str(info.value)


@pytest.mark.parametrize(
    "url",
    [
        "not a url",
        "://user:hunter2@host/db",
        "nosuchdb://user:hunter2@db.example.net/mail",
        "sqlite+nosuchdriver://user:hunter2@/x.db",
        "postgresql+nosuchdriver://user:hunter2@db.example.net/mail",
        # Nothing listens on port 1: the server cannot be reached.
        "postgresql+psycopg://user:hunter2@127.0.0.1:1/mail",
    ],
)
def test_a_bad_url_is_one_sentence_without_the_password(url: str) -> None:
    with pytest.raises(StoreError) as info:
        open_store(url)
    message = str(info.value)
    assert "hunter2" not in message
    assert "\n" not in message and message.endswith(".")
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_an_unreachable_sqlite_file_is_one_sentence(tmp_path: Path) -> None:
    # A directory where the file should be cannot be opened as a database.
    with pytest.raises(StoreError, match="Cannot open the store") as info:
        open_store(f"sqlite:///{tmp_path}")
    assert "\n" not in str(info.value)
