"""The store's answers for ``adaptsend report``, on every database the tests reach.

Attempts are written with chosen start times (and messages with chosen
queueing and end times), so that each answer can be checked exactly.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import update

from adaptsend._models import AttemptRecord, Outcome, Reply, Stage, Status
from adaptsend.store import SQLStore
from adaptsend.store._incident_api import CapPoint, IncidentLog
from adaptsend.store._schema import messages
from tests.helpers.store_builders import KEY, LATER, NO_USER, attempt, claim_ids, decision, enqueue

#: The period the tests write: a morning, long ago enough to be any database's past.
T0 = dt.datetime(2026, 3, 1, 9, 0, 0)
#: The end of the period these tests ask about: after every row they write,
#: so that each message is read as it stands now.
END = dt.datetime(2100, 1, 1)
OTHER = "other@relay.example.org:25"
THROTTLE = Reply(code=432, text="Concurrent connections limit exceeded", enhanced="4.3.2")
QUOTA = Reply(code=550, text="Daily user sending quota exceeded", enhanced="5.4.5")


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def tried(pk: int, seconds: float, outcome: Outcome = Outcome.SENT, **kw: object) -> AttemptRecord:
    reply = kw.pop("reply", None) or {
        Outcome.THROTTLED: THROTTLE,
        Outcome.QUOTA: QUOTA,
        Outcome.TRANSIENT: LATER,
        Outcome.PERMANENT: NO_USER,
    }.get(outcome)
    if reply is None:
        return attempt(pk, started_at=at(seconds), **kw)
    assert isinstance(reply, Reply)
    return attempt(pk, reply, outcome, started_at=at(seconds), **kw)


def set_times(
    store: SQLStore, pks: Sequence[int], *, queued: float, ended: float | None = None
) -> None:
    """Say when messages were queued and when their rows last changed (for
    final ones: when they ended)."""
    values = {"created_at": at(queued)}
    if ended is not None:
        values["updated_at"] = at(ended)
    with store.engine.begin() as conn:
        conn.execute(update(messages).where(messages.c.id.in_(pks)).values(**values))


def test_the_sql_store_answers_every_report_question(store: SQLStore) -> None:
    assert isinstance(store, IncidentLog)


def test_keys_and_the_span_of_attempts(store: SQLStore) -> None:
    mine = enqueue(store, 2)
    theirs = store.enqueue([], sending_key=OTHER) + enqueue(store, 1, key=OTHER)
    store.record([tried(mine[0], 10), tried(mine[1], 70), tried(theirs[0], 200)], [], owner="a")

    assert store.sending_keys() == sorted([KEY, OTHER])
    assert store.attempt_span(since=T0, until=END, sending_key=None) == (at(10), at(200))
    assert store.attempt_span(since=T0, until=END, sending_key=KEY) == (at(10), at(70))
    assert store.attempt_span(since=at(11), until=END, sending_key=KEY) == (at(70), at(70))
    assert store.attempt_span(since=at(201), until=END, sending_key=None) is None


def test_status_counts_take_what_ended_in_the_period_and_all_that_waits(store: SQLStore) -> None:
    ids = enqueue(store, 6)
    claim_ids(store, limit=4)
    store.record(
        [],
        [decision(ids[0]), decision(ids[1]), decision(ids[2], Status.FAILED)],
        owner="a",
    )
    set_times(store, ids, queued=-7200)
    set_times(store, [ids[0]], queued=-7200, ended=-3600)  # sent before the period
    set_times(store, ids[1:3], queued=-7200, ended=60)

    counts = store.status_counts(since=T0, until=END, sending_key=None)
    assert counts == {
        Status.QUEUED: 2,
        Status.SENDING: 1,
        Status.RETRY: 0,
        Status.SENT: 1,
        Status.FAILED: 1,
        Status.DEAD: 0,
    }
    assert store.status_counts(since=T0, until=END, sending_key=OTHER) == dict.fromkeys(Status, 0)


def test_attempts_are_counted_per_slice_and_outcome(store: SQLStore) -> None:
    ids = enqueue(store, 3)
    [other] = enqueue(store, 1, key=OTHER)
    store.record(
        [
            tried(ids[0], 0.2),
            tried(ids[1], 9.9, Outcome.THROTTLED),
            tried(ids[1], 10.0),
            tried(ids[2], 25.5, Outcome.TRANSIENT),
            tried(ids[2], 29.0, Outcome.TRANSIENT),
            tried(other, 12.0),
            # Outside the three slices asked for.
            tried(ids[2], 30.0),
            tried(ids[2], -0.5),
        ],
        [],
        owner="a",
    )

    buckets = store.attempt_buckets(start=T0, width_s=10, count=3, until=END, sending_key=KEY)
    assert [b.start for b in buckets] == [at(0), at(10), at(20)]
    assert [{o: n for o, n in b.counts.items() if n} for b in buckets] == [
        {Outcome.SENT: 1, Outcome.THROTTLED: 1},
        {Outcome.SENT: 1},
        {Outcome.TRANSIENT: 2},
    ]
    assert set(buckets[0].counts) == set(Outcome)
    every_key = store.attempt_buckets(start=T0, width_s=10, count=3, until=END, sending_key=None)
    assert [b.total for b in every_key] == [2, 2, 2]


def test_cap_changes_keep_each_keys_first_cap_and_every_change(store: SQLStore) -> None:
    ids = enqueue(store, 2)
    [other] = enqueue(store, 1, key=OTHER)
    caps = [(0, 2), (1, 2), (2, 3), (3, 4), (4, 4), (5, 2), (6, 2), (7, 3)]
    # Written out of order, as a recorder writes batches: the start time orders them.
    store.record(
        [tried(ids[i % 2], s, cap=c) for i, (s, c) in reversed(list(enumerate(caps)))]
        + [tried(other, 1.5, cap=6), tried(other, 8, cap=6), tried(ids[0], -60, cap=8)],
        [],
        owner="a",
    )

    series = {
        s.sending_key: s
        for s in store.cap_changes_from_attempts(since=T0, until=END, sending_key=None)
    }
    assert series[KEY].points == (
        CapPoint(at=at(0), cap=2),
        CapPoint(at=at(2), cap=3),
        CapPoint(at=at(3), cap=4),
        CapPoint(at=at(5), cap=2),
        CapPoint(at=at(7), cap=3),
    )
    assert series[OTHER].points == (CapPoint(at=at(1.5), cap=6),)
    [only] = store.cap_changes_from_attempts(since=at(4.5), until=END, sending_key=KEY)
    assert [(p.at, p.cap) for p in only.points] == [(at(5), 2), (at(7), 3)]


def test_failures_group_by_reply_and_outcome(store: SQLStore) -> None:
    ids = enqueue(store, 5)
    [other] = enqueue(store, 1, key=OTHER)
    store.record(
        [
            tried(ids[0], 5, Outcome.THROTTLED),
            tried(ids[1], 6, Outcome.THROTTLED),
            tried(ids[2], 50, Outcome.THROTTLED),
            tried(ids[3], 7, Outcome.PERMANENT, recipient="to@example.org"),
            # The same reply judged otherwise (a site's rule) is a group of its own.
            tried(ids[4], 8, Outcome.TRANSIENT, reply=NO_USER, rule="site-transient: 5.1.1"),
            tried(ids[4], 9),
            tried(other, 10, Outcome.THROTTLED),
            tried(ids[0], -10, Outcome.THROTTLED),
        ],
        [],
        owner="a",
    )

    groups = store.reply_groups(since=T0, until=END, sending_key=KEY, limit=10)
    assert [(g.reply, g.outcome, g.count, g.rule) for g in groups] == [
        (THROTTLE, Outcome.THROTTLED, 3, None),
        (NO_USER, Outcome.TRANSIENT, 1, "site-transient: 5.1.1"),
        (NO_USER, Outcome.PERMANENT, 1, None),
    ]
    throttles = groups[0]
    assert (throttles.first_at, throttles.last_at) == (at(5), at(50))
    assert throttles.sample_message_ids == (
        "<2@adaptsend.test>",
        "<1@adaptsend.test>",
        "<0@adaptsend.test>",
    )
    assert groups[0].reply.stage is Stage.DATA
    assert store.reply_groups(since=T0, until=END, sending_key=None, limit=1)[0].count == 4


def test_the_slowest_messages_waited_longest_from_queueing_to_their_end(
    store: SQLStore,
) -> None:
    ids = enqueue(store, 4)
    claim_ids(store)
    store.record(
        [],
        [
            decision(ids[0], last_reply=Reply(code=250, text="OK")),
            decision(ids[1]),
            decision(ids[2], Status.DEAD, attempts=8, last_reply=LATER),
            decision(ids[3]),
        ],
        owner="a",
    )
    set_times(store, [ids[0]], queued=0, ended=30)
    set_times(store, [ids[1]], queued=0, ended=5)
    set_times(store, [ids[2]], queued=-100, ended=600)
    set_times(store, [ids[3]], queued=-900, ended=-800)  # ended before the period

    slowest = store.slowest_messages(since=T0, until=END, sending_key=None, limit=10)
    assert [(w.message_id, round(w.waited_s)) for w in slowest] == [
        ("<2@adaptsend.test>", 700),
        ("<0@adaptsend.test>", 30),
        ("<1@adaptsend.test>", 5),
    ]
    dead = slowest[0]
    assert (dead.status, dead.attempts, dead.ended_at, dead.last_reply) == (
        Status.DEAD,
        8,
        at(600),
        LATER,
    )
    assert len(store.slowest_messages(since=T0, until=END, sending_key=None, limit=2)) == 2


def test_the_oldest_waiting_messages_come_first(store: SQLStore) -> None:
    ids = enqueue(store, 3)
    [other] = enqueue(store, 1, key=OTHER)
    # Unchanged since they were queued: each row shows its state at the end.
    set_times(store, [ids[0]], queued=20, ended=20)
    set_times(store, [ids[1]], queued=-50, ended=-50)
    set_times(store, [ids[2]], queued=10, ended=10)
    set_times(store, [other], queued=-500, ended=-500)

    waiting = store.oldest_waiting(until=at(100), sending_key=KEY, limit=2)
    assert [(w.message_id, w.waited_s, w.ended_at) for w in waiting] == [
        ("<1@adaptsend.test>", 150.0, None),
        ("<2@adaptsend.test>", 90.0, None),
    ]
    assert waiting[0].next_attempt_at is not None
    assert store.oldest_waiting(until=at(100), sending_key=None, limit=1)[0].sending_key == OTHER


def test_gaps_are_silences_between_a_keys_attempts(store: SQLStore) -> None:
    ids = enqueue(store, 4)
    [other] = enqueue(store, 1, key=OTHER)
    set_times(store, ids[:3], queued=-10)
    set_times(store, [ids[3]], queued=200)  # queued during the second silence
    set_times(store, [other], queued=-10)
    store.record(
        [
            tried(ids[0], 0),
            tried(ids[0], 1, Outcome.QUOTA),
            tried(ids[1], 120),  # queued before the silence began: it waited
            tried(ids[2], 125),
            tried(ids[3], 400),  # queued during the silence: it did not wait through it
            tried(other, 50),  # another key's attempt does not break this key's silence
            tried(other, 60),
        ],
        [],
        owner="a",
    )
    # Every message of KEY ends; OTHER's still waits.
    claim_ids(store, limit=4)
    store.record([], [decision(pk) for pk in ids], owner="a")

    gaps = store.attempt_gaps(since=T0, until=END, sending_key=None, min_gap_s=60)
    found = [(g.sending_key, g.start, g.end, g.waited, g.outcome_before) for g in gaps]
    assert found == [
        (OTHER, at(60), None, True, Outcome.SENT),
        (KEY, at(1), at(120), True, Outcome.QUOTA),
        (KEY, at(125), at(400), False, Outcome.SENT),
        (KEY, at(400), None, False, Outcome.SENT),
    ]
    assert gaps[1].reply_before == QUOTA
    assert [
        g.start for g in store.attempt_gaps(since=T0, until=END, sending_key=KEY, min_gap_s=200)
    ] == [
        at(125),
        at(400),
    ]


def test_quota_replies_in_start_order(store: SQLStore) -> None:
    ids = enqueue(store, 2)
    store.record(
        [
            tried(ids[1], 30, Outcome.QUOTA),
            tried(ids[0], 10, Outcome.QUOTA),
            tried(ids[0], 20),
            tried(ids[0], -30, Outcome.QUOTA),
        ],
        [],
        owner="a",
    )
    assert store.quota_replies(since=T0, until=END, sending_key=KEY, limit=10) == [
        (KEY, at(10), QUOTA),
        (KEY, at(30), QUOTA),
    ]
    assert store.quota_replies(since=T0, until=END, sending_key=OTHER, limit=10) == []
