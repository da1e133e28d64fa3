"""``adaptsend alerts``: the rules in force, and one test alert through the configured sinks."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner, Result

from adaptsend.cli._main import cli
from adaptsend.testing import HTTPReceiver, ThrottlingSMTPServer

TOKEN = "hook-t0ken"


def write_config(tmp_path: Path, extra: str) -> Path:
    path = tmp_path / "adaptsend.toml"
    path.write_text(f'[store]\nurl = "sqlite:///{tmp_path / "q.db"}"\n{extra}')
    return path


def invoke(config: Path, *args: str) -> Result:
    return CliRunner().invoke(
        cli, ["--config", str(config), *args], env={"ADAPTSEND_DISABLE_PLUGINS": ""}
    )


def test_a_test_alert_reaches_every_configured_sink(tmp_path: Path) -> None:
    with HTTPReceiver() as receiver:
        config = write_config(
            tmp_path,
            f'[alerts]\nsinks = ["log", "webhook"]\n'
            f'[plugin.webhook]\nurl = "{receiver.url}/{TOKEN}"\nformat = "slack"\n',
        )
        result = invoke(config, "alerts", "test")
        [request] = receiver.requests

    assert result.exit_code == 0, result.output
    assert "log: delivered" in result.stdout
    assert "webhook: delivered" in result.stdout
    assert "[WARNING] test on anonymous@localhost:25" in request.json()["text"]
    assert TOKEN not in result.output


def test_a_failing_sink_is_named_and_exits_1(tmp_path: Path) -> None:
    with HTTPReceiver(status=500) as receiver:
        config = write_config(
            tmp_path,
            f'[plugin.webhook]\nurl = "{receiver.url}/{TOKEN}"\nattempts = 1\n',
        )
        result = invoke(config, "alerts", "test", "--sink", "webhook")

    assert result.exit_code == 1
    assert result.stdout.strip() == (
        f"webhook: FAILED: WebhookError: webhook {receiver.url}/… answered 500 "
        "Internal Server Error: error"
    )
    assert TOKEN not in result.output


def test_the_email_sink_sends_a_test_mail(tmp_path: Path) -> None:
    with ThrottlingSMTPServer() as server:
        config = write_config(
            tmp_path,
            f'[smtp]\nhost = "{server.host}"\nport = {server.port}\n'
            '[alerts.email]\nto = ["oncall@example.com"]\nsender = "agent@example.com"\n',
        )
        result = invoke(config, "alerts", "test", "--sink", "email")
        [mail] = server.received

    assert result.exit_code == 0, result.output
    assert list(mail.rcpt_tos) == ["oncall@example.com"]
    assert "Subject: [adaptsend] [WARNING] test on anonymous@" in mail.raw.decode()


def test_an_unknown_sink_is_one_sentence_and_exit_2(tmp_path: Path) -> None:
    result = invoke(write_config(tmp_path, ""), "alerts", "test", "--sink", "pager")
    assert result.exit_code == 2
    assert result.output.strip() == (
        "adaptsend: [alerts]: no alert sink 'pager' is registered (known: email, log, webhook)"
    )


def test_a_webhook_without_a_url_is_one_sentence_and_exit_2(tmp_path: Path) -> None:
    config = write_config(tmp_path, '[alerts]\nsinks = ["webhook"]\n')
    result = invoke(config, "alerts", "test")
    assert result.exit_code == 2
    assert result.output.strip() == (
        "adaptsend: [plugin.webhook] needs url (or url_env, the variable that holds it)"
    )


def test_the_rules_in_force_are_listed_with_what_replaced_them(tmp_path: Path) -> None:
    config = write_config(
        tmp_path,
        '[alerts]\nsinks = ["log", "email"]\n[alerts.email]\nto = ["oncall@example.com"]\n'
        '[[alerts.rules]]\nname = "throttling"\nwhen = "throttled"\nthreshold = 5\n'
        'window_s = 60\nsinks = ["log"]\n'
        '[[alerts.rules]]\nname = "stuck"\nwhen = "queue_age"\nthreshold = 600\n'
        'severity = "critical"\n',
    )
    shown = invoke(config, "alerts", "rules")
    listed = invoke(config, "alerts", "rules", "--json")

    assert shown.exit_code == 0, shown.output
    lines = shown.stdout.splitlines()
    assert [line.split(":")[0] for line in lines] == [
        "dead",
        "fatal",
        "failures",
        "throttling",
        "unreachable",
        "quota",
        "day_budget",
        "stuck",
    ]
    assert lines[3] == (
        "throttling: when throttled, fires at 5 in 60 s; warning; repeats at most every "
        "900 s; to log (configured, in place of the built-in one)"
    )
    assert lines[4] == (
        "unreachable: when unreachable, fires after 60 s; critical; repeats at most every "
        "900 s; to log, email (built-in)"
    )
    rules = {rule["name"]: rule for rule in json.loads(listed.stdout)["rules"]}
    assert rules["stuck"] == {
        "name": "stuck",
        "when": "queue_age",
        "threshold": 600,
        "unit": "seconds",
        "window_s": 300.0,
        "cooldown_s": 900.0,
        "severity": "critical",
        "sinks": ["log", "email"],
        "origin": "configured",
    }
    assert (rules["dead"]["unit"], rules["dead"]["origin"]) == ("events", "built-in")


def test_without_the_defaults_only_the_configured_rules_are_listed(tmp_path: Path) -> None:
    config = write_config(
        tmp_path,
        "[alerts]\ndefaults = false\n"
        '[[alerts.rules]]\nname = "dead"\nwhen = "dead"\nthreshold = 1\n',
    )
    shown = invoke(config, "alerts", "rules")

    assert shown.exit_code == 0, shown.output
    assert shown.stdout == (
        "dead: when dead, fires at 1 in 300 s; critical; repeats at most every 900 s; "
        "to log (configured)\n"
    )
