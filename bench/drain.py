"""Queue drain and scale: a large queue through an in-process transport that
accepts every message at once, so that only adaptsend itself is measured.

Each queue size runs in a child process of its own, so that its peak memory
is its own. The queue is filled from a generator, never held in memory whole.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import attrs
import trio

from adaptsend import Agent, Envelope, RunReport, config_from_dict
from adaptsend.plugins._manager import load_plugins
from adaptsend.testing import InstantTransportPlugin
from bench import _table

RATE_TARGET = 5_000.0
RSS_TARGET_MB = 250.0
#: time(large) / time(small) may exceed large / small by this factor at most.
GROWTH_SLACK = 1.1

_CONTENT = b"Subject: drain\r\n\r\n" + b"A line of a small report for the drain benchmark.\r\n" * 8


@attrs.frozen(kw_only=True)
class Result:
    count: int
    enqueue_s: float
    drain_s: float
    #: CPU time of the whole process while draining: the work done, which a
    #: burst of load from elsewhere on the machine does not stretch.
    drain_cpu_s: float
    peak_rss_mb: float
    delivered: int
    duplicates: int

    @property
    def rate(self) -> float:
        return self.count / self.drain_s


def run(sizes: Sequence[int], *, repeats: Sequence[int]) -> list[Result]:
    """Drain each queue size as many times as its ``repeats``, each time in a
    fresh child process, the sizes taking turns so that a burst of load from
    elsewhere hits them alike. Keeps the run with the least CPU time (load
    from elsewhere only ever adds to it, through the caches and the host's
    scheduling) and the highest peak memory of each size."""
    runs: dict[int, list[Result]] = {size: [] for size in sizes}
    for turn in range(max(repeats)):
        for size, times in zip(sizes, repeats, strict=True):
            if turn < times:
                runs[size].append(_in_child(size))
    results = []
    for size in sizes:
        least = min(runs[size], key=lambda r: r.drain_cpu_s)
        peak = max(r.peak_rss_mb for r in runs[size])
        results.append(attrs.evolve(least, peak_rss_mb=peak))
    return results


def _in_child(count: int, *, metrics: bool = False) -> Result:
    command = [sys.executable, "-m", "bench.drain", str(count), *(["--metrics"] if metrics else [])]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return Result(**json.loads(done.stdout.splitlines()[-1]))


def _envelopes(count: int) -> Iterator[Envelope]:
    for n in range(count):
        message_id = f"<drain-{n}@bench.invalid>"
        yield Envelope(
            message_id=message_id,
            sender="reports@bench.invalid",
            recipients=(f"team{n % 7}@bench.invalid",),
            content=b"Message-ID: " + message_id.encode() + b"\r\n" + _CONTENT,
        )


def drain(count: int, *, metrics: bool = False) -> Result:
    """Queue ``count`` messages into a fresh SQLite store and send them all;
    with ``metrics``, serve them meanwhile and scrape them every second."""
    plugin = InstantTransportPlugin()
    with tempfile.TemporaryDirectory(prefix="adaptsend-drain-") as workdir:
        settings: dict[str, Any] = {
            "store": {"url": f"sqlite:///{Path(workdir) / 'drain.db'}"},
            "run": {"transport": "instant"},
        }
        if metrics:
            settings["metrics"] = {"port": 0}
        config = config_from_dict(settings)
        with Agent(config, plugins=load_plugins(entry_points=False, extra=[plugin])) as agent:
            started = time.perf_counter()
            agent.enqueue(_envelopes(count))
            queued, queued_cpu = time.perf_counter(), time.process_time()
            report = trio.run(_run_scraped if metrics else _run, agent)
            drained, drained_cpu = time.perf_counter(), time.process_time()
    deliveries = plugin.transport.deliveries
    assert report.sent == count, report
    return Result(
        count=count,
        enqueue_s=queued - started,
        drain_s=drained - queued,
        drain_cpu_s=drained_cpu - queued_cpu,
        peak_rss_mb=_peak_rss_mb(),
        delivered=len(deliveries),
        duplicates=sum(n - 1 for n in deliveries.values()),
    )


async def _run(agent: Agent) -> RunReport:
    return await agent.run()


async def _run_scraped(agent: Agent) -> RunReport:
    """The run as ``Agent.run`` makes it, scraped every second meanwhile (a
    Prometheus server scrapes every 15 s or so: this is the heavier case)."""
    async with agent.alerting(), agent.keeping_metrics():
        endpoint = agent.metrics_endpoint
        assert endpoint is not None
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_scrape_every_second, endpoint.url)
            report = await agent.dispatcher().run()
            nursery.cancel_scope.cancel()
    return report


async def _scrape_every_second(url: str) -> None:
    def scrape() -> None:
        with urllib.request.urlopen(url, timeout=30) as response:
            response.read()

    while True:
        await trio.to_thread.run_sync(scrape)
        await trio.sleep(1.0)


def _peak_rss_mb() -> float:
    """This process's peak resident memory. Linux's ``ru_maxrss`` would count
    the parent's memory as well (this process was a copy of it until exec);
    the high-water mark in /proc is this program's own."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def table(results: Sequence[Result]) -> str:
    header = [
        "queued",
        "queue msg/s",
        "drain msg/s",
        "drain time",
        "per message",
        "CPU per message",
        "peak RSS",
        "delivered",
        "duplicates",
    ]
    rows = [
        [
            f"{r.count:,}",
            f"{r.count / r.enqueue_s:,.0f}",
            f"{r.rate:,.0f}",
            f"{r.drain_s:.2f} s",
            f"{r.drain_s / r.count * 1e6:.0f} µs",
            f"{r.drain_cpu_s / r.count * 1e6:.0f} µs",
            f"{r.peak_rss_mb:.0f} MB",
            f"{r.delivered:,}",
            str(r.duplicates),
        ]
        for r in results
    ]
    return _table.render("Queue drain through an instant in-process transport", header, rows)


def verdicts(results: Sequence[Result]) -> list[str]:
    small, large = results[0], results[-1]
    # Judged on CPU time: a long run always takes in some load from elsewhere
    # on a shared machine, while a short one often misses it.
    growth = large.drain_cpu_s / small.drain_cpu_s
    wall = large.drain_s / small.drain_s
    allowed = GROWTH_SLACK * large.count / small.count
    worst_rss = max(r.peak_rss_mb for r in results)
    return [
        f"≥ {RATE_TARGET:,.0f} messages/s at {large.count:,}: "
        f"{_table.verdict(large.rate >= RATE_TARGET)} ({large.rate:,.0f}/s)",
        f"peak RSS ≤ {RSS_TARGET_MB:.0f} MB: {_table.verdict(worst_rss <= RSS_TARGET_MB)} "
        f"({worst_rss:.0f} MB)",
        f"time({large.count:,}) ≤ {allowed:.0f}x time({small.count:,}): "
        f"{_table.verdict(growth <= allowed)} (CPU time {growth:.1f}x; wall time {wall:.1f}x)",
    ]


if __name__ == "__main__":
    print(json.dumps(attrs.asdict(drain(int(sys.argv[1]), metrics="--metrics" in sys.argv[2:]))))
