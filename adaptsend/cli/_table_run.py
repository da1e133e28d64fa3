"""``adaptsend run --source table``: the site's rows go into the queue before
the first claim; with ``--follow`` new rows are read and outcomes written back
every ``interval_s``; when the run ends, every final outcome is written back.

Outcomes are written back at the end rather than one by one as messages
finish: the site's table is then written in a few large transactions, and a
message retried within the run reports only its final outcome.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable

import attrs
import trio

from adaptsend._errors import ConfigError, SourceError
from adaptsend.agent._agent import Agent
from adaptsend.cli._common import EXIT_FAILED, EXIT_OK
from adaptsend.config._store_url import scheme
from adaptsend.engine._report import RunReport
from adaptsend.sources._table_source import IngestResult, TableSource
from adaptsend.store._source_api import SourceLedger

log = logging.getLogger("adaptsend.source.table")


@attrs.define
class TableTotals:
    """What the table source did over a whole run."""

    queued: int = 0
    rejected: int = 0
    written_back: int = 0
    #: Whether writing back failed at the end (the next run writes them).
    write_back_failed: bool = False

    def count(self, result: IngestResult) -> None:
        self.queued += result.queued
        self.rejected += len(result.rejected)

    def describe(self) -> str:
        line = (
            f"table: queued {self.queued} row(s), rejected {self.rejected}, "
            f"wrote back {self.written_back} outcome(s)"
        )
        return line + (
            " (writing back failed; the next run retries)" if self.write_back_failed else ""
        )


def open_table_source(agent: Agent) -> TableSource:
    """The ``[source.table]`` of ``agent``'s configuration, on its store."""
    store = agent.store
    if not isinstance(store, SourceLedger):
        raise ConfigError(
            f"the store for {scheme(agent.config.store.url)} URLs keeps no ledger "
            "of source rows, which --source table needs"
        )
    return TableSource(
        agent.config.source.table,
        ledger=store,
        store_url=agent.config.store.url,
        sending_key=agent.sending_key,
    )


async def run_with_table(
    source: TableSource, drain: Callable[[], Awaitable[RunReport]], *, follow: bool
) -> tuple[RunReport, TableTotals]:
    """Ingest, run ``drain`` (the dispatcher), and write back what finished."""
    totals = TableTotals()
    # A query that fails now is a configuration to fix: let it stop the run.
    totals.count(await trio.to_thread.run_sync(source.ingest))
    async with trio.open_nursery() as nursery:
        if follow:
            nursery.start_soon(_keep_in_step, source, totals)
        report = await drain()
        nursery.cancel_scope.cancel()
    try:
        totals.written_back += await trio.to_thread.run_sync(source.write_back)
    except SourceError as e:
        log.error("%s The outcomes stay unreported; the next run writes them back.", e)
        totals.write_back_failed = True
    return report, totals


async def _keep_in_step(source: TableSource, totals: TableTotals) -> None:
    interval = source.config.interval_s
    while True:
        await trio.sleep(interval)
        try:
            totals.count(await trio.to_thread.run_sync(source.ingest))
            totals.written_back += await trio.to_thread.run_sync(source.write_back)
        except SourceError as e:
            # The site's database may be briefly away; sending goes on.
            log.warning("%s Trying again in %g s.", e, interval)


async def drain_source(
    source: str, agent: Agent, drain: Callable[[], Awaitable[RunReport]], *, follow: bool
) -> tuple[RunReport, TableTotals | None]:
    """Run ``drain`` fed from ``source``: ``queue`` as it is, ``table`` with
    the site's rows (see :func:`run_with_table`)."""
    if source == "queue":
        return await drain(), None
    table = open_table_source(agent)
    try:
        return await run_with_table(table, drain, follow=follow)
    finally:
        table.close()


def with_table(report_json: str, totals: TableTotals | None) -> str:
    """The run's JSON summary, with the table source's totals under ``table``."""
    if totals is None:
        return report_json
    summary = json.loads(report_json)
    summary["table"] = attrs.asdict(totals)
    return json.dumps(summary)


def table_exit_code(code: int, totals: TableTotals | None) -> int:
    """The run's exit code, or 1 where it was 0 but rows were rejected or
    outcomes could not be written back."""
    if code == EXIT_OK and totals is not None and (totals.rejected or totals.write_back_failed):
        return EXIT_FAILED
    return code
