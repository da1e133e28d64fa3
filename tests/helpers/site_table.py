"""A site's own mail table, as the table-source tests set it up and read it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from click.testing import Result

from adaptsend.testing import ThrottlingSMTPServer
from tests.helpers.agent_config import write_agent_config
from tests.helpers.command_line import invoke

KEY = "127.0.0.1:25"
NOBODY = "nobody@example.com"
QUERY = "SELECT id, sender, recipients, subject, body FROM email_log WHERE status = 'F' ORDER BY id"
WRITE_BACK = {
    "on_queued": "UPDATE email_log SET status = 'Q' WHERE id = :key",
    "on_sent": (
        "UPDATE email_log SET status = 'S', sent_at = :finished_at, "
        "message_id = :message_id WHERE id = :key"
    ),
    "on_failed": "UPDATE email_log SET status = 'X', error_text = :reply WHERE id = :key",
}
#: An ``on_failed`` that leaves the row matching the query, as a site's may,
#: and appends each write-back to ``error_text``, so that tests can count them.
COUNTING_ON_FAILED = (
    "UPDATE email_log SET error_text = COALESCE(error_text, '') || :status || ': ' || :reply "
    "|| ';' WHERE id = :key"
)
LINE_BREAK = "the subject contains a line break"

email_log = sa.Table(
    "email_log",
    sa.MetaData(),
    sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
    sa.Column("sender", sa.String(320)),
    sa.Column("recipients", sa.String(1000)),
    sa.Column("subject", sa.String(200)),
    sa.Column("body", sa.Text()),
    sa.Column("status", sa.String(1)),
    sa.Column("error_text", sa.String(1000)),
    sa.Column("message_id", sa.String(255)),
    sa.Column("sent_at", sa.DateTime()),
)


def hostile_row(pk: int) -> dict[str, Any]:
    """A row whose subject would smuggle in a header: rejected at the door."""
    return {**site_row(pk), "subject": f"Invoice {pk}\r\nBcc: evil@x.example"}


def site_row(pk: int, status: str = "F", recipients: str | None = None) -> dict[str, Any]:
    return {
        "id": pk,
        "sender": "billing@example.com",
        "recipients": recipients or f"Customer {pk} <c{pk}@example.org>; copy{pk}@example.org",
        "subject": f"Invoice {pk}",
        "body": f"Your invoice {pk} is attached.",
        "status": status,
        "error_text": None,
        "message_id": None,
        "sent_at": None,
    }


def make_site(url: str, rows: list[dict[str, Any]]) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        email_log.create(conn, checkfirst=True)
        conn.execute(sa.insert(email_log), rows)
    engine.dispose()


def site(url: str) -> dict[int, Any]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        found = {row.id: row for row in conn.execute(sa.select(email_log))}
    engine.dispose()
    return found


def set_status(url: str, status: str) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.update(email_log).values(status=status))
    engine.dispose()


def write_config(
    tmp_path: Path, url: str, server: ThrottlingSMTPServer, table: dict[str, Any] | None = None
) -> Path:
    settings = {"query": QUERY, **WRITE_BACK, **(table or {})}
    columns = settings.pop("columns", {})
    lines = ["[source.table]"]
    lines += [f"{name} = {json.dumps(value)}" for name, value in settings.items()]
    lines += ["[source.table.columns]"]
    lines += [f"{name} = {json.dumps(value)}" for name, value in columns.items()]
    return write_agent_config(tmp_path, url, server, "\n".join(lines) + "\n")


def run_table(config: Path) -> tuple[Result, dict[str, Any]]:
    result = invoke(config, "run", "--source", "table", "--json")
    return result, json.loads(result.stdout.strip().splitlines()[-1])
