"""Leases: a claim holds a message for a while, renewed while its run lives,
judged on the database's clock; what other runs may and may not take."""

from __future__ import annotations

import datetime as dt

import pytest

from adaptsend._models import Status, utcnow
from adaptsend.store import SQLStore, _claim, _sqlstore
from tests.helpers.store_builders import (
    KEY,
    LONG_AGO,
    attempt,
    attempt_rows,
    claim_ids,
    db_now,
    decision,
    enqueue,
    expire_leases,
    later,
    message_row,
    set_due,
)


def test_a_live_lease_is_not_claimed_twice(store: SQLStore) -> None:
    ids = enqueue(store, 3)
    assert claim_ids(store, owner="a", lease_s=60) == ids
    assert claim_ids(store, owner="b") == []


def test_an_expired_lease_is_claimed_again(store: SQLStore) -> None:
    ids = enqueue(store, 2)
    claim_ids(store, owner="crashed", lease_s=10)
    expire_leases(store, "crashed")
    assert claim_ids(store, owner="b") == ids
    assert {message_row(store, pk).lease_owner for pk in ids} == {"b"}


def test_an_owner_never_claims_back_its_own_expired_leases(store: SQLStore) -> None:
    mine, theirs = enqueue(store, 2)
    claim_ids(store, owner="slow", limit=1)
    claim_ids(store, owner="crashed", limit=1)
    expire_leases(store, "slow")
    expire_leases(store, "crashed")
    # Still in the slow owner's buffer: taking it again would send it twice.
    assert claim_ids(store, owner="slow") == [theirs]
    assert message_row(store, mine).lease_owner == "slow"
    assert claim_ids(store, owner="other") == [mine]


def test_a_lease_is_judged_on_the_databases_clock(
    store: SQLStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    [pk] = enqueue(store, 1)
    claim_ids(store, owner="a", lease_s=10)
    # An agent whose clock is 12 s ahead sees the lease as run out, if asked.
    ahead = utcnow() + dt.timedelta(seconds=12)
    for module in (_sqlstore, _claim):
        monkeypatch.setattr(module, "utcnow", lambda: ahead, raising=False)
    assert claim_ids(store, owner="b") == []
    assert store.next_due(sending_key=KEY) is None
    assert message_row(store, pk).lease_owner == "a"


def test_renew_extends_only_the_owners_leases(store: SQLStore) -> None:
    mine, sent, theirs, queued = enqueue(store, 4)
    claim_ids(store, owner="a", limit=2, lease_s=10)
    claim_ids(store, owner="b", limit=1, lease_s=10)
    store.record([], [decision(sent)], owner="a")
    expire_leases(store, "a")
    expire_leases(store, "b")
    before = db_now(store)
    assert store.renew(owner="a", lease_s=60) == 1
    row = message_row(store, mine)
    assert (row.status, row.lease_owner) == ("sending", "a")
    assert row.lease_expires_at == row.next_attempt_at >= later(60, since=before)
    assert message_row(store, theirs).lease_expires_at == LONG_AGO
    assert message_row(store, sent).next_attempt_at is None
    assert message_row(store, queued).lease_owner is None
    # Renewed: another owner finds it held again.
    assert claim_ids(store, owner="c") == [theirs, queued]
    assert store.renew(owner="nobody", lease_s=60) == 0
    with pytest.raises(ValueError, match="lease"):
        store.renew(owner="a", lease_s=0)


def test_a_decision_from_an_owner_that_lost_its_lease_is_ignored(store: SQLStore) -> None:
    [pk] = enqueue(store, 1)
    claim_ids(store, owner="slow", lease_s=10)
    expire_leases(store, "slow")
    claim_ids(store, owner="fast")
    store.record([attempt(pk)], [decision(pk)], owner="slow")
    row = message_row(store, pk)
    assert (row.status, row.lease_owner, row.attempts) == ("sending", "fast", 0)
    # The attempt itself happened, so it is on record.
    assert [r.message_pk for r in attempt_rows(store)] == [pk]
    store.record([attempt(pk)], [decision(pk)], owner="fast")
    assert message_row(store, pk).status == "sent"


def test_release_hands_back_untried_leases(store: SQLStore) -> None:
    fresh, tried, kept = enqueue(store, 3)
    claim_ids(store, owner="a")
    store.record([], [decision(tried, Status.RETRY, next_attempt_at=later(-1))], owner="a")
    claim_ids(store, owner="a")
    [theirs] = enqueue(store, 1)
    claim_ids(store, owner="b")

    assert store.release(owner="a", message_pks=[fresh, tried]) == 2
    assert message_row(store, fresh).status == "queued"
    assert message_row(store, tried).status == "retry"
    assert message_row(store, kept).status == "sending"
    assert store.release(owner="a") == 1
    assert message_row(store, kept).status == "queued"
    assert message_row(store, theirs).lease_owner == "b"
    assert claim_ids(store, owner="c") == [fresh, tried, kept]


def test_next_due_leaves_out_live_leases(store: SQLStore) -> None:
    assert store.next_due(sending_key=KEY) is None
    a, b = enqueue(store, 2)
    claim_ids(store, owner="a", lease_s=60)
    # Held by a live agent: nothing for another agent to wait for.
    assert store.next_due(sending_key=KEY) is None
    retry_at = later(30)
    store.record([], [decision(a, Status.RETRY, next_attempt_at=retry_at)], owner="a")
    assert store.next_due(sending_key=KEY) == retry_at
    store.record([], [decision(b, Status.DEAD)], owner="a")
    assert store.next_due(sending_key=KEY) == retry_at
    assert store.next_due(sending_key="other") is None
    set_due(store, a, later(-1))
    claim_ids(store, owner="a")
    store.record([], [decision(a)], owner="a")
    assert store.next_due(sending_key=KEY) is None


def test_next_due_counts_an_expired_lease_as_due_now(store: SQLStore) -> None:
    crashed, held = enqueue(store, 2)
    claim_ids(store, owner="crashed", limit=1)
    claim_ids(store, owner="alive", limit=1)
    expire_leases(store, "crashed")
    due = store.next_due(sending_key=KEY)
    assert due is not None and due <= db_now(store)
    assert claim_ids(store, owner="b") == [crashed]
    assert store.next_due(sending_key=KEY) is None
    assert message_row(store, held).lease_owner == "alive"
