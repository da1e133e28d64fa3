"""``python -m adaptsend.testing``: its flags, its output, its own process."""

from __future__ import annotations

import json
import os
import signal
import smtplib
import socket
import subprocess
import sys
import time
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

import adaptsend
from adaptsend.testing.__main__ import main, parse_outages, parse_schedule
from bench._server import ServerProcess
from tests.helpers.smtp_clients import RCPT, SENDER, message


def test_schedule_text_is_parsed() -> None:
    assert parse_schedule("0:6, 2:2,4:none") == ((0.0, 6), (2.0, 2), (4.0, None))


def test_outages_text_is_parsed() -> None:
    assert parse_outages("5:2, 20:0.5,") == ((5.0, 2.0), (20.0, 0.5))
    for bad in ["5", "5:-1", "x:1"]:
        with pytest.raises(ValueError):
            parse_outages(bad)


@pytest.mark.parametrize(
    "flag",
    [
        "--hang-up-after",
        "--hang-up-reply",
        "--cut-content-every",
        "--lose-reply-every",
        "--lose-reply-stall-ms",
        "--refuse-greeting-every",
        "--refuse-greetings",
        "--greeting-refusal",
        "--greeting-delay-ms",
        "--reset-tls-every",
        "--outages",
    ],
)
def test_help_says_what_each_fault_flag_does(flag: str) -> None:
    [option] = [param for param in main.params if flag in param.opts]
    assert isinstance(option, click.Option)
    assert option.help and len(option.help.split()) >= 5
    help_text = " ".join(CliRunner().invoke(main, ["--help"]).output.split())
    assert flag in help_text
    assert " ".join(option.help.split()[:5]) in help_text


@pytest.mark.parametrize(
    "args", [["--hang-up-after", "0"], ["--outages", "3"], ["--hang-up-reply", "bye"]]
)
def test_bad_fault_flags_are_usage_errors(args: list[str]) -> None:
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2
    assert "Traceback" not in result.output


def test_command_line_serves_until_sigterm_and_prints_statistics() -> None:
    env = dict(os.environ, PYTHONPATH=str(Path(adaptsend.__file__).parents[1]))
    command = [sys.executable, "-m", "adaptsend.testing", "--limit", "1", "--latency-ms", "1"]
    command.append("--chunking")
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env) as process:
        assert process.stdout is not None
        host, _, port = process.stdout.readline().strip().rpartition(":")
        with smtplib.SMTP(host, int(port), "client.test", timeout=5) as client:
            client.sendmail(SENDER, [RCPT], message())
            assert client.has_extn("chunking")
        process.send_signal(signal.SIGUSR1)
        assert json.loads(process.stdout.readline())["delivered"] == 1
        process.send_signal(signal.SIGTERM)
        final = json.loads(process.communicate(timeout=10)[0].strip())
    assert process.returncode == 0
    assert final == {
        "connections": 1,
        "open_connections": 0,
        "max_concurrent": 1,
        "delivered": 1,
        "unique_messages": 1,
        "duplicate_deliveries": 0,
        "rejections": 0,
        "drops": 0,
        "hangups": 0,
        "content_cuts": 0,
        "replies_lost": 0,
        "greeting_refusals": 0,
        "tls_resets": 0,
        "limit": 1,
    }


def test_fault_flags_reach_the_server() -> None:
    args = ["--lose-reply-every", "2", "--hang-up-after", "1", "--refuse-greeting-every", "3"]
    replies = ["--hang-up-reply", "421 4.7.0 Bye", "--greeting-refusal", "554 5.3.2 Busy"]
    with ServerProcess([*args, *replies]) as server:
        outcomes = []
        for n in range(6):
            try:
                with smtplib.SMTP(server.host, server.port, "client.test", timeout=5) as client:
                    client.sendmail(SENDER, [RCPT], message(f"<{n}@test>"))
                    outcomes.append(client.rset()[0])  # answered by the hang-up
            except smtplib.SMTPConnectError as refused:
                outcomes.append(refused.smtp_code)
            except smtplib.SMTPServerDisconnected:
                outcomes.append("lost")
        statistics = server.stop()
    assert outcomes == [421, "lost", 554, 421, "lost", 554]
    assert (statistics.delivered, statistics.replies_lost) == (4, 2)
    assert (statistics.hangups, statistics.greeting_refusals) == (2, 2)


def test_outages_take_the_server_down_and_back_on_its_port() -> None:
    with ServerProcess(["--outages", "0:0.3"]) as server:
        refused = 0
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                socket.create_connection((server.host, server.port), timeout=5).close()
            except ConnectionRefusedError:
                refused += 1
                time.sleep(0.02)
                continue
            if refused:
                break
            time.sleep(0.01)  # the outage has not begun yet
        assert refused > 0
        with smtplib.SMTP(server.host, server.port, "client.test", timeout=5) as client:
            client.sendmail(SENDER, [RCPT], message())
        assert server.stop().delivered == 1
