"""What a store tells about one period of sending, for ``adaptsend report``.

The values here are what the incident report is made of; :class:`IncidentLog`
is what a store must answer to make one. The SQL store answers every
question with a bounded result: counts are aggregated by the database, and
only rows that mark a change (a new cap, a silence) come back, never every
attempt of a busy day.

Times are naive UTC, like every time in the store.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping, Sequence
from typing import Protocol, runtime_checkable

import attrs

from adaptsend._models import Outcome, Reply, Status


@attrs.frozen(kw_only=True)
class Bucket:
    """The attempts that started in one slice of time, counted by outcome
    (every outcome present, zero where none)."""

    start: dt.datetime
    counts: Mapping[Outcome, int]

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@attrs.frozen(kw_only=True)
class CapPoint:
    """From ``at`` on, the connection cap of a sending key was ``cap``.

    ``reason`` says why it changed (a throttle's cut, a probe) when the
    source knows it; the cap read from attempts does not.
    """

    at: dt.datetime
    cap: int
    reason: str | None = None


@attrs.frozen(kw_only=True)
class CapSeries:
    """How the cap of one sending key moved: a step for each change, the
    first giving the cap at the start (the first attempt of the period, or
    the period's start for the limiter's record)."""

    sending_key: str
    points: tuple[CapPoint, ...]
    #: Where the points come from: ``attempts`` (the cap each attempt saw)
    #: or ``changes`` (the limiter's own record of each change).
    source: str = "attempts"
    #: The one agent whose own cap this is, when the key's agents each kept
    #: one; None for the key's one cap.
    agent: str | None = None


@attrs.frozen(kw_only=True)
class ReplyGroup:
    """The failed attempts of a period that got one reply and were judged
    alike (a reply judged two ways, or by two rules, makes two groups).
    ``rule`` is None for attempts recorded before rules were kept."""

    reply: Reply
    outcome: Outcome
    count: int
    first_at: dt.datetime
    last_at: dt.datetime
    sample_message_ids: tuple[str, ...]
    rule: str | None = None


@attrs.frozen(kw_only=True)
class MessageWait:
    """How long one message waited: from queueing until it ended, or until
    the period's end if it had not ended by then."""

    message_id: str
    sending_key: str
    status: Status
    queued_at: dt.datetime
    #: When it ended (sent, failed, dead); None while it waited at the period's end.
    ended_at: dt.datetime | None
    waited_s: float
    attempts: int
    throttles: int
    #: When it may be tried next, while it waits; None when not known (the
    #: message changed after the period's end).
    next_attempt_at: dt.datetime | None
    last_reply: Reply | None


class PauseKind(enum.StrEnum):
    """Why sending stopped for a while, as far as the record shows."""

    #: A quota reply came just before: the key paused until the quota cleared.
    QUOTA = "quota"
    #: No attempt while messages waited, with no quota reply before: an
    #: outage (attempts that cannot reach the server are not recorded), a
    #: long backoff, or no agent running.
    STALL = "stall"


@attrs.frozen(kw_only=True)
class Gap:
    """A silence in one sending key's attempts, as the store finds it.

    ``end`` is None for the key's last attempt of the period: nothing came
    after it before the period's end. ``waited`` says whether a message
    waited through the silence: the message tried at ``end`` had been queued
    before ``start``; or, with no end, the key had messages queued and not
    ended at the period's end.
    """

    sending_key: str
    start: dt.datetime
    end: dt.datetime | None
    waited: bool
    #: The attempt that came before the silence.
    outcome_before: Outcome
    reply_before: Reply


@attrs.frozen(kw_only=True)
class Pause:
    """A time when a sending key sent nothing while its messages waited."""

    sending_key: str
    kind: PauseKind
    #: The quota reply's attempt, or the last attempt before a stall.
    start: dt.datetime
    #: The next attempt; None when the pause went on to the period's end.
    end: dt.datetime | None
    #: The quota reply for a quota pause; else the last reply before it.
    reply: Reply
    #: The outcome of the last attempt before the silence (sends under way
    #: when a quota reply came may end after it).
    outcome_before: Outcome


@runtime_checkable
class IncidentLog(Protocol):
    """The questions ``adaptsend report`` asks a store. Every method blocks;
    ``sending_key`` None means every key. ``since`` and ``until`` are naive
    UTC: the period holds the attempts that started at or after ``since``
    and before ``until``, and the messages as they stood at ``until``.

    A message row holds its present state; one changed after ``until`` is
    read as it stood then: not ended, ``retry`` if an attempt before
    ``until`` counted against it (any outcome but quota and fatal), else
    ``queued``."""

    def sending_keys(self) -> list[str]:
        """Every sending key any message in the store was queued under."""

    def attempt_span(
        self, *, since: dt.datetime, until: dt.datetime, sending_key: str | None
    ) -> tuple[dt.datetime, dt.datetime] | None:
        """When the first and the last attempt of the period started; None
        when there was none."""

    def status_counts(
        self, *, since: dt.datetime, until: dt.datetime, sending_key: str | None
    ) -> Mapping[Status, int]:
        """Messages per status at ``until`` (every status present): those that
        ended at or after ``since`` and before ``until``, and every one queued
        before ``until`` that had not ended by then."""

    def attempt_buckets(
        self,
        *,
        start: dt.datetime,
        width_s: int,
        count: int,
        until: dt.datetime,
        sending_key: str | None,
    ) -> list[Bucket]:
        """Attempts that started before ``until``, counted by outcome in
        ``count`` consecutive slices of ``width_s`` seconds from ``start``."""

    def cap_changes_from_attempts(
        self, *, since: dt.datetime, until: dt.datetime, sending_key: str | None
    ) -> list[CapSeries]:
        """Per sending key, the cap at its first attempt of the period and
        each attempt of it after that which saw a different cap, in start
        order."""

    def reply_groups(
        self, *, since: dt.datetime, until: dt.datetime, sending_key: str | None, limit: int
    ) -> list[ReplyGroup]:
        """Failed attempts of the period (every outcome but sent) grouped by
        reply code, enhanced code and text, outcome and rule, largest group
        first."""

    def slowest_messages(
        self, *, since: dt.datetime, until: dt.datetime, sending_key: str | None, limit: int
    ) -> list[MessageWait]:
        """The messages that ended at or after ``since`` and before ``until``
        and waited longest from queueing to their end, longest first."""

    def oldest_waiting(
        self, *, until: dt.datetime, sending_key: str | None, limit: int
    ) -> list[MessageWait]:
        """The messages queued before ``until`` that had not ended by then,
        first queued first, as they stood at ``until``: waited until then."""

    def attempt_gaps(
        self, *, since: dt.datetime, until: dt.datetime, sending_key: str | None, min_gap_s: float
    ) -> list[Gap]:
        """Per key, each silence of at least ``min_gap_s`` between two
        attempts of the period, and the key's last attempt in it (``end``
        None)."""

    def quota_replies(
        self, *, since: dt.datetime, until: dt.datetime, sending_key: str | None, limit: int
    ) -> Sequence[tuple[str, dt.datetime, Reply]]:
        """The attempts of the period that ended with a quota reply: (sending
        key, started at, reply), in start order."""
