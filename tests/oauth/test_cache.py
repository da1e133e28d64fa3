"""The token cache every connection of an agent shares, and the redactor
learning each token it hands out."""

from __future__ import annotations

import logging
import threading
import time

import pytest

from adaptsend.config._redact import REDACTED, Redactor, protect_logs, unprotect_logs
from adaptsend.oauth._tokens import MIN_LIFE_S, AccessToken, TokenCache


class Issuer:
    """Hands out token-1, token-2, ... each living ``life_s``; slow on purpose."""

    def __init__(self, life_s: float | None = 3600.0, delay_s: float = 0.0) -> None:
        self.life_s, self.delay_s, self.calls = life_s, delay_s, 0

    def fetch(self) -> AccessToken:
        self.calls += 1
        time.sleep(self.delay_s)
        return AccessToken(value=f"token-{self.calls}", expires_in_s=self.life_s)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_token_is_kept_until_less_than_ten_minutes_are_left() -> None:
    clock, issuer = Clock(), Issuer(life_s=3600)
    cache = TokenCache(issuer, clock=clock)

    assert cache.token() == "token-1"
    clock.now += 3600 - MIN_LIFE_S
    assert cache.token() == "token-1"
    clock.now += 1
    assert cache.token() == "token-2"
    assert issuer.calls == 2


def test_a_token_of_unknown_life_is_fetched_for_every_connection() -> None:
    issuer = Issuer(life_s=None)
    cache = TokenCache(issuer)
    assert [cache.token(), cache.token()] == ["token-1", "token-2"]


def test_connections_that_open_together_share_one_fetch() -> None:
    issuer = Issuer(delay_s=0.2)
    cache = TokenCache(issuer)
    got: list[str] = []
    threads = [threading.Thread(target=lambda: got.append(cache.token())) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert (got, issuer.calls) == (["token-1"] * 5, 1)


def test_a_stale_token_is_replaced_once_however_many_connections_report_it() -> None:
    issuer = Issuer()
    cache = TokenCache(issuer)
    stale = cache.token()
    assert [cache.refresh(stale), cache.refresh(stale)] == ["token-2", "token-2"]
    assert issuer.calls == 2


def test_each_new_token_is_told_before_it_is_used() -> None:
    told: list[str] = []
    cache = TokenCache(Issuer(life_s=None), on_token=told.append)
    assert [cache.token(), cache.token()] == told == ["token-1", "token-2"]
    assert not cache.accepted
    cache.accept()
    assert cache.accepted


def test_a_redactor_learns_a_secret_in_replies_and_log_lines(
    caplog: pytest.LogCaptureFixture,
) -> None:
    redactor = Redactor.of(["configured-secret"])
    protect_logs(redactor)
    try:
        redactor.add("learnt-access-token")
        logging.getLogger("adaptsend.smtp").warning("server said learnt-access-token")
    finally:
        unprotect_logs(redactor)

    assert redactor.text("learnt-access-token, configured-secret") == f"{REDACTED}, {REDACTED}"
    assert f"server said {REDACTED}" in caplog.text
    assert "learnt-access-token" not in caplog.text
