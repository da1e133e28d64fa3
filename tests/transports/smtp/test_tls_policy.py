"""TLS by default, and never a password in clear text across a network: the
port decides the default, ``may`` upgrades when STARTTLS is offered, and a
configuration that would send credentials in clear text to a remote host is
refused before anything is connected."""

from __future__ import annotations

import logging
import socket
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trio
import trustme
from click.testing import CliRunner

from adaptsend import ConfigError, Message, Status, config_from_dict, send_batch_async
from adaptsend.cli._main import cli
from adaptsend.testing import ThrottlingSMTPServer
from adaptsend.transports.smtp._tls_policy import effective_tls, is_loopback
from adaptsend.transports.smtp._transport import SMTPTransport
from tests.helpers.agent_config import MakeConfig
from tests.helpers.smtp_connections import recording_proxy

USER = "reports@example.com"
PASSWORD = "tls-test-password"
#: TEST-NET-1 (RFC 5737): never routed, and never connected to by these tests.
REMOTE = "192.0.2.1"


def smtp(**values: Any) -> Any:
    return config_from_dict({"smtp": values}).smtp


@pytest.mark.parametrize(
    ("port", "tls", "expected"),
    [
        (465, "auto", "ssl"),
        (587, "auto", "starttls"),
        (25, "auto", "may"),
        (2525, "auto", "may"),
        (465, "none", "none"),
        (25, "starttls", "starttls"),
        (587, "may", "may"),
    ],
)
def test_the_default_follows_the_port(port: int, tls: str, expected: str) -> None:
    assert effective_tls(smtp(port=port, tls=tls)) == expected


def test_auto_is_the_default() -> None:
    assert smtp().tls == "auto"


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("LocalHost.", True),
        (REMOTE, False),
        ("smtp.example.com", False),
        ("localhost.example.com", False),
    ],
)
def test_loopback_is_known_without_looking_names_up(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def transport(**values: Any) -> SMTPTransport:
    return SMTPTransport(smtp(**values), threads=trio.CapacityLimiter(1))


def test_a_password_in_clear_text_to_a_remote_host_is_refused_before_connecting() -> None:
    with pytest.raises(ConfigError) as refused:
        transport(host=REMOTE, tls="none", username=USER, password=PASSWORD)

    assert str(refused.value) == (
        f'[smtp] tls = "none" would send the password for {USER} in clear text to {REMOTE}; '
        'use tls = "starttls" or "ssl" (or set allow_plaintext_auth = true if the network '
        "between is trusted)"
    )


@pytest.mark.parametrize(
    "values",
    [
        {"host": REMOTE, "tls": "none"},  # no username: nothing secret to send
        {"host": "127.0.0.1", "tls": "none", "username": USER},
        {"host": REMOTE, "tls": "starttls", "username": USER},
        {"host": REMOTE, "port": 25, "username": USER},  # may: decided per connection
    ],
)
def test_what_is_not_refused(values: dict[str, Any], caplog: pytest.LogCaptureFixture) -> None:
    transport(**values)

    assert caplog.records == []


def test_the_override_warns_on_every_run(caplog: pytest.LogCaptureFixture) -> None:
    for _ in range(2):
        transport(host=REMOTE, tls="none", username=USER, allow_plaintext_auth=True)

    assert (
        caplog.messages
        == [
            f"[smtp] allow_plaintext_auth is on: the password for {USER} may cross the network to "
            f"{REMOTE} in clear text"
        ]
        * 2
    )
    assert all(r.levelno == logging.WARNING for r in caplog.records)


def test_the_command_line_refuses_it_in_one_sentence_with_exit_2(tmp_path: Path) -> None:
    config = tmp_path / "adaptsend.toml"
    config.write_text(
        f'[store]\nurl = "sqlite:///{tmp_path / "q.db"}"\n'
        f'[smtp]\nhost = "{REMOTE}"\ntls = "none"\nusername = "{USER}"\npassword = "{PASSWORD}"\n'
    )
    queued = CliRunner().invoke(
        cli, ["--config", str(config), "enqueue", "--jsonl", "-"], input=message_line()
    )
    result = CliRunner().invoke(cli, ["--config", str(config), "run"])

    assert queued.exit_code == 2
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        f'adaptsend: [smtp] tls = "none" would send the password for {USER} in clear text to '
        f'{REMOTE}; use tls = "starttls" or "ssl" (or set allow_plaintext_auth = true if the '
        "network between is trusted)"
    ]


def message_line() -> str:
    return '{"from": "r@example.com", "to": ["t@example.com"], "subject": "s", "text": "t"}\n'


def one() -> Message:
    return Message(sender=USER, to=("t@example.com",), subject="s", text="t")


@pytest.fixture
def authority(tmp_path: Path) -> Iterator[tuple[trustme.CA, Path]]:
    ca = trustme.CA()
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    yield ca, ca_file


def server_context(ca: trustme.CA, host: str) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(host).configure_cert(context)
    return context


async def test_may_upgrades_when_starttls_is_offered_before_logging_in(
    make_config: MakeConfig, authority: tuple[trustme.CA, Path]
) -> None:
    ca, ca_file = authority
    tls = server_context(ca, "127.0.0.1")
    server = ThrottlingSMTPServer(tls_context=tls, auth=(USER, PASSWORD))
    with server, recording_proxy(server) as (port, wire):
        config = make_config(
            server,
            smtp={
                "port": port,
                "tls": "may",
                "ca_file": str(ca_file),
                "username": USER,
                "password": PASSWORD,
            },
        )
        report = await send_batch_async([one()], config=config)

    assert report.ok
    assert server.delivered == 1
    sent = b"".join(wire.chunks)
    # In clear: only EHLO and STARTTLS; AUTH went inside the TLS session.
    assert b"STARTTLS\r\n" in sent
    assert b"AUTH" not in sent
    assert b"MAIL FROM" not in sent


async def test_may_stays_plain_on_loopback_when_starttls_is_not_offered(
    make_config: MakeConfig,
) -> None:
    server = ThrottlingSMTPServer(auth=(USER, PASSWORD))
    with server, recording_proxy(server) as (port, wire):
        config = make_config(
            server, smtp={"port": port, "tls": "may", "username": USER, "password": PASSWORD}
        )
        report = await send_batch_async([one()], config=config)

    assert report.ok
    sent = b"".join(wire.chunks)
    assert b"STARTTLS" not in sent
    assert b"AUTH " in sent


def local_remote_address() -> str:
    """This machine's own address that is not loopback (the one a route to
    TEST-NET-1 would leave from); a UDP connect sends nothing."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect((REMOTE, 9))
        except OSError:
            pytest.skip("this machine has no route off loopback")
        address = str(probe.getsockname()[0])
    if is_loopback(address):
        pytest.skip("this machine has no address off loopback")
    return address


async def test_may_sends_no_password_to_a_remote_host_without_starttls(
    make_config: MakeConfig,
) -> None:
    host = local_remote_address()
    with ThrottlingSMTPServer(host=host, auth=(USER, PASSWORD)) as server:
        config = make_config(server, smtp={"tls": "may", "username": USER, "password": PASSWORD})
        report = await send_batch_async([one()], config=config)

    assert report.run.fatal is not None
    assert (report.run.fatal.code, report.run.fatal.stage.value) == (None, "auth")
    assert report.run.fatal.text.startswith(f"{host} does not offer STARTTLS, and the password")
    assert report.results[0].status is Status.QUEUED
    assert server.delivered == 0


async def test_may_uses_starttls_with_a_remote_host_that_offers_it(
    make_config: MakeConfig, authority: tuple[trustme.CA, Path]
) -> None:
    ca, ca_file = authority
    host = local_remote_address()
    tls = server_context(ca, host)
    with ThrottlingSMTPServer(host=host, tls_context=tls, auth=(USER, PASSWORD)) as server:
        config = make_config(
            server,
            smtp={"ca_file": str(ca_file), "username": USER, "password": PASSWORD},
        )
        report = await send_batch_async([one()], config=config)

    assert report.ok
    assert server.delivered == 1
