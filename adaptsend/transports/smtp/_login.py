"""Logging in on an open SMTP connection: with the password, or with an
access token (SASL XOAUTH2), and telling a stale token from a refused login."""

from __future__ import annotations

import smtplib

from adaptsend.config._settings import SMTPConfig
from adaptsend.oauth._tokens import TokenCache, xoauth2_response

MECHANISM = "XOAUTH2"


class StaleToken(Exception):
    """The server refused a token after this agent had logged in with the
    same settings: the token went stale, a fresh one may be taken once."""

    def __init__(self, token: str) -> None:
        super().__init__("the server refused an access token that worked before")
        self.token = token


def login(
    client: smtplib.SMTP,
    config: SMTPConfig,
    token: str | None,
    tokens: TokenCache | None,
    *,
    may_be_stale: bool,
) -> None:
    """Log in as ``config.username``: with ``token`` when given, else with the
    password. A 5xx refusal of a token raises :class:`StaleToken` when
    ``may_be_stale`` and a server has accepted a token of ``tokens`` before;
    any other failure raises smtplib's exception."""
    username = config.username or ""
    if token is None or tokens is None:
        client.login(username, config.password or "")
        return
    try:
        authenticate_xoauth2(client, username, token)
    except smtplib.SMTPResponseException as exc:
        if may_be_stale and tokens.accepted and 500 <= exc.smtp_code < 600:
            raise StaleToken(token) from None
        raise
    tokens.accept()


def authenticate_xoauth2(client: smtplib.SMTP, username: str, token: str) -> None:
    """``AUTH XOAUTH2`` with the initial response; raises
    ``SMTPNotSupportedError`` when the server does not offer it."""
    offered = client.esmtp_features.get("auth", "").upper().split()
    if MECHANISM not in offered:
        raise smtplib.SMTPNotSupportedError(
            f"the server does not offer AUTH {MECHANISM} (it offers: {' '.join(offered) or 'none'})"
        )
    response = xoauth2_response(username, token)

    def answer(challenge: bytes | None = None) -> str:
        # A server that refuses the token may first send its reasons as a
        # challenge; the empty answer asks for the final reply.
        return response if challenge is None else ""

    client.auth(MECHANISM, answer, initial_response_ok=True)
