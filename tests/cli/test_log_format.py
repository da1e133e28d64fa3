"""``--log-format json``: a real ``adaptsend run`` process against a real SMTP
server that throttles and echoes the password, and every line it writes to
stderr parsed as one JSON object, the secret hidden."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from adaptsend.cli._log_format import JSONFormatter
from adaptsend.config._redact import LOG_FILTER, REDACTED, Redactor
from adaptsend.testing import ThrottlingSMTPServer

USER = "reports@example.com"
PASSWORD = "json-log-pw-5c1e77-PLANTED"
FIELDS = {"time", "level", "logger", "message"}


def _config(tmp_path: Path, server: ThrottlingSMTPServer) -> Path:
    path = tmp_path / "adaptsend.toml"
    path.write_text(
        f"""
[store]
url = "sqlite:///{tmp_path / "adaptsend.db"}"
[smtp]
host = "{server.host}"
port = {server.port}
username = "{USER}"
password = "{PASSWORD}"
allow_plaintext_auth = true
timeout_s = 10
[limiter]
initial_cap = 3
[retry]
base_delay_s = 0.05
max_delay_s = 0.2
[alerts]
sinks = ["log"]
drain_s = 5
[[alerts.rules]]
name = "throttling"
when = "throttled"
threshold = 1
"""
    )
    return path


def _messages(count: int) -> str:
    return "\n".join(
        json.dumps({"from": USER, "to": ["team@example.com"], "subject": f"{n}", "text": "t"})
        for n in range(count)
    )


def _adaptsend(config: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "adaptsend", "--config", str(config), *args]
    return subprocess.run(
        command, input=stdin, capture_output=True, text=True, timeout=120, check=False
    )


def _lines(stderr: str) -> list[dict[str, Any]]:
    entries = [json.loads(line) for line in stderr.splitlines()]
    assert entries and all(isinstance(e, dict) and set(e) >= FIELDS for e in entries)
    return entries


@pytest.mark.parametrize(
    "where", [("--log-format", "json", "run"), ("run", "--log-format", "json")], ids=str
)
def test_every_line_of_a_run_is_a_json_object_without_the_secret(
    tmp_path: Path, where: tuple[str, ...]
) -> None:
    throttle = f"432 4.3.2 Concurrent connections limit exceeded for {PASSWORD}"
    with ThrottlingSMTPServer(auth=(USER, PASSWORD), limit=1, throttle_reply=throttle) as server:
        config = _config(tmp_path, server)
        queued = _adaptsend(config, "enqueue", "--jsonl", "-", stdin=_messages(20))
        assert queued.returncode == 0, queued.stderr
        done = _adaptsend(config, *where)

    assert done.returncode == 0, done.stderr
    assert server.rejections >= 1
    entries = _lines(done.stderr)
    messages = [e["message"] for e in entries]
    assert PASSWORD not in done.stderr
    # The lines a text run writes are all there: cap changes, the alert with
    # the reply (its secret redacted), and the summary.
    assert any(m.startswith(f"{USER}@") and ": cap 3 -> " in m for m in messages)
    [alert] = [e for e in entries if e["message"].startswith("ALERT")]
    assert alert["logger"] == "adaptsend.alerts" and REDACTED in alert["message"]
    assert any(m.startswith("sent 20, failed 0, dead 0") for m in messages)
    assert {e["level"] for e in entries} <= {"INFO", "WARNING", "ERROR"}


def test_a_traceback_goes_with_its_line_and_is_redacted() -> None:
    redactor = Redactor.of([PASSWORD])
    LOG_FILTER.add(redactor)
    try:
        try:
            raise RuntimeError(f"cannot connect with {PASSWORD}")
        except RuntimeError:
            record = logging.LogRecord(
                "adaptsend.run",
                logging.ERROR,
                __file__,
                1,
                "failed: %s",
                (PASSWORD,),
                sys.exc_info(),
            )
        LOG_FILTER.filter(record)
        entry = json.loads(JSONFormatter().format(record))
    finally:
        LOG_FILTER.discard(redactor)

    assert entry["message"] == f"failed: {REDACTED}"
    assert entry["exception"].startswith("Traceback (most recent call last):")
    assert f"RuntimeError: cannot connect with {REDACTED}" in entry["exception"]
    assert PASSWORD not in json.dumps(entry)
