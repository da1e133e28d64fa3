"""What a run has done so far, counted from the outcomes it recorded: the
live statistics and the final report are both read from here."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from adaptsend._models import Outcome, Reply, Status
from adaptsend.engine._judge import Judgement
from adaptsend.engine._report import DispatcherStatistics, RunReport

_ENDED = (Status.SENT, Status.FAILED, Status.DEAD)


class RunTally:
    def __init__(self) -> None:
        self.counts = dict.fromkeys(Status, 0)
        self.attempts = 0
        self.throttled = 0
        self.rate_limited = 0
        self.unknown = 0
        self.cap_changes = 0
        #: Messages waiting for a retry this run will make.
        self.retrying: set[int] = set()

    def add(self, judgement: Judgement, *, retries: bool) -> bool:
        """Count one recorded judgement; ``retries`` says whether this run
        still makes retries. Returns whether a retry was scheduled."""
        decision = judgement.decision
        self.attempts += 1
        if judgement.signal is Outcome.THROTTLED:
            self.throttled += 1
        elif judgement.signal is Outcome.RATE:
            self.rate_limited += 1
        elif judgement.signal is Outcome.UNKNOWN:
            self.unknown += 1
        if decision.status in _ENDED:
            self.counts[decision.status] += 1
        if decision.status is Status.RETRY and retries:
            self.retrying.add(decision.message_pk)
            return True
        self.retrying.discard(decision.message_pk)
        return False

    def claimed(self, message_pks: Iterable[int]) -> None:
        self.retrying.difference_update(message_pks)

    def statistics(
        self,
        *,
        cap: int,
        open_connections: int,
        in_flight: int,
        elapsed_s: float,
        unreachable_s: float | None,
        per_minute: float | None = None,
        day_used_up: str | None = None,
    ) -> DispatcherStatistics:
        return DispatcherStatistics(
            cap=cap,
            open_connections=open_connections,
            in_flight=in_flight,
            sent=self.counts[Status.SENT],
            retrying=len(self.retrying),
            failed=self.counts[Status.FAILED],
            dead=self.counts[Status.DEAD],
            throttled=self.throttled,
            attempts=self.attempts,
            elapsed_s=elapsed_s,
            unknown=self.unknown,
            unreachable_s=unreachable_s,
            rate_limited=self.rate_limited,
            per_minute=per_minute,
            day_used_up=day_used_up,
        )

    def report(
        self,
        *,
        released: int,
        elapsed_s: float,
        final_cap: int,
        fatal: Reply | None,
        interrupted: bool,
        deferred: int,
        deferred_by: Reply | None,
        next_due: dt.datetime | None,
        waiting_for: str | None = None,
    ) -> RunReport:
        return RunReport(
            sent=self.counts[Status.SENT],
            failed=self.counts[Status.FAILED],
            dead=self.counts[Status.DEAD],
            throttled=self.throttled,
            attempts=self.attempts,
            released=released,
            elapsed_s=elapsed_s,
            final_cap=final_cap,
            cap_changes=self.cap_changes,
            fatal=fatal,
            interrupted=interrupted,
            unknown=self.unknown,
            deferred=deferred,
            deferred_by=deferred_by,
            next_due=next_due,
            rate_limited=self.rate_limited,
            waiting_for=waiting_for,
        )
