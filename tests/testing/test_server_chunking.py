"""ThrottlingSMTPServer and the bench sink taking CHUNKING (BDAT, RFC 3030),
driven by hand over real TCP."""

from __future__ import annotations

import pytest

from adaptsend.testing import DEFAULT_THROTTLE_REPLY, ReceivedMessage, ThrottlingSMTPServer
from bench._server import ServerProcess
from tests.helpers.smtp_clients import RCPT, SENDER, Connect, RawConnect, message

# A line that DATA would have to dot-stuff: BDAT must keep it as sent.
BODY = "..and a line that starts with dots\r\n"
SENDER_OK, RCPT_OK, ACCEPTED = "250 2.1.0 Sender OK", "250 2.1.5 Recipient OK", "250 2.0.0 OK"


def bdat_message(message_id: str = "<1@test>", rcpt: str = RCPT) -> tuple[bytes, bytes]:
    """One pipelined transaction by BDAT LAST, and the content it carries."""
    content = (message(message_id) + BODY).encode()
    envelope = f"MAIL FROM:<{SENDER}>\r\nRCPT TO:<{rcpt}>\r\n"
    return f"{envelope}BDAT {len(content)} LAST\r\n".encode() + content, content


def test_bdat_last_delivers_the_content_as_sent(raw: RawConnect) -> None:
    with ThrottlingSMTPServer(chunking=True) as server:
        transaction, content = bdat_message()
        client = raw(server)
        client.send(transaction)
        assert client.replies(3) == [SENDER_OK, RCPT_OK, ACCEPTED]
        assert server.received == [
            ReceivedMessage(message_id="<1@test>", mail_from=SENDER, rcpt_tos=(RCPT,), raw=content)
        ]


def test_pipelined_bdat_transactions_are_answered_in_order(raw: RawConnect) -> None:
    with ThrottlingSMTPServer(chunking=True, pipelining=True) as server:
        client = raw(server)
        client.send(b"".join(bdat_message(f"<{n}@test>")[0] for n in range(3)))
        assert client.replies(9) == [SENDER_OK, RCPT_OK, ACCEPTED] * 3
        assert server.deliveries == {"<0@test>": 1, "<1@test>": 1, "<2@test>": 1}


def test_a_message_in_two_chunks_is_joined(raw: RawConnect) -> None:
    content = (message("<split@test>") + BODY).encode()
    first, second = content[:5], content[5:]  # split inside the Message-ID header
    with ThrottlingSMTPServer(chunking=True) as server:
        client = raw(server)
        client.send(f"MAIL FROM:<{SENDER}>\r\nRCPT TO:<{RCPT}>\r\n".encode())
        client.send(f"BDAT {len(first)}\r\n".encode() + first)
        client.send(f"BDAT {len(second)} LAST\r\n".encode() + second)
        assert client.replies(4) == [SENDER_OK, RCPT_OK, "250 2.0.0 5 octets received", ACCEPTED]
        (received,) = server.received
        assert (received.message_id, received.raw) == ("<split@test>", content)


def test_bdat_after_a_refused_rcpt_is_refused_and_its_chunk_skipped(raw: RawConnect) -> None:
    nobody = "nobody@example.com"
    with ThrottlingSMTPServer(chunking=True, rcpt_replies={nobody: "550 5.1.1 No"}) as server:
        client = raw(server)
        refused, _ = bdat_message("<refused@test>", rcpt=nobody)
        accepted, _ = bdat_message("<accepted@test>")
        client.send(refused + b"RSET\r\n" + accepted)
        replies = client.replies(7)
        assert replies[:2] == [SENDER_OK, "550 5.1.1 No"]
        assert replies[2].startswith("503 5.5.1 ")
        assert replies[3:] == ["250 OK", SENDER_OK, RCPT_OK, ACCEPTED]
        assert server.deliveries == {"<accepted@test>": 1}


def test_bdat_without_mail_leaves_no_transaction_behind(raw: RawConnect) -> None:
    with ThrottlingSMTPServer(chunking=True) as server:
        client = raw(server)
        # Commands inside the chunk are data: read, never run.
        chunk = f"MAIL FROM:<{SENDER}>\r\n".encode()
        transaction, _ = bdat_message()
        client.send(f"BDAT {len(chunk)} LAST\r\n".encode() + chunk + transaction)
        replies = client.replies(4)
        assert replies[0].startswith("503 5.5.1 ")
        assert replies[1:] == [SENDER_OK, RCPT_OK, ACCEPTED]
        assert server.delivered == 1


def test_throttle_at_data_applies_to_bdat_last(raw: RawConnect) -> None:
    with ThrottlingSMTPServer(chunking=True, limit=0) as server:
        client = raw(server)
        client.send(bdat_message()[0])
        assert client.replies(3) == [SENDER_OK, RCPT_OK, DEFAULT_THROTTLE_REPLY]
        assert client.closed()
        assert (server.rejections, server.delivered) == (1, 0)


def test_drop_after_data_applies_to_bdat_last_and_ends_the_pipeline(raw: RawConnect) -> None:
    with ThrottlingSMTPServer(chunking=True, pipelining=True, drop_after_data=2) as server:
        client = raw(server)
        client.send(b"".join(bdat_message(f"<{n}@test>")[0] for n in range(3)))
        assert client.replies(5) == [SENDER_OK, RCPT_OK, ACCEPTED, SENDER_OK, RCPT_OK]
        assert client.closed()
        server.wait_for_open_connections(0)
        # The third message, already sent, was neither answered nor delivered.
        assert (server.drops, server.deliveries) == (1, {"<0@test>": 1})


def test_bdat_with_a_bad_size_is_refused_and_the_connection_closed(raw: RawConnect) -> None:
    with ThrottlingSMTPServer(chunking=True) as server:
        client = raw(server)
        client.send(b"BDAT ten LAST\r\n")
        assert client.replies(1) == ["501 5.5.4 Syntax: BDAT <size> [LAST]"]
        assert client.closed()


@pytest.mark.parametrize("chunking", [False, True])
def test_chunking_is_offered_only_when_asked_and_data_still_works(
    connect: Connect, raw: RawConnect, chunking: bool
) -> None:
    with ThrottlingSMTPServer(chunking=chunking) as server:
        client = connect(server)
        client.ehlo()
        assert client.has_extn("chunking") is chunking
        assert client.sendmail(SENDER, [RCPT], message()) == {}
        bdat = raw(server)
        bdat.send(b"BDAT 0 LAST\r\n")
        assert bdat.replies(1)[0][:3] == ("503" if chunking else "500")


def test_bench_sink_counts_bdat_messages(raw: RawConnect) -> None:
    with ServerProcess(module="bench._sink") as sink:
        client = raw(sink)
        content = b"Message-ID: <chunked@test>\r\n\r\nbody\r\n"
        first, second = content[:5], content[5:]
        client.send(
            b"".join(
                [
                    b"MAIL FROM:<a@test>\r\nRCPT TO:<b@test>\r\n",
                    f"BDAT {len(first)}\r\n".encode() + first,
                    f"BDAT {len(second)} LAST\r\n".encode() + second,
                    bdat_message("<single@test>")[0],
                ]
            )
        )
        assert [reply[:3] for reply in client.replies(7)] == ["250"] * 7
        statistics = sink.stop()
    assert (statistics.delivered, statistics.unique_messages) == (2, 2)
