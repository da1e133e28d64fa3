"""A quota's pause, kept in the store so that every agent on it keeps it:
the waiting messages of the key come due no sooner than the pause's end."""

from __future__ import annotations

import datetime as dt

from adaptsend.store import SQLStore
from tests.helpers.store_builders import KEY, claim_ids, db_now, enqueue, message_row, set_due


def test_a_paused_key_has_nothing_due_until_the_pause_ends(store: SQLStore) -> None:
    waiting = enqueue(store, 3)
    other = enqueue(store, 1, key="someone-else@smtp.example.com:587")
    assert claim_ids(store, limit=1) == waiting[:1]
    far = db_now(store) + dt.timedelta(hours=5)
    set_due(store, waiting[2], far)

    moved = store.pause_key(sending_key=KEY, pause_s=3600)

    # Only the one due now moves: the leased one and the one due later stay.
    assert moved == 1
    assert claim_ids(store, owner="b") == []
    due = store.next_due(sending_key=KEY)
    assert due is not None and due >= db_now(store) + dt.timedelta(seconds=3500)
    assert message_row(store, waiting[2]).next_attempt_at == far
    # Another key is not paused.
    assert claim_ids(store, owner="b", sending_key="someone-else@smtp.example.com:587") == other
