"""Keeping webhook URLs out of logs.

httpx logs every request, URL and all, at INFO level, and ``adaptsend -v``
shows INFO: without this, ``-v`` would print the webhook's token. A filter on
httpx's logger rewrites each protected URL to its redacted form.
"""

from __future__ import annotations

import logging
import threading
import urllib.parse

_LOGGERS = ("httpx", "httpcore")


class _Redactor(logging.Filter):
    def __init__(self) -> None:
        super().__init__()
        self._secrets: dict[str, str] = {}
        self._lock = threading.Lock()

    def add(self, secret: str, shown: str) -> None:
        with self._lock:
            self._secrets[secret] = shown

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._secrets:
            return True
        message = record.getMessage()
        cleaned = message
        for secret, shown in sorted(self._secrets.items(), key=lambda kv: -len(kv[0])):
            cleaned = cleaned.replace(secret, shown)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


_redactor = _Redactor()
_installed = threading.Lock()


def protect(url: str, shown: str) -> None:
    """From now on, ``url`` (and its path, which holds the token) appear as
    ``shown`` in anything httpx logs."""
    parts = urllib.parse.urlsplit(url)
    _redactor.add(url, shown)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    if path.strip("/"):
        _redactor.add(path, "/…")
    with _installed:
        for name in _LOGGERS:
            logger = logging.getLogger(name)
            if _redactor not in logger.filters:
                logger.addFilter(_redactor)
