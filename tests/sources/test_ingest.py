"""Reading messages from JSON Lines and .eml files, and composing them."""

from __future__ import annotations

import base64
import email
import email.policy
from pathlib import Path

import pytest

from adaptsend import Attachment, Message, MessageError
from adaptsend.sources._compose import compose
from adaptsend.sources._ingest import Rejected, read_eml, read_jsonl


def test_jsonl_yields_envelopes_and_numbered_rejections(tmp_path: Path) -> None:
    (tmp_path / "r.csv").write_text("a,b\n")
    lines = [
        '{"from": "a@example.com", "to": ["b@example.com"], "subject": "s", "text": "t",'
        ' "attachments": [{"path": "r.csv"}], "message_id": "<fixed@example.com>"}',
        "",
        '{"from": "a@example.com", "to": ["b@example.com"], "colour": "red"}',
        '{"from": "a@example.com", "to": []}',
        '{"from": "a@example.com", "to": ["b@example.com"], "attachments": [{"filename": "x.bin",'
        ' "content_b64": "%%%"}]}',
        "[1, 2]",
    ]
    results = list(read_jsonl(lines, name="batch.jsonl", base_dir=tmp_path))

    first = results[0]
    assert not isinstance(first, Rejected)
    assert first.message_id == "<fixed@example.com>"
    assert first.recipients == ("b@example.com",)
    assert b'filename="r.csv"' in first.content
    assert [r.describe() for r in results[1:] if isinstance(r, Rejected)] == [
        "batch.jsonl line 3: unknown key 'colour'",
        "batch.jsonl line 4: the message has no recipients (to, cc or bcc)",
        "batch.jsonl line 5: attachment 'x.bin' has invalid base64 content",
        "batch.jsonl line 6: expected a JSON object",
    ]


def test_a_jsonl_line_of_control_characters_is_rejected_not_skipped(tmp_path: Path) -> None:
    # Python calls these white space; JSON does not, and a person should hear of them.
    lines = [b" \t\r", b"\x1c", b"\x0c", "\u2028".encode()]
    results = list(read_jsonl(lines, name="batch.jsonl", base_dir=tmp_path))

    assert [r.describe() for r in results if isinstance(r, Rejected)] == [
        "batch.jsonl line 2: not valid JSON (Expecting value at column 1)",
        "batch.jsonl line 3: not valid JSON (Expecting value at column 1)",
        "batch.jsonl line 4: not valid JSON (Expecting value at column 1)",
    ]
    assert len(results) == 3


def test_compose_keeps_bcc_out_of_the_headers_but_in_the_envelope() -> None:
    envelope = compose(
        Message(
            sender="Reports <reports@example.com>",
            to=("a@example.com",),
            cc=("b@example.com",),
            bcc=("hidden@example.com",),
            subject="Grüße",
            text="plain",
            html="<p>html</p>",
            attachments=(
                Attachment(filename="x.pdf", content_type="application/pdf", content=b"%PDF"),
            ),
        )
    )
    parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
    assert envelope.sender == "reports@example.com"
    assert envelope.recipients == ("a@example.com", "b@example.com", "hidden@example.com")
    assert "hidden@example.com" not in envelope.content.decode()
    assert parsed["Subject"] == "Grüße"
    assert parsed["Message-ID"] == envelope.message_id
    assert envelope.message_id.endswith("@example.com>")
    assert b"\r\n" in envelope.content
    assert parsed.get_body(("html",)).get_content().strip() == "<p>html</p>"
    pdf = next(iter(parsed.iter_attachments()))
    assert pdf.get_filename() == "x.pdf"
    assert base64.b64decode(pdf.get_payload()) == b"%PDF"


@pytest.mark.parametrize(
    ("message", "error"),
    [
        (Message(sender="", to=("a@example.com",)), "the message has no sender ('from')"),
        (
            Message(sender="not an address", to=("a@example.com",)),
            "the sender 'not an address' is not an email address: "
            "An email address must have an @-sign",
        ),
        (
            Message(sender="a@example.com", to=("b@example.com",), headers={"Subject": "x"}),
            "header 'Subject' is set from the message's own field, not 'headers'",
        ),
        (
            Message(sender="a@example.com", to=("b@example.com",), headers={"X-A": "1\r\nBcc: x"}),
            "header 'X-A' contains a line break",
        ),
    ],
)
def test_compose_rejects_what_cannot_be_sent(message: Message, error: str) -> None:
    with pytest.raises(MessageError) as caught:
        compose(message)
    assert str(caught.value) == error


def test_eml_takes_its_envelope_from_the_headers_and_drops_bcc(tmp_path: Path) -> None:
    path = tmp_path / "ready.eml"
    path.write_bytes(
        b"From: Reports <reports@example.com>\r\nTo: a@example.com\r\nBcc: secret@example.com\r\n"
        b"Subject: ready\r\n\r\nbody\r\n"
    )
    envelope = read_eml(path)
    assert envelope.sender == "reports@example.com"
    assert envelope.recipients == ("a@example.com", "secret@example.com")
    assert b"secret@example.com" not in envelope.content
    assert envelope.message_id.startswith("<") and envelope.message_id in envelope.content.decode()


def test_eml_without_recipients_is_one_sentence(tmp_path: Path) -> None:
    path = tmp_path / "empty.eml"
    path.write_bytes(b"From: reports@example.com\r\nSubject: x\r\n\r\nbody\r\n")
    with pytest.raises(MessageError, match="has no To, Cc or Bcc recipients"):
        read_eml(path)


def test_message_takes_one_address_or_a_list() -> None:
    message = Message(sender="a@example.com", to="b@example.com", cc=["c@example.com"])
    assert message.to == ("b@example.com",)
    assert message.recipients == ("b@example.com", "c@example.com")
