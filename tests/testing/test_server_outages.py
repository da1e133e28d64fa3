"""ThrottlingSMTPServer's faults around the connection: refused and slow
greetings, resets during the TLS handshake, and outages on a kept port."""

from __future__ import annotations

import smtplib
import socket
import ssl
import threading
import time

import pytest
import trustme

from adaptsend.testing import DEFAULT_GREETING_REFUSAL, ThrottlingSMTPServer
from tests.helpers.smtp_clients import RCPT, SENDER, Connect, message

# -- greetings ------------------------------------------------------------------------


def greeting_of(server: ThrottlingSMTPServer, connect: Connect) -> int:
    """The code of the greeting a new connection gets."""
    try:
        connect(server)
    except smtplib.SMTPConnectError as refused:
        return refused.smtp_code
    return 220


def test_every_nth_greeting_is_refused(connect: Connect) -> None:
    with ThrottlingSMTPServer(refuse_greeting_every=3) as server:
        assert [greeting_of(server, connect) for _ in range(7)] == [220, 220, 421] * 2 + [220]
        server.wait_for_open_connections(5)
        assert (server.greeting_refusals, server.connections) == (2, 7)


def test_the_refusal_is_the_configured_reply_and_the_connection_closes() -> None:
    with (
        ThrottlingSMTPServer(refuse_greeting_every=1) as server,
        socket.create_connection(server.address, timeout=5) as client,
    ):
        assert client.makefile("rb").read() == f"{DEFAULT_GREETING_REFUSAL}\r\n".encode()


def test_greetings_are_refused_while_switched_on(connect: Connect) -> None:
    busy = "554 5.3.2 Too busy"
    with ThrottlingSMTPServer(refuse_greetings=True, greeting_refusal=busy) as server:
        assert server.refusing_greetings
        with pytest.raises(smtplib.SMTPConnectError) as info:
            connect(server)
        assert (info.value.smtp_code, info.value.smtp_error) == (554, b"5.3.2 Too busy")
        server.set_refuse_greetings(False)
        assert connect(server).sendmail(SENDER, [RCPT], message()) == {}
        server.set_refuse_greetings(True)
        assert greeting_of(server, connect) == 554
        assert (server.greeting_refusals, server.delivered) == (2, 1)


def test_a_slow_greeting_makes_the_client_time_out(connect: Connect) -> None:
    with ThrottlingSMTPServer(greeting_delay_s=30) as server:
        with pytest.raises(smtplib.SMTPServerDisconnected, match="timed out"):
            connect(server, timeout=0.2)
        started = time.monotonic()
    assert time.monotonic() - started < 2  # stop() does not wait out the delay


def test_a_slow_greeting_still_greets(connect: Connect) -> None:
    with ThrottlingSMTPServer(greeting_delay_s=0.1) as server:
        started = time.monotonic()
        client = connect(server)
        assert time.monotonic() - started >= 0.1
        assert client.sendmail(SENDER, [RCPT], message()) == {}


# -- TLS ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tls() -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A server context and a client context that trusts it."""
    authority = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(server_context)
    client_context = ssl.create_default_context()
    authority.configure_trust(client_context)
    return server_context, client_context


def test_every_nth_starttls_is_reset_before_the_handshake(
    connect: Connect, tls: tuple[ssl.SSLContext, ssl.SSLContext]
) -> None:
    server_context, client_context = tls
    with ThrottlingSMTPServer(tls_context=server_context, reset_tls_every=2) as server:
        outcomes = []
        for _ in range(4):
            client = connect(server)
            try:
                client.starttls(context=client_context)
            except OSError:  # reset: ssl.SSLError is an OSError too
                outcomes.append("reset")
                continue
            client.sendmail(SENDER, [RCPT], message())
            outcomes.append("sent")
        assert outcomes == ["sent", "reset"] * 2
        assert (server.tls_resets, server.delivered, server.connections) == (2, 2, 4)


def test_a_reset_starttls_was_answered_220_first(
    tls: tuple[ssl.SSLContext, ssl.SSLContext],
) -> None:
    with ThrottlingSMTPServer(tls_context=tls[0], reset_tls_every=1) as server:
        with socket.create_connection(server.address, timeout=5) as client:
            client.sendall(b"EHLO client.test\r\nSTARTTLS\r\n")
            lines = client.makefile("rb").read().splitlines()
        assert lines[-1] == b"220 Ready to start TLS"
        assert server.tls_resets == 1


# -- outages --------------------------------------------------------------------------


def refused(server: ThrottlingSMTPServer) -> bool:
    """Whether a connect to the server's port is refused."""
    try:
        socket.create_connection(server.address, timeout=5).close()
    except ConnectionRefusedError:
        return True
    return False


def test_going_down_resets_connections_and_refuses_connects_until_back(
    connect: Connect,
) -> None:
    with ThrottlingSMTPServer() as server:
        port = server.port
        client = connect(server)
        assert client.sendmail(SENDER, [RCPT], message("<before@test>")) == {}
        server.go_down()
        assert (server.running, server.down, server.open_connections) == (False, True, 0)
        assert refused(server)
        with pytest.raises(smtplib.SMTPServerDisconnected):
            client.sendmail(SENDER, [RCPT], message("<lost@test>"))
        server.come_back()
        assert (server.running, server.down, server.port) == (True, False, port)
        assert connect(server).sendmail(SENDER, [RCPT], message("<after@test>")) == {}
        assert server.deliveries == {"<before@test>": 1, "<after@test>": 1}
        assert server.statistics().connections == 2


def test_down_for_comes_back_by_itself_on_the_same_port(connect: Connect) -> None:
    with ThrottlingSMTPServer() as server:
        port = server.port
        server.down_for(0.5)
        assert server.down  # returned at once, down
        assert refused(server)
        server.wait_for_up()
        assert (server.port, server.down) == (port, False)
        assert connect(server).sendmail(SENDER, [RCPT], message()) == {}


def test_a_quick_return_binds_the_port_every_time(connect: Connect) -> None:
    with ThrottlingSMTPServer(hang_up_after=1, hang_up_reply="421 4.7.0 Bye") as server:
        port = server.port
        for n in range(10):
            # One connection closed by the server (its side lingers in
            # TIME_WAIT), one left open to be reset.
            closed = connect(server)
            closed.sendmail(SENDER, [RCPT], message(f"<{n}@test>"))
            with pytest.raises(smtplib.SMTPSenderRefused):
                closed.sendmail(SENDER, [RCPT], message())
            connect(server)
            server.go_down()
            server.come_back()
            assert server.port == port
        assert (server.delivered, server.hangups, server.connections) == (10, 10, 20)


def test_stop_cancels_the_return_of_an_outage() -> None:
    server = ThrottlingSMTPServer()
    with server:
        server.down_for(0.05)
    time.sleep(0.2)
    assert (server.running, server.down) == (False, False)
    with pytest.raises(TimeoutError):
        server.wait_for_up(0.01)


def test_a_later_outage_replaces_the_pending_return() -> None:
    with ThrottlingSMTPServer() as server:
        server.down_for(0.05)
        server.come_back()
        server.down_for(30)
        time.sleep(0.2)  # the first return would have come by now
        assert server.down
        assert refused(server)
        server.come_back()
        assert not refused(server)


def test_going_down_or_back_twice_is_harmless() -> None:
    with ThrottlingSMTPServer() as server:
        server.come_back()
        server.go_down()
        server.go_down()
        assert refused(server)
        server.come_back()
        server.come_back()
        assert not refused(server)
    with pytest.raises(RuntimeError):
        server.go_down()


def test_an_outage_resets_a_client_waiting_for_a_reply(connect: Connect) -> None:
    errors: list[BaseException] = []

    def send(client: smtplib.SMTP) -> None:
        try:
            client.sendmail(SENDER, [RCPT], message())
        except smtplib.SMTPServerDisconnected as error:
            errors.append(error)

    with ThrottlingSMTPServer(stall_s=30, stall_stage="data") as server:
        sender = threading.Thread(target=send, args=(connect(server),))
        sender.start()
        server.down_for(0.05)
        sender.join(timeout=5)
        server.wait_for_up()
        assert (len(errors), server.delivered) == (1, 0)
