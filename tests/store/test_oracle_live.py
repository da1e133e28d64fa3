"""What only a live Oracle can show. The whole store suite also runs against
it (tests/helpers/databases.py) when ADAPTSEND_TEST_ORACLE_URL names a scratch schema,
for instance oracle+oracledb://adaptsend_test:PASSWORD@db.example.com:1521/?service_name=FREEPDB1.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from adaptsend.store import open_store, schema_state
from adaptsend.store._claim import locking_query
from tests.helpers import databases
from tests.helpers.store_builders import KEY, claim_ids, enqueue

ORACLE_URL = os.environ.get("ADAPTSEND_TEST_ORACLE_URL", "")


@pytest.mark.skipif(
    not ORACLE_URL,
    reason="no Oracle server can run here; set ADAPTSEND_TEST_ORACLE_URL to a scratch "
    "schema to run the store suite and this check against a live Oracle",
)
def test_a_claim_skips_the_rows_another_claim_has_fetched(tmp_path: Path) -> None:
    url = databases.ready_database(ORACLE_URL, tmp_path)
    assert schema_state(url).up_to_date
    first, second = open_store(url), open_store(url)
    try:
        ids = enqueue(first, 10)
        with first.engine.connect() as conn:
            # An agent in the middle of its claim: the rows it fetched are locked.
            with conn.execute(locking_query(sending_key=KEY, owner="a")) as result:
                held = [row.id for row in result.fetchmany(3)]
                got: list[int] = []
                t = threading.Thread(target=lambda: got.extend(claim_ids(second, limit=100)))
                t.start()
                t.join(timeout=5)
                # SKIP LOCKED: the other claim returns at once, without those rows.
                assert not t.is_alive()
            conn.rollback()
        assert len(held) == 3 and not set(held) & set(got)
        assert set(got) <= set(ids)
        assert sorted(got + claim_ids(first, owner="b", limit=100)) == ids
    finally:
        first.close()
        second.close()
        databases.wipe(url)
