"""The command line as a person or a cron job uses it: exit codes, output, and
what ends up in the store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from adaptsend.cli._main import cli
from adaptsend.testing import ThrottlingSMTPServer
from tests.helpers.agent_config import write_sqlite_agent_config
from tests.helpers.command_line import enqueue_batch, invoke, jsonl
from tests.helpers.databases import rows

PASSWORD = "pa55-w0rd-never-shown"


def test_enqueue_reports_a_bad_line_by_number_and_queues_the_rest(tmp_path: Path) -> None:
    with ThrottlingSMTPServer() as server:
        config = write_sqlite_agent_config(tmp_path, server)
        lines = jsonl("a@example.com") + "\n{not json\n" + jsonl("b@example.com") + "\n"
        result = invoke(config, "enqueue", "--jsonl", "-", stdin=lines)

    assert result.exit_code == 1
    assert "standard input line 2: not valid JSON" in result.output
    assert "queued 2 message(s), rejected 1" in result.output
    db = f"sqlite:///{tmp_path / 'queue.db'}"
    assert rows(db, "SELECT status, count(*) FROM messages GROUP BY status") == [("queued", 2)]


def test_run_sends_everything_and_exits_0(tmp_path: Path) -> None:
    with ThrottlingSMTPServer(limit=2, latency_s=0.005) as server:
        config = write_sqlite_agent_config(tmp_path, server)
        enqueue_batch(config, 30)
        result = invoke(config, "run", "--source", "queue", "--json")

    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["sent"] == 30
    assert summary["fatal"] is None
    assert len(server.deliveries) == 30


def test_a_refused_recipient_makes_run_exit_1(tmp_path: Path) -> None:
    refused = {"nobody@example.com": "550 5.1.1 User unknown"}
    with ThrottlingSMTPServer(rcpt_replies=refused) as server:
        config = write_sqlite_agent_config(tmp_path, server)
        stdin = jsonl("a@example.com", "nobody@example.com", "b@example.com")
        invoke(config, "enqueue", "--jsonl", "-", stdin=stdin)
        result = invoke(config, "run", "--json")
        status = invoke(config, "status", "--json")

    assert result.exit_code == 1
    assert json.loads(result.stdout.strip().splitlines()[-1])["failed"] == 1
    assert server.delivered == 2
    report = json.loads(status.stdout)
    assert report["counts"] == {
        "queued": 0,
        "sending": 0,
        "retry": 0,
        "sent": 2,
        "failed": 1,
        "dead": 0,
    }
    assert report["recent_failures"][0]["code"] == 550
    assert report["recent_failures"][0]["enhanced"] == "5.1.1"


def test_authentication_failure_exits_3_and_never_prints_the_password(tmp_path: Path) -> None:
    reply = "535 5.7.139 Authentication unsuccessful, basic authentication is disabled."
    with ThrottlingSMTPServer(auth_reply=reply) as server:
        config = write_sqlite_agent_config(tmp_path, server)
        config.write_text(
            config.read_text().replace(
                "timeout_s = 10",
                f'timeout_s = 10\nusername = "r@example.com"\npassword = "{PASSWORD}"',
            )
        )
        invoke(config, "enqueue", "--jsonl", "-", stdin=jsonl("a@example.com", "b@example.com"))
        result = invoke(config, "-vv", "run")
        status = invoke(config, "status", "--json")

    assert result.exit_code == 3
    assert "535 5.7.139" in result.output
    assert PASSWORD not in result.output
    assert json.loads(status.stdout)["counts"]["queued"] == 2
    assert server.delivered == 0


@pytest.mark.parametrize(
    ("toml", "sentence"),
    [
        ("[smtp]\nprot = 25\n", "unknown key 'prot' in [smtp]"),
        ("[smtp]\nport = 'abc'\n", "smtp.port must be a whole number"),
        ("[smtp]\ntls = 'tls'\n", "smtp.tls must be one of 'starttls', 'ssl', 'none'"),
        ("[limiter]\nmin_cap = 4\n", "min_cap <= initial_cap <= max_cap"),
        ("[smtp\n", "is not valid TOML"),
    ],
)
def test_a_config_mistake_is_one_sentence_and_exit_2(
    tmp_path: Path, toml: str, sentence: str
) -> None:
    config = tmp_path / "adaptsend.toml"
    config.write_text(toml)
    result = invoke(config, "status")

    assert result.exit_code == 2
    assert sentence in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert "Traceback" not in result.output


def test_an_environment_override_with_a_bad_value_names_the_variable(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["status"], env={"ADAPTSEND_SMTP_PORT": "many", "ADAPTSEND_CONFIG": ""}
    )
    assert result.exit_code == 2
    assert result.output == "adaptsend: ADAPTSEND_SMTP_PORT must be a whole number, not 'many'\n"


def test_retry_requeues_failed_messages(tmp_path: Path) -> None:
    with ThrottlingSMTPServer(data_reply="554 5.6.0 Content rejected") as server:
        config = write_sqlite_agent_config(tmp_path, server)
        invoke(config, "enqueue", "--jsonl", "-", stdin=jsonl("a@example.com", "b@example.com"))
        assert invoke(config, "run").exit_code == 1
        result = invoke(config, "retry", "--status", "failed")
        status = invoke(config, "status", "--json")

    assert "queued 2 message(s) again" in result.output
    assert json.loads(status.stdout)["counts"]["queued"] == 2


def test_enqueue_one_message_from_flags_with_an_attachment(tmp_path: Path) -> None:
    attachment = tmp_path / "report.csv"
    attachment.write_text("a,b\n1,2\n")
    with ThrottlingSMTPServer() as server:
        config = write_sqlite_agent_config(tmp_path, server)
        queued = invoke(
            config,
            "enqueue",
            "--from",
            "r@example.com",
            "--to",
            "t@example.com",
            "--subject",
            "Daily",
            "--text",
            "See attached.",
            "--attach",
            str(attachment),
        )
        assert invoke(config, "run").exit_code == 0

    assert "queued 1 message(s)" in queued.output
    content = server.received[0].raw.decode()
    assert 'filename="report.csv"' in content
    assert "Subject: Daily" in content


def test_demo_finds_the_limit_and_delivers_everything() -> None:
    result = CliRunner().invoke(cli, ["demo", "--messages", "40", "--latency-ms", "5"])
    assert result.exit_code == 0, result.output
    assert "40 distinct message(s) delivered, 0 duplicate(s)" in result.output


def test_status_in_the_wrong_directory_says_so_and_creates_nothing(tmp_path: Path) -> None:
    config = tmp_path / "adaptsend.toml"
    config.write_text(f'[store]\nurl = "sqlite:///{tmp_path / "missing.db"}"\n')
    result = invoke(config, "status")

    assert result.exit_code == 2
    assert result.output == (
        f"adaptsend: there is no store at {tmp_path / 'missing.db'} (nothing has been queued "
        "there yet); check [store] url or the working directory\n"
    )
    assert not (tmp_path / "missing.db").exists()


def test_messages_left_under_an_old_sending_key_are_reported_and_adopted(tmp_path: Path) -> None:
    with ThrottlingSMTPServer() as old_relay:
        old_config = write_sqlite_agent_config(tmp_path, old_relay)
        enqueue_batch(old_config, 3)
    old_key = f"anonymous@{old_relay.host}:{old_relay.port}"
    with ThrottlingSMTPServer() as server:
        config = write_sqlite_agent_config(tmp_path, server)
        first = invoke(config, "run")
        status = json.loads(invoke(config, "status", "--json").stdout)
        adopted = invoke(config, "adopt", old_key)
        second = invoke(config, "run", "--json")

    assert first.exit_code == 0
    assert f"3 message(s) are queued under the sending key {old_key}" in first.output
    assert f"`adaptsend adopt {old_key}`" in first.output
    assert status["unsent_under_other_keys"] == {old_key: 3}
    assert adopted.output.startswith(f"3 message(s) moved from {old_key}")
    assert json.loads(second.stdout.strip().splitlines()[-1])["sent"] == 3
    assert server.delivered == 3
