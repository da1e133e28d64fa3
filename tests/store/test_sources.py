"""The table source's ledger: rows queued once, rejected rows recorded once
and never sent, outcomes reported once."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from adaptsend._models import Status, utcnow
from adaptsend.store import SQLStore
from adaptsend.store._api import PurgeCounts
from adaptsend.store._schema import MESSAGE_ID_LEN, REPLY_TEXT_LEN, message_contents, messages
from tests.helpers.store_builders import attempt, claim_ids, decision, envelope, later, message_row

SUBJECT = "not sent: the subject contains a line break"


def reject(store: SQLStore, key: str, reason: str = SUBJECT) -> int:
    """Record one rejected row of ``table``; its message's id."""
    new = store.enqueue_from_source("table", [], sending_key="k", rejected=[(key, reason)])
    assert list(new) == [key]
    return new[key]


def test_a_rejected_row_is_known_failed_never_tried_and_unreported(store: SQLStore) -> None:
    new = store.enqueue_from_source(
        "table", [("1", envelope(1))], sending_key="k", rejected=[("2", SUBJECT)]
    )
    assert sorted(new) == ["1", "2"]
    assert store.source_states("table", ["1", "2", "3"]) == {
        "1": Status.QUEUED,
        "2": Status.FAILED,
    }
    row = message_row(store, new["2"])
    assert (row.status, row.attempts, row.throttles, row.next_attempt_at) == ("failed", 0, 0, None)
    assert (row.last_text, row.last_code, row.last_stage) == (SUBJECT, None, None)
    assert row.recipients == "[]" and len(row.message_id) <= MESSAGE_ID_LEN
    [outcome] = store.unreported("table", limit=10)
    assert (outcome.message_pk, outcome.key, outcome.rejected) == (new["2"], "2", SUBJECT)
    assert (outcome.status, outcome.attempts, outcome.last_reply) == (Status.FAILED, 0, None)
    # Known now: neither a good row nor a rejected one with its key is recorded again.
    again = store.enqueue_from_source(
        "table", [("2", envelope(2))], sending_key="k", rejected=[("1", SUBJECT), ("2", SUBJECT)]
    )
    assert again == {}
    assert store.counts()[Status.FAILED] == 1 and store.counts()[Status.QUEUED] == 1


def test_a_rejected_row_is_never_claimed(store: SQLStore) -> None:
    reject(store, "1")
    assert claim_ids(store, sending_key="k") == []
    assert store.next_due(sending_key="k") is None
    assert store.oldest_unsent(sending_key="k") is None


def test_a_key_given_as_queued_and_as_rejected_is_queued(store: SQLStore) -> None:
    new = store.enqueue_from_source(
        "table", [("1", envelope(1))], sending_key="k", rejected=[("1", SUBJECT)]
    )
    assert store.source_states("table", ["1"]) == {"1": Status.QUEUED}
    assert message_row(store, new["1"]).message_id == envelope(1).message_id


def test_a_long_reason_is_cut_to_fit(store: SQLStore) -> None:
    pk = reject(store, "1", "not sent: " + "x" * 5000)
    text = message_row(store, pk).last_text
    assert len(text) == REPLY_TEXT_LEN and text.startswith("not sent: xxx")


def test_retry_leaves_rejected_rows_failed_and_reported(store: SQLStore) -> None:
    rejected = reject(store, "1")
    [failed] = store.enqueue_from_source("table", [("2", envelope(2))], sending_key="k").values()
    assert claim_ids(store, sending_key="k") == [failed]
    store.record([attempt(failed)], [decision(failed, Status.FAILED)], owner="a")
    store.mark_reported("table", [rejected, failed])

    assert store.requeue(statuses=[Status.FAILED, Status.DEAD], since=None) == 1
    assert store.requeue(statuses=[Status.FAILED], since=later(-60)) == 0

    assert message_row(store, rejected).status == "failed"
    assert claim_ids(store, sending_key="k") == [failed]
    # The requeued message's new outcome will go back; the rejection went already.
    store.record([attempt(failed)], [decision(failed)], owner="a")
    assert [o.message_pk for o in store.unreported("table", limit=10)] == [failed]


def test_a_purge_takes_a_reported_rejected_row_like_any_failed_message(store: SQLStore) -> None:
    pk = reject(store, "1")
    before = later(3600)
    # Not written back to the site yet: it stays.
    assert store.purge(before=before).messages == 0
    store.mark_reported("table", [pk])
    assert store.purge(before=before, dry_run=True) == PurgeCounts(
        messages=1, attempts=0, source_rows=1
    )
    assert store.purge(before=before) == PurgeCounts(messages=1, attempts=0, source_rows=1)
    assert store.source_states("table", ["1"]) == {}


def test_only_a_rejected_row_has_no_content(store: SQLStore) -> None:
    queued = store.enqueue_from_source("table", [("1", envelope(1))], sending_key="k")
    rejected = reject(store, "2")
    with store.engine.connect() as conn:
        have = set(conn.execute(sa.select(message_contents.c.message_pk)).scalars())
        every = set(conn.execute(sa.select(messages.c.id)).scalars())
    assert every - have == {rejected} and queued["1"] in have


def test_a_rejected_row_goes_back_with_the_time_it_was_rejected(store: SQLStore) -> None:
    start = utcnow() - dt.timedelta(seconds=5)
    reject(store, "1")
    [outcome] = store.unreported("table", limit=10)
    assert start <= outcome.finished_at <= utcnow() + dt.timedelta(seconds=5)
