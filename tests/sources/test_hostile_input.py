"""A fixed corpus of hostile and malformed input, end to end: each bad message
is rejected with one sentence naming where it is, the good ones around it are
queued, and what reaches the server is exactly what was composed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from adaptsend import Envelope, Message, Status, send_batch
from adaptsend.testing import ThrottlingSMTPServer
from tests.helpers.agent_config import write_agent_config
from tests.helpers.command_line import invoke
from tests.helpers.databases import rows

GOOD = {"from": "reports@example.com", "subject": "ok", "text": "fine"}
FIELD_NAME_RULE = "(1 to 76 printable ASCII characters, no colon or space)"
SPOOF = {"X-Tag: 1\r\nSubject: SPOOFED\r\nReply-To": "attacker@evil.example"}


def line(**fields: Any) -> bytes:
    return json.dumps({**GOOD, **fields}).encode()


#: One bad line each, between good ones, and what enqueue says about it.
CORPUS: list[tuple[bytes, str]] = [
    (
        line(to=["a@example.com"], subject="a\r\nBcc: evil@x.example"),
        "the subject contains a line break",
    ),
    (
        b'{"from": "reports@example.com", "to": ["a@example.com"], "subject": "\xff"}',
        "not valid UTF-8 (byte 0xff at column 70)",
    ),
    (
        line(to=["a@example.com"], text="\ud800"),
        "the text body is not valid Unicode (a lone surrogate at position 0)",
    ),
    (
        line(to=["a@example.com"], message_id="<" + "x" * 300 + "@example.com>"),
        "the Message-ID is longer than 255 characters",
    ),
    (
        line(to=["a@example.com"], headers=SPOOF),
        "header name 'X-Tag: 1\\r\\nSubject: SPOOFED\\r\\nReply-To' is not a field name",
    ),
    (line(to=["jörg@例え..jp"]), "'to' address 'jörg@例え..jp' is not an email address"),
]


def test_enqueue_rejects_each_bad_line_alone_and_run_sends_what_was_composed(
    tmp_path: Path,
) -> None:
    good = [
        line(to="one@example.com, Two <two@example.org>", subject="list in one string"),
        line(to=["bob@例え.jp"], headers={"X-Tag": "1"}, subject="IDN"),
    ]
    lines = [good[0]] + [bad for bad, _ in CORPUS] + [good[1]]
    with ThrottlingSMTPServer() as server:
        config = write_agent_config(tmp_path, f"sqlite:///{tmp_path / 'q.db'}", server)
        enqueued = invoke(config, "enqueue", "--jsonl", "-", stdin=b"\n".join(lines))
        run = invoke(config, "run", "--json")

    assert enqueued.exit_code == 1, enqueued.output
    assert "Traceback" not in enqueued.output
    assert f"queued 2 message(s), rejected {len(CORPUS)}" in enqueued.stdout
    rejections = enqueued.stderr.strip().splitlines()
    assert len(rejections) == len(CORPUS)
    for number, (said, (_, expected)) in enumerate(zip(rejections, CORPUS, strict=True), 2):
        assert said.startswith(f"adaptsend: rejected standard input line {number}: {expected}")
    assert run.exit_code == 0, run.output
    by_subject = {m.raw.split(b"Subject: ")[1].split(b"\r\n")[0]: m for m in server.received}
    listed = by_subject[b"list in one string"]
    assert sorted(listed.rcpt_tos) == ["one@example.com", "two@example.org"]
    assert b"To: one@example.com, Two <two@example.org>\r\n" in listed.raw
    # The IDN domain goes out in ASCII: no SMTPUTF8 needed for this one.
    idn = by_subject[b"IDN"]
    assert idn.rcpt_tos == ("bob@xn--r8jz45g.jp",)
    assert b"To: bob@xn--r8jz45g.jp\r\nSubject: IDN\r\n" in idn.raw and b"X-Tag: 1\r\n" in idn.raw
    for received in server.received:
        assert received.raw.count(b"\r\nSubject: ") == 1
        assert b"Reply-To" not in received.raw and b"evil" not in received.raw


def test_enqueue_flags_and_eml_check_what_they_pass_through(tmp_path: Path) -> None:
    eml = tmp_path / "ready.eml"
    eml.write_bytes(b"To: a@example.com\r\nSubject: ready\r\n\r\nbody\r\n")
    with ThrottlingSMTPServer() as server:
        config = write_agent_config(tmp_path, f"sqlite:///{tmp_path / 'q.db'}", server)
        injected = "r@example.com>\r\nRCPT TO:<evil@x.example"
        by_eml = invoke(config, "enqueue", "--eml", str(eml), "--from", injected)
        by_flags = invoke(
            config, "enqueue", "--from", "r@example.com", "--to", "a@example.com",
            "--subject", "x\nBcc: evil@x.example",
        )  # fmt: skip
        both = invoke(
            config, "enqueue", "--from", "r@example.com", "--to", "a@example.com, b@example.com"
        )
        run = invoke(config, "run", "--json")

    assert by_eml.exit_code == 1 and "Traceback" not in by_eml.output
    assert f"rejected {eml}: --from {injected!r} contains a line break" in by_eml.stderr
    assert by_flags.exit_code == 1
    assert "rejected the message: the subject contains a line break" in by_flags.stderr
    assert both.exit_code == 0, both.output
    assert run.exit_code == 0, run.output
    [received] = server.received
    assert sorted(received.rcpt_tos) == ["a@example.com", "b@example.com"]


def test_send_batch_fills_rejected_for_a_bad_message_or_envelope(tmp_path: Path) -> None:
    injected = Envelope(
        message_id="<e1@example.com>",
        sender="r@example.com",
        recipients=("a@example.com>\r\nRCPT TO:<evil@x.example",),
        content=b"Subject: e\r\n\r\nbody\r\n",
    )
    messages: list[Any] = [
        Message(sender="r@example.com", to="a@example.com", subject="ok", text="t"),
        Message(sender="r@example.com", to="a@example.com", subject="a\nb"),
        injected,
        Message(sender="r@example.com", to="a@example.com", headers=SPOOF),
        "not a message",
        Envelope(
            message_id="<e2@example.com>",
            sender="r@example.com",
            recipients=("b@example.com",),
            content=b"Subject: e2\r\n\r\nbody\r\n",
        ),
    ]
    with ThrottlingSMTPServer() as server:
        report = send_batch(
            messages,
            config={
                "store": {"url": f"sqlite:///{tmp_path / 'q.db'}"},
                "smtp": {"host": server.host, "port": server.port},
            },
        )

    assert [r.status for r in report.results] == [Status.SENT, Status.SENT]
    assert [(r.index, r.reason) for r in report.rejected] == [
        (1, "the subject contains a line break"),
        (2, f"envelope recipient {injected.recipients[0]!r} contains a line break"),
        (3, f"header name {next(iter(SPOOF))!r} is not a field name {FIELD_NAME_RULE}"),
        (4, "expected a Message or an Envelope, not str"),
    ]
    assert sorted(r for m in server.received for r in m.rcpt_tos) == [
        "a@example.com",
        "b@example.com",
    ]
    assert rows(f"sqlite:///{tmp_path / 'q.db'}", "SELECT count(*) FROM messages") == [(2,)]
