"""A message too large for one Graph request goes through a draft: the rest
of its MIME, then its attachments (an upload session for a large one, one
request for a small one), then the draft's send. Exact requests, exact bytes."""

from __future__ import annotations

import base64
import json
import logging
import re

import pytest
from conftest import MAILBOX, MakeConfig, Rows

from adaptsend import Attachment, Envelope, Message, Status, send_batch_async
from adaptsend.cli._common import exit_code
from adaptsend.sources._compose import compose
from adaptsend.testing import DEFAULT_GRAPH_TOKEN, FakeGraphServer, GraphAnswer
from adaptsend.testing.graph import ACCESS_DENIED, GraphRequest

USERS = "/v1.0/users/reports%40contoso.com"
#: 5,120,000 bytes that survive any encoding mistake only if handled right.
LARGE = bytes(range(256)) * 20_000


def message_with(*attachments: Attachment, text: str = "The quarterly figures.") -> Envelope:
    return compose(
        Message(
            sender=MAILBOX,
            to="board@contoso.com",
            subject="Quarterly report",
            text=text,
            attachments=attachments,
            message_id="<quarterly@contoso.com>",
        )
    )


def without_part(content: bytes, filename: str) -> bytes:
    """``content`` without the MIME part of the attachment ``filename``,
    from its boundary line to the next one: what the draft must be given."""
    boundary = re.search(rb'boundary="([^"]+)"', content)
    assert boundary is not None
    delimiter = b"--" + boundary.group(1)
    parts = content.split(delimiter)
    kept = [p for p in parts if f'filename="{filename}"'.encode() not in p]
    assert len(kept) == len(parts) - 1
    return delimiter.join(kept)


def summary(requests: list[GraphRequest]) -> list[tuple[str, str, int]]:
    """(method, path without ids and tokens, status) of each request."""
    cleaned = []
    for request in requests:
        path = re.sub(r"/messages/[^/?]+", "/messages/{id}", request.path)
        path = re.sub(r"/upload/[^?]+\?authtoken=.*", "/upload/{session}", path)
        cleaned.append((request.method, path, request.status))
    return cleaned


async def test_a_large_attachment_goes_by_upload_session_and_the_rest_byte_for_byte(
    graph_config: MakeConfig, rows: Rows, caplog: pytest.LogCaptureFixture
) -> None:
    envelope = message_with(
        Attachment(filename="q3.pdf", content_type="application/pdf", content=LARGE)
    )
    caplog.set_level(logging.INFO, logger="httpx")
    with FakeGraphServer() as graph:
        report = await send_batch_async([envelope], config=graph_config(graph))

    assert report.ok
    assert summary(graph.requests) == [
        ("POST", f"{USERS}/messages", 201),
        ("POST", f"{USERS}/messages/{{id}}/attachments/createUploadSession", 201),
        ("PUT", "/upload/{session}", 200),
        ("PUT", "/upload/{session}", 201),
        ("POST", f"{USERS}/messages/{{id}}/send", 202),
    ]
    draft, session, first, second, send = graph.requests
    assert draft.headers["content-type"] == "text/plain"
    assert draft.body == base64.b64encode(without_part(envelope.content, "q3.pdf"))
    assert json.loads(session.body) == {
        "AttachmentItem": {
            "attachmentType": "file",
            "name": "q3.pdf",
            "size": len(LARGE),
            "contentType": "application/pdf",
            "isInline": False,
        }
    }
    assert [r.headers["content-range"] for r in (first, second)] == [
        "bytes 0-3276799/5120000",
        "bytes 3276800-5119999/5120000",
    ]
    # The upload URL carries its own token: no bearer goes there.
    assert "authorization" not in first.headers and "authorization" not in second.headers
    assert {draft.headers["authorization"], send.headers["authorization"]} == {
        f"Bearer {DEFAULT_GRAPH_TOKEN}"
    }
    assert send.body == b""
    [delivered] = graph.delivered
    assert delivered.message_id == "<quarterly@contoso.com>"
    assert delivered.mime == without_part(envelope.content, "q3.pdf")
    [attached] = delivered.attachments
    assert (attached.name, attached.content_type, attached.content) == (
        "q3.pdf",
        "application/pdf",
        LARGE,
    )
    assert graph.statistics().drafts_left == 0
    assert rows("SELECT outcome, reply_code FROM attempts") == [("sent", 202)]
    # httpx logged each request's URL; the upload session's token was hidden.
    token = re.search(r"authtoken=([^&\s]+)", first.path)
    assert token is not None
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "authtoken=[redacted]" in logged and token.group(1) not in logged


async def test_small_attachments_taken_out_go_in_one_request_each(
    graph_config: MakeConfig,
) -> None:
    files = [
        Attachment(
            filename=f"part{n}.bin",
            content_type="application/octet-stream",
            content=bytes([n]) * 1_200_000,
        )
        for n in range(3)
    ]
    envelope = message_with(*files)
    with FakeGraphServer() as graph:
        report = await send_batch_async([envelope], config=graph_config(graph))

    assert report.ok
    assert summary(graph.requests) == [
        ("POST", f"{USERS}/messages", 201),
        ("POST", f"{USERS}/messages/{{id}}/attachments", 201),
        ("POST", f"{USERS}/messages/{{id}}/attachments", 201),
        ("POST", f"{USERS}/messages/{{id}}/send", 202),
    ]
    first_attachment = json.loads(graph.requests[1].body)
    assert first_attachment == {
        "@odata.type": "#microsoft.graph.fileAttachment",
        "name": "part0.bin",
        "contentType": "application/octet-stream",
        "contentBytes": base64.b64encode(bytes([0]) * 1_200_000).decode(),
        "isInline": False,
    }
    [delivered] = graph.delivered
    assert sorted(a.name for a in delivered.attachments) == ["part0.bin", "part1.bin"]
    assert b'filename="part2.bin"' in delivered.mime
    assert all(a.content == bytes([int(a.name[4])]) * 1_200_000 for a in delivered.attachments)


async def test_a_step_that_fails_deletes_the_draft_and_the_message_goes_again(
    graph_config: MakeConfig, rows: Rows
) -> None:
    busy = GraphAnswer(
        status=503,
        code="ErrorServerBusy",
        message="The server is busy.",
        applies_to="/createUploadSession",
    )
    envelope = message_with(
        Attachment(filename="q3.pdf", content_type="application/pdf", content=LARGE)
    )
    with FakeGraphServer(answers=[busy]) as graph:
        report = await send_batch_async([envelope], config=graph_config(graph))

    assert report.ok and report.run.unknown == 0
    assert summary(graph.requests)[:3] == [
        ("POST", f"{USERS}/messages", 201),
        ("POST", f"{USERS}/messages/{{id}}/attachments/createUploadSession", 503),
        ("DELETE", f"{USERS}/messages/{{id}}", 204),
    ]
    assert graph.deliveries == {"<quarterly@contoso.com>": 1}
    assert graph.statistics().drafts_left == 0
    assert rows("SELECT outcome, reply_code, rule FROM attempts ORDER BY id") == [
        ("transient", 503, "graph-server-error-before-sending"),
        ("sent", 202, "graph-accepted"),
    ]


async def test_without_mail_readwrite_a_large_message_stops_the_run_saying_so(
    graph_config: MakeConfig,
) -> None:
    envelope = message_with(
        Attachment(filename="q3.pdf", content_type="application/pdf", content=LARGE)
    )
    with FakeGraphServer(answers=[ACCESS_DENIED]) as graph:
        report = await send_batch_async([envelope], config=graph_config(graph))

    assert exit_code(report.run) == 3
    fatal = report.run.fatal
    assert fatal is not None and fatal.describe().endswith(
        f"(a message over 3 MB goes through a draft in {MAILBOX}, which needs the "
        "Mail.ReadWrite application permission (with admin consent) besides Mail.Send)"
    )


async def test_what_graph_cannot_take_fails_before_any_request(
    graph_config: MakeConfig, rows: Rows
) -> None:
    too_large = message_with(
        Attachment(filename="q3.pdf", content_type="application/pdf", content=LARGE)
    )
    long_text = compose(
        Message(sender=MAILBOX, to="a@contoso.com", text="A long line of text.\n" * 180_000)
    )
    with FakeGraphServer() as graph:
        config = graph_config(graph, graph_settings={"max_message_bytes": 5_000_000})
        report = await send_batch_async([too_large, long_text], config=config)

    assert [r.status for r in report.results] == [Status.FAILED, Status.FAILED]
    assert graph.requests == []
    assert rows("SELECT outcome, reply_code, reply_text, rule FROM attempts ORDER BY id") == [
        (
            "permanent",
            None,
            f"the message is {len(too_large.content)} bytes, over [plugin.graph] "
            "max_message_bytes (5000000, Exchange Online's default limit is 35 MB)",
            "refused-before-sending",
        ),
        (
            "permanent",
            None,
            f"the message is {len(long_text.content) / 1e6:.1f} MB without the attachments "
            "that can go apart, more than the 3.0 MB one Graph request takes",
            "refused-before-sending",
        ),
    ]


async def test_a_draft_graph_refuses_to_send_is_deleted(graph_config: MakeConfig) -> None:
    refused = GraphAnswer(
        status=400,
        code="ErrorInvalidRecipients",
        message="At least one recipient isn't valid.",
        applies_to="/send",
    )
    envelope = message_with(
        Attachment(filename="q3.pdf", content_type="application/pdf", content=LARGE)
    )
    with FakeGraphServer(answers=[refused]) as graph:
        report = await send_batch_async([envelope], config=graph_config(graph))

    assert [r.status for r in report.results] == [Status.FAILED]
    assert summary(graph.requests)[-2:] == [
        ("POST", f"{USERS}/messages/{{id}}/send", 400),
        ("DELETE", f"{USERS}/messages/{{id}}", 204),
    ]
    assert graph.deliveries == {} and graph.statistics().drafts_left == 0
