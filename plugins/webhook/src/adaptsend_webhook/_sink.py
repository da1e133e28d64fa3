"""The webhook sink: one POST per alert, a timeout, a bounded retry, no secrets shown."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping

import httpx

from adaptsend import Alert, SinkContext
from adaptsend_webhook._formats import payload
from adaptsend_webhook._redact import hide, protect, secrets
from adaptsend_webhook._settings import WebhookSettings, parse_settings, redact

log = logging.getLogger("adaptsend.alerts.webhook")

#: Statuses worth another try: the receiver is busy or broken, not refusing.
_RETRY_STATUSES = frozenset({408, 425, 429})
#: How much of an error answer to quote.
_QUOTE = 200


class WebhookError(Exception):
    """The webhook did not take the alert. The message never holds the URL."""


class WebhookSink:
    """Posts each alert to ``[plugin.webhook] url`` in the configured format.

    Called in a worker thread (adaptsend's alert delivery), so it may block:
    each try waits at most ``timeout_s``, and at most ``attempts`` tries are
    made with a doubling pause between them.
    """

    def __init__(self, settings: WebhookSettings) -> None:
        self.settings = settings
        self.where = redact(settings.url)
        self._secrets = secrets(settings.url, settings.headers)
        protect(settings.url, self.where)

    @classmethod
    def from_context(cls, context: SinkContext) -> WebhookSink:
        return cls(parse_settings(context.settings))

    def __repr__(self) -> str:
        return f"<WebhookSink {self.settings.format} to {self.where}>"

    def deliver(self, alert: Alert) -> None:
        body = json.dumps(payload(alert, self.settings.format)).encode()
        attempts = self.settings.attempts
        for attempt in range(1, attempts + 1):
            failure = self._post(body)
            if failure is None:
                return
            retry, reason = failure
            if not retry or attempt == attempts:
                tries = f" (after {attempt} tries)" if attempt > 1 else ""
                raise WebhookError(f"webhook {self.where} {reason}{tries}")
            log.info("webhook %s %s; trying again", self.where, reason)
            time.sleep(self.settings.retry_delay_s * 2 ** (attempt - 1))

    def _post(self, body: bytes) -> tuple[bool, str] | None:
        """One try: None when the webhook took it, else (retry?, why)."""
        settings = self.settings
        try:
            with httpx.Client(
                timeout=settings.timeout_s, verify=settings.verify_tls, follow_redirects=False
            ) as client:
                response = client.post(settings.url, content=body, headers=self._headers())
        except httpx.TimeoutException:
            return True, f"did not answer within {settings.timeout_s:g} s"
        except httpx.HTTPError as exc:
            # The exception's text can name the URL: only its kind is shown.
            return True, f"could not be reached ({type(exc).__name__})"
        status = response.status_code
        if 200 <= status < 300:
            return None
        retry = status in _RETRY_STATUSES or status >= 500
        # The body may quote the URL or its token, whole or URL-quoted.
        quoted = hide(response.text.strip(), settings.url, self.where, self._secrets)[:_QUOTE]
        return retry, f"answered {status} {response.reason_phrase}" + (
            f": {quoted}" if quoted else ""
        )

    def _headers(self) -> Mapping[str, str]:
        return {
            **self.settings.headers,
            "Content-Type": "application/json",
            "User-Agent": "adaptsend-webhook",
        }
