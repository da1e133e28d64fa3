"""How log lines are written: as text for people, or as one JSON object a
line for log shippers (``--log-format json``).

A JSON line has the fields of a text line (``time``, ``level``, ``message``)
and the logger's name, plus ``exception`` when a traceback goes with it.
Secrets are hidden before either format sees a line: the secrets filter
(``adaptsend.config._redact``) rewrites each record on the handler, before it is
formatted, its traceback included.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Literal

LogFormat = Literal["text", "json"]
LOG_FORMATS: tuple[LogFormat, ...] = ("text", "json")
#: The text lines' layout, as ``logging.basicConfig`` is given it.
TEXT_FORMAT = "%(asctime)s %(levelname)s %(message)s"


class JSONFormatter(logging.Formatter):
    """One JSON object a line. The time is UTC, ISO 8601 to the millisecond."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False)


def formatter(name: LogFormat) -> logging.Formatter:
    return JSONFormatter() if name == "json" else logging.Formatter(TEXT_FORMAT)


def use_log_format(name: LogFormat) -> None:
    """Write every line of the root logger's handlers in format ``name``."""
    for handler in logging.root.handlers:
        handler.setFormatter(formatter(name))


def logs_as_json() -> bool:
    """Whether log lines go out as JSON: then whatever a command would print
    to stderr for a person goes through the log instead."""
    handlers = logging.root.handlers
    return bool(handlers) and all(isinstance(h.formatter, JSONFormatter) for h in handlers)
