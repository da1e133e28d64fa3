"""Keeping the tokens in upload URLs out of log lines.

An upload session's URL carries a token of its own in its query, and httpx
logs every request's URL at INFO (which ``adaptsend -v`` shows). A filter on
httpx's loggers hides the value of every query parameter whose name says
token. adaptsend hides the bearer tokens itself: it learns each one.
"""

from __future__ import annotations

import logging
import re
import threading

REDACTED = "[redacted]"
_LOGGERS = ("httpx", "httpcore")
_TOKEN_VALUE = re.compile(r"([?&][^=&\s\"']*token[^=&\s\"']*=)[^&\s\"']+", re.IGNORECASE)


class _HideURLTokens(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = hide_url_tokens(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


_filter = _HideURLTokens()
_installed = threading.Lock()


def hide_url_tokens(text: str) -> str:
    """``text`` with the value of each ``...token...=`` query parameter hidden."""
    return _TOKEN_VALUE.sub(lambda found: found.group(1) + REDACTED, text)


def protect_logs() -> None:
    """Install the filter on httpx's loggers, once."""
    with _installed:
        for name in _LOGGERS:
            logger = logging.getLogger(name)
            if _filter not in logger.filters:
                logger.addFilter(_filter)
