"""The PostgreSQL store's own way of queueing and recording stores exactly
what the way every database takes would have stored; the rest of the suite
runs both ways on PostgreSQL (see conftest.py)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from adaptsend._models import AttemptRecord, Decision, Envelope, Outcome, Reply, Stage, Status
from adaptsend.store import SQLStore, _enqueue, _postgres_fast, _sources, open_store
from adaptsend.store._schema import RULE_LEN, messages
from tests.helpers import databases
from tests.helpers.store_builders import KEY, LATER, NO_USER, OK, attempt, decision, envelope

NOW = dt.datetime(2025, 3, 4, 5, 6, 7, 890123)

ENVELOPES = [
    envelope(1),
    envelope(2, recipients=('"quoted" <q@example.org>', "zoë@exämple.org", "back\\slash@x.org")),
    envelope(3, recipients=()),
    # Bytes that are no text, a NUL among them, and an empty message.
    Envelope(message_id="<4@x>", sender="a@x.org", recipients=("b@x",), content=b"\x00\xff\r\n"),
    Envelope(message_id="<5@x>", sender="", recipients=("{a,b}@x.org",), content=b""),
]
TABLES = ("messages", "message_contents", "source_rows", "attempts")

POSTGRES_URLS = [url for url in databases.SERVER_URLS if databases.name(url) == "postgresql"]


@pytest.fixture(params=POSTGRES_URLS or [None], ids=lambda p: "postgresql" if p else "no-server")
def postgres_url(request: pytest.FixtureRequest) -> Iterator[str]:
    if request.param is None:
        pytest.skip("needs a PostgreSQL database in ADAPTSEND_TEST_STORE_URLS")
    url: str = request.param
    yield url
    databases.wipe(url)


def _stored(store: SQLStore) -> dict[str, list[Any]]:
    with store.engine.connect() as conn:
        return {
            table: conn.exec_driver_sql(f"SELECT * FROM {table} ORDER BY 1").all()
            for table in TABLES
        }


def _pin_leases(store: SQLStore) -> None:
    """Give the leases the times of a fixed clock: claims write the database's
    own, which differ from one run to the next."""
    until = NOW + dt.timedelta(seconds=60)
    leased = sa.update(messages).where(messages.c.status == "sending")
    with store.engine.begin() as conn:
        conn.execute(leased.values(lease_expires_at=until, next_attempt_at=until, updated_at=NOW))


def _outcomes(mine: list[int], theirs: list[int]) -> tuple[list[AttemptRecord], list[Decision]]:
    """Attempts with texts to cut, no reply code or a refused recipient, and
    decisions: alike ones sharing a statement, others one by one, and some
    for messages whose lease another agent holds."""
    long_reply = Reply(code=452, text="x" * 5000, enhanced="4.5.3.1.2.3.4.5.6.7", stage=Stage.RCPT)
    no_reply = Reply(code=None, text="", stage=Stage.CONNECT)
    attempts = [
        *(attempt(pk, OK, started_at=NOW, rule="sent") for pk in mine[:4]),
        attempt(mine[1], NO_USER, Outcome.PERMANENT, started_at=NOW, recipient="zoë@exämple.org"),
        attempt(
            mine[4],
            long_reply,
            Outcome.TRANSIENT,
            started_at=NOW + dt.timedelta(seconds=1),
            rule="site-transient: " + "x" * 400,
        ),
        attempt(
            mine[4], no_reply, Outcome.TRANSIENT, started_at=NOW + dt.timedelta(microseconds=1)
        ),
    ]
    retry_at = NOW + dt.timedelta(minutes=5)
    decisions = [
        *(decision(pk, last_reply=OK) for pk in [*mine[:4], theirs[0]]),
        decision(mine[4], Status.RETRY, next_attempt_at=retry_at, last_reply=long_reply),
        decision(theirs[1], Status.FAILED, last_reply=NO_USER, recipients=("b@x",)),
        decision(theirs[2], Status.RETRY, attempts=0, throttles=1, last_reply=LATER),
    ]
    return attempts, decisions


def _written(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *, postgres_fast: bool
) -> dict[str, list[Any]]:
    """Every row written by queueing the envelopes, then the same again from a
    site's table, then recording outcomes, into new tables (so that the ids
    start afresh)."""
    monkeypatch.setattr("adaptsend.store._sqlstore.utcnow", lambda: NOW)
    store = open_store(databases.ready_database(url, tmp_path))
    store.postgres_fast = postgres_fast
    fast: _enqueue.FastWay = "postgres" if postgres_fast else None
    try:
        with store.engine.begin() as conn:
            _enqueue.insert_messages(conn, ENVELOPES, sending_key=KEY, now=NOW, fast=fast)
            rows = [(f'"{i}"', e) for i, e in enumerate(ENVELOPES)]
            _sources.enqueue(conn, "table", rows, sending_key="other", now=NOW, fast=fast)
        mine, theirs = (
            [c.id for c in store.claim(owner=owner, sending_key=key, limit=5, lease_s=60)]
            for owner, key in (("a", KEY), ("b", "other"))
        )
        _pin_leases(store)
        store.record(*_outcomes(mine, theirs), owner="a")
        return _stored(store)
    finally:
        store.close()


def test_the_postgres_way_stores_what_the_portable_way_does(
    postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fast = _written(postgres_url, tmp_path, monkeypatch, postgres_fast=True)
    assert fast == _written(postgres_url, tmp_path, monkeypatch, postgres_fast=False)
    assert [len(fast[table]) for table in TABLES] == [10, 10, 5, 7]
    assert fast["message_contents"][3].content == b"\x00\xff\r\n"
    # Decisions apply to the messages "a" holds alone; attempts are all kept.
    statuses = [(row.status, row.lease_owner) for row in fast["messages"]]
    assert statuses == [("sent", None)] * 4 + [("retry", None)] + [("sending", "b")] * 5
    assert fast["messages"][4].last_text == "x" * 999 + "\u2026"
    assert [row.reply_code for row in fast["attempts"][-2:]] == [452, None]
    assert fast["attempts"][4].recipient == "zoë@exämple.org"
    assert [row.rule for row in fast["attempts"][3:5]] == ["sent", None]
    assert len(fast["attempts"][5].rule) == RULE_LEN


def test_a_sending_key_too_long_for_its_column_is_refused_not_cut(
    postgres_url: str, tmp_path: Path
) -> None:
    store = open_store(databases.ready_database(postgres_url, tmp_path))
    try:
        assert store.postgres_fast
        with pytest.raises(sa.exc.DataError, match="too long"):
            store.enqueue([envelope(1)], sending_key="k" * 300)
        assert sum(store.counts().values()) == 0
    finally:
        store.close()


def test_the_postgres_way_is_the_default_on_postgres_through_psycopg_alone() -> None:
    server = sa.create_engine("postgresql+psycopg://mail@db.example.org/mail")
    assert SQLStore(server).postgres_fast and not SQLStore(server).sqlite_fast
    assert not SQLStore(server, postgres_fast=False).postgres_fast
    other_driver = sa.make_url("postgresql+psycopg2://mail@db.example.org/mail")
    assert not _postgres_fast.suits(other_driver.get_dialect()())
    lite = sa.create_engine("sqlite://")
    assert not SQLStore(lite).postgres_fast
    with pytest.raises(ValueError, match="sqlite"):
        SQLStore(lite, postgres_fast=True)
