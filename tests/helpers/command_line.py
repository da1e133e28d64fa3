"""The ``adaptsend`` command line run in this process (click's runner), as a
person or a cron job types it, against a configuration file."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner, Result

from adaptsend.cli._main import cli


def invoke(config: Path, *args: str, stdin: str | bytes | None = None) -> Result:
    """``adaptsend --config CONFIG ARGS...``, whatever its exit code."""
    return CliRunner().invoke(cli, ["--config", str(config), *args], input=stdin)


def cli_ok(config: Path, *args: str, stdin: str | None = None) -> str:
    """:func:`invoke` that must exit 0; returns what the command printed."""
    result = invoke(config, *args, stdin=stdin)
    assert result.exit_code == 0, result.output
    return result.stdout


def jsonl(*recipients: str) -> str:
    """One JSON Lines message to each recipient, as ``enqueue --jsonl`` reads them."""
    return "\n".join(
        json.dumps({"from": "reports@example.com", "to": [r], "subject": "s", "text": "t"})
        for r in recipients
    )


def enqueue_batch(config: Path, count: int) -> None:
    """Queue ``count`` messages with ``adaptsend enqueue``, each to its own recipient."""
    recipients = [f"u{n}@example.com" for n in range(count)]
    cli_ok(config, "enqueue", "--jsonl", "-", stdin=jsonl(*recipients))


def status_counts(config: Path) -> dict[str, int]:
    """The store's messages by status, from ``adaptsend status --json``."""
    counts: dict[str, int] = json.loads(cli_ok(config, "status", "--json"))["counts"]
    return counts
