"""The SMTP transport against real servers: TLS, authentication, timeouts,
refused connections — each ending in the outcome a person would expect."""

from __future__ import annotations

import ssl
from pathlib import Path

import trustme

from adaptsend import Message, Status, send_batch_async
from adaptsend.testing import ThrottlingSMTPServer
from tests.helpers.agent_config import MakeConfig
from tests.helpers.databases import rows


def one(n: int = 0) -> Message:
    return Message(sender="r@example.com", to=("t@example.com",), subject=f"s{n}", text="t")


def tls_server(authority: trustme.CA) -> ThrottlingSMTPServer:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(context)
    return ThrottlingSMTPServer(tls_context=context, auth=("r@example.com", "right"))


async def test_starttls_with_a_trusted_ca_and_auth_delivers(
    make_config: MakeConfig, tmp_path: Path
) -> None:
    authority = trustme.CA()
    ca_file = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(str(ca_file))
    with tls_server(authority) as server:
        config = make_config(
            server,
            smtp={
                "tls": "starttls",
                "ca_file": str(ca_file),
                "username": "r@example.com",
                "password": "right",
            },
        )
        report = await send_batch_async([one(n) for n in range(5)], config=config)

    assert report.ok
    assert server.delivered == 5


async def test_an_untrusted_certificate_stops_the_run(make_config: MakeConfig, db_url: str) -> None:
    with tls_server(trustme.CA()) as server:
        config = make_config(server, smtp={"tls": "starttls"})
        report = await send_batch_async([one()], config=config)

    assert report.run.fatal is not None
    assert report.run.fatal.stage.value == "tls"
    assert "CERTIFICATE_VERIFY_FAILED" in report.run.fatal.text
    assert report.results[0].status is Status.QUEUED
    assert server.delivered == 0


async def test_wrong_credentials_stop_the_run(make_config: MakeConfig) -> None:
    with ThrottlingSMTPServer(auth=("r@example.com", "right")) as server:
        config = make_config(server, smtp={"username": "r@example.com", "password": "wrong"})
        report = await send_batch_async([one()], config=config)

    assert report.run.fatal is not None
    assert report.run.fatal.code == 535
    assert report.results[0].status is Status.QUEUED


async def test_a_server_without_starttls_is_a_configuration_error(make_config: MakeConfig) -> None:
    with ThrottlingSMTPServer() as server:
        report = await send_batch_async(
            [one()], config=make_config(server, smtp={"tls": "starttls"})
        )

    assert report.run.fatal is not None
    assert report.run.fatal.stage.value == "tls"
    assert report.results[0].status is Status.QUEUED


async def test_a_refused_connection_charges_no_attempt_and_defers_the_message(
    make_config: MakeConfig, db_url: str
) -> None:
    with ThrottlingSMTPServer() as server:
        config = make_config(server, retry={"max_attempts": 3}, run={"outage_wait_s": 0.3})
    # The server has stopped: its port now refuses connections.
    report = await send_batch_async([one()], config=config)

    assert (report.results[0].status, report.results[0].attempts) == (Status.QUEUED, 0)
    assert report.run.deferred == 1
    assert rows(db_url, "SELECT count(*) FROM attempts") == [(0,)]


async def test_a_stalled_server_times_out_and_the_message_is_retried(
    make_config: MakeConfig, db_url: str
) -> None:
    with ThrottlingSMTPServer(stall_s=5, stall_stage="data") as server:
        config = make_config(server, smtp={"timeout_s": 0.3}, retry={"max_attempts": 2})
        report = await send_batch_async([one()], config=config)

    assert report.results[0].status is Status.DEAD
    texts = rows(db_url, "SELECT stage, reply_text FROM attempts")
    assert len(texts) == 2
    assert all(stage == "data" and "timed out" in text for stage, text in texts)
