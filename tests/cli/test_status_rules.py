"""``adaptsend status`` names the rule that judged each group of failures,
and shows attempts recorded before rules were kept without one."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from adaptsend._models import utcnow
from adaptsend.store import upgrade_store
from adaptsend.testing import ThrottlingSMTPServer
from tests.helpers.agent_config import write_sqlite_agent_config
from tests.helpers.command_line import cli_ok, invoke, jsonl

NOBODY = "nobody@example.com"
REFUSAL = "550 5.1.1 <nobody@example.com>: Recipient address rejected: User unknown"
#: Three connections where the server allows one: throttles at DATA.
CROWDED = "[limiter]\ninitial_cap = 3\nmin_cap = 1\nmax_cap = 3\n"


def _failures(config: Path) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = json.loads(cli_ok(config, "status", "--json"))["recent_failures"]
    return found


def test_status_names_the_rule_of_each_group(tmp_path: Path) -> None:
    with ThrottlingSMTPServer(limit=1, latency_s=0.02, rcpt_replies={NOBODY: REFUSAL}) as server:
        config = write_sqlite_agent_config(tmp_path, server, CROWDED)
        recipients = [f"u{n}@example.com" for n in range(8)]
        cli_ok(config, "enqueue", "--jsonl", "-", stdin=jsonl(*recipients, NOBODY))
        assert invoke(config, "run").exit_code == 1
        text = cli_ok(config, "status")
        failures = _failures(config)

    assert server.rejections > 0
    by_code = {f["code"]: f for f in failures}
    assert (by_code[550]["rule"], by_code[550]["count"]) == ("permanent", 1)
    assert (by_code[432]["rule"], by_code[432]["count"]) == (
        "concurrency-status",
        server.rejections,
    )
    assert f"{REFUSAL}  (at rcpt, rule permanent)" in text
    assert "(at data, rule concurrency-status)" in text


def _old_failure(url: str) -> None:
    """A failed message and its attempt as a store at revision 0005 holds them."""
    engine = sa.create_engine(url)
    at = utcnow()
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO messages (message_id, sending_key, sender, recipients, status,"
                " attempts, throttles, created_at, updated_at) VALUES ('<old@example.com>',"
                " 'old-key', 'a@example.com', '[]', 'failed', 1, 0, :at, :at)"
            ),
            {"at": at},
        )
        conn.execute(
            sa.text(
                "INSERT INTO attempts (message_pk, started_at, duration_s, outcome, stage,"
                " reply_code, enhanced_code, reply_text, cap, in_flight)"
                " VALUES (1, :at, 0.1, 'permanent', 'rcpt', 550, '5.1.1', :text, 1, 1)"
            ),
            {"at": at, "text": REFUSAL.removeprefix("550 5.1.1 ")},
        )
    engine.dispose()


def test_attempts_from_before_rules_were_kept_show_without_one(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'queue.db'}"
    upgrade_store(url, "0005")
    _old_failure(url)
    with ThrottlingSMTPServer(rcpt_replies={NOBODY: REFUSAL}) as server:
        config = write_sqlite_agent_config(tmp_path, server)
        # Queueing opens the SQLite store, which brings it to the newest revision.
        cli_ok(config, "enqueue", "--jsonl", "-", stdin=jsonl(NOBODY))
        assert invoke(config, "run").exit_code == 1
        text = cli_ok(config, "status")
        failures = _failures(config)

    # One reply, two groups: the old attempt has no rule, the new one has.
    assert sorted((f["code"], f["rule"] or "", f["count"]) for f in failures) == [
        (550, "", 1),
        (550, "permanent", 1),
    ]
    lines = [line.strip() for line in text.splitlines() if REFUSAL in line]
    assert sorted(line.split("  ", 1)[1] for line in lines) == [
        f"{REFUSAL}  (at rcpt)",
        f"{REFUSAL}  (at rcpt, rule permanent)",
    ]
