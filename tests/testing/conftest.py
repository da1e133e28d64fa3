"""Fixtures that open clients to a test server and close them at teardown."""

from __future__ import annotations

import smtplib
from collections.abc import Iterator

import pytest

from adaptsend.testing import ThrottlingSMTPServer
from bench._server import ServerProcess
from tests.helpers.smtp_clients import Connect, RawClient, RawConnect


@pytest.fixture
def connect() -> Iterator[Connect]:
    """Open smtplib clients to a server; close whatever is left at teardown."""
    clients: list[smtplib.SMTP] = []

    def open_client(server: ThrottlingSMTPServer, timeout: float = 5.0) -> smtplib.SMTP:
        client = smtplib.SMTP(server.host, server.port, "client.test", timeout=timeout)
        clients.append(client)
        return client

    yield open_client
    for client in clients:
        client.close()


@pytest.fixture
def raw() -> Iterator[RawConnect]:
    """Open raw clients, greeted and past EHLO; close them at teardown."""
    clients: list[RawClient] = []

    def open_client(server: ThrottlingSMTPServer | ServerProcess) -> RawClient:
        client = RawClient(server.host, server.port)
        clients.append(client)
        return client

    yield open_client
    for client in clients:
        client.close()
