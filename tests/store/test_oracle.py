"""The SQL an Oracle store issues, checked exactly and against Oracle's rules.

No Oracle server can run here, so every statement is compiled for the Oracle
dialect (see oracle_sql.py) and compared with the reviewed text, and the rules
Oracle enforces are checked on that text.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from adaptsend.store import _rows
from tests.helpers.oracle_names import MAX_IDENTIFIER, ORACLE_RESERVED

from .oracle_sql import (
    DDL_FILE,
    DML_FILE,
    captured_statements,
    oracle_ddl,
    protocol_methods,
)

REGENERATE = "regenerate with `python -m tests.store.oracle_sql` and review the difference"


def _statements(text: str) -> list[str]:
    """The statements of an expected file, without their heading comments."""
    found = []
    for chunk in text.split(";\n\n"):
        lines = [line for line in chunk.splitlines() if not line.startswith("--")]
        if sql := "\n".join(lines).strip():
            found.append(sql)
    return found


DML = _statements(DML_FILE.read_text())
DDL = [s.strip() for s in DDL_FILE.read_text().split("\n/\n") if s.strip()]


def test_every_store_method_is_in_the_check(tmp_path: Path) -> None:
    _, called = captured_statements(tmp_path)
    missing = sorted(protocol_methods() - called)
    assert missing == [], f"add {missing} to the workload in oracle_sql.py, then {REGENERATE}"


def test_every_statement_is_the_reviewed_oracle_sql(tmp_path: Path) -> None:
    text, _ = captured_statements(tmp_path)
    assert text == DML_FILE.read_text(), f"the store's Oracle SQL changed; {REGENERATE}"


def test_the_upgrade_is_the_reviewed_oracle_ddl() -> None:
    assert oracle_ddl() == DDL_FILE.read_text(), f"the Oracle DDL changed; {REGENERATE}"


def _locking(start: str) -> str:
    [sql] = [sql for sql in DML if "FOR UPDATE" in sql and sql.startswith(start)]
    return sql


CLAIM = "SELECT messages.id, "
RENEW = "SELECT messages.id \nFROM messages \nWHERE messages.lease_owner"
SLOT_TAKE = "SELECT connection_slots."
PURGE_MESSAGES = "SELECT messages.id \nFROM messages \nWHERE messages.id IN ("
PURGE_SOURCE_ROWS = "SELECT source_rows.message_pk \nFROM source_rows \nWHERE"


def test_only_the_claim_the_renewal_the_slot_take_and_the_purge_lock_rows() -> None:
    locking = [sql for sql in DML if "FOR UPDATE" in sql]
    starts = (CLAIM, RENEW, SLOT_TAKE, PURGE_MESSAGES, PURGE_SOURCE_ROWS)
    assert sorted(locking) == sorted(_locking(s) for s in starts)


def test_the_renewal_locks_its_own_rows_without_a_row_limit() -> None:
    # Skipping the rows a record beside it is deciding, never waiting for them.
    renew = _locking(RENEW)
    assert renew.count("SELECT") == 1
    assert "messages.lease_owner = :lease_owner_1" in renew
    assert renew.endswith(" FOR UPDATE SKIP LOCKED")
    for word in ("FETCH", "ROWNUM", "OFFSET", "DISTINCT", "GROUP BY", "JOIN"):
        assert word not in renew


def test_leases_run_on_the_databases_utc_clock() -> None:
    # Lease expiries are computed and compared by Oracle, never bound from an agent.
    for sql in DML:
        assert not re.search(r"(expires_at|next_attempt_at) (<=|<|>|>=) :", sql)
    assert "next_attempt_at <= SYS_EXTRACT_UTC(SYSTIMESTAMP)" in _locking(CLAIM)
    leases = [sql for sql in DML if "expires_at=(" in sql]
    assert len(leases) == 4  # the claim's mark, its renewal, a slot's take and its renewal
    for sql in leases:
        assert "(SYS_EXTRACT_UTC(SYSTIMESTAMP) + NUMTODSINTERVAL(:param_1, 'SECOND'))" in sql


@pytest.mark.parametrize("start", [PURGE_MESSAGES, PURGE_SOURCE_ROWS])
def test_the_purge_locks_rows_by_id_without_a_row_limit(start: str) -> None:
    # The same rules: a top-level query with no row limit, here over a list
    # of ids that the purge chose before (a NOT EXISTS in WHERE is allowed).
    lock = _locking(start)
    assert "IN (__[POSTCOMPILE_" in lock
    assert lock.endswith(" FOR UPDATE SKIP LOCKED")
    for word in ("FETCH", "ROWNUM", "OFFSET", "DISTINCT", "GROUP BY", "JOIN", "count("):
        assert word not in lock


@pytest.mark.parametrize("sql", DML, ids=lambda sql: sql.split("\n")[0][:40])
def test_no_statement_uses_what_oracle_lacks(sql: str) -> None:
    for foreign in ("LIMIT ", "ON CONFLICT", "ILIKE", "IS DISTINCT FROM", " TRUE", " FALSE", '"'):
        assert foreign not in sql
    if "RETURNING" in sql:
        # Oracle returns values only into bind variables.
        assert re.search(r"RETURNING [\w., ]+ INTO :ret_0$", sql)
    for list_start in re.findall(r"IN \((.{0,20})", sql):
        # Every IN list is expanded from chunks the store keeps under 1000 items.
        assert list_start.startswith(("__[POSTCOMPILE_", "SELECT"))


def test_in_lists_stay_under_oracles_limit() -> None:
    assert _rows.IN_CHUNK <= 1000


def test_bind_names_suit_oracle() -> None:
    names = {name for sql in DML for name in re.findall(r":(\w+)", sql)}
    assert names, "no bind parameters found"
    assert sorted(n for n in names if n.lower() in ORACLE_RESERVED) == []
    assert sorted(n for n in names if len(n) > MAX_IDENTIFIER) == []


def test_the_ddl_uses_identity_columns_and_sized_strings() -> None:
    text = "\n".join(DDL)
    identities = re.findall(r"^\s+(\w+) NUMBER\(19\) GENERATED BY DEFAULT AS IDENTITY", text, re.M)
    assert identities == [
        "id",
        "id",
        "id",
        "id",
    ]  # messages, attempts, recipient_charges, cap_changes
    assert re.findall(r"VARCHAR2\((\d+) CHAR\)", text)
    assert not re.search(r"VARCHAR2\(\d+\)|VARCHAR\(|NVARCHAR|DATETIME|BOOLEAN|SERIAL", text)
    times = dict(re.findall(r"^\s+(\w+_at) (\w+)", text, re.M))
    assert times and set(times.values()) == {"TIMESTAMP"}
    # A script a DBA runs has no bind variables to fill in.
    assert "RETURNING" not in text and not re.search(r":\w", text)


def test_the_ddl_names_suit_oracle() -> None:
    text = "\n".join(DDL)
    names = set(re.findall(r"(?:TABLE|INDEX|CONSTRAINT) (\w+)", text))
    column = r"^\s+(\w+) (?:NUMBER|VARCHAR2|CLOB|BLOB|TIMESTAMP|INTEGER|FLOAT)"
    names |= set(re.findall(column, text, re.M))
    assert {"messages", "attempts", "source_rows", "pk_messages", "lease_owner"} <= names
    assert sorted(n for n in names if n.lower() in ORACLE_RESERVED) == []
    assert sorted(n for n in names if len(n) > MAX_IDENTIFIER) == []


def test_each_ddl_statement_is_on_its_own_for_sqlplus() -> None:
    # Statements end with a "/" line, which SQL*Plus and SQLcl run one by one.
    assert DDL[0].startswith("CREATE TABLE adaptsend_version")
    assert all(";" not in statement for statement in DDL)
    assert DDL[-1].startswith("UPDATE adaptsend_version SET version_num=")
