"""Observer plugins that tests hand to a run."""

from __future__ import annotations

from adaptsend import AttemptRecord, Outcome, hookimpl
from adaptsend.engine._dispatcher import Dispatcher


class StopAfter:
    """An observer plugin that stops the dispatcher after ``count`` sends."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.dispatcher: Dispatcher | None = None

    @hookimpl
    def adaptsend_attempt_recorded(self, attempt: AttemptRecord) -> None:
        if attempt.outcome is Outcome.SENT:
            self.count -= 1
        if self.count <= 0 and self.dispatcher is not None:
            self.dispatcher.stop()
