"""The SQLite store's own way of writing rows stores exactly what the way
every database takes would have stored; the rest of the suite runs both."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from adaptsend._errors import StoreError
from adaptsend._models import AttemptRecord, Outcome, Reply, Stage, Status
from adaptsend.store import SQLStore, _enqueue, open_store
from adaptsend.store._schema import RULE_LEN
from tests.helpers.store_builders import KEY, NO_USER, OK, attempt, envelope

NOW = dt.datetime(2025, 3, 4, 5, 6, 7)  # no microseconds: the stored text still has them

ENVELOPES = [
    envelope(1),
    envelope(2, recipients=('"quoted" <q@example.org>', "zoë@exämple.org", "back\\slash@x.org")),
    envelope(3, recipients=()),
]


def _attempts(pks: list[int]) -> list[AttemptRecord]:
    long_reply = Reply(code=452, text="x" * 5000, enhanced="4.5.3.1.2.3.4.5.6.7", stage=Stage.RCPT)
    return [
        attempt(pks[0], OK, started_at=NOW, rule="sent"),
        attempt(pks[1], NO_USER, Outcome.PERMANENT, started_at=NOW, recipient="zoë@exämple.org"),
        attempt(
            pks[2],
            long_reply,
            Outcome.TRANSIENT,
            started_at=NOW + dt.timedelta(seconds=1.5),
            rule="site-transient: " + "x" * 400,
        ),
        attempt(
            pks[2],
            Reply(code=None, text="", stage=Stage.CONNECT),
            Outcome.TRANSIENT,
            started_at=NOW + dt.timedelta(microseconds=1),
        ),
    ]


def _stored(store: SQLStore) -> dict[str, list[Any]]:
    """Every row as the file holds it: times as text, no conversion."""
    with store.engine.connect() as conn:
        return {
            table: conn.exec_driver_sql(f"SELECT * FROM {table} ORDER BY 1, 2").all()
            for table in ("messages", "message_contents", "attempts")
        }


def _written(tmp_path: Path, *, sqlite_fast: bool) -> dict[str, list[Any]]:
    store = open_store(f"sqlite:///{tmp_path / f'fast-{sqlite_fast}.db'}")
    store.sqlite_fast = sqlite_fast
    try:
        with store.engine.begin() as conn:
            pks = _enqueue.insert_messages(
                conn, ENVELOPES, sending_key=KEY, now=NOW, fast="sqlite" if sqlite_fast else None
            )
        store.record(_attempts(pks), [], owner="a")
        return _stored(store)
    finally:
        store.close()


def test_the_sqlite_way_stores_what_the_portable_way_does(tmp_path: Path) -> None:
    fast = _written(tmp_path, sqlite_fast=True)
    assert fast == _written(tmp_path, sqlite_fast=False)
    assert len(fast["messages"]) == 3 and len(fast["attempts"]) == 4
    rules = [row.rule for row in fast["attempts"]]
    assert rules[0] == "sent" and None in rules
    assert max(len(rule or "") for rule in rules) == RULE_LEN
    # Recipients are stored as json.dumps writes them, as they always were.
    assert fast["messages"][1].recipients == json.dumps(list(ENVELOPES[1].recipients))


def test_the_sqlite_way_is_the_default_on_sqlite_alone(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'default.db'}")
    try:
        assert store.sqlite_fast
    finally:
        store.close()
    server = sa.create_engine("postgresql+psycopg://agent@db.example.org/mail")
    assert not SQLStore(server).sqlite_fast
    with pytest.raises(ValueError, match="postgresql"):
        SQLStore(server, sqlite_fast=True)


def test_enqueue_refuses_ids_past_sqlites_largest_row_id(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'largest.db'}")
    try:
        with store.engine.begin() as conn:
            # Past this id SQLite numbers new rows at random.
            conn.exec_driver_sql(
                "INSERT INTO messages (id, message_id, sending_key, sender, recipients, status,"
                " attempts, throttles, created_at, updated_at)"
                " VALUES (9223372036854775807, '<x@y>', 'k', 's@x', '[]', 'sent', 1, 0, '', '')"
            )
        with pytest.raises(StoreError, match="largest row id"):
            store.enqueue([envelope(1)], sending_key=KEY)
        assert sum(store.counts().values()) == store.counts()[Status.SENT] == 1
    finally:
        store.close()
