"""Alerts: telling a person that mail is not getting through.

An :class:`Alert` is what a rule raises when the recorded outcomes cross its
threshold, and what it sends again as a ``resolved`` notice when they fall back
below. Sinks deliver alerts; ``log`` and ``email`` are built in, others (such as
the webhook sink) come as plugins.
"""

from __future__ import annotations

import datetime as dt
import enum
import logging
import socket
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

import attrs

if TYPE_CHECKING:
    from adaptsend.config._settings import Config
    from adaptsend.transports._contract import Transport

log = logging.getLogger("adaptsend.alerts")


class Severity(enum.StrEnum):
    WARNING = "warning"
    CRITICAL = "critical"
    #: The rule fell back below its threshold.
    RESOLVED = "resolved"


@attrs.frozen(kw_only=True)
class TopReply:
    """One of the replies most seen among the events an alert counts."""

    code: int | None
    enhanced: str | None
    text: str
    count: int

    def describe(self) -> str:
        """``432 4.3.2 Concurrent connections limit exceeded (x17)``."""
        parts = [str(self.code) if self.code is not None else "no reply"]
        if self.enhanced:
            parts.append(self.enhanced)
        if self.text:
            parts.append(self.text)
        return f"{' '.join(parts)} (x{self.count})"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@attrs.frozen(kw_only=True)
class Alert:
    """Something a person should know about, with enough to act on it.

    ``count`` is what the rule measured: events in the window; for a
    ``queue_age`` rule the age of the oldest unsent message in whole seconds;
    for an ``unreachable`` rule how long the server has not answered (in its
    resolved notice, how long it did not). ``counts`` holds every kind of
    outcome seen in the same window, so that a reader can tell 20 throttles
    among 30 attempts from 20 among 30 000; ``unknown`` there counts attempts
    that may have been delivered although they will be tried again.
    """

    rule: str
    #: What the rule watches: throttled, transient, unknown, failed, dead, fatal,
    #: queue_age or unreachable.
    when: str
    severity: Severity
    summary: str
    sending_key: str
    count: int = 0
    threshold: float = 0
    window_s: float = 0
    counts: Mapping[str, int] = attrs.field(factory=dict)
    top_replies: tuple[TopReply, ...] = ()
    sample_message_ids: tuple[str, ...] = ()
    host: str = attrs.field(factory=socket.gethostname)
    raised_at: dt.datetime = attrs.field(factory=_now)

    @property
    def resolved(self) -> bool:
        return self.severity is Severity.RESOLVED

    def title(self) -> str:
        """One line for a subject or a chat message's first line."""
        state = "RESOLVED" if self.resolved else self.severity.value.upper()
        return f"[{state}] {self.rule} on {self.sending_key}: {self.summary}"

    def details(self) -> list[str]:
        """The lines under the title, for sinks that show plain text."""
        lines = [f"host: {self.host}", f"raised at: {self.raised_at:%Y-%m-%d %H:%M:%S} UTC"]
        if self.counts:
            seen = ", ".join(f"{n} {kind}" for kind, n in sorted(self.counts.items()))
            lines.append(f"in the last {self.window_s:g} s: {seen}")
        lines.extend(f"reply: {reply.describe()}" for reply in self.top_replies)
        if self.sample_message_ids:
            lines.append("messages: " + ", ".join(self.sample_message_ids))
        return lines

    def to_json(self) -> dict[str, Any]:
        """The alert as plain JSON data (the webhook sink's ``json`` format)."""
        return {
            "rule": self.rule,
            "when": self.when,
            "severity": self.severity.value,
            "summary": self.summary,
            "sending_key": self.sending_key,
            "count": self.count,
            "threshold": self.threshold,
            "window_s": self.window_s,
            "counts": dict(self.counts),
            "top_replies": [
                {"code": r.code, "enhanced": r.enhanced, "text": r.text, "count": r.count}
                for r in self.top_replies
            ],
            "sample_message_ids": list(self.sample_message_ids),
            "host": self.host,
            "raised_at": self.raised_at.isoformat().replace("+00:00", "Z"),
        }


class AlertSink(Protocol):
    def deliver(self, alert: Alert) -> None:
        """Deliver one alert. Called in a worker thread, one alert at a time
        per sink; may block; may raise (the error is logged in one line and
        the run goes on), so the message of an exception must never hold a
        secret such as a token in a URL."""
        ...


@attrs.frozen(kw_only=True)
class SinkContext:
    """What an alert sink's factory is given."""

    #: The name the sink was registered under and rules refer to.
    name: str
    config: Config
    #: The sink's own settings: the ``[plugin.NAME]`` table, empty if absent.
    settings: Mapping[str, Any] = attrs.field(factory=dict)
    #: Makes a transport of the configured kind that is not the dispatcher's:
    #: its connections are outside the limiter's budget and the queue.
    open_transport: Callable[[], Transport] | None = None


class LogSink:
    """Writes alerts to the ``adaptsend.alerts`` logger, always available."""

    def __init__(self, _context: SinkContext | None = None) -> None:
        pass

    def deliver(self, alert: Alert) -> None:
        level = logging.WARNING if alert.resolved else logging.ERROR
        log.log(level, "ALERT %s; %s", alert.title(), "; ".join(alert.details()))
