"""The gauges of an agent's runs, read from its dispatchers when Prometheus
scrapes: the cap, open connections, sends in flight, the message rate and
pauses under way, per sending key.

A scrape runs in the metrics server's thread while the dispatcher runs in
trio's. Reading the figures then is safe because each is one attribute read
of a number (or of a frozen object), which Python's interpreter lock makes
whole, and because nothing of trio is called: a figure may be a moment old,
never torn. Reading at the scrape costs the sending nothing at all.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Protocol

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric

#: Why a sending key is paused: its server cannot be reached, it reported a
#: quota, or the daily recipient budget ([limiter] max_recipients_per_day) is used up.
PAUSE_REASONS = ("outage", "quota", "day_budget")


class LimiterView(Protocol):
    @property
    def cap(self) -> int: ...

    @property
    def open_connections(self) -> int: ...


class RateView(Protocol):
    @property
    def per_minute(self) -> float | None: ...


class OutageView(Protocol):
    @property
    def down(self) -> bool: ...

    quota: bool


class TransportView(Protocol):
    @property
    def sending_key(self) -> str: ...


class RunView(Protocol):
    """What the gauges read of a dispatcher."""

    @property
    def transport(self) -> TransportView: ...

    @property
    def limiter(self) -> LimiterView: ...

    @property
    def rate(self) -> RateView: ...

    @property
    def outage(self) -> OutageView: ...

    @property
    def in_flight(self) -> int: ...


class LiveRuns:
    """A Prometheus collector of the latest run of each sending key."""

    def __init__(self) -> None:
        self._runs: dict[str, RunView] = {}
        self._lock = threading.Lock()
        #: The sending keys whose daily recipient budget is used up now;
        #: written in trio's thread, read (one membership test) at a scrape.
        self.days_full: set[str] = set()

    def watch(self, run: RunView) -> None:
        with self._lock:
            self._runs[run.transport.sending_key] = run

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            runs = dict(self._runs)
        cap = _gauge("adaptsend_connection_cap", "Connections the limiter allows now.")
        opened = _gauge("adaptsend_open_connections", "Connections open now.")
        in_flight = _gauge("adaptsend_sends_in_flight", "Sends under way now.")
        rate = _gauge(
            "adaptsend_message_rate_limit_per_second",
            "Messages a second the adaptive rate allows now; absent while unlimited.",
        )
        paused = GaugeMetricFamily(
            "adaptsend_paused",
            "1 while the sending key is paused for this reason (outage, quota or "
            "day_budget), else 0.",
            labels=("sending_key", "reason"),
        )
        for key, run in runs.items():
            limiter, outage = run.limiter, run.outage
            cap.add_metric([key], limiter.cap)
            opened.add_metric([key], limiter.open_connections)
            in_flight.add_metric([key], run.in_flight)
            per_minute = run.rate.per_minute
            if per_minute is not None:
                rate.add_metric([key], per_minute / 60)
            quota, down = outage.quota, outage.down
            paused.add_metric([key, "outage"], 1 if down and not quota else 0)
            paused.add_metric([key, "quota"], 1 if down and quota else 0)
            paused.add_metric([key, "day_budget"], 1 if key in self.days_full else 0)
        yield from (cap, opened, in_flight, rate, paused)


def _gauge(name: str, documentation: str) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, labels=("sending_key",))
