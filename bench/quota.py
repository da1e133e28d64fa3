"""A daily quota that runs out in the middle of a batch: the relay
(``bench._relay``) accepts so many messages and answers every later one
with Exchange Online's ``SubmissionQuotaExceeded`` reply, as a mailbox does
when its day is used up. Reported: how many messages met the quota reply
(only the sends already under way when the first came may), how many
failed (none may: a quota is not the messages' fault), and how many wait.

And the same relay with ``[limiter] max_recipients_per_day`` set to its
quota: adaptsend counts the day itself and stops before the relay has to
refuse anything.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence

import attrs

from bench import _agent, _table
from bench._messages import batch
from bench._server import ServerProcess

RELAY = "bench._relay"
#: The relay's time per message, and the connections adaptsend may open
#: (the default ``max_cap``): at most this many sends are under way at once.
LATENCY_MS = 20.0
MAX_CAP = 8


@attrs.frozen(kw_only=True)
class Result:
    count: int
    quota: int
    #: ``[limiter] max_recipients_per_day``, if set.
    day_budget: int | None
    delivered: int
    duplicates: int
    #: Sends the relay answered with its quota reply.
    met_quota: int
    failed: int
    deferred: int
    drain_s: float


def run(count: int, *, quota: int, day_budget: int | None = None) -> Result:
    """Send ``count`` messages (one recipient each) to a fresh relay whose
    quota is ``quota`` messages. The run's warning that the quota or the day
    is reached, expected here, would only break up the tables."""
    log = logging.getLogger("adaptsend.run")
    quiet = logging.NullHandler()
    log.addHandler(quiet)
    propagate, log.propagate = log.propagate, False
    try:
        return _run(count, quota=quota, day_budget=day_budget)
    finally:
        log.propagate = propagate
        log.removeHandler(quiet)


def _run(count: int, *, quota: int, day_budget: int | None) -> Result:
    envelopes = batch(count, tag=f"quota-{uuid.uuid4().hex[:8]}")
    args = ["--quota", str(quota), "--latency-ms", str(LATENCY_MS)]
    limiter: dict[str, object] = {"max_cap": MAX_CAP}
    if day_budget is not None:
        limiter["max_recipients_per_day"] = day_budget
    with ServerProcess(args, module=RELAY) as relay:
        timed = _agent.send(envelopes, {"smtp": relay.smtp, "limiter": limiter})
        stats = relay.stop()
    report = timed.report
    return Result(
        count=count,
        quota=quota,
        day_budget=day_budget,
        delivered=stats.unique_messages,
        duplicates=stats.duplicate_deliveries,
        met_quota=stats.rejections,
        failed=report.failed + report.dead,
        deferred=report.deferred,
        drain_s=timed.elapsed_s,
    )


def table(results: Sequence[Result]) -> str:
    header = [
        "max_recipients_per_day",
        "messages",
        "relay's quota",
        "delivered",
        "duplicates",
        "met the quota reply",
        "failed",
        "wait (exit 4)",
        "time",
    ]
    rows = [
        [
            "unset" if r.day_budget is None else str(r.day_budget),
            str(r.count),
            str(r.quota),
            f"{r.delivered} / {r.count}",
            str(r.duplicates),
            str(r.met_quota),
            str(r.failed),
            str(r.deferred),
            f"{r.drain_s:.2f} s",
        ]
        for r in results
    ]
    return _table.render("A daily quota that runs out mid-batch", header, rows)


def verdicts(results: Sequence[Result]) -> list[str]:
    lines = []
    for r in results:
        counted = "adaptsend counting the day" if r.day_budget is not None else "the relay's reply"
        bound = 0 if r.day_budget is not None else MAX_CAP
        whole = r.delivered == r.quota and r.duplicates == 0
        waits = r.deferred == r.count - r.quota
        lines.append(
            f"quota after {r.quota} of {r.count}, found by {counted}: at most {bound} met the "
            f"quota reply: {_table.verdict(r.met_quota <= bound)} ({r.met_quota})"
        )
        lines.append(
            f"quota after {r.quota} of {r.count}, found by {counted}: none failed, the rest wait, "
            f"each delivered once: {_table.verdict(r.failed == 0 and waits and whole)} "
            f"({r.failed} failed, {r.deferred} wait, {r.delivered} delivered, "
            f"{r.duplicates} duplicates)"
        )
    return lines
