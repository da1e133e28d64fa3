"""Overhead against raw smtplib: the same messages over the same number of
connections to a fast local sink, by adaptsend and by a plain threaded script.

The strategies take turns, round after round, and each figure is the median
over the rounds, so that a burst of load from elsewhere on the machine hits
them alike.
"""

from __future__ import annotations

import functools
import statistics
import time
import uuid
from collections.abc import Callable, Sequence

import attrs
import trio

from adaptsend import Envelope
from bench import _agent, _baselines, _table
from bench._messages import batch
from bench._server import ServerProcess

SINK = "bench._sink"
RATIO_TARGET = 0.8

Strategy = Callable[[str, int, Sequence[Envelope], int], float]


@attrs.frozen(kw_only=True)
class Result:
    strategy: str
    rates: tuple[float, ...]
    #: Connections the sink accepted in the last round.
    connections: int

    @property
    def rate(self) -> float:
        return statistics.median(self.rates)


def _raw(host: str, port: int, envelopes: Sequence[Envelope], connections: int) -> float:
    return _baselines.pool(host, port, envelopes, connections=connections)


def _one_per_message(
    host: str, port: int, envelopes: Sequence[Envelope], connections: int
) -> float:
    return _baselines.one_per_message(host, port, envelopes, connections=connections)


def _adaptsend(
    host: str,
    port: int,
    envelopes: Sequence[Envelope],
    connections: int,
    *,
    pipelining: bool = True,
    chunking: bool = True,
) -> float:
    # The cap is pinned so that only the cost of sending is measured, not the search.
    fixed = {"initial_cap": connections, "min_cap": connections, "max_cap": connections}
    smtp = {
        "host": host,
        "port": port,
        "timeout_s": 30,
        "pipelining": pipelining,
        "chunking": chunking,
    }
    return _agent.send(envelopes, {"smtp": smtp, "limiter": fixed}).elapsed_s


def _trio_threads(host: str, port: int, envelopes: Sequence[Envelope], connections: int) -> float:
    started = time.perf_counter()
    trio.run(_baselines.trio_pool, host, port, envelopes, connections)
    return time.perf_counter() - started


STRATEGIES: tuple[tuple[str, Strategy], ...] = (
    ("raw smtplib, persistent connections", _raw),
    ("adaptsend", _adaptsend),
    ("adaptsend, CHUNKING turned off", functools.partial(_adaptsend, chunking=False)),
    ("adaptsend, PIPELINING turned off", functools.partial(_adaptsend, pipelining=False)),
    ("smtplib via trio threads, nothing else", _trio_threads),
    ("raw smtplib, one connection per message", _one_per_message),
)


def run(count: int, *, connections: int, rounds: int) -> list[Result]:
    """Every strategy ``rounds`` times, in turn, with ``count`` messages each."""
    rates: dict[str, list[float]] = {name: [] for name, _ in STRATEGIES}
    opened: dict[str, int] = {}
    for _ in range(rounds):
        for name, strategy in STRATEGIES:
            envelopes = batch(count, tag=uuid.uuid4().hex[:12])
            with ServerProcess(module=SINK) as sink:
                elapsed = strategy(sink.host, sink.port, envelopes, connections)
                stats = sink.stop()
            if stats.unique_messages != count or stats.duplicate_deliveries:
                raise RuntimeError(f"{name} delivered {stats.unique_messages} of {count}")
            rates[name].append(count / elapsed)
            opened[name] = stats.connections
    return [
        Result(strategy=name, rates=tuple(rates[name]), connections=opened[name])
        for name, _ in STRATEGIES
    ]


def table(results: Sequence[Result], *, connections: int) -> str:
    raw = results[0].rate
    header = ["strategy", "connections opened", "messages/s", "vs raw smtplib"]
    rows = [
        [r.strategy, f"{r.connections:,}", f"{r.rate:,.0f}", _table.ratio(r.rate / raw)]
        for r in results
    ]
    title = f"Overhead against raw smtplib ({connections} connections, fast local sink)"
    return _table.render(title, header, rows)


def verdicts(results: Sequence[Result]) -> list[str]:
    by_name = {r.strategy: r.rate for r in results}
    ours = by_name["adaptsend"] / by_name[STRATEGIES[0][0]]
    reuse = by_name[STRATEGIES[0][0]] / by_name[STRATEGIES[-1][0]]
    return [
        f"adaptsend ≥ {RATIO_TARGET:.1f}x raw smtplib: {_table.verdict(ours >= RATIO_TARGET)} "
        f"({ours:.2f}x)",
        f"connection reuse: persistent connections send {reuse:.1f}x as fast as "
        "one connection per message",
    ]
