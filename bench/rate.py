"""Message-rate budget: a batch sent with ``[limiter] max_per_minute`` to a
local sink that takes everything at once, so that only the budget sets the
pace. Its drain time is compared with the ideal: the bucket's burst goes at
once and every later message waits for its token, so the last send starts
``(count - burst) / rate`` after the first; ``count / rate`` is the figure a
person would expect of "so many a minute". Once by one agent with a bucket
of its own, and once by two agents on one SQLite store that share the
bucket through it (``[limiter] shared = true``): together they must keep
the same pace.

And a rate learnt, nothing configured: a batch to a relay (``bench._relay``)
that allows 20 messages a second and refuses the rest as too fast, answering
each in 20 ms on up to 8 connections. Its drain time is compared with
``count / limit``, and the refusals with the count.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import attrs

from adaptsend.limits._rate import RateBudget
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
    #: Agents sending at once; more than one share the bucket through the store.
    agents: int = 1

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
        timed = _agent.send(
            envelopes, {"smtp": sink.smtp, "limiter": {"max_per_minute": per_minute}}
        )
        stats = sink.stop()
    return Result(
        count=count,
        per_minute=per_minute,
        burst=RateBudget(per_minute).capacity,
        drain_s=timed.report.elapsed_s,
        delivered=stats.unique_messages,
        duplicates=stats.duplicate_deliveries,
    )


def run_shared(count: int, *, agents: int = 2, per_minute: float = PER_MINUTE) -> Result:
    """Send ``count`` messages to a fresh sink with ``agents`` agents on one
    store that share ``per_minute`` messages a minute; the drain ends with
    the last agent's run."""
    envelopes = batch(count, tag=f"shared-rate-{uuid.uuid4().hex[:8]}")
    limiter = {"max_per_minute": per_minute, "shared": True}
    with ServerProcess(module=SINK) as sink:
        timed = _agent.send_together(
            envelopes, {"smtp": sink.smtp, "limiter": limiter}, agents=agents
        )
        stats = sink.stop()
    return Result(
        count=count,
        per_minute=per_minute,
        burst=RateBudget(per_minute).capacity,
        drain_s=timed.elapsed_s,
        delivered=stats.unique_messages,
        duplicates=stats.duplicate_deliveries,
        agents=agents,
    )


def table(results: Sequence[Result]) -> str:
    header = [
        "agents",
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
            "1, own bucket" if r.agents == 1 else f"{r.agents}, one bucket in the store",
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
        who = "" if r.agents == 1 else f" by {r.agents} agents sharing it"
        lines.append(
            f"{r.count} at {r.per_minute:g}/min{who} never faster than the budget: "
            f"{_table.verdict(kept)} ({r.drain_s:.2f} s ≥ {r.earliest_s:.1f} s)"
        )
        lines.append(
            f"{r.count} at {r.per_minute:g}/min{who} drains ≤ {SLACK:.2f}x count / rate: "
            f"{_table.verdict(lost)} ({r.drain_s / r.expected_s:.3f}x)"
        )
    return lines


# -- a rate learnt from "too fast" replies --------------------------------------

RELAY = "bench._relay"
#: The relay's limit, its time per message, and the connections it allows
#: (the default ``max_cap``): the issue's SES-like relay.
RELAY_PER_SECOND = 20
RELAY_LATENCY_MS = 20.0
#: The learnt rate's targets: drain within this much of ``count / limit``,
#: with at most this share of sends refused as too fast.
LEARNT_SLACK = 1.25
LEARNT_REFUSED = 0.05


@attrs.frozen(kw_only=True)
class LearntResult:
    count: int
    per_second: int
    drain_s: float
    delivered: int
    duplicates: int
    #: Sends the relay refused as too fast, and the run's count of them.
    refused: int
    rate_limited: int
    throttled: int
    final_cap: int

    @property
    def ideal_s(self) -> float:
        return self.count / self.per_second


def run_learnt(count: int, *, per_second: int = RELAY_PER_SECOND) -> LearntResult:
    """Send ``count`` messages, nothing about the rate configured, to a fresh
    relay that allows ``per_second`` messages a second."""
    envelopes = batch(count, tag=f"learnt-{uuid.uuid4().hex[:8]}")
    args = ["--per-second", str(per_second), "--latency-ms", str(RELAY_LATENCY_MS)]
    with ServerProcess(args, module=RELAY) as relay:
        timed = _agent.send(envelopes, {"smtp": relay.smtp})
        stats = relay.stop()
    report = timed.report
    return LearntResult(
        count=count,
        per_second=per_second,
        drain_s=report.elapsed_s,
        delivered=stats.unique_messages,
        duplicates=stats.duplicate_deliveries,
        refused=stats.rejections,
        rate_limited=report.rate_limited,
        throttled=report.throttled,
        final_cap=report.final_cap,
    )


def learnt_table(results: Sequence[LearntResult]) -> str:
    header = [
        "messages",
        "relay limit",
        "drain time",
        "ideal",
        "delivered",
        "duplicates",
        "refused as too fast",
        "throttled",
        "final cap",
    ]
    rows = [
        [
            str(r.count),
            f"{r.per_second}/s",
            f"{r.drain_s:.2f} s",
            f"{r.ideal_s:.1f} s",
            f"{r.delivered} / {r.count}",
            str(r.duplicates),
            f"{r.refused} ({r.refused / r.count:.1%})",
            str(r.throttled),
            str(r.final_cap),
        ]
        for r in results
    ]
    return _table.render("Message rate learnt from a relay's too-fast replies", header, rows)


def learnt_verdicts(results: Sequence[LearntResult]) -> list[str]:
    lines = []
    for r in results:
        fast = r.drain_s <= LEARNT_SLACK * r.ideal_s
        few = r.refused <= LEARNT_REFUSED * r.count
        whole = r.delivered == r.count and r.duplicates == 0
        lines.append(
            f"{r.count} to a {r.per_second}/s relay drains ≤ {LEARNT_SLACK:.2f}x count / limit: "
            f"{_table.verdict(fast)} ({r.drain_s / r.ideal_s:.3f}x)"
        )
        lines.append(
            f"{r.count} to a {r.per_second}/s relay, ≤ {LEARNT_REFUSED:.0%} refused as too fast: "
            f"{_table.verdict(few)} ({r.refused})"
        )
        lines.append(
            f"{r.count} to a {r.per_second}/s relay, each delivered once and the cap never cut "
            f"for them: {_table.verdict(whole and r.throttled == 0)} "
            f"({r.delivered} delivered, {r.duplicates} duplicates, {r.throttled} throttled)"
        )
    return lines
