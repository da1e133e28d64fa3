"""The core components that watch a run beside the plugins: the alert engine
and the metrics registry.

They are called directly rather than through the plugin manager, so that
agents sharing one :class:`~adaptsend.plugins._manager.Plugins` never see
each other's events, and they hear of things no hook carries (a quota, a
daily budget used up). Like the observer hooks, their methods run in the
trio thread and must not block; what they raise is logged and sending goes on.
"""

from __future__ import annotations

import datetime as dt
from typing import Protocol

from adaptsend._models import AttemptRecord, Decision, Reply


class Observer(Protocol):
    """What a core observer is told, each as it happens."""

    def attempt_recorded(self, attempt: AttemptRecord, sending_key: str) -> None: ...

    def decision_recorded(self, decision: Decision, sending_key: str) -> None: ...

    def reachability_changed(
        self, sending_key: str, unreachable_since: dt.datetime | None, reply: Reply | None
    ) -> None: ...

    def quota_reached(self, sending_key: str, reply: Reply) -> None: ...

    def day_budget_changed(
        self, sending_key: str, full_since: dt.datetime | None, detail: str | None
    ) -> None:
        """The daily recipient budget of ``sending_key`` has been used up
        since ``full_since`` (naive UTC), ``detail`` saying how far; or (both
        None) a message fits again."""
        ...
