"""An agent's Prometheus metrics, in a registry of its own (never the process's
default one), so that a program may run several agents and tell them apart.

Two kinds of figure, gathered two ways:

* What happened (attempts, messages decided, pauses, alerts) is counted as
  the dispatcher records it, in the trio thread: a dictionary increment or
  two is all a send costs (``_metrics_counts``).
* What is (the cap, open connections, sends in flight, pauses under way) is
  read from the agent's dispatchers at each scrape (``_metrics_live``); the
  queue's depth, a count over the whole store, is sampled now and then
  (``_metrics_server``).

Docs: docs/metrics.md lists every metric; a test keeps the two the same.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest

from adaptsend._models import AttemptRecord, Decision, Reply, Status
from adaptsend.alerts._model import Alert
from adaptsend.metrics._counts import RecordedCounts
from adaptsend.metrics._live import PAUSE_REASONS, LiveRuns, RunView

#: Seconds: a send over a fast relay takes milliseconds, a slow provider's
#: end of DATA many seconds; a timeout (60 s by default) ends in the last.
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class AgentMetrics:
    """The metrics of one agent. Its observer methods run in the trio thread
    and never block; :attr:`registry` may be read from any thread."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        registry = self.registry
        self._counts = RecordedCounts(DURATION_BUCKETS)
        registry.register(self._counts)
        self._pauses = Counter(
            "adaptsend_pauses",
            "Pauses of a sending key that began: reason outage (the server could "
            "not be reached), quota (the server reported a quota) or day_budget "
            "(the daily recipient budget was used up).",
            ("sending_key", "reason"),
            registry=registry,
        )
        self._alerts = Counter(
            "adaptsend_alerts",
            "Alerts raised (and resolved), by rule and severity.",
            ("rule", "severity"),
            registry=registry,
        )
        self._queue = Gauge(
            "adaptsend_queue_messages",
            "Messages in the store by status, every sending key together, as "
            "last sampled ([metrics] queue_interval_s).",
            ("status",),
            registry=registry,
        )
        self._live = LiveRuns()
        registry.register(self._live)
        # The duration of the transaction whose attempts are being told.
        self._transaction_s: float | None = None

    def watch(self, run: RunView) -> None:
        """Report ``run``'s cap, connections and pauses from now on (the last
        run of a sending key stays in view after it ends)."""
        self._live.watch(run)
        # At zero from the start: a rate over a series that appears only at
        # its first pause would miss that pause.
        for reason in PAUSE_REASONS:
            self._pauses.labels(run.transport.sending_key, reason)

    def exposition(self) -> bytes:
        """The metrics in Prometheus' text format, as ``/metrics`` serves them."""
        return generate_latest(self.registry)

    # -- what the dispatcher records (trio thread, must not block) -------------

    def attempt_recorded(self, attempt: AttemptRecord, sending_key: str) -> None:
        reply = attempt.reply
        code = reply.code
        reply_class = "none" if code is None else _REPLY_CLASSES.get(code // 100, "other")
        self._counts.attempts[sending_key, attempt.outcome, reply.stage, reply_class] += 1
        if self._transaction_s is None:
            # A message's attempts come from one transaction (recipients refused
            # inside it have records of their own): one duration for them all.
            self._transaction_s = attempt.duration_s

    def decision_recorded(self, decision: Decision, sending_key: str) -> None:
        self._counts.decisions[sending_key, decision.status] += 1
        if self._transaction_s is not None:
            self._counts.observe_duration(sending_key, self._transaction_s)
            self._transaction_s = None

    def reachability_changed(
        self, sending_key: str, unreachable_since: dt.datetime | None, reply: Reply | None
    ) -> None:
        if unreachable_since is not None:
            self._pauses.labels(sending_key, "outage").inc()

    def quota_reached(self, sending_key: str, reply: Reply) -> None:
        self._pauses.labels(sending_key, "quota").inc()

    def day_budget_changed(
        self, sending_key: str, full_since: dt.datetime | None, detail: str | None
    ) -> None:
        if full_since is None:
            self._live.days_full.discard(sending_key)
        else:
            self._live.days_full.add(sending_key)
            self._pauses.labels(sending_key, "day_budget").inc()

    def alert(self, alert: Alert) -> None:
        self._alerts.labels(alert.rule, alert.severity.value).inc()

    def queue_counted(self, counts: Mapping[Status, int]) -> None:
        for status, count in counts.items():
            self._queue.labels(status.value).set(count)


_REPLY_CLASSES = {n: f"{n}xx" for n in range(2, 6)}
