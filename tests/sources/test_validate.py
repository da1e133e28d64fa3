"""Property tests of the one door: whatever comes in is either queued as
composed (the bytes parse back to the same headers and recipients) or rejected
with a MessageError sentence, never another exception."""

from __future__ import annotations

import email
import email.policy
import json
from email.message import EmailMessage
from pathlib import Path
from typing import Any, cast

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adaptsend import Envelope, Message, MessageError
from adaptsend.sources._compose import compose
from adaptsend.sources._ingest import Rejected, read_jsonl
from adaptsend.sources._validate import (
    ADDRESS_HEADERS,
    CheckedMessage,
    check_envelope,
    check_message,
    needs_smtputf8,
)
from adaptsend.sources._validate_address import mailboxes

#: Modest, so that each property runs in a few seconds.
FEW = settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)

#: Pieces that have broken mail software: line breaks, NUL, separators,
#: non-ASCII, a lone surrogate, an injected header.
HOSTILE = st.sampled_from(
    [
        *("\r\n", "\n", "\r", "\x00", "\x0b", "\x85", "\u2028", ":", ",", ";", "<", ">", "@"),
        *('"', "\\", " ", "\t", "é", "例え", "\ud800", "\r\nBcc: evil@x.example", "=?utf-8?q?x?="),
    ]
)
TEXT = st.lists(st.one_of(HOSTILE, st.text(max_size=8)), max_size=6).map("".join)
ADDRESS = st.one_of(
    st.sampled_from(
        ["a@x.example", "B <b@y.example>", "jörg@例え.jp", "c@localhost", '"Doe, J" <j@x.example>']
    ),
    st.builds(lambda a, b: f"{a}@{b}", TEXT, TEXT),
    TEXT,
)
ADDRESSES = st.one_of(ADDRESS, st.lists(ADDRESS, max_size=3))
HEADER_NAME = st.one_of(st.sampled_from(["X-Tag", "Reply-To", "Subject", "X-A b"]), TEXT)


def parsed(content: bytes) -> EmailMessage:
    # UTF-8 headers (SMTPUTF8) come back as text only when decoded first.
    mail = email.message_from_string(content.decode("utf-8"), policy=email.policy.default)
    return cast(EmailMessage, mail)


def addresses_in(mail: EmailMessage, name: str) -> list[tuple[str, str]]:
    header = mail[name]
    if header is None:
        return []
    return [(a.display_name, a.addr_spec) for a in header.addresses]


def assert_words(found: str, given: str) -> None:
    # Folding may not keep runs of white space; the words are what was given.
    # Text that looks like an RFC 2047 encoded word ("=?utf-8?q?x?=") is
    # decoded by every reader, as the standard says; only its header is checked.
    if "=?" not in given:
        assert found.split() == given.split()


def assert_composed_as_given(message: Message, envelope: Envelope) -> None:
    checked: CheckedMessage = check_message(message)
    mail = parsed(envelope.content)
    assert envelope.sender == checked.sender.address
    assert envelope.recipients == tuple(m.address for m in checked.recipients)
    for name, boxes in (("To", checked.to), ("Cc", checked.cc)):
        assert addresses_in(mail, name) == [(m.display_name, m.address) for m in boxes]
    assert addresses_in(mail, "From") == [(checked.sender.display_name, checked.sender.address)]
    assert mail["Bcc"] is None
    assert mail["Message-ID"] == envelope.message_id
    assert_words(str(mail["Subject"] or ""), message.subject)
    for name, value in checked.headers:
        [found] = mail.get_all(name, [])
        if name.lower() in ADDRESS_HEADERS:
            assert [(a.display_name, a.addr_spec) for a in found.addresses] == [
                (m.display_name, m.address) for m in mailboxes(value, what=name)
            ]
        else:
            assert_words(str(found), value)
    expected = {"from", "to", "cc", "subject", "date", "message-id", "mime-version"}
    expected |= {"content-type", "content-transfer-encoding"}
    expected |= {name.lower() for name in message.headers}
    assert {name.lower() for name in mail} <= expected


@FEW
@given(
    sender=ADDRESS,
    to=ADDRESSES,
    cc=ADDRESSES,
    bcc=ADDRESSES,
    subject=TEXT,
    text=st.none() | TEXT,
    headers=st.dictionaries(HEADER_NAME, TEXT, max_size=2),
    message_id=st.none() | TEXT | TEXT.map(lambda t: f"<{t}@x.example>"),
)
def test_a_message_is_composed_as_given_or_rejected(
    sender: str,
    to: Any,
    cc: Any,
    bcc: Any,
    subject: str,
    text: str | None,
    headers: dict[str, str],
    message_id: str | None,
) -> None:
    message = Message(
        sender=sender,
        to=to,
        cc=cc,
        bcc=bcc,
        subject=subject,
        text=text,
        headers=headers,
        message_id=message_id,
    )
    try:
        envelope = compose(message)
    except MessageError as exc:
        assert str(exc) and "\n" not in str(exc)
        return
    assert_composed_as_given(message, envelope)


def record(**fields: Any) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not None}


RECORDS = st.builds(
    record,
    **{"from": ADDRESS},
    to=ADDRESSES,
    subject=st.none() | TEXT,
    text=st.none() | TEXT,
    headers=st.none() | st.dictionaries(HEADER_NAME, TEXT, max_size=2),
    message_id=st.none() | TEXT,
)
LINES = st.one_of(
    RECORDS.map(lambda r: json.dumps(r).encode("utf-8", "surrogatepass")),
    RECORDS.map(lambda r: json.dumps(r, ensure_ascii=False).encode("utf-8", "surrogatepass")),
    st.binary(max_size=40),
)


@FEW
@given(lines=st.lists(LINES, max_size=4))
def test_every_jsonl_line_is_queued_as_given_or_rejected_alone(
    tmp_path_factory: pytest.TempPathFactory, lines: list[bytes]
) -> None:
    # One line per item: a line of binary noise holding a newline is split as a file would be.
    data = b"\n".join(line.replace(b"\n", b" ") for line in lines)
    results = list(
        read_jsonl(
            data.split(b"\n"), name="in.jsonl", base_dir=Path(tmp_path_factory.getbasetemp())
        )
    )
    assert len(results) == sum(1 for line in data.split(b"\n") if line.strip(b" \t\r\n"))
    for result in results:
        if isinstance(result, Rejected):
            assert result.where.startswith("in.jsonl line ")
            assert result.reason and "\n" not in result.reason
        else:
            assert isinstance(result, Envelope)
            assert all("\r" not in r and "\n" not in r for r in result.recipients)


@FEW
@given(
    message_id=TEXT | TEXT.map(lambda t: f"<{t}@x.example>"),
    sender=ADDRESS,
    recipients=st.lists(ADDRESS, max_size=3),
)
def test_an_envelope_is_accepted_whole_or_rejected(
    message_id: str, sender: str, recipients: list[str]
) -> None:
    envelope = Envelope(
        message_id=message_id, sender=sender, recipients=tuple(recipients), content=b"x"
    )
    try:
        checked = check_envelope(envelope)
    except MessageError as exc:
        assert str(exc) and "\n" not in str(exc)
        return
    assert len(checked.recipients) == len(recipients) > 0
    for address in (checked.sender, *checked.recipients):
        assert not set(address) & set("\r\n\x00<>, ")
    assert checked.message_id.startswith("<") and len(checked.message_id) <= 255


def test_a_non_ascii_local_part_is_checked_and_marks_the_message_smtputf8() -> None:
    envelope = compose(Message(sender="r@example.com", to="Jörg <jörg@例え.jp>", subject="é"))
    assert envelope.recipients == ("jörg@xn--r8jz45g.jp",)
    assert needs_smtputf8(envelope)
    # UTF-8 headers (RFC 6532), as only an SMTPUTF8 server may be given.
    assert '"Jörg" <jörg@xn--r8jz45g.jp>'.encode() in envelope.content
    assert not needs_smtputf8(compose(Message(sender="r@example.com", to="bob@例え.jp")))
    with pytest.raises(MessageError) as caught:
        compose(Message(sender="r@example.com", to="jörg@例え..jp"))
    assert str(caught.value).startswith("'to' address 'jörg@例え..jp' is not an email address")
