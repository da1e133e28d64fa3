"""Running the dispatcher for a person: signals, progress, and cap changes.

The first Ctrl-C (or SIGTERM) stops claiming and lets the sends in progress
finish and be recorded; the second aborts at once, leaving the messages whose
sends were in progress leased until the lease expires.
"""

from __future__ import annotations

import logging
import signal

import trio
from rich.console import Console

from adaptsend.cli._progress import describe_change, show_progress
from adaptsend.engine._dispatcher import Dispatcher
from adaptsend.engine._report import RunReport
from adaptsend.hookspecs import hookimpl
from adaptsend.limits._records import CapChange

log = logging.getLogger("adaptsend.run")


class CapChangeLogger:
    """An observer plugin that logs every change of the connection cap."""

    @hookimpl
    def adaptsend_cap_changed(self, sending_key: str, change: CapChange) -> None:
        log.info("%s: %s", sending_key, describe_change(change))


async def run_with_signals(
    dispatcher: Dispatcher, *, console: Console | None, live: bool
) -> RunReport:
    """Run ``dispatcher`` to its end; show progress on ``console`` if given."""
    report: RunReport | None = None
    async with trio.open_nursery() as nursery:
        abort = trio.CancelScope()
        nursery.start_soon(_watch_signals, dispatcher, abort)
        if console is not None:
            nursery.start_soon(lambda: show_progress(dispatcher.statistics, console, live=live))
        with abort:
            report = await dispatcher.run()
        nursery.cancel_scope.cancel()
    return report if report is not None else dispatcher.aborted_report()


async def _watch_signals(dispatcher: Dispatcher, abort: trio.CancelScope) -> None:
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async for signum in signals:
            name = signal.Signals(signum).name
            if not dispatcher.stopping:
                log.warning(
                    "%s: stopping; %d send(s) in progress will finish (again to abort)",
                    name,
                    dispatcher.in_flight,
                )
                dispatcher.stop()
            else:
                log.warning("%s: aborting", name)
                abort.cancel()
