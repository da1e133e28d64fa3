"""Which lines a report draws from the history of the limits: one per sending
key for a shared cap or runs one after another, one per agent for agents
that each kept a cap (or a rate) of their own, and the attempts for keys and
stores without that history. Rows written as agents write them, into a real
SQLite file and every server database of the tests."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest

from adaptsend._models import utcnow
from adaptsend.report._build import IncidentReport, build_report
from adaptsend.store import SQLStore, open_store
from adaptsend.store._cap_change_api import CapChangeRecord, LimitKind
from adaptsend.store._incident_api import CapPoint
from tests.helpers.store_builders import KEY, attempt, cap_change, enqueue

OTHER = "other.example.net:25"
A, B = "host-a:101:aaaaaaaa", "host-b:202:bbbbbbbb"
#: The period starts an hour ago; the rows are written a little after.
SINCE = utcnow().replace(microsecond=0) - dt.timedelta(hours=1)
T0 = SINCE + dt.timedelta(minutes=5)


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def row(
    seconds: float,
    agent: str,
    old: float | None,
    new: float,
    reason: str,
    *,
    key: str = KEY,
    kind: LimitKind = LimitKind.CONNECTIONS,
) -> CapChangeRecord:
    return cap_change(at(seconds), old=old, new=new, reason=reason, agent=agent, key=key, kind=kind)


@pytest.fixture
def store(db_ready: str) -> Iterator[SQLStore]:
    """A store where ``KEY`` and ``OTHER`` sent over a minute, every
    attempt seeing a cap of 4."""
    opened = open_store(db_ready)
    ids = enqueue(opened, 4) + enqueue(opened, 2, key=OTHER)
    attempts = [attempt(pk, started_at=at(i * 10), cap=4) for i, pk in enumerate(ids)]
    opened.record(attempts, [], owner="a")
    yield opened
    opened.close()


def report(store: Any, sending_key: str | None = None) -> IncidentReport:
    """The report of the period, of the store or of a plugin's store over it."""
    return build_report(store, since=SINCE, now=utcnow(), sending_key=sending_key)


def test_the_decisions_of_a_shared_cap_make_one_line(store: SQLStore) -> None:
    # Two agents take turns to decide for one cap: each starts where the other left it.
    store.record_cap_changes(
        [
            row(1, A, 4, 2, "throttle"),
            row(2, B, 2, 3, "growth"),
            row(3, A, 3, 4, "growth"),
            row(4, B, 4, 2, "throttle"),
        ]
    )
    [line, other] = report(store).caps
    assert (line.sending_key, line.agent, line.source) == (KEY, None, "changes")
    assert line.points == (
        CapPoint(at=SINCE, cap=4),
        CapPoint(at=at(1), cap=2, reason="throttle"),
        CapPoint(at=at(2), cap=3, reason="growth"),
        CapPoint(at=at(3), cap=4, reason="growth"),
        CapPoint(at=at(4), cap=2, reason="throttle"),
    )
    # The key without a row in the period is drawn from its attempts.
    assert (other.sending_key, other.source) == (OTHER, "attempts")
    assert other.points == (CapPoint(at=at(40), cap=4),)


def test_agents_with_caps_of_their_own_make_a_line_each(store: SQLStore) -> None:
    # Both run at once, each moving its own cap from its own start.
    store.record_cap_changes(
        [
            row(1, A, 4, 5, "growth"),
            row(2, B, 4, 5, "growth"),
            row(3, A, 5, 2, "throttle"),
            row(4, B, 5, 6, "growth"),
        ]
    )
    caps = report(store, KEY).caps
    assert [(s.sending_key, s.agent, s.source) for s in caps] == [
        (KEY, A, "changes"),
        (KEY, B, "changes"),
    ]
    assert [[(p.cap, p.reason) for p in s.points] for s in caps] == [
        [(4, None), (5, "growth"), (2, "throttle")],
        [(4, None), (5, "growth"), (6, "growth")],
    ]


def test_runs_one_after_another_make_one_line(store: SQLStore) -> None:
    # A second run starts afresh from the initial cap once the first has ended.
    store.record_cap_changes(
        [
            row(1, A, 4, 5, "growth"),
            row(2, A, 5, 6, "growth"),
            row(30, B, 4, 2, "throttle"),
            row(31, B, 2, 3, "growth"),
        ]
    )
    [line] = report(store, KEY).caps
    assert line.agent is None
    assert [(p.at, p.cap) for p in line.points] == [
        (SINCE, 4),
        (at(1), 5),
        (at(2), 6),
        (at(30), 2),
        (at(31), 3),
    ]


def test_rows_before_the_period_leave_it_to_the_attempts(store: SQLStore) -> None:
    # A run of the day before recorded its cap; this period's runs did not.
    earlier = SINCE - dt.timedelta(days=1)
    store.record_cap_changes(
        [
            CapChangeRecord(
                sending_key=KEY,
                agent=A,
                changed_at=earlier,
                kind=LimitKind.CONNECTIONS,
                old_value=4,
                new_value=1,
                reason="throttle",
            )
        ]
    )
    caps = report(store).caps
    assert {(s.sending_key, s.source) for s in caps} == {(KEY, "attempts"), (OTHER, "attempts")}
    assert {p.cap for s in caps for p in s.points} == {4}


class _NoHistory:
    """A plugin's store that answers a report's questions from the same
    database, but keeps no history of the limits."""

    def __init__(self, store: SQLStore) -> None:
        self._store = store

    def __getattr__(self, name: str) -> object:
        if name in ("cap_changes", "record_cap_changes"):
            raise AttributeError(name)
        return getattr(self._store, name)


def test_a_store_without_the_history_draws_every_cap_from_attempts(store: SQLStore) -> None:
    store.record_cap_changes([row(1, A, 4, 2, "throttle"), row(2, A, None, 300, "cut")])
    assert {s.source for s in report(store).caps} == {"changes", "attempts"}

    plain = report(_NoHistory(store))
    assert {(s.sending_key, s.source) for s in plain.caps} == {
        (KEY, "attempts"),
        (OTHER, "attempts"),
    }
    assert plain.rates == ()


def test_each_agents_message_rate_is_a_line_of_its_own(store: SQLStore) -> None:
    rate = LimitKind.RATE
    store.record_cap_changes(
        [
            row(1, A, None, 300, "cut", kind=rate),
            row(2, B, None, 240, "cut", kind=rate),
            row(3, A, 300, 330, "grow", kind=rate),
            row(4, B, 240, 120, "cut", kind=rate),
            row(5, A, None, 60, "cut", key=OTHER, kind=rate),
        ]
    )
    built = report(store)
    # No cap moved: the caps are the attempts'.
    assert {s.source for s in built.caps} == {"attempts"}
    assert [(s.sending_key, s.agent) for s in built.rates] == [(KEY, A), (KEY, B), (OTHER, None)]
    assert [[(p.per_minute, p.reason) for p in s.points] for s in built.rates] == [
        [(None, None), (300, "cut"), (330, "grow")],
        [(None, None), (240, "cut"), (120, "cut")],
        [(None, None), (60, "cut")],
    ]
    assert {s.points[0].at for s in built.rates} == {SINCE}
