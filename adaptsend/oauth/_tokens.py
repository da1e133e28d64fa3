"""OAuth 2.0 access tokens for SMTP AUTH XOAUTH2: what a token provider
promises, and the cache every connection of an agent takes its token from.

Fetching a token blocks (an HTTP request, a program run): it happens in the
worker thread that opens the connection, under one lock, so connections that
open together share one fetch.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol

import attrs

#: A token with less life left than this is replaced before it is used:
#: Exchange Online refuses one about to expire (``501 5.5.127``).
MIN_LIFE_S = 600.0


@attrs.frozen(kw_only=True)
class AccessToken:
    """A bearer token and how long it lives from the moment it was fetched."""

    value: str = attrs.field(repr=False)
    #: Seconds of life when fetched; None when the issuer did not say, and
    #: then the token is fetched again for every new connection.
    expires_in_s: float | None = None


class TokenError(Exception):
    """A token could not be fetched. The message is one sentence, fit to show
    a person, that never holds a token or a secret. ``fatal``: a person must
    act (a refused secret, a broken command); else it may pass by itself (the
    token issuer could not be reached)."""

    def __init__(self, sentence: str, *, fatal: bool = True) -> None:
        super().__init__(sentence)
        self.fatal = fatal


class TokenProvider(Protocol):
    """Fetches access tokens; made from the configuration by a factory that a
    plugin registers with ``adaptsend_register_token_providers``."""

    def fetch(self) -> AccessToken:
        """A new token from the issuer, never one it kept. Blocks; called in a
        worker thread, one call at a time. Raises :class:`TokenError`."""
        ...


def xoauth2_response(username: str, token: str) -> str:
    """The SASL XOAUTH2 initial response (before base64)."""
    return f"user={username}\x01auth=Bearer {token}\x01\x01"


class TokenCache:
    """The current token of one provider, shared by every connection.

    ``on_token`` hears each new token before it is used (the agent's
    redactor learns it there). ``accepted`` records that a server took a
    token from this cache: a later refusal then means the token went stale.
    """

    def __init__(
        self,
        provider: TokenProvider,
        *,
        on_token: Callable[[str], None] | None = None,
        min_life_s: float = MIN_LIFE_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._provider = provider
        self._on_token = on_token
        self._min_life_s = min_life_s
        self._clock = clock
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires_at: float | None = None
        self._accepted = False

    def token(self) -> str:
        """A token with at least ``min_life_s`` to live, fetched if the one
        held has less (or an unknown life). Blocks; raises :class:`TokenError`."""
        with self._lock:
            if self._token is not None and self._fresh():
                return self._token
            return self._fetch()

    def refresh(self, stale: str) -> str:
        """A token other than ``stale``, which a server refused: the one held
        if another connection replaced it meanwhile, else a new one."""
        with self._lock:
            if self._token is not None and self._token != stale:
                return self._token
            return self._fetch()

    def accept(self) -> None:
        """A server accepted a token of this cache."""
        self._accepted = True

    @property
    def accepted(self) -> bool:
        """Whether a server has accepted a token of this cache."""
        return self._accepted

    def _fresh(self) -> bool:
        if self._expires_at is None:
            return False
        return self._expires_at - self._clock() >= self._min_life_s

    def _fetch(self) -> str:
        fetched_at = self._clock()
        token = self._provider.fetch()
        if not token.value:
            raise TokenError("the token provider gave an empty access token")
        if self._on_token is not None:
            self._on_token(token.value)
        self._token = token.value
        life = token.expires_in_s
        self._expires_at = None if life is None else fetched_at + life
        return token.value
