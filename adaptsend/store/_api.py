"""What the core asks of a log store. Stores are plugins; this is their contract.

Every method blocks (it talks to a database), so the core calls each one in a
worker thread with ``trio.to_thread.run_sync``. A store must therefore be safe to
call from any thread. The core calls it from one thread at a time, with one
exception: the renewals of leases, :meth:`Store.renew` and (for stores that
share budgets) ``renew_slots``, run in a lane of their own beside at most one
other call, so that a slow claim or record never lets a lease run out. A
store gives a renewal its own connection (or waits for the other call, where
it has only one).

Leases are judged on the database's clock, never the agent's: agents on
several machines disagree about the time, and the database is the one clock
they all meet.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol

import attrs

from adaptsend._errors import StoreError
from adaptsend._models import AttemptRecord, ClaimedMessage, Decision, Envelope, Reply, Status


class SchemaOutOfDate(StoreError):
    """The store's schema is older than this version of adaptsend expects.

    Stores raise :class:`StoreError` (re-exported here) with one sentence that
    never shows a password when they cannot be opened."""


@attrs.frozen(kw_only=True)
class FailureGroup:
    """Recent failed attempts that share one reply and the rule that judged
    it (None for attempts recorded before rules were kept)."""

    reply: Reply
    count: int
    last_at: dt.datetime
    sample_message_ids: tuple[str, ...]
    rule: str | None = None


@attrs.frozen(kw_only=True)
class MessageState:
    """A queued message as a report shows it."""

    id: int
    message_id: str
    status: Status
    attempts: int
    throttles: int
    last_reply: Reply | None


@attrs.frozen(kw_only=True)
class OldestUnsent:
    """The message that has waited longest to be sent, for queue-age alerts."""

    message_id: str
    queued_at: dt.datetime
    status: Status


@attrs.frozen(kw_only=True)
class PurgeCounts:
    """What a purge deleted, or would delete: final messages (each with its
    content), their attempt rows, their rows in ``source_rows``, and the
    changes of limits made before the same time (stores that keep them)."""

    messages: int
    attempts: int
    source_rows: int
    cap_changes: int = 0


class Store(Protocol):
    def enqueue(self, envelopes: Iterable[Envelope], *, sending_key: str) -> list[int]:
        """Queue messages for sending now, in one transaction; return their ids in order."""

    def claim(
        self, *, owner: str, sending_key: str, limit: int, lease_s: float
    ) -> list[ClaimedMessage]:
        """Lease up to ``limit`` messages that are due (queued, retry with a next
        attempt time that has come, or sending with an expired lease of
        another owner), chosen longest-due first, marking them ``sending``
        under ``owner`` until the database's now + ``lease_s`` (which must be
        positive). The page comes back in id (queueing) order, each with the
        time it was queued. Two owners never get the same message, and an
        owner never gets back a message it holds, even once its lease has
        expired: it may still be sending it."""

    def renew(self, *, owner: str, lease_s: float) -> int:
        """Extend every lease ``owner`` holds (its ``sending`` messages) to the
        database's now + ``lease_s``; returns how many. May run beside one
        other call (see the module docstring); a message that call is
        deciding at that moment may be left out, as its decision ends the
        lease anyway."""

    def record(
        self, attempts: Sequence[AttemptRecord], decisions: Sequence[Decision], *, owner: str
    ) -> None:
        """Write attempt rows and apply decisions in one transaction.

        Attempt rows are always written: the attempts happened. A decision
        applies only while ``owner`` still holds the lease the message was
        claimed under (another agent may have taken over an expired lease);
        it clears the lease."""

    def release(self, *, owner: str, message_pks: Iterable[int] | None = None) -> int:
        """Hand back leased messages that were not tried (all of the owner's when
        ``message_pks`` is None): back to ``queued``, or ``retry`` if tried
        before. Returns how many."""

    def next_due(self, *, sending_key: str) -> dt.datetime | None:
        """When the earliest message that is not final and not held becomes
        due; None when there is none. A ``sending`` message whose lease has not
        expired belongs to a live agent and is left out (the caller need not
        wait for it); one whose lease has expired is due now (the time
        returned is then in the past)."""

    def counts(self) -> Mapping[Status, int]:
        """Messages per status, every status present (zero where none)."""

    def recent_failures(self, *, since: dt.datetime, limit: int) -> list[FailureGroup]:
        """Failed attempts (every outcome but sent) since ``since``, grouped by
        reply code, enhanced code and text and by the rule that judged them,
        largest group first."""

    def requeue(self, *, statuses: Iterable[Status], since: dt.datetime | None) -> int:
        """Put final messages with one of ``statuses`` (updated at or after
        ``since``) back to ``queued`` with a fresh retry budget. Returns how many."""

    def unknown_attempts(self) -> int:
        """How many attempts ended ``unknown``: the content went out and no
        final reply came, so the message may have been delivered twice."""

    def states(self, message_pks: Sequence[int]) -> list[MessageState]:
        """The current state of the given messages, in the given order."""

    def oldest_unsent(self, *, sending_key: str) -> OldestUnsent | None:
        """The message of ``sending_key`` queued first among those not final
        yet (queued, sending or retry); None when every message is final."""

    def unsent_by_key(self) -> Mapping[str, int]:
        """How many messages are not final yet (queued, sending or retry), per
        sending key. A key no agent sends as any more strands its messages."""

    def adopt(self, *, from_key: str, to_key: str) -> int:
        """Move the queued and retrying messages of ``from_key`` to ``to_key``,
        so that the agent sending as ``to_key`` sends them. Messages being sent
        now are left alone. Returns how many moved."""

    def pause_key(self, *, sending_key: str, pause_s: float) -> int:
        """Make every queued and retrying message of ``sending_key`` due no
        sooner than the database's now + ``pause_s`` (a quota's pause, which
        every agent on the store then keeps). Returns how many moved."""

    def purge(self, *, before: dt.datetime, dry_run: bool = False) -> PurgeCounts:
        """Delete final messages (sent, failed, dead) last changed before
        ``before`` (naive UTC), with their content, attempt rows and source
        rows, and the history of limits older than ``before`` where the store
        keeps one; with ``dry_run``, only count them. Messages that are not final
        are never touched, nor are those whose outcome the table source has not
        written back yet. Works in transactions of bounded size that each
        commit, so agents may run meanwhile; rows another transaction is
        changing are left for a later purge. Returns the counts."""

    def close(self) -> None:
        """Release connections. The store is not used afterwards."""
