"""The ``[metrics]`` section: where a run serves its Prometheus metrics.

Part of :class:`adaptsend.Config`; kept apart because the rest of the
configuration does not need to know what a metric is.
"""

from __future__ import annotations

from typing import Any

import attrs


def _port(_inst: object, _attribute: attrs.Attribute[Any], value: int | None) -> None:
    if value is not None and not 0 <= value < 65536:
        raise ValueError(f"port must be between 0 and 65535, not {value}")


def _positive(_inst: object, attribute: attrs.Attribute[Any], value: float) -> None:
    if value <= 0:
        raise ValueError(f"{attribute.name} must be greater than 0, not {value}")


@attrs.frozen(kw_only=True)
class MetricsConfig:
    #: Serve ``/metrics`` on this TCP port while a run lasts; unset, nothing is
    #: served. 0 takes any free port (the run logs which).
    port: int | None = attrs.field(default=None, validator=_port)
    #: The address to listen on: only this machine by default. ``0.0.0.0``
    #: (or ``::``) lets a Prometheus server elsewhere scrape the agent.
    address: str = "127.0.0.1"
    #: How often the queue's depth by status is read from the store while
    #: metrics are served: a count over the whole queue, so not per message.
    queue_interval_s: float = attrs.field(default=15.0, validator=_positive)
