"""Deleting old, finished history, and keeping everything that is still due."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import pytest
import sqlalchemy as sa

from adaptsend._models import Status, utcnow
from adaptsend.store import SQLStore, StoreError, _purge, _rows
from adaptsend.store._api import PurgeCounts
from adaptsend.store._schema import attempts, message_contents, messages, source_rows
from tests.helpers.store_builders import attempt, claim_ids, decision, enqueue, envelope, later
from tests.helpers.store_variants import on_servers, on_sqlite

DAY = 86400.0


def age(store: SQLStore, pks: Sequence[int], days: float) -> None:
    """Make messages look as if they last changed ``days`` ago."""
    when = utcnow() - dt.timedelta(days=days)
    with store.engine.begin() as conn:
        conn.execute(sa.update(messages).where(messages.c.id.in_(pks)).values(updated_at=when))


def ids_in(store: SQLStore, table: sa.Table) -> list[int]:
    """The message ids a table holds rows for, one per row, in order."""
    column = table.c.id if table is messages else table.c.message_pk
    with store.engine.connect() as conn:
        return sorted(conn.execute(sa.select(column)).scalars())


def finish(store: SQLStore, outcomes: dict[int, tuple[Status, int]]) -> None:
    """Give each claimed message its status after that many attempts."""
    store.record(
        [attempt(pk) for pk, (_, n) in outcomes.items() for _ in range(n)],
        [
            decision(pk, status, next_attempt_at=later(60) if status is Status.RETRY else None)
            for pk, (status, _) in outcomes.items()
        ],
        owner="a",
    )


def history(store: SQLStore) -> list[int]:
    """Seven messages, six of them changed 40 days ago: sent (2 attempts),
    failed (1), dead (3), retry (1), sending (none), queued (none); and one
    sent (1 attempt) today. Returns their ids in that order."""
    ids = enqueue(store, 7)
    assert claim_ids(store, limit=6) == ids[:6]
    sent, failed, dead, retry, sending, recent = ids[:6]
    finish(
        store,
        {
            sent: (Status.SENT, 2),
            failed: (Status.FAILED, 1),
            dead: (Status.DEAD, 3),
            retry: (Status.RETRY, 1),
            recent: (Status.SENT, 1),
        },
    )
    queued = ids[6]
    age(store, [sent, failed, dead, retry, sending, queued], 40)
    return [sent, failed, dead, retry, sending, queued, recent]


def thirty_days_ago() -> dt.datetime:
    return later(-30 * DAY)


def test_old_final_messages_go_with_their_attempts_and_content(store: SQLStore) -> None:
    _sent, _failed, _dead, retry, sending, queued, recent = history(store)

    counts = store.purge(before=thirty_days_ago())

    assert counts == PurgeCounts(messages=3, attempts=6, source_rows=0)
    kept = sorted([retry, sending, queued, recent])
    assert ids_in(store, messages) == kept
    assert ids_in(store, message_contents) == kept
    assert ids_in(store, attempts) == sorted([retry, recent])
    assert store.counts() == {
        Status.QUEUED: 1,
        Status.SENDING: 1,
        Status.RETRY: 1,
        Status.SENT: 1,
        Status.FAILED: 0,
        Status.DEAD: 0,
    }


def test_a_second_purge_finds_nothing(store: SQLStore) -> None:
    history(store)
    store.purge(before=thirty_days_ago())
    assert store.purge(before=thirty_days_ago()) == PurgeCounts(
        messages=0, attempts=0, source_rows=0
    )


def test_the_cutoff_is_the_time_given(store: SQLStore) -> None:
    *_, recent = history(store)
    # Everything final goes once the cutoff passes today's message too.
    counts = store.purge(before=later(60))
    assert counts == PurgeCounts(messages=4, attempts=7, source_rows=0)
    assert recent not in ids_in(store, messages)


def test_a_dry_run_counts_the_same_and_deletes_nothing(store: SQLStore) -> None:
    history(store)
    tables = (messages, message_contents, attempts)
    before = {t.name: ids_in(store, t) for t in tables}

    would = store.purge(before=thirty_days_ago(), dry_run=True)

    assert {t.name: ids_in(store, t) for t in tables} == before
    assert would == PurgeCounts(messages=3, attempts=6, source_rows=0)
    assert store.purge(before=thirty_days_ago()) == would


def test_an_unreported_source_row_keeps_its_message(store: SQLStore) -> None:
    queued = store.enqueue_from_source(
        "table", [("1", envelope(1)), ("2", envelope(2))], sending_key="k"
    )
    reported, unreported = queued["1"], queued["2"]
    assert claim_ids(store, sending_key="k") == [reported, unreported]
    finish(store, {reported: (Status.SENT, 1), unreported: (Status.FAILED, 1)})
    store.mark_reported("table", [reported])
    age(store, [reported, unreported], 40)

    assert store.purge(before=thirty_days_ago(), dry_run=True) == PurgeCounts(
        messages=1, attempts=1, source_rows=1
    )
    assert store.purge(before=thirty_days_ago()) == PurgeCounts(
        messages=1, attempts=1, source_rows=1
    )
    assert ids_in(store, messages) == [unreported]
    assert ids_in(store, source_rows) == [unreported]
    assert ids_in(store, attempts) == [unreported]
    assert [o.message_pk for o in store.unreported("table", limit=10)] == [unreported]

    # Once its outcome is written back, it goes too.
    store.mark_reported("table", [unreported])
    assert store.purge(before=thirty_days_ago()).messages == 1
    assert ids_in(store, messages) == ids_in(store, source_rows) == []


def test_a_purge_larger_than_a_chunk_commits_each_chunk(
    store: SQLStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_purge, "CHUNK", 4)
    monkeypatch.setattr(_rows, "IN_CHUNK", 3)
    ids = enqueue(store, 11)
    assert claim_ids(store) == ids
    finish(store, {pk: (Status.SENT, 1) for pk in ids})
    old, recent = ids[:10], ids[10]
    age(store, old, 40)
    commits: list[object] = []
    sa.event.listen(store.engine, "commit", commits.append)

    counts = store.purge(before=thirty_days_ago())

    assert counts == PurgeCounts(messages=10, attempts=10, source_rows=0)
    assert ids_in(store, messages) == ids_in(store, attempts) == [recent]
    # Chunks of 4, 4 and 2 messages, then one for the history of limits.
    assert len(commits) == 4


@on_servers
def test_a_purge_skips_a_message_another_transaction_holds(store: SQLStore) -> None:
    ids = enqueue(store, 3)
    claim_ids(store)
    finish(store, {pk: (Status.DEAD, 1) for pk in ids})
    age(store, ids, 40)
    with store.engine.connect() as other:
        # As `adaptsend retry` holds a message while putting it back in the queue.
        held = sa.select(messages.c.id).where(messages.c.id == ids[1]).with_for_update()
        other.execute(held).one()
        counts = store.purge(before=thirty_days_ago())
        other.rollback()
    assert counts == PurgeCounts(messages=2, attempts=2, source_rows=0)
    assert ids_in(store, messages) == ids_in(store, attempts) == [ids[1]]


@on_servers
def test_a_purge_skips_a_source_row_a_retry_is_unreporting(store: SQLStore) -> None:
    queued = store.enqueue_from_source("table", [("1", envelope(1))], sending_key="k")
    [pk] = claim_ids(store, sending_key="k")
    finish(store, {pk: (Status.DEAD, 1)})
    store.mark_reported("table", [pk])
    age(store, [pk], 40)
    # Waiting for the row would deadlock with the retry; fail instead of hanging.
    store.engine.dispose()
    sa.event.listen(
        store.engine, "connect", lambda dbapi, _: dbapi.cursor().execute("SET lock_timeout = '5s'")
    )
    with store.engine.connect() as other:
        # `adaptsend retry` marks the source row unreported before it takes the message.
        unreport = sa.update(source_rows).where(source_rows.c.message_pk == queued["1"])
        other.execute(unreport.values(reported_at=None))
        counts = store.purge(before=thirty_days_ago())
        other.rollback()
    assert counts == PurgeCounts(messages=0, attempts=0, source_rows=0)
    assert ids_in(store, messages) == ids_in(store, attempts) == [pk]


@on_sqlite
def test_a_refused_delete_is_one_sentence(store: SQLStore) -> None:
    history(store)
    with store.engine.begin() as conn:
        conn.exec_driver_sql(
            "CREATE TRIGGER no_delete BEFORE DELETE ON attempts "
            "BEGIN SELECT RAISE(ABORT, 'not allowed to delete'); END"
        )
    with pytest.raises(StoreError) as caught:
        store.purge(before=thirty_days_ago())
    assert str(caught.value).startswith("Cannot purge the store at sqlite:///")
    assert str(caught.value).endswith(": not allowed to delete.")
    assert len(ids_in(store, messages)) == 7
