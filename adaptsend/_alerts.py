"""Alerts: telling a person that mail is not getting through.

A run raises an alert when it stops on a fatal reply and when it ends with
messages dead or failed, so that a default install is never silent about loss.
Sinks deliver alerts; ``log`` is built in, others come as plugins.
"""

from __future__ import annotations

import datetime as dt
import enum
import logging
from collections.abc import Mapping
from typing import Protocol

import attrs

from adaptsend._models import utcnow

log = logging.getLogger("adaptsend.alerts")


class Severity(enum.StrEnum):
    WARNING = "warning"
    CRITICAL = "critical"
    RESOLVED = "resolved"


@attrs.frozen(kw_only=True)
class Alert:
    """Something a person should know about, with enough to act on it."""

    rule: str
    severity: Severity
    summary: str
    sending_key: str
    counts: Mapping[str, int] = attrs.field(factory=dict)
    #: The most common replies, as one line each ("432 4.3.2 ...").
    top_replies: tuple[str, ...] = ()
    sample_message_ids: tuple[str, ...] = ()
    raised_at: dt.datetime = attrs.field(factory=utcnow)


class AlertSink(Protocol):
    def deliver(self, alert: Alert) -> None:
        """Deliver one alert. Called in a worker thread; may block; may raise
        (the error is logged and the run goes on)."""
        ...


class LogSink:
    """Writes alerts to the ``adaptsend.alerts`` logger, always available."""

    def __init__(self, _config: object = None) -> None:
        pass

    def deliver(self, alert: Alert) -> None:
        level = logging.INFO if alert.severity is Severity.RESOLVED else logging.ERROR
        details = "; ".join(alert.top_replies[:3])
        log.log(
            level,
            "ALERT %s [%s] %s%s",
            alert.rule,
            alert.severity.value,
            alert.summary,
            f" (top replies: {details})" if details else "",
        )
