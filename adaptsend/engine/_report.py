"""What a run tells the person who started it: live statistics and the summary."""

from __future__ import annotations

import datetime as dt

import attrs

from adaptsend._models import Reply


@attrs.frozen(kw_only=True)
class DispatcherStatistics:
    """A snapshot of a running dispatcher, for progress displays and tests."""

    cap: int
    open_connections: int
    in_flight: int
    sent: int
    retrying: int
    failed: int
    dead: int
    throttled: int
    attempts: int
    elapsed_s: float
    unknown: int = 0
    #: How long the server has not been reachable, in seconds; None while it is.
    unreachable_s: float | None = None
    #: Attempts refused as too fast (outcome ``rate``): they cut the message
    #: rate, not the cap, and are not in ``throttled``.
    rate_limited: int = 0
    #: The message rate allowed now, a minute; None while unlimited.
    per_minute: float | None = None
    #: While the daily recipient budget has no room for the next message:
    #: how far it is used, in one sentence. None while it has room.
    day_used_up: str | None = None

    @property
    def rate(self) -> float:
        """Messages sent per second since the run started."""
        return self.sent / self.elapsed_s if self.elapsed_s > 0 else 0.0


@attrs.frozen(kw_only=True)
class RunReport:
    """How a run ended.

    ``fatal`` is the reply that stopped the run, if one did; ``interrupted`` is
    True when it was asked to stop (a signal, or a caller). Messages not
    finished stay queued for the next run.

    ``unknown`` counts attempts whose content went out with no final reply:
    each may have delivered its message once more than ``sent`` says.
    ``deferred`` counts messages left waiting because the server could not be
    reached for ``[run] outage_wait_s``, a quota paused the sending key, or
    its daily recipient budget was used up; ``deferred_by`` is the reply that
    made them wait (``waiting_for`` says what, when no reply did), and
    ``next_due`` when the first of them is due, if they wait for a time
    rather than for the server.
    """

    sent: int
    failed: int
    dead: int
    throttled: int
    attempts: int
    released: int
    elapsed_s: float
    final_cap: int
    cap_changes: int
    fatal: Reply | None = None
    interrupted: bool = False
    unknown: int = 0
    deferred: int = 0
    deferred_by: Reply | None = None
    #: When the first waiting message is due, when the run ended because none
    #: was due within ``[run] outage_wait_s`` (a quota's pause, a long backoff).
    next_due: dt.datetime | None = None
    #: Attempts refused as too fast (outcome ``rate``), not in ``throttled``.
    rate_limited: int = 0
    #: What the waiting messages wait for when no reply says so: a sentence
    #: such as "the daily recipient budget of ... is used up (...)".
    waiting_for: str | None = None

    @property
    def ok(self) -> bool:
        """True when nothing failed, died, waits for the server, or stopped the run."""
        return not (self.failed or self.dead or self.fatal or self.interrupted or self.deferred)
