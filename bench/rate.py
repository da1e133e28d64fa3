"""Message-rate budget: a batch sent with ``[limiter] max_per_minute`` to a
local sink that takes everything at once, so that only the budget sets the
pace. Its drain time is compared with the ideal: the bucket's burst goes at
once and every later message waits for its token, so the last send starts
``(count - burst) / rate`` after the first; ``count / rate`` is the figure a
person would expect of "so many a minute".
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import attrs

from adaptsend._rate import RateBudget
from bench import _agent, _table
from bench._messages import batch
from bench._server import ServerProcess

SINK = "bench._sink"
PER_MINUTE = 120.0
#: The drain may take this much longer than ``count / rate``: the sends
#: themselves and recording the last outcomes.
SLACK = 1.05


@attrs.frozen(kw_only=True)
class Result:
    count: int
    per_minute: float
    burst: float
    drain_s: float
    delivered: int
    duplicates: int

    @property
    def earliest_s(self) -> float:
        return (self.count - self.burst) / (self.per_minute / 60)

    @property
    def expected_s(self) -> float:
        return self.count / (self.per_minute / 60)


def run(count: int, *, per_minute: float = PER_MINUTE) -> Result:
    """Send ``count`` messages to a fresh sink at ``per_minute`` messages a minute."""
    envelopes = batch(count, tag=f"rate-{uuid.uuid4().hex[:8]}")
    with ServerProcess(module=SINK) as sink:
        smtp = {"host": sink.host, "port": sink.port, "timeout_s": 30}
        timed = _agent.send(envelopes, {"smtp": smtp, "limiter": {"max_per_minute": per_minute}})
        stats = sink.stop()
    return Result(
        count=count,
        per_minute=per_minute,
        burst=RateBudget(per_minute).capacity,
        drain_s=timed.report.elapsed_s,
        delivered=stats.unique_messages,
        duplicates=stats.duplicate_deliveries,
    )


def table(results: Sequence[Result]) -> str:
    header = [
        "messages",
        "max_per_minute",
        "burst",
        "drain time",
        "ideal",
        "delivered",
        "duplicates",
    ]
    rows = [
        [
            str(r.count),
            f"{r.per_minute:g}",
            f"{r.burst:g}",
            f"{r.drain_s:.2f} s",
            f"{r.earliest_s:.1f} to {r.expected_s:.1f} s",
            f"{r.delivered} / {r.count}",
            str(r.duplicates),
        ]
        for r in results
    ]
    return _table.render("Message-rate budget to an unlimited sink", header, rows)


def verdicts(results: Sequence[Result]) -> list[str]:
    lines = []
    for r in results:
        kept = r.drain_s >= r.earliest_s
        lost = r.drain_s <= SLACK * r.expected_s
        lines.append(
            f"{r.count} at {r.per_minute:g}/min never faster than the budget: "
            f"{_table.verdict(kept)} ({r.drain_s:.2f} s ≥ {r.earliest_s:.1f} s)"
        )
        lines.append(
            f"{r.count} at {r.per_minute:g}/min drains ≤ {SLACK:.2f}x count / rate: "
            f"{_table.verdict(lost)} ({r.drain_s / r.expected_s:.3f}x)"
        )
    return lines
