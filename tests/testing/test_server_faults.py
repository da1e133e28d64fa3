"""ThrottlingSMTPServer's faults in the message flow: hanging up after N
messages, cutting content off, losing the reply after delivery. Driven by
smtplib, and by hand for PIPELINING and CHUNKING."""

from __future__ import annotations

import smtplib
import time
from collections.abc import Callable

import pytest

from adaptsend.testing import ThrottlingSMTPServer
from tests.helpers.smtp_clients import RCPT, SENDER, Connect, RawConnect, message

SENDER_OK, RCPT_OK, ACCEPTED = "250 2.1.0 Sender OK", "250 2.1.5 Recipient OK", "250 2.0.0 OK"
GO_AHEAD = "354 End data with <CR><LF>.<CR><LF>"
TOO_MANY = "421 4.7.0 Too many messages for this session"
ENVELOPE = f"MAIL FROM:<{SENDER}>\r\nRCPT TO:<{RCPT}>\r\n".encode()


Write = Callable[[int], bytes]


def by_data(n: int) -> bytes:
    """Message ``<n@test>`` as a pipelining client that does not wait for
    354 writes it: envelope, DATA and content together."""
    return b"RSET\r\n" + ENVELOPE + b"DATA\r\n" + message(f"<{n}@test>").encode() + b".\r\n"


def by_bdat(n: int) -> bytes:
    """Message ``<n@test>`` as adaptsend writes it with CHUNKING."""
    content = message(f"<{n}@test>").encode()
    return b"RSET\r\n" + ENVELOPE + f"BDAT {len(content)} LAST\r\n".encode() + content


# The replies to one message of by_data() and of by_bdat(), all well.
REPLIES = {by_data: ["250 OK", SENDER_OK, RCPT_OK, GO_AHEAD, ACCEPTED]}
REPLIES[by_bdat] = ["250 OK", SENDER_OK, RCPT_OK, ACCEPTED]
WRITE = pytest.mark.parametrize("write", [by_data, by_bdat], ids=["data", "bdat"])


def delivered_ids(server: ThrottlingSMTPServer) -> list[str | None]:
    return sorted(server.deliveries, key=str)


# -- hanging up after N messages -------------------------------------------------------


def test_hang_up_after_n_messages_answers_the_next_mail_and_closes(connect: Connect) -> None:
    with ThrottlingSMTPServer(hang_up_after=2, hang_up_reply=TOO_MANY) as server:
        client = connect(server)
        for n in range(2):
            assert client.sendmail(SENDER, [RCPT], message(f"<{n}@test>")) == {}
        with pytest.raises(smtplib.SMTPSenderRefused) as info:
            client.sendmail(SENDER, [RCPT], message("<2@test>"))
        assert (info.value.smtp_code, info.value.smtp_error) == (421, TOO_MANY[4:].encode())
        # A new connection starts counting again.
        assert connect(server).sendmail(SENDER, [RCPT], message("<3@test>")) == {}
        assert (server.delivered, server.hangups) == (3, 1)


@pytest.mark.parametrize("command", [b"RSET", b"NOOP", b"QUIT", b"MAIL FROM:<a@test>"])
def test_the_hang_up_answers_whatever_command_comes_next(raw: RawConnect, command: bytes) -> None:
    with ThrottlingSMTPServer(hang_up_after=1, hang_up_reply=TOO_MANY) as server:
        client = raw(server)
        client.send(ENVELOPE + b"DATA\r\n" + message().encode() + b".\r\n")
        assert client.replies(4) == [SENDER_OK, RCPT_OK, GO_AHEAD, ACCEPTED]
        client.send(command + b"\r\n")
        assert client.replies(1) == [TOO_MANY]
        assert client.closed()
        assert server.hangups == 1


def test_without_a_reply_the_hang_up_says_nothing(raw: RawConnect) -> None:
    with ThrottlingSMTPServer(hang_up_after=1, chunking=True) as server:
        client = raw(server)
        client.send(by_bdat(0))
        assert client.replies(4) == REPLIES[by_bdat]
        client.send(b"RSET\r\n")
        assert client.closed()
        assert (server.delivered, server.hangups) == (1, 1)


@WRITE
@pytest.mark.parametrize("reply", [TOO_MANY, None], ids=["reply", "silent"])
def test_a_pipelined_batch_gets_exactly_n_messages_accepted(
    raw: RawConnect, write: Write, reply: str | None
) -> None:
    with ThrottlingSMTPServer(
        pipelining=True, chunking=True, hang_up_after=5, hang_up_reply=reply
    ) as server:
        client = raw(server)
        client.send(b"".join(write(n) for n in range(32)))
        assert client.replies(5 * len(REPLIES[write])) == REPLIES[write] * 5
        if reply is not None:
            assert client.replies(1) == [reply]
        assert client.closed()
        server.wait_for_open_connections(0)
        assert delivered_ids(server) == [f"<{n}@test>" for n in range(5)]
        assert (server.delivered, server.hangups) == (5, 1)


# -- cutting content off ------------------------------------------------------------


def test_every_nth_message_is_cut_off_in_its_content(connect: Connect) -> None:
    with ThrottlingSMTPServer(cut_content_every=2) as server:
        outcomes = []
        client = connect(server)
        for n in range(5):
            try:
                outcomes.append(client.sendmail(SENDER, [RCPT], message(f"<{n}@test>")))
            except smtplib.SMTPServerDisconnected:
                outcomes.append("cut")
                client = connect(server)
        assert outcomes == [{}, "cut", {}, "cut", {}]
        assert delivered_ids(server) == ["<0@test>", "<2@test>", "<4@test>"]
        assert (server.content_cuts, server.connections) == (2, 3)


@WRITE
def test_a_pipelined_message_is_cut_off_after_its_envelope(raw: RawConnect, write: Write) -> None:
    with ThrottlingSMTPServer(pipelining=True, chunking=True, cut_content_every=3) as server:
        client = raw(server)
        client.send(b"".join(write(n) for n in range(6)))
        # The third message is cut off after its envelope (and the 354 to DATA);
        # the ones behind it go with the connection.
        replies = REPLIES[write]
        cut_after = replies[: replies.index(RCPT_OK) + 1] + ([GO_AHEAD] if write is by_data else [])
        assert client.replies(2 * len(replies) + len(cut_after)) == replies * 2 + cut_after
        assert client.closed()
        server.wait_for_open_connections(0)
        assert delivered_ids(server) == ["<0@test>", "<1@test>"]
        assert server.content_cuts == 1


def test_a_message_in_chunks_is_cut_off_in_its_first_chunk(raw: RawConnect) -> None:
    with ThrottlingSMTPServer(chunking=True, cut_content_every=1) as server:
        client = raw(server)
        content = message().encode()
        client.send(ENVELOPE + f"BDAT {len(content)}\r\n".encode() + content[:10])
        assert client.replies(2) == [SENDER_OK, RCPT_OK]
        assert client.closed()
        assert (server.delivered, server.content_cuts) == (0, 1)


# -- losing the reply after delivery ---------------------------------------------------


def test_a_lost_reply_is_delivered_and_never_answered(connect: Connect) -> None:
    with ThrottlingSMTPServer(lose_reply_every=2) as server:
        client = connect(server)
        assert client.sendmail(SENDER, [RCPT], message("<0@test>")) == {}
        with pytest.raises(smtplib.SMTPServerDisconnected):
            client.sendmail(SENDER, [RCPT], message("<1@test>"))
        assert delivered_ids(server) == ["<0@test>", "<1@test>"]
        assert (server.delivered, server.replies_lost, server.drops) == (2, 1, 0)


def test_a_stalled_lost_reply_outlasts_the_client_timeout(connect: Connect) -> None:
    with ThrottlingSMTPServer(lose_reply_every=1, lose_reply_stall_s=30) as server:
        client = connect(server)
        client.ehlo()
        # Short only from here: a loaded machine may take a while to greet.
        assert client.sock is not None
        client.sock.settimeout(1.0)
        with pytest.raises(smtplib.SMTPServerDisconnected, match="timed out"):
            client.sendmail(SENDER, [RCPT], message())
        assert (server.delivered, server.replies_lost) == (1, 1)
        started = time.monotonic()
    assert time.monotonic() - started < 2  # stop() does not wait out the stall


def test_a_stalled_lost_reply_ends_in_a_close_without_the_reply(connect: Connect) -> None:
    with ThrottlingSMTPServer(lose_reply_every=1, lose_reply_stall_s=0.05) as server:
        client = connect(server)
        with pytest.raises(smtplib.SMTPServerDisconnected, match="unexpectedly closed"):
            client.sendmail(SENDER, [RCPT], message())
        assert (server.delivered, server.replies_lost) == (1, 1)


@WRITE
def test_a_pipelined_batch_loses_one_reply_and_the_messages_behind(
    raw: RawConnect, write: Write
) -> None:
    with ThrottlingSMTPServer(pipelining=True, chunking=True, lose_reply_every=3) as server:
        client = raw(server)
        client.send(b"".join(write(n) for n in range(6)))
        replies = REPLIES[write]
        assert client.replies(3 * len(replies) - 1) == (replies * 3)[:-1]
        assert client.closed()
        server.wait_for_open_connections(0)
        # The third message went through although its reply never came.
        assert delivered_ids(server) == ["<0@test>", "<1@test>", "<2@test>"]
        assert server.replies_lost == 1


def test_refused_messages_do_not_count_towards_lost_replies(connect: Connect) -> None:
    refuse = {"refused@example.com": "554 5.6.0 Content refused"}
    with ThrottlingSMTPServer(lose_reply_every=2, data_replies=refuse) as server:
        client = connect(server)
        assert client.sendmail(SENDER, [RCPT], message()) == {}
        for _ in range(2):
            with pytest.raises(smtplib.SMTPDataError):
                client.sendmail(SENDER, ["refused@example.com"], message())
        with pytest.raises(smtplib.SMTPServerDisconnected):
            client.sendmail(SENDER, [RCPT], message())
        assert (server.delivered, server.replies_lost) == (2, 1)


# -- faults together -----------------------------------------------------------------


def test_faults_combine_and_their_counts_add_up(connect: Connect) -> None:
    with ThrottlingSMTPServer(
        hang_up_after=3,
        hang_up_reply=TOO_MANY,
        cut_content_every=4,
        drop_after_data=7,
        lose_reply_every=5,
    ) as server:
        sent = no_reply = refused = 0
        client = connect(server)
        for n in range(40):
            try:
                client.sendmail(SENDER, [RCPT], message(f"<{n}@test>"))
                sent += 1
            except smtplib.SMTPSenderRefused:  # hung up on, with a reply
                refused += 1
                client = connect(server)
            except smtplib.SMTPServerDisconnected:  # cut, dropped, or the reply lost
                no_reply += 1
                client = connect(server)
        statistics = server.statistics()
    assert sent + no_reply + refused == 40
    assert statistics.hangups == refused
    assert statistics.delivered == sent + statistics.replies_lost
    assert no_reply == statistics.content_cuts + statistics.drops + statistics.replies_lost
    # Each fault counts its own occasions server-wide, so a run gives the same
    # counts every time: every 4th message to start its content is cut, every
    # 7th end of data is dropped, every 5th accepted message loses its reply,
    # and two connections reached 3 accepted messages and were hung up on.
    counts = (statistics.content_cuts, statistics.drops, statistics.replies_lost, refused)
    assert counts == (9, 4, 5, 2)
