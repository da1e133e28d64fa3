"""The per-message counters of an agent's metrics, kept in plain dictionaries.

Every recorded attempt adds to them, so they must cost next to nothing:
``prometheus_client``'s own counters take a label lookup and a lock per
increment, several microseconds a message, while a dictionary increment
takes a fraction of one. Only the trio thread writes them; a scrape, in the
metrics server's thread, copies each dictionary in one step (which Python's
interpreter lock makes whole) and turns the copies into metric families.
"""

from __future__ import annotations

import bisect
import collections
from collections.abc import Iterator, Sequence

from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily
from prometheus_client.metrics_core import Metric

AttemptKey = tuple[str, str, str, str]


class RecordedCounts:
    """Attempts, messages decided and send times; a Prometheus collector."""

    def __init__(self, duration_buckets: Sequence[float]) -> None:
        self._bounds = tuple(duration_buckets)
        #: (sending key, outcome, stage, reply class) -> attempts
        self.attempts: collections.defaultdict[AttemptKey, int] = collections.defaultdict(int)
        #: (sending key, status) -> messages
        self.decisions: collections.defaultdict[tuple[str, str], int] = collections.defaultdict(int)
        #: sending key -> observations per bucket (the last past every bound)
        self._buckets: dict[str, list[int]] = {}
        #: sending key -> sum of the observed seconds
        self._seconds: dict[str, float] = {}

    def observe_duration(self, sending_key: str, seconds: float) -> None:
        buckets = self._buckets.get(sending_key)
        if buckets is None:
            buckets = self._buckets[sending_key] = [0] * (len(self._bounds) + 1)
            self._seconds[sending_key] = 0.0
        # A value on a bound belongs to that bound's bucket (le: less or equal).
        buckets[bisect.bisect_left(self._bounds, seconds)] += 1
        self._seconds[sending_key] += seconds

    def collect(self) -> Iterator[Metric]:
        attempts = CounterMetricFamily(
            "adaptsend_attempts",
            "Attempts recorded, by outcome, the SMTP stage that ended them, and "
            "the class of the reply (2xx, 4xx, 5xx, or none for a local error).",
            labels=("sending_key", "outcome", "stage", "reply_class"),
        )
        for labels, count in self.attempts.copy().items():
            attempts.add_metric(labels, count)
        decided = CounterMetricFamily(
            "adaptsend_messages_decided",
            "Messages whose attempt was recorded, by the status it left them in.",
            labels=("sending_key", "status"),
        )
        for key_and_status, count in self.decisions.copy().items():
            decided.add_metric(key_and_status, count)
        yield from (attempts, decided, self._durations())

    def _durations(self) -> HistogramMetricFamily:
        family = HistogramMetricFamily(
            "adaptsend_send_duration_seconds",
            "Time from the start of a send (connecting included) to its final reply.",
            labels=("sending_key",),
        )
        seconds = self._seconds.copy()
        for key, buckets in self._buckets.copy().items():
            counts = list(buckets)
            cumulative, running = [], 0
            for bound, count in zip((*self._bounds, float("inf")), counts, strict=True):
                running += count
                cumulative.append((_bound_text(bound), running))
            family.add_metric([key], cumulative, seconds.get(key, 0.0))
        return family


def _bound_text(bound: float) -> str:
    return "+Inf" if bound == float("inf") else repr(float(bound))
