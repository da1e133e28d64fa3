"""A message's way through the store: enqueue, claim, record, release, requeue."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import delete, select

from adaptsend._models import FINAL_STATUSES, Outcome, Status, utcnow
from adaptsend.store import SQLStore, _enqueue, _sqlite_fast
from adaptsend.store._schema import message_contents, messages
from tests.helpers.store_builders import (
    KEY,
    LATER,
    NO_USER,
    OK,
    attempt,
    attempt_rows,
    claim_ids,
    db_now,
    decision,
    enqueue,
    envelope,
    later,
    message_row,
    set_due,
)


def test_enqueue_returns_ids_in_order_and_queues_now(store: SQLStore) -> None:
    before = utcnow()
    ids = enqueue(store, 3)
    assert ids == sorted(ids) and len(set(ids)) == 3
    row = message_row(store, ids[1])
    assert (row.status, row.attempts, row.throttles) == ("queued", 0, 0)
    assert row.message_id == "<1@adaptsend.test>"
    assert row.sending_key == KEY
    assert json.loads(row.recipients) == ["to@example.org"]
    assert before <= row.next_attempt_at <= utcnow()
    assert row.lease_owner is None and row.last_code is None


def test_each_id_is_that_of_its_message_across_batches(
    store: SQLStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Small batches and statements, so that one enqueue spans several of each.
    monkeypatch.setattr(_enqueue, "ENQUEUE_CHUNK", 5)
    monkeypatch.setattr(_sqlite_fast, "_MAX_PARAMETERS", 30)
    sent = [envelope(i, recipients=(f"r{i}@example.org",)) for i in range(12)]
    first = store.enqueue(sent[:4], sending_key=KEY)
    with store.engine.begin() as conn:
        # Ids need not be dense: a purge takes away the newest rows too.
        conn.execute(delete(message_contents).where(message_contents.c.message_pk == first[-1]))
        conn.execute(delete(messages).where(messages.c.id == first[-1]))
    ids = first[:-1] + store.enqueue(sent[4:], sending_key=KEY)
    claimed = store.claim(owner="a", sending_key=KEY, limit=100, lease_s=60)
    by_id = {c.id: c.envelope for c in claimed}
    assert by_id == dict(zip(ids, sent[:3] + sent[4:], strict=True))


def test_many_messages_keep_their_ids_and_contents_across_pages(store: SQLStore) -> None:
    # Over two full pages of the default size, so that statements and pages end mid-way.
    count = 2 * _enqueue.ENQUEUE_CHUNK + 345
    sent = [envelope(i, recipients=(f"r{i}@example.org", "all@example.org")) for i in range(count)]
    ids = store.enqueue(sent, sending_key=KEY)
    assert len(ids) == count and ids == sorted(set(ids))
    query = (
        select(messages.c.id, messages.c.message_id, messages.c.recipients)
        .add_columns(message_contents.c.content)
        .join(message_contents, message_contents.c.message_pk == messages.c.id)
        .order_by(messages.c.id)
    )
    with store.engine.connect() as conn:
        stored = conn.execute(query).all()
    assert [row.id for row in stored] == ids
    for row, env in zip(stored, sent, strict=True):
        assert (row.message_id, row.content) == (env.message_id, env.content)
        assert json.loads(row.recipients) == list(env.recipients)


def test_enqueue_of_nothing_is_fine(store: SQLStore) -> None:
    assert store.enqueue([], sending_key=KEY) == []


def test_enqueue_refuses_an_address_it_would_have_to_cut(store: SQLStore) -> None:
    env = envelope(0)
    too_long = type(env)(message_id=env.message_id, sender="x" * 400, recipients=(), content=b"")
    with pytest.raises(ValueError, match="sender"):
        store.enqueue([too_long], sending_key=KEY)
    assert store.counts()[Status.QUEUED] == 0


def test_claim_hands_out_the_envelope_and_leases_it(store: SQLStore) -> None:
    [pk] = store.enqueue([envelope(7, recipients=("a@x.org", "b@y.org"))], sending_key=KEY)
    before = db_now(store)
    [claimed] = store.claim(owner="agent-1", sending_key=KEY, limit=10, lease_s=30)
    after = db_now(store)
    assert claimed.id == pk
    assert claimed.envelope == envelope(7, recipients=("a@x.org", "b@y.org"))
    assert (claimed.attempts, claimed.throttles) == (0, 0)
    row = message_row(store, pk)
    assert (row.status, row.lease_owner) == ("sending", "agent-1")
    # On the database's clock, which the claim read between these two reads.
    assert later(30, since=before) <= row.lease_expires_at <= later(30, since=after)
    assert row.next_attempt_at == row.lease_expires_at


def test_a_claimed_message_says_when_it_was_queued(store: SQLStore) -> None:
    [pk] = enqueue(store, 1)
    [claimed] = store.claim(owner="a", sending_key=KEY, limit=1, lease_s=30)
    assert claimed.queued_at is not None
    assert claimed.queued_at == message_row(store, pk).created_at


def test_record_round_trip(store: SQLStore) -> None:
    sent, retry, failed = enqueue(store, 3)
    assert claim_ids(store, owner="a") == [sent, retry, failed]
    next_try = later(300)
    store.record(
        [
            attempt(sent),
            attempt(retry, LATER, Outcome.TRANSIENT),
            attempt(failed, NO_USER, Outcome.PERMANENT, recipient="to@example.org"),
        ],
        [
            decision(sent, last_reply=OK),
            decision(retry, Status.RETRY, next_attempt_at=next_try, last_reply=LATER),
            decision(failed, Status.FAILED, last_reply=NO_USER),
        ],
        owner="a",
    )
    states = {s.id: s for s in store.states([sent, retry, failed])}
    assert states[sent].status == Status.SENT
    assert states[retry].status == Status.RETRY and states[retry].last_reply == LATER
    assert states[failed].status == Status.FAILED and states[failed].last_reply == NO_USER
    assert message_row(store, retry).next_attempt_at == next_try
    for pk in (sent, retry, failed):
        row = message_row(store, pk)
        assert (row.lease_owner, row.lease_expires_at, row.attempts) == (None, None, 1)
    rows = attempt_rows(store)
    assert [(r.message_pk, r.outcome, r.reply_code, r.stage) for r in rows] == [
        (sent, "sent", 250, "data"),
        (retry, "transient", 451, "rcpt"),
        (failed, "permanent", 550, "rcpt"),
    ]
    assert rows[2].recipient == "to@example.org" and rows[2].enhanced_code == "5.1.1"
    assert (rows[0].cap, rows[0].in_flight, rows[0].duration_s) == (4, 2, 0.25)


def test_a_decision_may_narrow_the_recipients(store: SQLStore) -> None:
    [pk] = store.enqueue([envelope(1, recipients=("a@x.org", "b@x.org"))], sending_key=KEY)
    claim_ids(store)
    store.record(
        [],
        [decision(pk, Status.RETRY, recipients=("b@x.org",), next_attempt_at=utcnow())],
        owner="a",
    )
    [again] = store.claim(owner="a", sending_key=KEY, limit=1, lease_s=60)
    assert again.envelope.recipients == ("b@x.org",)
    assert again.attempts == 1


def test_many_alike_decisions_in_one_record(store: SQLStore) -> None:
    ids = enqueue(store, 40)
    claim_ids(store)
    store.record(
        [attempt(pk) for pk in ids], [decision(pk, last_reply=OK) for pk in ids], owner="a"
    )
    assert store.counts()[Status.SENT] == 40
    assert len(attempt_rows(store)) == 40


def test_claim_respects_limit_and_due_order(store: SQLStore) -> None:
    ids = enqueue(store, 5)
    base = utcnow()
    # Make the newest message the most overdue.
    set_due(store, ids[4], later(-60, since=base))
    set_due(store, ids[0], later(-30, since=base))
    assert claim_ids(store, limit=2) == sorted([ids[4], ids[0]])
    assert claim_ids(store, limit=2) == [ids[1], ids[2]]
    assert claim_ids(store, limit=2) == [ids[3]]
    assert claim_ids(store, limit=2) == []


def test_claim_waits_for_the_next_attempt_time(store: SQLStore) -> None:
    [pk] = enqueue(store, 1)
    claim_ids(store)
    retry_at = later(120)
    store.record([], [decision(pk, Status.RETRY, next_attempt_at=retry_at)], owner="a")
    assert claim_ids(store) == []
    set_due(store, pk, later(-1))
    assert claim_ids(store) == [pk]


def test_claim_only_takes_its_sending_key(store: SQLStore) -> None:
    mine = enqueue(store, 2)
    enqueue(store, 2, key="other.example.net:25")
    assert claim_ids(store) == mine


def test_claim_with_zero_limit_takes_nothing(store: SQLStore) -> None:
    enqueue(store, 2)
    assert claim_ids(store, limit=0) == []
    with pytest.raises(ValueError, match="lease"):
        claim_ids(store, lease_s=0)


def test_a_decision_for_a_final_message_is_ignored(store: SQLStore) -> None:
    [pk] = enqueue(store, 1)
    claim_ids(store)
    store.record([], [decision(pk)], owner="a")
    store.record([], [decision(pk, Status.FAILED)], owner="a")
    assert message_row(store, pk).status == "sent"


def test_a_throttled_message_goes_back_to_retry(store: SQLStore) -> None:
    [pk] = enqueue(store, 1)
    claim_ids(store)
    store.record(
        [],
        [decision(pk, Status.RETRY, attempts=0, throttles=1, next_attempt_at=utcnow())],
        owner="a",
    )
    claim_ids(store)
    assert store.release(owner="a") == 1
    assert message_row(store, pk).status == "retry"


@pytest.mark.parametrize("final", sorted(FINAL_STATUSES))
def test_requeue_gives_a_fresh_budget(store: SQLStore, final: Status) -> None:
    [pk, other] = enqueue(store, 2)
    claim_ids(store)
    store.record([], [decision(pk, final, attempts=5, throttles=3)], owner="a")
    assert store.requeue(statuses=[final], since=None) == 1
    row = message_row(store, pk)
    assert (row.status, row.attempts, row.throttles) == ("queued", 0, 0)
    assert row.next_attempt_at is not None
    assert message_row(store, other).status == "sending"


def test_requeue_only_touches_the_given_final_statuses_since(store: SQLStore) -> None:
    failed, dead, sent = enqueue(store, 3)
    claim_ids(store)
    store.record(
        [],
        [decision(failed, Status.FAILED), decision(dead, Status.DEAD), decision(sent)],
        owner="a",
    )
    assert store.requeue(statuses=[Status.FAILED, Status.DEAD], since=later(60)) == 0
    # Non-final statuses are not "put back".
    assert store.requeue(statuses=[Status.SENDING, Status.QUEUED], since=None) == 0
    assert store.requeue(statuses=[Status.FAILED, Status.DEAD], since=later(-60)) == 2
    assert [message_row(store, pk).status for pk in (failed, dead, sent)] == [
        "queued",
        "queued",
        "sent",
    ]


def test_unknown_attempts_counts_attempts_that_may_have_delivered(store: SQLStore) -> None:
    assert store.unknown_attempts() == 0
    a, b = enqueue(store, 2)
    claim_ids(store)
    store.record(
        [
            attempt(a, outcome=Outcome.UNKNOWN),
            attempt(a, outcome=Outcome.SENT),
            attempt(b, LATER, Outcome.TRANSIENT),
            attempt(b, outcome=Outcome.UNKNOWN),
        ],
        [],
        owner="a",
    )
    assert store.unknown_attempts() == 2
    assert [r.outcome for r in attempt_rows(store)].count("unknown") == 2


def test_states_follow_the_given_order(store: SQLStore) -> None:
    ids = enqueue(store, 3)
    order = [ids[2], ids[0], 999_999, ids[1]]
    states = store.states(order)
    assert [s.id for s in states] == [ids[2], ids[0], ids[1]]
    assert states[0].message_id == "<2@adaptsend.test>"
    assert states[0].status == Status.QUEUED and states[0].last_reply is None
