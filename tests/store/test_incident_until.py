"""The store's answers for a report whose period ended in the past: only the
attempts that started in it count, and messages are read as they stood at
its end. The store is the one of tests/helpers/period_scenario.py, on every
database the tests reach."""

from __future__ import annotations

import pytest

from adaptsend._models import Outcome, Status
from adaptsend.store import SQLStore
from adaptsend.store._incident_api import CapPoint
from tests.helpers.period_scenario import QUOTA, SINCE, THROTTLE, UNTIL, at, write_period
from tests.helpers.store_builders import KEY, LATER, NO_USER


@pytest.fixture
def ids(store: SQLStore) -> list[int]:
    return write_period(store)


def test_the_span_and_the_slices_hold_the_attempts_of_the_period(
    store: SQLStore, ids: list[int]
) -> None:
    for key in (KEY, None):
        assert store.attempt_span(since=SINCE, until=UNTIL, sending_key=key) == (at(110), at(190))
        # The last slice reaches past the end: an attempt there (at 210) is not in it.
        buckets = store.attempt_buckets(
            start=SINCE, width_s=60, count=3, until=UNTIL, sending_key=key
        )
        assert [b.total for b in buckets] == [4, 1, 0]
    assert store.attempt_span(since=at(195), until=UNTIL, sending_key=None) is None


def test_statuses_are_those_at_the_end_of_the_period(store: SQLStore, ids: list[int]) -> None:
    assert store.status_counts(since=SINCE, until=UNTIL, sending_key=KEY) == {
        Status.QUEUED: 2,
        Status.SENDING: 0,
        Status.RETRY: 1,
        Status.SENT: 0,
        Status.FAILED: 1,
        Status.DEAD: 0,
    }
    # The same messages, up to a time after every change: as they are now.
    assert store.status_counts(since=SINCE, until=at(400), sending_key=None) == {
        Status.QUEUED: 2,
        Status.SENDING: 0,
        Status.RETRY: 0,
        Status.SENT: 2,
        Status.FAILED: 1,
        Status.DEAD: 0,
    }


def test_the_cap_and_the_failures_come_from_attempts_of_the_period(
    store: SQLStore, ids: list[int]
) -> None:
    [series] = store.cap_changes_from_attempts(since=SINCE, until=UNTIL, sending_key=None)
    assert series.points == (CapPoint(at=at(110), cap=2), CapPoint(at=at(130), cap=3))
    groups = store.reply_groups(since=SINCE, until=UNTIL, sending_key=KEY, limit=10)
    assert [(g.reply, g.outcome, g.count, g.first_at, g.last_at) for g in groups] == [
        (QUOTA, Outcome.QUOTA, 2, at(110), at(190)),
        (NO_USER, Outcome.PERMANENT, 1, at(150), at(150)),
        (LATER, Outcome.TRANSIENT, 1, at(130), at(130)),
        (THROTTLE, Outcome.THROTTLED, 1, at(120), at(120)),
    ]
    assert store.quota_replies(since=SINCE, until=UNTIL, sending_key=KEY, limit=10) == [
        (KEY, at(110), QUOTA),
        (KEY, at(190), QUOTA),
    ]


def test_the_slowest_are_the_messages_that_ended_in_the_period(
    store: SQLStore, ids: list[int]
) -> None:
    [slowest] = store.slowest_messages(since=SINCE, until=UNTIL, sending_key=None, limit=10)
    assert (slowest.message_id, slowest.status, slowest.ended_at) == (
        "<1@adaptsend.test>",
        Status.FAILED,
        at(150),
    )
    assert round(slowest.waited_s) == 60


def test_the_oldest_waiting_are_read_as_they_stood_at_the_end(
    store: SQLStore, ids: list[int]
) -> None:
    waiting = store.oldest_waiting(until=UNTIL, sending_key=KEY, limit=10)
    assert [
        (w.message_id, w.status, w.waited_s, w.attempts, w.throttles, w.last_reply, w.ended_at)
        for w in waiting
    ] == [
        ("<4@adaptsend.test>", Status.QUEUED, 120.0, 0, 0, None, None),
        # Ended after the period: its attempts before the end tell its state then.
        ("<2@adaptsend.test>", Status.RETRY, 110.0, 1, 0, LATER, None),
        ("<3@adaptsend.test>", Status.QUEUED, 110.0, 0, 0, QUOTA, None),
    ]
    # Unchanged since: its next try is the one it had then; the others' is not known.
    assert [w.next_attempt_at is None for w in waiting] == [False, True, True]


def test_the_silence_at_the_end_of_the_period_is_cut_there(store: SQLStore, ids: list[int]) -> None:
    gaps = store.attempt_gaps(since=SINCE, until=UNTIL, sending_key=None, min_gap_s=60)
    assert [(g.sending_key, g.start, g.end, g.waited) for g in gaps] == [(KEY, at(190), None, True)]
    # Before message 4 was queued, nothing waited at the period's end, though
    # messages wait now.
    early = store.attempt_gaps(since=at(0), until=at(70), sending_key=KEY, min_gap_s=60)
    assert [(g.start, g.end, g.waited) for g in early] == [(at(60), None, False)]
