"""A fatal reply stops the run, keeps the queue, and the summary tells a
person what to change when the rule knows it."""

from __future__ import annotations

import json
from pathlib import Path

from adaptsend import Status, send_batch_async
from adaptsend._models import Reply, Stage
from adaptsend.classify._classifier import hint_for
from adaptsend.cli._progress import summary_lines
from adaptsend.engine._report import RunReport
from adaptsend.testing import ThrottlingSMTPServer
from tests.helpers.agent_config import MakeConfig, write_agent_config
from tests.helpers.command_line import invoke
from tests.helpers.databases import rows
from tests.helpers.messages import batch

BASIC_AUTH_REFUSED = "550 5.7.30 Basic authentication is not supported for Client Submission."
SEND_AS_THROTTLED = "550 5.2.252 Sender throttled due to continuous send as denied errors."


def _report(fatal: Reply | None) -> RunReport:
    return RunReport(
        sent=0,
        failed=0,
        dead=0,
        throttled=0,
        attempts=1,
        released=1,
        elapsed_s=0.1,
        final_cap=2,
        cap_changes=0,
        fatal=fatal,
    )


def test_the_summary_says_what_to_do_right_after_the_stop() -> None:
    fatal = Reply(
        code=535,
        enhanced="5.7.139",
        text="Authentication unsuccessful, SmtpClientAuthentication is disabled for the Mailbox.",
        stage=Stage.AUTH,
    )
    lines = summary_lines(_report(fatal))
    stopped = lines.index(f"stopped: {fatal.describe()} (at auth)")
    assert lines[stopped + 1] == f"what to do: {hint_for(fatal)}"
    assert "Set-CASMailbox" in lines[stopped + 1]


def test_a_fatal_reply_without_a_known_remedy_prints_no_advice() -> None:
    fatal = Reply(code=535, enhanced="5.7.8", text="Username and Password not accepted.")
    lines = summary_lines(_report(fatal))
    assert lines[-1].startswith("stopped: 535 5.7.8")
    assert not any(line.startswith("what to do") for line in lines)
    assert not any(line.startswith("what to do") for line in summary_lines(_report(None)))


def test_basic_authentication_refused_exits_3_and_says_to_use_xoauth2(tmp_path: Path) -> None:
    with ThrottlingSMTPServer(auth_reply=BASIC_AUTH_REFUSED) as server:
        config = write_agent_config(tmp_path, f"sqlite:///{tmp_path / 'queue.db'}", server)
        # A login, so that the server is asked to AUTH; in its [smtp] table.
        config.write_text(
            config.read_text().replace(
                "timeout_s = 10",
                'timeout_s = 10\nusername = "reports@example.com"\npassword = "not-shown"',
            )
        )
        messages = "\n".join(
            json.dumps({"from": "reports@example.com", "to": [f"u{n}@example.com"], "text": "t"})
            for n in range(3)
        )
        assert invoke(config, "enqueue", "--jsonl", "-", stdin=messages).exit_code == 0
        result = invoke(config, "run")
        status = invoke(config, "status", "--json")

    assert result.exit_code == 3, result.output
    lines = result.output.splitlines()
    stopped = [n for n, line in enumerate(lines) if line.startswith("stopped: 550 5.7.30")]
    assert stopped, result.output
    assert lines[stopped[0] + 1] == (
        "what to do: Exchange Online refuses Basic authentication (a password) for SMTP "
        'AUTH: set [smtp] auth = "xoauth2" and its [smtp.oauth] settings (see docs/oauth.md).'
    )
    assert json.loads(status.stdout)["counts"]["queued"] == 3
    assert server.delivered == 0


async def test_continuous_error_throttling_stops_the_run_with_everything_queued(
    make_config: MakeConfig, db_url: str
) -> None:
    with ThrottlingSMTPServer(data_reply=SEND_AS_THROTTLED) as server:
        report = await send_batch_async(batch(10), config=make_config(server))

    fatal = report.run.fatal
    assert fatal is not None
    assert (fatal.code, fatal.enhanced, fatal.stage) == (550, "5.2.252", Stage.DATA)
    assert server.delivered == 0
    # Not the messages' fault: back in the queue, uncharged, for the next run.
    assert {r.status for r in report.results} == {Status.QUEUED}
    assert {r.attempts for r in report.results} == {0}
    attempts = rows(db_url, "SELECT outcome, stage FROM attempts")
    assert set(attempts) == {("fatal", "data")}
    assert 1 <= len(attempts) <= 2
    advice = [line for line in summary_lines(report.run) if line.startswith("what to do: ")]
    assert advice == [f"what to do: {hint_for(fatal)}"]
    assert "Send As" in advice[0]
