"""The test server's AUTH XOAUTH2: one token per user, rotated on demand."""

from __future__ import annotations

import base64
import smtplib
from collections.abc import Iterator

import pytest

from adaptsend.testing import ThrottlingSMTPServer

USER = "sender@example.com"
TOKEN = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.first"


def response(user: str, token: str) -> str:
    sasl = f"user={user}\x01auth=Bearer {token}\x01\x01"
    return base64.b64encode(sasl.encode()).decode()


@pytest.fixture
def server() -> Iterator[ThrottlingSMTPServer]:
    with ThrottlingSMTPServer(xoauth2_tokens={USER: TOKEN}) as running:
        yield running


def connect(server: ThrottlingSMTPServer) -> smtplib.SMTP:
    client = smtplib.SMTP(server.host, server.port, timeout=5)
    client.ehlo()
    return client


def test_xoauth2_is_offered(server: ThrottlingSMTPServer) -> None:
    with connect(server) as client:
        assert "XOAUTH2" in client.esmtp_features["auth"].split()


def test_the_token_given_logs_in_and_the_message_is_delivered(
    server: ThrottlingSMTPServer,
) -> None:
    with connect(server) as client:
        assert client.docmd("AUTH", "XOAUTH2 " + response(USER, TOKEN))[0] == 235
        client.sendmail(USER, ["to@example.com"], b"Subject: s\r\n\r\nbody\r\n")

    assert server.delivered == 1
    assert server.xoauth2_logins == [(USER, TOKEN, True)]


@pytest.mark.parametrize(("user", "token"), [(USER, "another-token"), ("other@example.com", TOKEN)])
def test_another_token_or_user_is_refused_as_exchange_refuses_it(
    server: ThrottlingSMTPServer, user: str, token: str
) -> None:
    with connect(server) as client:
        code, text = client.docmd("AUTH", "XOAUTH2 " + response(user, token))
        assert (code, text) == (535, b"5.7.3 Authentication unsuccessful")
        assert client.docmd("MAIL", "FROM:<a@example.com>")[0] == 530

    assert server.xoauth2_logins == [(user, token, False)]


def test_the_response_may_follow_an_empty_challenge(server: ThrottlingSMTPServer) -> None:
    with connect(server) as client:
        assert client.docmd("AUTH", "XOAUTH2") == (334, b"")
        assert client.docmd(response(USER, TOKEN))[0] == 235


def test_a_rotated_token_replaces_the_old_one(server: ThrottlingSMTPServer) -> None:
    server.set_xoauth2_token(USER, "second")
    with connect(server) as old, connect(server) as new:
        assert old.docmd("AUTH", "XOAUTH2 " + response(USER, TOKEN))[0] == 535
        assert new.docmd("AUTH", "XOAUTH2 " + response(USER, "second"))[0] == 235


def test_a_token_as_long_as_microsofts_is_taken() -> None:
    token = "x" * 4000
    with ThrottlingSMTPServer(xoauth2_tokens={USER: token}) as server, connect(server) as client:
        assert client.docmd("AUTH", "XOAUTH2 " + response(USER, token))[0] == 235


def test_auth_reply_answers_xoauth2_too() -> None:
    refusal = "535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled"
    with (
        ThrottlingSMTPServer(xoauth2_tokens={USER: TOKEN}, auth_reply=refusal) as server,
        connect(server) as client,
    ):
        code, text = client.docmd("AUTH", "XOAUTH2 " + response(USER, TOKEN))
        assert f"{code} {text.decode()}" == refusal
