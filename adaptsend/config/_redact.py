"""Keeping configured secrets out of everything adaptsend stores, logs or shows.

A server may echo what it was sent (``535 bad password hunter2``), a webhook
may quote its own URL in an error, a driver may print its connection URL. The
agent builds one :class:`Redactor` from the configuration (the SMTP password,
the store URL's password) and from every plugin's ``adaptsend_secrets`` hook,
and replies pass through it where they enter the core: before they are judged,
stored, alerted or printed. :data:`LOG_FILTER` does the same for log lines.

Each secret is also hidden in the forms it travels in: URL-quoted, and base64
as AUTH PLAIN and AUTH LOGIN send it. A secret shorter than
:data:`MIN_LENGTH` is hidden only in those encoded forms: on its own it cannot
be told from ordinary words, and replacing it everywhere would mangle every
reply (and point at the secret).
"""

from __future__ import annotations

import base64
import logging
import re
import threading
import urllib.parse
from collections.abc import Iterable

import attrs

from adaptsend._errors import StoreError
from adaptsend._models import Reply
from adaptsend.config._settings import Config
from adaptsend.config._store_url import parse_url

#: What a secret is replaced with.
REDACTED = "[redacted]"
#: Shorter secrets are hidden only in their encoded forms (see above).
MIN_LENGTH = 4


def encodings(secret: str) -> set[str]:
    """``secret`` and the forms it is written in on the wire and in URLs.
    Base64 also without its padding, so an echo cut short still matches."""
    forms = {
        secret,
        urllib.parse.quote(secret, safe=""),
        urllib.parse.quote_plus(secret),
        *_base64(secret),
    }
    return {form for form in forms if form}


def smtp_credentials(username: str | None, password: str) -> set[str]:
    """The password in every form SMTP authentication sends it: AUTH LOGIN
    sends it alone in base64, AUTH PLAIN sends ``\\0user\\0password``."""
    user = username or ""
    return {
        *encodings(password),
        *_base64(f"\0{user}\0{password}"),
        *_base64(f"{user}\0{user}\0{password}"),
    }


def config_secrets(config: Config) -> set[str]:
    """The secrets in adaptsend's own settings: the SMTP password and the
    password in ``[store] url``. Plugins name theirs through the
    ``adaptsend_secrets`` hook."""
    found: set[str] = set()
    if config.smtp.password:
        found |= smtp_credentials(config.smtp.username, config.smtp.password)
    try:
        store_password = parse_url(config.store.url).password
    except StoreError:
        store_password = None  # the store reports a malformed URL, without repeating it
    if store_password:
        found |= encodings(str(store_password))
    return found


def _base64(text: str) -> tuple[str, str]:
    """``text`` in base64, with its padding and without."""
    encoded = base64.b64encode(text.encode()).decode("ascii")
    return encoded, encoded.rstrip("=")


@attrs.frozen(eq=False)
class Redactor:
    """Replaces every secret it was made with, or has learnt since
    (:meth:`add`), by :data:`REDACTED`.

    One precompiled pattern, longest secret first; with no secret, every
    method returns its argument untouched at the cost of one ``is None``.
    Equal only to itself: what it hides may grow.
    """

    secrets: frozenset[str] = frozenset()
    _pattern: re.Pattern[str] | None = attrs.field(init=False, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "_pattern", _compile(self.secrets))

    @classmethod
    def of(cls, secrets: Iterable[str]) -> Redactor:
        """A redactor for ``secrets`` as given (see :func:`encodings` for more forms)."""
        return cls(frozenset(s for s in secrets if len(s) >= MIN_LENGTH))

    @classmethod
    def for_config(cls, config: Config, extra: Iterable[str] = ()) -> Redactor:
        """The secrets of ``config`` and ``extra`` (the plugins'), each in every form."""
        found = config_secrets(config)
        for secret in extra:
            found |= encodings(secret)
        return cls.of(found)

    def add(self, secret: str) -> None:
        """Hide ``secret`` too, in every form of :func:`encodings`, from now
        on: in this redactor's replies and texts and in log lines. For
        secrets learnt while running (an OAuth access token). Thread-safe."""
        forms = {form for form in encodings(secret) if len(form) >= MIN_LENGTH}
        with _LEARNING:
            if forms <= self.secrets:
                return
            secrets = self.secrets | forms
            # Readers take the pattern in one attribute read: they see the
            # old one or the new one, never half of either.
            object.__setattr__(self, "secrets", secrets)
            object.__setattr__(self, "_pattern", _compile(secrets))
        LOG_FILTER.refresh()

    def __bool__(self) -> bool:
        return self._pattern is not None

    def __repr__(self) -> str:
        return f"<Redactor of {len(self.secrets)} secret form(s)>"

    def text(self, text: str) -> str:
        """``text`` with every secret replaced."""
        if self._pattern is None:
            return text
        return self._pattern.sub(REDACTED, text)

    def reply(self, reply: Reply) -> Reply:
        """``reply``, itself when it holds no secret."""
        if self._pattern is None:
            return reply
        cleaned, found = self._pattern.subn(REDACTED, reply.text)
        return attrs.evolve(reply, text=cleaned) if found else reply

    def union(self, other: Redactor) -> Redactor:
        return Redactor(self.secrets | other.secrets)


#: Serialises :meth:`Redactor.add` (tokens are learnt in worker threads).
_LEARNING = threading.Lock()


def _compile(secrets: frozenset[str]) -> re.Pattern[str] | None:
    if not secrets:
        return None
    # Longest first: a secret that contains another is replaced whole.
    ordered = sorted(secrets, key=lambda s: (-len(s), s))
    return re.compile("|".join(re.escape(s) for s in ordered))


class SecretFilter(logging.Filter):
    """Rewrites each log record that holds a secret of a live agent, its
    traceback included. Agents add their redactor when they are made and
    remove it when they close, so the filter hides exactly the secrets in use."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._live: list[Redactor] = []
        self._redactor = Redactor()

    def add(self, redactor: Redactor) -> None:
        with self._lock:
            self._live.append(redactor)
            self._rebuild()

    def discard(self, redactor: Redactor) -> None:
        with self._lock:
            if redactor in self._live:
                self._live.remove(redactor)
                self._rebuild()

    def refresh(self) -> None:
        """A live redactor learnt a secret: hide it from log lines too."""
        with self._lock:
            self._rebuild()

    def _rebuild(self) -> None:
        combined = Redactor()
        for redactor in self._live:
            combined = combined.union(redactor)
        self._redactor = combined

    def filter(self, record: logging.LogRecord) -> bool:
        redactor = self._redactor
        if not redactor:
            return True
        message = record.getMessage()
        cleaned = redactor.text(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            # Formatters use exc_text when it is set: the traceback's own
            # message (an exception quoting a URL) is cleaned once, here.
            record.exc_text = redactor.text(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = redactor.text(record.exc_text)
        return True


#: The one filter of this process: every agent's secrets, every log line.
LOG_FILTER = SecretFilter()


def protect_logs(redactor: Redactor) -> None:
    """Hide ``redactor``'s secrets from log lines until :func:`unprotect_logs`.

    The filter goes on the ``adaptsend`` loggers that exist now (every module
    has made its logger by the time an agent is made; a filter on a parent
    logger does not see its children's records) and on the root logger's
    handlers, which also carry other libraries' and plugins' lines."""
    LOG_FILTER.add(redactor)
    attach_filter()


def unprotect_logs(redactor: Redactor) -> None:
    LOG_FILTER.discard(redactor)


def attach_filter(*handlers: logging.Handler) -> None:
    """Put :data:`LOG_FILTER` on ``handlers``, the root logger's handlers and
    every ``adaptsend`` logger; once each."""
    names = [n for n in logging.root.manager.loggerDict if n.partition(".")[0] == "adaptsend"]
    loggers = [logging.getLogger(n) for n in ("adaptsend", *names)]
    for target in (*handlers, *logging.root.handlers, *loggers):
        if LOG_FILTER not in target.filters:
            target.addFilter(LOG_FILTER)
