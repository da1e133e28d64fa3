"""Microsoft Graph's concurrency limit, hidden: a batch through the fake
Graph server (``adaptsend.testing.FakeGraphServer``) that takes
:data:`LIMIT` requests at once for the mailbox, answers the excess with
``429`` and ``Retry-After``, and refuses every request inside that window.

Measured in one run against a sender that knows the limit: adaptsend with
its cap fixed at :data:`LIMIT`, which is never refused. The adaptive run
pays for finding the limit and for each later probe above it with a whole
``Retry-After`` of the mailbox; the targets are its drain time against the
knowing sender's, and that no request goes out inside a window but those
already on their way when it opened.
"""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import Sequence
from typing import Any

import adaptsend_graph
import attrs

from adaptsend.testing import DEFAULT_GRAPH_TOKEN, FakeGraphServer
from adaptsend.testing.graph import ON_THE_WAY_S
from bench import _agent, _table
from bench._messages import batch

#: Graph's documented limit of concurrent requests per app and mailbox.
LIMIT = 4
#: Graph's own time per sendMail is a tenth of a second or more.
LATENCY_S = 0.1
#: Graph sends whole seconds.
RETRY_AFTER_S = 1.0
SLACK = 1.10

MAILBOX = "reports@bench.invalid"


@attrs.frozen(kw_only=True)
class Result:
    strategy: str
    count: int
    drain_s: float
    delivered: int
    duplicates: int
    #: ``429`` answers, windows opened, and requests that arrived inside one
    #: (all of them, and those not on their way).
    refused: int
    windows: int
    in_window: int
    sent_in_window: int
    max_concurrent: int
    final_cap: int


def run(count: int) -> list[Result]:
    """The knowing sender, then adaptsend not told the limit; each against a
    fresh fake Graph, one after the other in this process."""
    known = {"initial_cap": LIMIT, "min_cap": LIMIT, "max_cap": LIMIT}
    return [
        _run("knows the limit (cap fixed at 4)", count, known),
        _run("adaptsend (not told)", count, {}),
    ]


def _run(strategy: str, count: int, limiter: dict[str, Any]) -> Result:
    envelopes = batch(count, tag=f"graph-{uuid.uuid4().hex[:8]}")
    with FakeGraphServer(limit=LIMIT, latency_s=LATENCY_S, retry_after_s=RETRY_AFTER_S) as graph:
        timed = _agent.send(envelopes, _settings(graph, limiter), plugins=[adaptsend_graph])
        stats = graph.statistics()
        late = graph.sent_in_windows()
    return Result(
        strategy=strategy,
        count=count,
        drain_s=timed.report.elapsed_s,
        delivered=stats.unique_messages,
        duplicates=stats.duplicate_deliveries,
        refused=stats.throttled,
        windows=stats.windows,
        in_window=stats.in_window,
        sent_in_window=late,
        max_concurrent=stats.max_concurrent,
        final_cap=timed.report.final_cap,
    )


def _settings(graph: FakeGraphServer, limiter: dict[str, Any]) -> dict[str, Any]:
    token = json.dumps({"access_token": DEFAULT_GRAPH_TOKEN, "expires_in": 3600})
    oauth = {"provider": "command", "command": [sys.executable, "-c", f"print({token!r})"]}
    return {
        "run": {"transport": "graph"},
        "limiter": limiter,
        "plugin": {
            "graph": {"mailbox": MAILBOX, "base_url": graph.base_url, "oauth": oauth},
        },
    }


def table(results: Sequence[Result]) -> str:
    header = [
        "sender",
        "messages",
        "drain time",
        "vs knowing",
        "delivered",
        "duplicates",
        "429s",
        "windows",
        "in a window",
        "sent in a window",
        "final cap",
    ]
    base = results[0].drain_s
    rows = [
        [
            r.strategy,
            str(r.count),
            f"{r.drain_s:.2f} s",
            _table.ratio(r.drain_s / base),
            f"{r.delivered} / {r.count}",
            str(r.duplicates),
            str(r.refused),
            str(r.windows),
            str(r.in_window),
            str(r.sent_in_window),
            str(r.final_cap),
        ]
        for r in results
    ]
    title = (
        f"Graph, a hidden limit of {LIMIT} requests "
        f"({LATENCY_S:g} s each, Retry-After {RETRY_AFTER_S:g} s)"
    )
    return _table.render(title, header, rows)


def verdicts(results: Sequence[Result]) -> list[str]:
    known, adaptive = results
    ratio = adaptive.drain_s / known.drain_s
    whole = all(r.delivered == r.count and r.duplicates == 0 for r in results)
    return [
        f"drain ≤ {SLACK:.2f}x a sender that knows the limit: "
        f"{_table.verdict(ratio <= SLACK)} ({ratio:.3f}x)",
        "no request sent inside a Retry-After window but those on their way: "
        f"{_table.verdict(adaptive.sent_in_window == 0)} ({adaptive.in_window} arrived in one, "
        f"{adaptive.sent_in_window} more than {ON_THE_WAY_S * 1000:g} ms after it opened)",
        f"every message delivered once: {_table.verdict(whole)}",
    ]
