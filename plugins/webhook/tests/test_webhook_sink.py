"""The webhook sink against a real HTTP server on 127.0.0.1: what it posts,
how it retries, when it gives up, and that the URL's token never shows."""

from __future__ import annotations

import logging
import socket
import time
from typing import Any

import pytest
from adaptsend_webhook import WebhookError, WebhookSink, parse_settings

from adaptsend import Alert, Severity, TopReply
from adaptsend.testing import HTTPReceiver

TOKEN = "T000-B000-XXXXSECRETXXXX"


def an_alert(**overrides: Any) -> Alert:
    values: dict[str, Any] = {
        "rule": "throttling",
        "when": "throttled",
        "severity": Severity.WARNING,
        "summary": "25 throttled attempt(s) in the last 300 s (threshold 20)",
        "sending_key": "reports@example.com@smtp.office365.com:587",
        "count": 25,
        "threshold": 20,
        "window_s": 300,
        "counts": {"throttled": 25, "sent": 180},
        "top_replies": (
            TopReply(
                code=432,
                enhanced="4.3.2",
                text="Concurrent connections limit exceeded",
                count=25,
            ),
        ),
        "sample_message_ids": ("<report-1@example.com>", "<report-2@example.com>"),
    }
    values.update(overrides)
    return Alert(**values)


def sink_for(receiver: HTTPReceiver, **settings: Any) -> WebhookSink:
    raw = {"url": f"{receiver.url}/hooks/{TOKEN}", "retry_delay_s": 0, **settings}
    return WebhookSink(parse_settings(raw))


def test_json_posts_the_alert_as_it_is() -> None:
    alert = an_alert()
    with HTTPReceiver() as receiver:
        sink_for(receiver).deliver(alert)
        [request] = receiver.wait_for_requests(1)

    assert (request.method, request.path) == ("POST", f"/hooks/{TOKEN}")
    assert request.headers["content-type"] == "application/json"
    body = request.json()
    assert body == alert.to_json()
    assert body["top_replies"] == [
        {
            "code": 432,
            "enhanced": "4.3.2",
            "text": "Concurrent connections limit exceeded",
            "count": 25,
        }
    ]
    assert body["sample_message_ids"] == ["<report-1@example.com>", "<report-2@example.com>"]
    assert body["raised_at"].endswith("Z")


def test_slack_gets_text_and_blocks_with_message_ids_escaped() -> None:
    with HTTPReceiver() as receiver:
        sink_for(receiver, format="slack").deliver(an_alert())
        [request] = receiver.wait_for_requests(1)

    body = request.json()
    assert body["text"].startswith("[WARNING] throttling on reports@example.com")
    header, summary, details = body["blocks"]
    assert header["type"] == "header"
    assert header["text"]["text"].startswith(":warning: throttling warning on ")
    assert "25 throttled attempt(s)" in summary["text"]["text"]
    assert "432 4.3.2 Concurrent connections limit exceeded (x25)" in details["text"]["text"]
    assert "&lt;report-1@example.com&gt;" in details["text"]["text"]
    assert "<report-1" not in str(body)


def test_teams_gets_an_adaptive_card() -> None:
    with HTTPReceiver() as receiver:
        sink_for(receiver, format="teams").deliver(an_alert(severity=Severity.RESOLVED))
        [request] = receiver.wait_for_requests(1)

    body = request.json()
    assert body["type"] == "message"
    [attachment] = body["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard"
    title, facts = card["body"]
    assert title["text"].startswith("[RESOLVED] throttling")
    assert title["color"] == "Good"
    values = {fact["title"]: fact["value"] for fact in facts["facts"]}
    assert values["Rule"] == "throttling (throttled)"
    assert values["Reply"] == "432 4.3.2 Concurrent connections limit exceeded (x25)"
    assert values["Messages"] == "<report-1@example.com>, <report-2@example.com>"


def test_a_server_error_is_retried_until_it_is_taken() -> None:
    with HTTPReceiver(statuses=[500, 503]) as receiver:
        sink_for(receiver, attempts=3).deliver(an_alert())
        requests = receiver.wait_for_requests(3)

    assert [r.status for r in requests] == [500, 503, 200]


def test_retries_are_bounded() -> None:
    with HTTPReceiver(status=502) as receiver:
        with pytest.raises(WebhookError) as caught:
            sink_for(receiver, attempts=2).deliver(an_alert())
        requests = receiver.requests

    assert len(requests) == 2
    assert str(caught.value).startswith(f"webhook {receiver.url}/… answered 502 Bad Gateway")
    assert str(caught.value).endswith("(after 2 tries)")


def test_a_refusal_is_not_retried() -> None:
    with HTTPReceiver(status=404) as receiver:
        with pytest.raises(WebhookError, match="answered 404 Not Found: error"):
            sink_for(receiver, attempts=5).deliver(an_alert())
        assert len(receiver.requests) == 1


def test_a_webhook_that_does_not_answer_times_out() -> None:
    with HTTPReceiver(delay_s=3) as receiver:
        started = time.monotonic()
        with pytest.raises(WebhookError, match=r"did not answer within 0.2 s \(after 2 tries\)"):
            sink_for(receiver, timeout_s=0.2, attempts=2).deliver(an_alert())
        elapsed = time.monotonic() - started

    assert elapsed < 2


def test_the_token_never_shows_in_errors_repr_or_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with HTTPReceiver(status=500) as receiver:
        sink = sink_for(receiver, attempts=2)
        with pytest.raises(WebhookError) as server_error:
            sink.deliver(an_alert())
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    url = f"http://127.0.0.1:{port}/{TOKEN}"
    unreachable = WebhookSink(parse_settings({"url": url, "attempts": 1}))
    with pytest.raises(WebhookError) as network_error:
        unreachable.deliver(an_alert())

    assert "could not be reached (ConnectError)" in str(network_error.value)
    shown = [str(server_error.value), str(network_error.value), repr(sink), repr(sink.settings)]
    assert "HTTP Request: POST" in caplog.text  # httpx did log the requests...
    for text in [*shown, caplog.text]:
        assert TOKEN not in text  # ...without the token


def test_headers_are_sent_and_never_shown() -> None:
    with HTTPReceiver() as receiver:
        sink = sink_for(receiver, headers={"Authorization": "Bearer s3cret"})
        sink.deliver(an_alert())
        [request] = receiver.wait_for_requests(1)

    assert request.headers["authorization"] == "Bearer s3cret"
    assert "s3cret" not in repr(sink.settings)
