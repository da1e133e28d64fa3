"""Hostile and malformed input on the SMTP send side, over real sockets: an
address holding CR or LF never reaches the wire, an address that is not
ASCII goes with SMTPUTF8 or fails at once, a message larger than the server
or ``[smtp]`` allows fails before it is sent. Each refusal is one message's
permanent failure; the connection and the rest of the batch go on."""

from __future__ import annotations

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from adaptsend import Status, send_batch_async
from adaptsend._models import Envelope, Outcome, Stage
from adaptsend.testing import ThrottlingSMTPServer
from adaptsend.transports.smtp._wire import UnsafeCommand, command_group, envelope_commands
from tests.helpers.agent_config import MakeConfig
from tests.helpers.databases import rows
from tests.helpers.smtp_connections import big_envelope, send_all
from tests.helpers.smtp_fault_server import FaultServer

MODES = {
    "plain": {},
    "pipelining": {"pipelining": True},
    "chunking": {"pipelining": True, "chunking": True},
}
INJECTED = "a@example.com>\r\nRCPT TO:<evil@example.com"
UTF8_ADDRESS = "jörg@例え.jp"


def addressed(n: int, *recipients: str, sender: str = "r@example.com") -> Envelope:
    return attrs.evolve(big_envelope(n, 2_000), sender=sender, recipients=recipients)


def outcomes(db_url: str, message_id: str) -> list[tuple[str]]:
    sql = (
        "SELECT a.outcome FROM attempts a JOIN messages m ON m.id = a.message_pk "
        f"WHERE m.message_id = '{message_id}' ORDER BY a.id"
    )
    return rows(db_url, sql)  # type: ignore[return-value]


# -- CR, LF and NUL ---------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("bad", "what"),
    [
        (addressed(1, INJECTED), "recipient address"),
        (addressed(1, "b@example.com", sender="r@example.com\nRSET"), "sender address"),
        (addressed(1, "nul\0@example.com"), "recipient address"),
    ],
    ids=["crlf-recipient", "lf-sender", "nul-recipient"],
)
async def test_a_line_break_in_an_address_fails_that_message_before_a_byte_is_written(
    mode: str, bad: Envelope, what: str
) -> None:
    batch = [addressed(0, "a@example.com"), bad, addressed(2, "c@example.com")]
    with FaultServer(**MODES[mode]).running() as relay:  # type: ignore[arg-type]
        attempts = await send_all(relay.port, batch)

    results = [a.result for a in attempts]
    assert [r.reply.code for r in results] == [250, None, 250]
    refused = results[1]
    assert refused.outcome is Outcome.PERMANENT
    assert refused.connection_usable and not refused.untouched
    assert refused.reply.text.startswith(f"The {what} ")
    assert refused.reply.text.endswith(
        "holds a line break or NUL, which an SMTP command cannot carry; the message was not sent."
    )
    assert relay.delivered == ["<big-0@example.com>", "<big-2@example.com>"]
    assert relay.recipients == [("a@example.com",), ("c@example.com",)]
    # Nothing of it reached the server: one MAIL per delivered message.
    assert relay.transactions == 2
    assert not any(b"evil" in c or b"nul" in c for c in relay.commands)


@given(
    sender=st.text(max_size=30),
    recipients=st.lists(st.text(max_size=30), min_size=1, max_size=4),
    utf8=st.booleans(),
)
def test_command_lines_end_where_they_should_or_are_refused(
    sender: str, recipients: list[str], utf8: bool
) -> None:
    envelope = Envelope(
        message_id="<p@x>", sender=sender, recipients=tuple(recipients), content=b""
    )
    options = ["SIZE=0", *["SMTPUTF8"] * utf8]
    unsafe = any(c in text for text in (sender, *recipients) for c in "\r\n\0")
    try:
        written = command_group(envelope, options)
    except UnsafeCommand:
        assert unsafe
        with pytest.raises(UnsafeCommand):
            envelope_commands(envelope, options)
        return
    except UnicodeEncodeError:
        assert not utf8
        return
    assert not unsafe
    # MAIL, one RCPT per recipient, DATA: one CRLF each, and no other CR or LF.
    assert written.count(b"\r\n") == len(recipients) + 2
    assert written.count(b"\r") == written.count(b"\n") == len(recipients) + 2
    assert b"\0" not in written
    assert written.endswith(b"\r\nDATA\r\n")


async def test_an_injected_recipient_never_reaches_a_pipelining_server_end_to_end(
    make_config: MakeConfig, db_url: str
) -> None:
    good = addressed(0, "a@example.com")
    bad = addressed(1, INJECTED)
    with ThrottlingSMTPServer(pipelining=True) as server:
        report = await send_batch_async([good, bad], config=make_config(server))

    assert [m.rcpt_tos for m in server.received] == [("a@example.com",)]
    sent = [r for r in report.results if r.status is Status.SENT]
    assert [r.message_id for r in sent] == [good.message_id]
    # Refused when it was queued, or by the transport before a byte was written.
    if not report.rejected:
        [refused] = [r for r in report.results if r.message_id == bad.message_id]
        assert refused.status is Status.FAILED
        assert refused.last_reply is not None
        assert "cannot carry" in refused.last_reply.text
        assert outcomes(db_url, bad.message_id) == [("permanent",)]


# -- SMTPUTF8 ---------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
async def test_an_address_that_is_not_ascii_goes_with_smtputf8(mode: str) -> None:
    batch = [
        addressed(0, "a@example.com"),
        addressed(1, UTF8_ADDRESS, "b@example.com"),
        addressed(2, "c@example.com", sender="zoë@example.com"),
    ]
    with FaultServer(**MODES[mode], smtputf8=True).running() as relay:  # type: ignore[arg-type]
        attempts = await send_all(relay.port, batch)

    assert [a.result.reply.code for a in attempts] == [250, 250, 250]
    assert relay.recipients == [
        ("a@example.com",),
        (UTF8_ADDRESS, "b@example.com"),
        ("c@example.com",),
    ]
    mails = [c for c in relay.commands if c.startswith(b"MAIL")]
    assert mails == [
        b"MAIL FROM:<r@example.com>\r\n",
        b"MAIL FROM:<r@example.com> SMTPUTF8\r\n",
        "MAIL FROM:<zoë@example.com> SMTPUTF8\r\n".encode(),
    ]
    assert f"RCPT TO:<{UTF8_ADDRESS}>\r\n".encode() in relay.commands


@pytest.mark.parametrize("mode", MODES)
async def test_without_smtputf8_such_a_message_fails_before_anything_is_written(mode: str) -> None:
    batch = [
        addressed(0, "a@example.com"),
        addressed(1, UTF8_ADDRESS),
        addressed(2, "c@example.com"),
    ]
    with FaultServer(**MODES[mode]).running() as relay:  # type: ignore[arg-type]
        attempts = await send_all(relay.port, batch)

    refused = attempts[1].result
    assert (refused.outcome, refused.reply.stage) == (Outcome.PERMANENT, Stage.RCPT)
    assert refused.reply.text == (
        f"The recipient address {UTF8_ADDRESS!r} needs SMTPUTF8, which the server does not offer."
    )
    assert refused.connection_usable
    assert relay.recipients == [("a@example.com",), ("c@example.com",)]
    assert relay.transactions == 2


async def test_an_address_that_is_not_ascii_end_to_end(make_config: MakeConfig) -> None:
    with ThrottlingSMTPServer(pipelining=True, chunking=True) as server:
        report = await send_batch_async(
            [addressed(0, UTF8_ADDRESS, sender="zoë@example.com")], config=make_config(server)
        )

    assert [r.status for r in report.results] == [Status.SENT]
    assert [r.attempts for r in report.results] == [1]
    [message] = server.received
    assert message.mail_from == "zoë@example.com"
    # Queuing may write the domain in its ASCII form; the local part stays UTF-8.
    assert message.rcpt_tos in ((UTF8_ADDRESS,), ("jörg@xn--r8jz45g.jp",))


# -- size -------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
async def test_a_message_larger_than_the_servers_size_fails_before_it_is_sent(mode: str) -> None:
    small, large = big_envelope(0, 2_000), big_envelope(1, 20_000)
    with FaultServer(**MODES[mode], size=10_000).running() as relay:  # type: ignore[arg-type]
        attempts = await send_all(relay.port, [small, large, big_envelope(2, 2_000)])

    refused = attempts[1].result
    assert refused.outcome is Outcome.PERMANENT and refused.connection_usable
    assert refused.reply.text == (
        f"The message is {len(large.content):,} bytes, larger than the 10,000 bytes "
        "the server takes (its EHLO SIZE); it was not sent."
    )
    assert relay.delivered == ["<big-0@example.com>", "<big-2@example.com>"]
    assert relay.transactions == 2


async def test_max_message_bytes_applies_when_it_is_below_the_servers_size(
    make_config: MakeConfig, db_url: str
) -> None:
    large = big_envelope(1, 20_000)
    with ThrottlingSMTPServer(pipelining=True) as server:
        config = make_config(server, smtp={"max_message_bytes": 10_000})
        report = await send_batch_async([big_envelope(0, 2_000), large], config=config)

    assert [r.status for r in report.results] == [Status.SENT, Status.FAILED]
    failed = report.results[1].last_reply
    assert failed is not None
    assert failed.text == (
        f"The message is {len(large.content):,} bytes, larger than the 10,000 bytes "
        "[smtp] max_message_bytes allows; it was not sent."
    )
    assert [m.message_id for m in server.received] == ["<big-0@example.com>"]
    assert rows(db_url, "SELECT count(*) FROM attempts") == [(2,)]
