"""Reading ``/metrics`` as Prometheus does: over HTTP, parsed by the client
library's own parser, and the naming rules ``promtool check metrics`` applies."""

from __future__ import annotations

import re
import urllib.request

import attrs
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families


@attrs.frozen
class Scrape:
    """One scrape's samples: ``value(name, label=value, ...)`` sums the
    samples of ``name`` whose labels match those given."""

    text: str
    families: tuple[Metric, ...]

    @classmethod
    def parse(cls, text: str) -> Scrape:
        return cls(text, tuple(text_string_to_metric_families(text)))

    def value(self, sample_name: str, **labels: str) -> float:
        return sum(
            sample.value
            for family in self.families
            for sample in family.samples
            if sample.name == sample_name
            and all(sample.labels.get(k) == v for k, v in labels.items())
        )

    def has(self, sample_name: str) -> bool:
        return any(s.name == sample_name for f in self.families for s in f.samples)


def scrape(url: str) -> Scrape:
    """GET ``url`` (blocking) and parse what it serves."""
    with urllib.request.urlopen(url, timeout=30) as response:
        assert response.status == 200
        return Scrape.parse(response.read().decode())


_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")
_LABEL = re.compile(r"^[a-z_][a-z0-9_]*$")
#: Units promtool asks to be written in their base unit or in full.
_NOT_BASE_UNITS = re.compile(
    r"_(milliseconds|microseconds|nanoseconds|minutes|hours|days|ms|us|ns|sec|secs|"
    r"mins|kilobytes|megabytes|gigabytes|kb|mb|gb|percent)(_|$)"
)
_TYPE_WORDS = ("counter", "gauge", "histogram", "summary")
_RESERVED_SUFFIXES = ("_bucket", "_count", "_sum", "_total")


def naming_problems(families: tuple[Metric, ...], *, prefix: str) -> list[str]:
    """What Prometheus' naming conventions (and promtool's lint) find wrong."""
    problems: list[str] = []
    for family in families:
        name = family.name
        sample_names = {s.name for s in family.samples}
        if not name.startswith(prefix) or not _NAME.match(name):
            problems.append(f"{name}: not a lower-case name starting with {prefix}")
        if not family.documentation:
            problems.append(f"{name}: no help text")
        if _NOT_BASE_UNITS.search(name):
            problems.append(f"{name}: a unit that is not a base unit")
        if any(word in name.split("_") for word in _TYPE_WORDS):
            problems.append(f"{name}: the metric type in the name")
        if family.type == "counter":
            if sample_names - {f"{name}_total", f"{name}_created"}:
                problems.append(f"{name}: counter samples must end in _total")
        elif name.endswith(_RESERVED_SUFFIXES):
            problems.append(f"{name}: a {family.type} named with a reserved suffix")
        if family.type == "histogram" and not name.endswith("_seconds"):
            problems.append(f"{name}: a duration histogram not in seconds")
        for sample in family.samples:
            for label in sample.labels:
                if label.startswith("__") or not _LABEL.match(label):
                    problems.append(f"{name}: label {label!r} is not a valid name")
                if label == "le" and family.type != "histogram":
                    problems.append(f"{name}: label le outside a histogram")
    return problems
