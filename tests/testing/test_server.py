"""ThrottlingSMTPServer, driven over real TCP by smtplib, threads and trio."""

from __future__ import annotations

import collections
import contextlib
import smtplib
import ssl
import threading
import time
from collections.abc import Callable

import pytest
import trio
import trustme

from adaptsend.testing import (
    DEFAULT_THROTTLE_REPLY,
    ReceivedMessage,
    ServerStatistics,
    ThrottlingSMTPServer,
)
from tests.helpers.smtp_clients import RCPT, SENDER, Connect, message

# What smtplib reports after the code: enhanced status and text.
THROTTLE_TEXT = DEFAULT_THROTTLE_REPLY.removeprefix("432 ").encode()
# -- the throttle ----------------------------------------------------------------


def _refused_connect(server: ThrottlingSMTPServer, connect: Connect) -> tuple[int, bytes | str]:
    with pytest.raises(smtplib.SMTPConnectError) as info:
        connect(server)
    return info.value.smtp_code, info.value.smtp_error


def _refused_mail(server: ThrottlingSMTPServer, connect: Connect) -> tuple[int, bytes | str]:
    with pytest.raises(smtplib.SMTPSenderRefused) as info:
        connect(server).sendmail(SENDER, [RCPT], message())
    return info.value.smtp_code, info.value.smtp_error


def _refused_rcpt(server: ThrottlingSMTPServer, connect: Connect) -> tuple[int, bytes | str]:
    with pytest.raises(smtplib.SMTPRecipientsRefused) as info:
        connect(server).sendmail(SENDER, [RCPT], message())
    ((code, text),) = info.value.recipients.values()
    return code, text


def _refused_data(server: ThrottlingSMTPServer, connect: Connect) -> tuple[int, bytes | str]:
    with pytest.raises(smtplib.SMTPDataError) as info:
        connect(server).sendmail(SENDER, [RCPT], message())
    return info.value.smtp_code, info.value.smtp_error


@pytest.mark.parametrize(
    ("stage", "refuse"),
    [
        ("connect", _refused_connect),
        ("mail", _refused_mail),
        ("rcpt", _refused_rcpt),
        ("data", _refused_data),
    ],
)
def test_connection_over_the_limit_is_refused_at_the_stage(
    connect: Connect,
    stage: str,
    refuse: Callable[[ThrottlingSMTPServer, Connect], tuple[int, bytes | str]],
) -> None:
    with ThrottlingSMTPServer(limit=1, throttle_stage=stage) as server:
        first = connect(server)
        assert refuse(server, connect) == (432, THROTTLE_TEXT)
        assert server.rejections == 1
        # The refused connection is closed by the server; the first one lives on.
        server.wait_for_open_connections(1)
        assert first.sendmail(SENDER, [RCPT], message()) == {}
        assert server.delivered == 1
        assert server.connections == 2


def test_throttled_connection_is_closed_by_the_server(connect: Connect) -> None:
    with ThrottlingSMTPServer(limit=1) as server:
        connect(server)
        second = connect(server)
        with pytest.raises(smtplib.SMTPDataError):
            second.sendmail(SENDER, [RCPT], message())
        with pytest.raises(smtplib.SMTPServerDisconnected):
            second.noop()
        server.wait_for_open_connections(1)


def test_open_connection_moves_up_when_an_older_one_closes(connect: Connect) -> None:
    with ThrottlingSMTPServer(limit=1, close_after_throttle=False) as server:
        first = connect(server)
        second = connect(server)
        for _ in range(2):  # checked again at every transaction
            with pytest.raises(smtplib.SMTPDataError) as info:
                second.sendmail(SENDER, [RCPT], message())
            assert info.value.smtp_code == 432
        assert second.noop() == (250, b"OK")
        first.quit()
        server.wait_for_open_connections(1)
        assert second.sendmail(SENDER, [RCPT], message()) == {}
        assert (server.rejections, server.delivered) == (2, 1)


def test_lowered_limit_reaches_connections_already_open(connect: Connect) -> None:
    with ThrottlingSMTPServer(limit=3) as server:
        clients = [connect(server) for _ in range(3)]
        for client in clients:
            assert client.sendmail(SENDER, [RCPT], message()) == {}
        server.set_limit(1)
        assert server.limit == 1
        assert clients[0].sendmail(SENDER, [RCPT], message()) == {}
        for client in clients[1:]:
            with pytest.raises(smtplib.SMTPDataError) as info:
                client.sendmail(SENDER, [RCPT], message())
            assert (info.value.smtp_code, info.value.smtp_error) == (432, THROTTLE_TEXT)
        assert (server.delivered, server.rejections) == (4, 2)


def test_schedule_changes_the_limit_and_set_limit_holds_until_the_next_change(
    connect: Connect,
) -> None:
    now = [100.0]
    schedule = [(0, 2), (10, 1), (20, None), (30, 4)]
    limits = []
    with ThrottlingSMTPServer(limit=0, schedule=schedule, clock=lambda: now[0]) as server:
        limits.append(server.limit)
        first, second = connect(server), connect(server)
        assert second.sendmail(SENDER, [RCPT], message()) == {}
        now[0] = 110.0
        limits.append(server.limit)
        with pytest.raises(smtplib.SMTPDataError):
            second.sendmail(SENDER, [RCPT], message())
        assert first.sendmail(SENDER, [RCPT], message()) == {}
        now[0] = 120.0
        limits.append(server.limit)
        server.set_limit(3)
        limits.append(server.limit)
        now[0] = 130.0
        limits.append(server.limit)
    assert limits == [2, 1, None, 3, 4]


async def test_limit_at_connect_under_a_burst_greets_exactly_the_oldest() -> None:
    greetings: list[bytes] = []

    async def open_and_read_greeting(stack: contextlib.AsyncExitStack) -> None:
        stream = await trio.open_tcp_stream(server.host, server.port)
        await stack.enter_async_context(stream)
        greetings.append(await stream.receive_some(1024))

    with ThrottlingSMTPServer(limit=5, throttle_stage="connect") as server:
        async with contextlib.AsyncExitStack() as stack, trio.open_nursery() as nursery:
            for _ in range(40):
                nursery.start_soon(open_and_read_greeting, stack)
        await trio.to_thread.run_sync(server.wait_for_open_connections, 0)
        # Refused ones close at once, but the five oldest stay open and ahead of
        # every later connection, so exactly five are greeted.
        assert collections.Counter(g[:4] for g in greetings) == {b"220 ": 5, b"432 ": 35}
        assert (server.connections, server.rejections) == (40, 35)


# -- observations ------------------------------------------------------------------


def test_deliveries_are_counted_per_message_id(connect: Connect) -> None:
    folded = "Message-ID:\r\n <folded@test>\r\nSubject: x\r\n\r\nbody\r\n"
    with ThrottlingSMTPServer() as server:
        client = connect(server)
        for mid in ["<a@test>", "<b@test>", "<a@test>", None]:
            assert client.sendmail(SENDER, [RCPT], message(mid)) == {}
        client.sendmail(SENDER, [RCPT], folded)
        assert server.deliveries == {"<a@test>": 2, "<b@test>": 1, None: 1, "<folded@test>": 1}
        assert server.duplicates == {"<a@test>": 2}
        assert server.delivered == 5
        assert server.received[0] == ReceivedMessage(
            message_id="<a@test>",
            mail_from=SENDER,
            rcpt_tos=(RCPT,),
            raw=message("<a@test>").encode(),
        )
        client.quit()
        server.wait_for_open_connections(0)
        assert server.statistics() == ServerStatistics(
            connections=1,
            open_connections=0,
            max_concurrent=1,
            delivered=5,
            unique_messages=3,
            duplicate_deliveries=1,
            rejections=0,
            drops=0,
            limit=None,
        )


def test_received_keeps_only_the_latest(connect: Connect) -> None:
    with ThrottlingSMTPServer(keep_received=2) as server:
        client = connect(server)
        for n in range(5):
            client.sendmail(SENDER, [RCPT], message(f"<{n}@test>"))
        assert [m.message_id for m in server.received] == ["<3@test>", "<4@test>"]
        assert server.delivered == 5


def test_max_concurrent_is_exact_for_simultaneous_connections(connect: Connect) -> None:
    count = 12
    all_open = threading.Barrier(count)

    def hold_one(server: ThrottlingSMTPServer) -> None:
        client = smtplib.SMTP(server.host, server.port, "client.test", timeout=5)
        all_open.wait(timeout=5)
        client.quit()

    with ThrottlingSMTPServer() as server:
        threads = [threading.Thread(target=hold_one, args=(server,)) for _ in range(count)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        server.wait_for_open_connections(0)
        for _ in range(3):  # one at a time never raises the high-water mark
            connect(server).quit()
            server.wait_for_open_connections(0)
        assert (server.max_concurrent, server.connections) == (count, count + 3)


# -- other misbehaviour ----------------------------------------------------------------


def test_rcpt_replies_refuse_some_recipients(connect: Connect) -> None:
    replies = {
        "nobody@example.com": "550 5.1.1 User unknown",
        "Later@Example.com": "451 4.2.0 Mailbox busy",
    }
    with ThrottlingSMTPServer(rcpt_replies=replies) as server:
        refused = connect(server).sendmail(
            SENDER, [RCPT, "nobody@example.com", "later@example.com"], message()
        )
        assert refused == {
            "nobody@example.com": (550, b"5.1.1 User unknown"),
            "later@example.com": (451, b"4.2.0 Mailbox busy"),
        }
        assert server.received[0].rcpt_tos == (RCPT,)


def test_data_reply_answers_every_message(connect: Connect) -> None:
    with ThrottlingSMTPServer(data_reply="554 5.6.0 bad content") as server:
        with pytest.raises(smtplib.SMTPDataError) as info:
            connect(server).sendmail(SENDER, [RCPT], message())
        assert (info.value.smtp_code, info.value.smtp_error) == (554, b"5.6.0 bad content")
        assert server.delivered == 0


def test_every_nth_end_of_data_is_dropped(connect: Connect) -> None:
    with ThrottlingSMTPServer(drop_after_data=2) as server:
        for _ in range(2):
            client = connect(server)
            assert client.sendmail(SENDER, [RCPT], message()) == {}
            with pytest.raises(smtplib.SMTPServerDisconnected):
                client.sendmail(SENDER, [RCPT], message())
        server.wait_for_open_connections(0)
        assert (server.delivered, server.drops) == (2, 2)


def test_stall_makes_the_client_time_out(connect: Connect) -> None:
    with ThrottlingSMTPServer(stall_s=30, stall_stage="mail") as server:
        client = connect(server)
        client.ehlo()
        # Short only from here: a loaded machine may take a while to greet.
        assert client.sock is not None
        client.sock.settimeout(1.0)
        with pytest.raises(smtplib.SMTPServerDisconnected, match="timed out"):
            client.sendmail(SENDER, [RCPT], message())
        started = time.monotonic()
    assert time.monotonic() - started < 2  # stop() does not wait out the stall
    assert server.open_connections == 0


def test_latency_delays_the_answer_to_data(connect: Connect) -> None:
    with ThrottlingSMTPServer(latency_s=0.15) as server:
        client = connect(server)
        started = time.monotonic()
        client.sendmail(SENDER, [RCPT], message())
        assert time.monotonic() - started >= 0.15


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
def test_auth_with_the_right_credentials_lets_mail_through(
    connect: Connect, mechanism: str
) -> None:
    with ThrottlingSMTPServer(auth=("user", "secret")) as server:
        client = connect(server)
        client.ehlo()
        client.user, client.password = "user", "secret"
        code, _ = client.auth(mechanism, getattr(client, f"auth_{mechanism.lower()}"))
        assert code == 235
        assert client.sendmail(SENDER, [RCPT], message()) == {}


def test_auth_is_required_and_checked(connect: Connect) -> None:
    with ThrottlingSMTPServer(auth=("user", "secret")) as server:
        with pytest.raises(smtplib.SMTPSenderRefused) as refused:
            connect(server).sendmail(SENDER, [RCPT], message())
        assert refused.value.smtp_code == 530
        with pytest.raises(smtplib.SMTPAuthenticationError) as failed:
            connect(server).login("user", "wrong")
        assert failed.value.smtp_code == 535
        assert server.delivered == 0


def test_auth_reply_fails_every_attempt(connect: Connect) -> None:
    reply = (
        "535 5.7.139 Authentication unsuccessful, the request did not meet the "
        "criteria to be authenticated successfully."
    )
    with ThrottlingSMTPServer(auth=("user", "secret"), auth_reply=reply) as server:
        with pytest.raises(smtplib.SMTPAuthenticationError) as info:
            connect(server).login("user", "secret")
        assert (info.value.smtp_code, info.value.smtp_error) == (535, reply[4:].encode())


def test_starttls_with_a_self_signed_certificate(connect: Connect) -> None:
    authority = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(server_context)
    client_context = ssl.create_default_context()
    authority.configure_trust(client_context)
    with ThrottlingSMTPServer(tls_context=server_context, limit=1) as server:
        client = connect(server)
        client.starttls(context=client_context)
        assert isinstance(client.sock, ssl.SSLSocket)
        assert client.sendmail(SENDER, [RCPT], message()) == {}
        # The TLS handshake re-enters aiosmtpd's connection_made: still one connection.
        assert (server.connections, server.open_connections, server.delivered) == (1, 1, 1)
        client.quit()
        server.wait_for_open_connections(0)


# -- lifecycle -----------------------------------------------------------------------


def test_start_and_stop_many_times_leaks_no_thread_or_port() -> None:
    threads_before = threading.active_count()
    server = ThrottlingSMTPServer()
    for _ in range(20):
        with server:
            port = server.port
            smtplib.SMTP(server.host, port, "client.test", timeout=5).quit()
        assert threading.active_count() == threads_before
        with pytest.raises(ConnectionRefusedError):
            smtplib.SMTP(server.host, port, "client.test", timeout=5)
    assert server.connections == 20


def test_a_taken_port_fails_start_and_leaves_no_thread() -> None:
    threads_before = threading.active_count()
    with ThrottlingSMTPServer() as server:
        taken = ThrottlingSMTPServer(port=server.port)
        with pytest.raises(OSError):
            taken.start()
        assert not taken.running
        with pytest.raises(RuntimeError):
            server.start()
    assert threading.active_count() == threads_before


def test_stop_aborts_open_connections(connect: Connect) -> None:
    with ThrottlingSMTPServer() as server:
        client = connect(server)
        started = time.monotonic()
    assert time.monotonic() - started < 1
    assert server.open_connections == 0
    with pytest.raises(smtplib.SMTPServerDisconnected):
        client.noop()


@pytest.mark.parametrize(
    "options",
    [{"throttle_stage": "auth"}, {"limit": -1}, {"data_reply": "oops"}, {"drop_after_data": 0}],
)
def test_bad_options_are_refused(options: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        ThrottlingSMTPServer(**options)  # type: ignore[arg-type]
