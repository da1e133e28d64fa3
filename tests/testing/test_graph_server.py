"""The fake Graph server over real HTTP (stdlib http.client, so that its own
behaviour is checked with nothing of adaptsend's Graph client in between)."""

from __future__ import annotations

import base64
import http.client
import json
import threading
import time
import urllib.parse
from collections.abc import Mapping

import pytest

from adaptsend.testing import DEFAULT_GRAPH_TOKEN, FakeGraphServer, GraphFault
from adaptsend.testing.graph import ACCESS_DENIED, MAX_REQUEST_BYTES

MAILBOX = "reports@contoso.com"
MIME = (
    b"From: reports@contoso.com\r\nTo: team@contoso.com, Ann <ann@contoso.com>\r\n"
    b"Bcc: audit@contoso.com\r\nSubject: report\r\nMessage-ID: <r1@contoso.com>\r\n"
    b"\r\nThe report.\r\n"
)
BEARER = {"Authorization": f"Bearer {DEFAULT_GRAPH_TOKEN}"}


class Answer:
    def __init__(self, response: http.client.HTTPResponse) -> None:
        self.status = response.status
        self.headers = {k.lower(): v for k, v in response.getheaders()}
        self.body = response.read()

    def json(self) -> object:
        return json.loads(self.body)


def request(
    graph: FakeGraphServer,
    method: str,
    path: str,
    body: bytes = b"",
    headers: Mapping[str, str] | None = None,
    *,
    timeout: float = 10,
) -> Answer:
    address = urllib.parse.urlsplit(graph.url)
    connection = http.client.HTTPConnection(address.hostname or "", address.port, timeout=timeout)
    try:
        connection.request(method, path, body=body, headers=dict(headers or {}))
        return Answer(connection.getresponse())
    finally:
        connection.close()


def send_mail(graph: FakeGraphServer, mime: bytes = MIME, **headers: str) -> Answer:
    sent = {**BEARER, "Content-Type": "text/plain", **headers}
    path = f"/v1.0/users/{urllib.parse.quote(MAILBOX)}/sendMail"
    return request(graph, "POST", path, base64.b64encode(mime), sent)


def test_a_mime_send_is_delivered_byte_for_byte_and_counted_per_message_id() -> None:
    with FakeGraphServer() as graph:
        answers = [send_mail(graph).status, send_mail(graph).status]

    assert answers == [202, 202]
    assert graph.deliveries == {"<r1@contoso.com>": 2}
    first = graph.delivered[0]
    assert (first.mailbox, first.mime) == (MAILBOX, MIME)
    assert first.recipients == ("team@contoso.com", "ann@contoso.com", "audit@contoso.com")
    assert graph.statistics().duplicate_deliveries == 1
    [request_seen, _] = graph.requests
    assert request_seen.path == "/v1.0/users/reports%40contoso.com/sendMail"
    assert request_seen.body == base64.b64encode(MIME)


def test_a_request_without_a_taken_token_is_refused_in_graphs_words() -> None:
    with FakeGraphServer(tokens=["other"]) as graph:
        answer = send_mail(graph)
    assert answer.status == 401
    assert answer.json() == {
        "error": {
            "code": "InvalidAuthenticationToken",
            "message": "Access token validation failure. Invalid audience.",
        }
    }
    assert graph.deliveries == {}


def test_content_that_is_not_base64_or_too_large_is_refused() -> None:
    with FakeGraphServer() as graph:
        path = f"/v1.0/users/{MAILBOX}/sendMail"
        headers = {**BEARER, "Content-Type": "text/plain"}
        not_base64 = request(graph, "POST", path, b"From: a\r\n\r\nraw MIME", headers)
        too_large = request(graph, "POST", path, b"A" * (MAX_REQUEST_BYTES + 4), headers)
    assert not_base64.status == 400
    assert not_base64.json() == {
        "error": {
            "code": "ErrorMimeContentInvalidBase64String",
            "message": "Invalid base64 string for MIME content.",
        }
    }
    assert too_large.status == 413
    assert graph.deliveries == {}


def test_the_request_over_the_limit_and_those_in_its_window_get_429() -> None:
    with FakeGraphServer(limit=1, latency_s=0.5, retry_after_s=1.0) as graph:
        first: list[Answer] = []
        worker = threading.Thread(target=lambda: first.append(send_mail(graph)))
        worker.start()
        while graph.ledger.statistics(drafts_left=0).max_concurrent < 1:
            time.sleep(0.01)
        over = send_mail(graph)
        inside = send_mail(graph)
        worker.join()
        time.sleep(1.0)
        after = send_mail(graph)
        stats = graph.statistics()

    assert (first[0].status, over.status, inside.status, after.status) == (202, 429, 429, 202)
    assert over.headers["retry-after"] == "1"
    assert over.json() == {
        "error": {
            "code": "ApplicationThrottled",
            "message": "Application is over its MailboxConcurrency limit.",
        }
    }
    assert (stats.windows, stats.in_window, stats.throttled) == (1, 1, 2)
    assert graph.deliveries == {"<r1@contoso.com>": 2}
    # Recorded as answered: the two refusals came before the first one's answer.
    assert [(r.status, r.in_window_s is not None) for r in graph.requests] == [
        (429, False),
        (429, True),
        (202, False),
        (202, False),
    ]


def test_faults_come_every_nth_send() -> None:
    faults = {GraphFault.UNAVAILABLE: 2, GraphFault.RESET: 3}
    with FakeGraphServer(fault_every=faults) as graph:
        first, second = send_mail(graph), send_mail(graph)
        with pytest.raises(http.client.RemoteDisconnected):
            send_mail(graph)
    assert (first.status, second.status) == (202, 503)
    assert second.json() == {
        "error": {"code": "ErrorServerBusy", "message": "The server is busy. Try again later."}
    }
    # The reset came after the delivery: the message went out, the answer did not.
    assert graph.deliveries == {"<r1@contoso.com>": 2}


def test_a_stall_delivers_and_answers_nothing() -> None:
    with FakeGraphServer(fault_every={GraphFault.STALL: 1}, stall_s=5) as graph:
        with pytest.raises(TimeoutError):
            send_mail_with_timeout(graph, 0.5)
        assert graph.deliveries == {"<r1@contoso.com>": 1}


def send_mail_with_timeout(graph: FakeGraphServer, timeout: float) -> Answer:
    path = f"/v1.0/users/{MAILBOX}/sendMail"
    headers = {**BEARER, "Content-Type": "text/plain"}
    return request(graph, "POST", path, base64.b64encode(MIME), headers, timeout=timeout)


def test_scripted_answers_come_first_then_the_ordinary_ones() -> None:
    with FakeGraphServer(answers=[ACCESS_DENIED]) as graph:
        refused, sent = send_mail(graph), send_mail(graph)
    assert (refused.status, sent.status) == (403, 202)
    assert refused.json() == {
        "error": {
            "code": "ErrorAccessDenied",
            "message": "Access is denied. Check credentials and try again.",
        }
    }


def test_a_draft_gets_an_attachment_by_upload_session_and_is_sent() -> None:
    attachment = bytes(range(256)) * 40
    users = f"/v1.0/users/{MAILBOX}"
    with FakeGraphServer() as graph:
        draft = request(
            graph,
            "POST",
            f"{users}/messages",
            base64.b64encode(MIME),
            {**BEARER, "Content-Type": "text/plain"},
        )
        draft_id = draft.json()["id"]  # type: ignore[index]
        item = {"attachmentType": "file", "name": "r.bin", "size": len(attachment)}
        session = request(
            graph,
            "POST",
            f"{users}/messages/{draft_id}/attachments/createUploadSession",
            json.dumps({"AttachmentItem": item}).encode(),
            {**BEARER, "Content-Type": "application/json"},
        )
        upload = urllib.parse.urlsplit(session.json()["uploadUrl"])  # type: ignore[index]
        target = f"{upload.path}?{upload.query}"
        with_bearer = request(graph, "PUT", target, attachment[:10], BEARER)
        half = len(attachment) // 2
        ranges = [(0, attachment[:half]), (half, attachment[half:])]
        puts = [
            request(
                graph,
                "PUT",
                target,
                chunk,
                {"Content-Range": f"bytes {at}-{at + len(chunk) - 1}/{len(attachment)}"},
            )
            for at, chunk in ranges
        ]
        sent = request(graph, "POST", f"{users}/messages/{draft_id}/send", b"", BEARER)
        left = graph.statistics().drafts_left

    assert (draft.status, session.status, with_bearer.status) == (201, 201, 401)
    assert [p.status for p in puts] == [200, 201]
    assert puts[0].json() == {"nextExpectedRanges": [f"{half}-"]}
    assert (sent.status, left) == (202, 0)
    [delivered] = graph.delivered
    assert delivered.mime == MIME and delivered.message_id == "<r1@contoso.com>"
    [got] = delivered.attachments
    assert (got.name, got.content_type, got.content) == (
        "r.bin",
        "application/octet-stream",
        attachment,
    )
