"""The SQL that ``adaptsend report`` has an Oracle store run, checked exactly
and against Oracle's rules (no Oracle server can run here; see oracle_sql.py).

The expected text lives in ``tests/store/oracle/incident.sql``, read and
checked by hand. After a deliberate change, regenerate it with
``python -m tests.store.test_incident_oracle`` and review the difference.
"""

from __future__ import annotations

import datetime as dt
import inspect
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

from sqlalchemy import update

from adaptsend._models import Outcome, utcnow
from adaptsend.store import open_store
from adaptsend.store._incident_api import IncidentLog
from adaptsend.store._schema import messages
from tests.helpers.oracle_names import MAX_IDENTIFIER, ORACLE_RESERVED
from tests.helpers.store_builders import KEY, LATER, attempt, enqueue

from .oracle_sql import EXPECTED, _Recorder

INCIDENT_FILE = EXPECTED / "incident.sql"
REGENERATE = "regenerate with `python -m tests.store.test_incident_oracle` and review it"


def _workload(store: Any) -> None:
    """Every question of a report, for one key and for all keys."""
    ids = enqueue(store.store, 2)
    quota = attempt(ids[1], LATER, Outcome.QUOTA, rule="quota")
    store.store.record([attempt(ids[0], rule="sent"), quota], [], owner="a")
    since = utcnow() - dt.timedelta(hours=1)
    # A period that ended after the messages were queued and before their
    # rows changed: the oldest waiting are read as they stood at its end,
    # from their attempts.
    until = utcnow() - dt.timedelta(minutes=1)
    with store.store.engine.begin() as conn:
        conn.execute(update(messages).values(created_at=since))
    store.sending_keys()
    for key in (KEY, None):
        store.attempt_span(since=since, until=until, sending_key=key)
        store.status_counts(since=since, until=until, sending_key=key)
        store.attempt_buckets(start=since, width_s=60, count=60, until=until, sending_key=key)
        store.cap_changes_from_attempts(since=since, until=until, sending_key=key)
        store.reply_groups(since=since, until=until, sending_key=key, limit=10)
        store.slowest_messages(since=since, until=until, sending_key=key, limit=10)
        store.oldest_waiting(until=until, sending_key=key, limit=10)
        store.attempt_gaps(since=since, until=until, sending_key=key, min_gap_s=60)
        store.quota_replies(since=since, until=until, sending_key=key, limit=1000)


def captured(tmp_path: Path) -> tuple[str, set[str]]:
    """The Oracle SQL of each statement the workload ran, headed by its method."""
    store = open_store(f"sqlite:///{tmp_path / 'oracle-shaped.db'}")
    store.sqlite_fast = False
    recorder = _Recorder(store)
    try:
        _workload(recorder)
    finally:
        store.close()
    text = "".join(
        f"-- {method}\n{sql};\n\n"
        for sql, method in recorder.statements.items()
        if method not in ("open", "enqueue", "record")
    )
    return text, recorder.called


def _statements() -> list[str]:
    chunks = INCIDENT_FILE.read_text().split(";\n\n")
    found = []
    for chunk in chunks:
        lines = [line for line in chunk.splitlines() if not line.startswith("--")]
        if sql := "\n".join(lines).strip():
            found.append(sql)
    return found


def test_every_report_question_is_in_the_check(tmp_path: Path) -> None:
    _, called = captured(tmp_path)
    asked = {
        name
        for name, _ in inspect.getmembers(IncidentLog, inspect.isfunction)
        if not name.startswith("_")
    }
    assert sorted(asked - called) == [], f"add them to the workload, then {REGENERATE}"


def test_the_report_sql_is_the_reviewed_oracle_sql(tmp_path: Path) -> None:
    text, _ = captured(tmp_path)
    assert text == INCIDENT_FILE.read_text(), f"the report's Oracle SQL changed; {REGENERATE}"


def test_no_report_statement_uses_what_oracle_lacks() -> None:
    statements = _statements()
    assert len(statements) >= 10
    for sql in statements:
        for foreign in (
            "LIMIT ",
            "julianday",
            "strftime",
            "EXTRACT(EPOCH",
            "IS DISTINCT FROM",
            '"',
        ):
            assert foreign not in sql, sql
        assert "FOR UPDATE" not in sql, "a report only reads"
    names = {name for sql in statements for name in re.findall(r":(\w+)", sql)}
    assert sorted(n for n in names if n.lower() in ORACLE_RESERVED) == []
    assert sorted(n for n in names if len(n) > MAX_IDENTIFIER) == []


def test_times_become_seconds_through_oracles_date_arithmetic() -> None:
    text = INCIDENT_FILE.read_text()
    assert "((CAST(attempts.started_at AS DATE) - DATE '1970-01-01') * 86400)" in text
    # Row limits are Oracle's own, and windows are evaluated by the database.
    assert "FETCH FIRST" in text
    assert "lead(attempts.started_at) OVER (PARTITION BY messages.sending_key" in text
    assert "lag(attempts.cap) OVER (PARTITION BY messages.sending_key" in text


def test_grouped_slices_group_by_a_name_not_by_a_bound_expression() -> None:
    # Oracle (and PostgreSQL) refuse GROUP BY an expression that repeats a bind.
    grouped = [sql for sql in _statements() if "floor(" in sql and "GROUP BY" in sql]
    assert len(grouped) == 2  # for one key and for all
    for sql in grouped:
        assert ":" not in sql.rsplit("GROUP BY", 1)[1]


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        statements, _ = captured(Path(tmp))
    INCIDENT_FILE.write_text(statements)
    print(f"wrote {INCIDENT_FILE}; review the difference", file=sys.stderr)
