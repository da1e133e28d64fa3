"""What a run tells the person who started it: live statistics and the summary."""

from __future__ import annotations

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

    @property
    def ok(self) -> bool:
        """True when nothing failed, died, or stopped the run."""
        return not (self.failed or self.dead or self.fatal or self.interrupted)
