"""Keeping webhook URLs and tokens out of logs, errors and everything shown.

httpx logs every request, URL and all, at INFO level, and ``adaptsend -v``
shows INFO: without this, ``-v`` would print the webhook's token. A filter on
httpx's logger rewrites each protected URL to its redacted form.

:func:`secrets` names what must never show (the plugin hands it to adaptsend
through ``adaptsend_secrets``, which hides it in every log line and reply), and
:func:`hide` cleans what the sink itself says: a receiver's error body may
quote the URL or the token alone.
"""

from __future__ import annotations

import logging
import threading
import urllib.parse
from collections.abc import Iterable, Mapping

#: What a hidden secret shows as, as in adaptsend's own redaction.
REDACTED = "[redacted]"
#: A path segment or query value this long is taken for a token; so is a
#: shorter one of at least :data:`_MIN_DIGITS_TOKEN` characters with a digit.
_MIN_TOKEN = 16
_MIN_DIGITS_TOKEN = 8

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


def secrets(url: str, headers: Mapping[str, str]) -> list[str]:
    """The secret parts of a webhook's settings: the URL, its path (where
    chat services put the token), each token-like segment or query value on
    its own, and every header value (and the credential after a scheme such
    as ``Bearer``). Longest first, so that :func:`hide` replaces them whole."""
    found: set[str] = set()
    if url:
        parts = urllib.parse.urlsplit(url)
        found.add(url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        if path.strip("/?"):
            found.add(path)
        values = [v for _, v in urllib.parse.parse_qsl(parts.query)]
        found.update(p for p in [*parts.path.split("/"), *values] if _token_like(p))
        if parts.password:
            found.add(parts.password)
    for value in headers.values():
        found.add(value)
        credential = value.partition(" ")[2].strip()
        if credential:
            found.add(credential)
    found.discard("")
    return sorted(found, key=lambda s: (-len(s), s))


def hide(text: str, url: str, shown: str, hidden: Iterable[str]) -> str:
    """``text`` with ``url`` as ``shown`` and every other secret in ``hidden``
    (and its URL-quoted form) as :data:`REDACTED`."""
    text = text.replace(url, shown)
    for secret in hidden:
        text = text.replace(secret, REDACTED)
        quoted = urllib.parse.quote(secret, safe="")
        if quoted != secret:
            text = text.replace(quoted, REDACTED)
    return text


def _token_like(part: str) -> bool:
    if len(part) >= _MIN_TOKEN:
        return True
    return len(part) >= _MIN_DIGITS_TOKEN and any(c.isdigit() for c in part)
