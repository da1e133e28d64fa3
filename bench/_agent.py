"""adaptsend as a benchmark runs it: a fresh SQLite store, the batch queued,
then one run until the queue is empty; or several agents on that store,
each in its own run, at once."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import trio

from adaptsend import Agent, Envelope, RunReport, config_from_dict
from adaptsend.plugins._manager import load_plugins


@attrs.frozen(kw_only=True)
class Timed:
    """A run of adaptsend and how long it took, from handing over the batch
    (queueing included) to the end of the run."""

    elapsed_s: float
    report: RunReport


def send(
    envelopes: Sequence[Envelope],
    settings: Mapping[str, Any],
    *,
    plugins: Iterable[object] = (),
) -> Timed:
    """Queue ``envelopes`` and send them in one run with ``settings`` (shaped
    like ``adaptsend.toml``, without ``[store]``)."""
    with tempfile.TemporaryDirectory(prefix="adaptsend-bench-") as workdir:
        store = {"url": f"sqlite:///{Path(workdir) / 'bench.db'}"}
        config = config_from_dict({**settings, "store": store})
        loaded = load_plugins(entry_points=False, extra=plugins)
        with Agent(config, plugins=loaded) as agent:
            return trio.run(_queue_and_run, agent, envelopes)


async def _queue_and_run(agent: Agent, envelopes: Sequence[Envelope]) -> Timed:
    started = time.perf_counter()
    await trio.to_thread.run_sync(agent.enqueue, envelopes)
    report = await agent.run()
    return Timed(elapsed_s=time.perf_counter() - started, report=report)


@attrs.frozen(kw_only=True)
class TimedTogether:
    """Runs of several agents on one store, and how long until the last ended."""

    elapsed_s: float
    reports: tuple[RunReport, ...]


def send_together(
    envelopes: Sequence[Envelope], settings: Mapping[str, Any], *, agents: int
) -> TimedTogether:
    """Queue ``envelopes`` once and send them with ``agents`` agents, each
    with its own connections to one SQLite store, in runs at once."""
    with tempfile.TemporaryDirectory(prefix="adaptsend-bench-") as workdir:
        store = {"url": f"sqlite:///{Path(workdir) / 'bench.db'}"}
        config = config_from_dict({**settings, "store": store})
        made = [Agent(config, plugins=load_plugins(entry_points=False)) for _ in range(agents)]
        try:
            return trio.run(_queue_and_run_together, made, envelopes)
        finally:
            for agent in made:
                agent.close()


async def _queue_and_run_together(
    agents: Sequence[Agent], envelopes: Sequence[Envelope]
) -> TimedTogether:
    started = time.perf_counter()
    await trio.to_thread.run_sync(agents[0].enqueue, envelopes)
    reports: list[RunReport] = []

    async def run(agent: Agent) -> None:
        reports.append(await agent.run())

    async with trio.open_nursery() as nursery:
        for agent in agents:
            nursery.start_soon(run, agent)
    return TimedTogether(elapsed_s=time.perf_counter() - started, reports=tuple(reports))
