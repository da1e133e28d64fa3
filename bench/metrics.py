"""Metrics on and off: the drain of ``bench.drain`` (an instant in-process
transport, so that only adaptsend itself is measured), once with metrics
served and scraped every second and once without, each in a child process
of its own, taking turns.

Judged on CPU time per message, the run with the least of it kept for each
side: load from elsewhere on the machine only ever adds to CPU time, and the
scrapes' own work (in the server's thread) counts against the metrics.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from bench import _table, drain

#: Metrics on must keep this share of the rate with metrics off, at least.
RATIO_TARGET = 0.95


@attrs.frozen(kw_only=True)
class Result:
    label: str
    run: drain.Result

    @property
    def cpu_per_message_s(self) -> float:
        return self.run.drain_cpu_s / self.run.count


def run(count: int, *, repeats: int) -> list[Result]:
    """Metrics off, then on, ``repeats`` times in turn; the least CPU of each."""
    sides = {"metrics off": False, "metrics on, scraped every second": True}
    runs: dict[str, list[drain.Result]] = {label: [] for label in sides}
    for _ in range(repeats):
        for label, metrics in sides.items():
            done = drain._in_child(count, metrics=metrics)
            if done.delivered != count or done.duplicates:
                raise RuntimeError(f"{label}: delivered {done.delivered} of {count}")
            runs[label].append(done)
    return [
        Result(label=label, run=min(runs[label], key=lambda r: r.drain_cpu_s)) for label in sides
    ]


def table(results: Sequence[Result]) -> str:
    off = results[0].cpu_per_message_s
    header = ["metrics", "drain msg/s", "CPU per message", "messages per CPU second vs off"]
    rows = [
        [
            r.label,
            f"{r.run.rate:,.0f}",
            f"{r.cpu_per_message_s * 1e6:.1f} µs",
            _table.ratio(off / r.cpu_per_message_s),
        ]
        for r in results
    ]
    count = results[0].run.count
    return _table.render(f"Metrics on and off ({count:,} messages drained)", header, rows)


def verdicts(results: Sequence[Result]) -> list[str]:
    off, on = results[0].cpu_per_message_s, results[-1].cpu_per_message_s
    ratio = off / on
    return [
        f"metrics on ≥ {RATIO_TARGET:.2f}x metrics off (CPU time): "
        f"{_table.verdict(ratio >= RATIO_TARGET)} ({ratio:.3f}x)"
    ]
