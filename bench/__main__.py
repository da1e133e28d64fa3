"""``python -m bench [--full | --tiny] [goodput] [overhead] [drain] [rate] [quota]
[metrics] [graph]``: run the benchmarks and print their tables (Markdown) with the
targets each meets.

Quick mode (the default) takes three to four minutes on a 2-core machine, full
mode about twelve; tiny mode only shows that every benchmark runs.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import sys
import time
from collections.abc import Callable, Sequence

import attrs

from adaptsend.plugins._manager import load_plugins
from bench import drain, goodput, graph, metrics, overhead, quota, rate


@attrs.frozen(kw_only=True)
class Mode:
    goodput_count: int
    overhead_count: int
    overhead_connections: int
    overhead_rounds: int
    drain_sizes: tuple[int, int]
    #: Runs per queue size; the one with the least CPU time is kept (short
    #: runs are the noisier, so they run more often).
    drain_repeats: tuple[int, int]
    #: Messages sent at 120 a minute: half a second each.
    rate_count: int
    #: Messages to a relay that allows 20 a second, the rate learnt.
    learnt_count: int
    #: Messages drained with metrics on and off, and how many times each.
    metrics_count: int
    metrics_repeats: int
    #: Messages to a relay whose daily quota runs out after 60% of them.
    quota_count: int
    #: Messages through a fake Graph that takes 4 requests at once, 0.1 s each.
    graph_count: int


MODES = {
    "tiny": Mode(
        goodput_count=12,
        overhead_count=60,
        overhead_connections=2,
        overhead_rounds=1,
        drain_sizes=(200, 1_000),
        drain_repeats=(1, 1),
        rate_count=6,
        learnt_count=40,
        metrics_count=500,
        metrics_repeats=1,
        quota_count=20,
        graph_count=40,
    ),
    "quick": Mode(
        goodput_count=300,
        overhead_count=2_000,
        overhead_connections=3,
        overhead_rounds=3,
        drain_sizes=(10_000, 100_000),
        drain_repeats=(5, 3),
        rate_count=30,
        learnt_count=200,
        metrics_count=20_000,
        metrics_repeats=5,
        quota_count=100,
        graph_count=1_500,
    ),
    "full": Mode(
        goodput_count=1_000,
        overhead_count=10_000,
        overhead_connections=3,
        overhead_rounds=5,
        drain_sizes=(10_000, 100_000),
        drain_repeats=(7, 5),
        rate_count=60,
        learnt_count=400,
        metrics_count=20_000,
        metrics_repeats=7,
        quota_count=100,
        graph_count=3_000,
    ),
}


def _goodput(mode: Mode) -> tuple[str, list[str]]:
    results = goodput.run(mode.goodput_count)
    return goodput.table(results), goodput.verdicts(results)


def _overhead(mode: Mode) -> tuple[str, list[str]]:
    connections = mode.overhead_connections
    results = overhead.run(
        mode.overhead_count, connections=connections, rounds=mode.overhead_rounds
    )
    return overhead.table(results, connections=connections), overhead.verdicts(results)


def _drain(mode: Mode) -> tuple[str, list[str]]:
    results = drain.run(mode.drain_sizes, repeats=mode.drain_repeats)
    return drain.table(results), drain.verdicts(results)


def _rate(mode: Mode) -> tuple[str, list[str]]:
    results = [rate.run(mode.rate_count), rate.run_shared(mode.rate_count)]
    learnt = [rate.run_learnt(mode.learnt_count)]
    tables = f"{rate.table(results)}\n\n{rate.learnt_table(learnt)}"
    return tables, rate.verdicts(results) + rate.learnt_verdicts(learnt)


def _metrics(mode: Mode) -> tuple[str, list[str]]:
    results = metrics.run(mode.metrics_count, repeats=mode.metrics_repeats)
    return metrics.table(results), metrics.verdicts(results)


def _quota(mode: Mode) -> tuple[str, list[str]]:
    count = mode.quota_count
    day = count * 6 // 10
    results = [quota.run(count, quota=day), quota.run(count, quota=day, day_budget=day)]
    return quota.table(results), quota.verdicts(results)


def _graph(mode: Mode) -> tuple[str, list[str]]:
    results = graph.run(mode.graph_count)
    return graph.table(results), graph.verdicts(results)


BENCHMARKS: dict[str, Callable[[Mode], tuple[str, list[str]]]] = {
    "goodput": _goodput,
    "overhead": _overhead,
    "drain": _drain,
    "rate": _rate,
    "metrics": _metrics,
    "quota": _quota,
    "graph": _graph,
}


def _parse(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--full", action="store_const", dest="mode", const="full")
    size.add_argument("--tiny", action="store_const", dest="mode", const="tiny")
    parser.add_argument(
        "benchmarks", nargs="*", metavar="BENCHMARK", help=f"any of {', '.join(BENCHMARKS)}"
    )
    parser.set_defaults(mode="quick")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.benchmarks) - set(BENCHMARKS))
    if unknown:
        parser.error(f"no benchmark named {', '.join(unknown)} (known: {', '.join(BENCHMARKS)})")
    return args


def main(argv: Sequence[str]) -> None:
    args = _parse(argv)
    mode = MODES[args.mode]
    command = " ".join(["python -m bench", *argv])
    print(f"## `{command}`\n")
    print(
        f"{args.mode} mode; Python {platform.python_version()} on {platform.system()}, "
        f"{os.cpu_count()} CPUs\n"
    )
    # Imports that every run pays once would otherwise land in the first timing.
    load_plugins(entry_points=False)
    # The runs under a changing limit raise alerts, as they should; their log
    # lines would only break up the tables.
    alerts = logging.getLogger("adaptsend.alerts")
    alerts.addHandler(logging.NullHandler())
    alerts.propagate = False
    started = time.perf_counter()
    for name in args.benchmarks or BENCHMARKS:
        table, verdicts = BENCHMARKS[name](mode)
        print(table, "", *(f"- {line}" for line in verdicts), "", sep="\n", flush=True)
    print(f"All benchmarks took {time.perf_counter() - started:.0f} s.")


if __name__ == "__main__":
    main(sys.argv[1:])
