"""A table-source row that fails the checks is rejected once: written back
through ``on_failed`` once and never read again, by any agent on the store."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from adaptsend import config_from_dict
from adaptsend._models import Status
from adaptsend.sources._table_source import IngestResult, TableSource
from adaptsend.store import SQLStore, open_store
from adaptsend.testing import ThrottlingSMTPServer
from tests.helpers.command_line import invoke
from tests.helpers.site_table import (
    COUNTING_ON_FAILED,
    KEY,
    LINE_BREAK,
    QUERY,
    hostile_row,
    make_site,
    run_table,
    site,
    site_row,
    write_config,
)


def test_a_hostile_row_is_rejected_once_and_the_others_are_sent(
    tmp_path: Path, empty_db_url: str
) -> None:
    make_site(empty_db_url, [site_row(1), hostile_row(2), site_row(3)])
    with ThrottlingSMTPServer() as server:
        config = write_config(tmp_path, empty_db_url, server)
        assert invoke(config, "db", "upgrade").exit_code == 0
        first, summary = run_table(config)
        again, summary_again = run_table(config)

    assert first.exit_code == 1, first.output
    assert "Traceback" not in first.output
    assert (summary["table"]["queued"], summary["table"]["rejected"]) == (2, 1)
    assert again.exit_code == 0, again.output
    assert (summary_again["table"]["queued"], summary_again["table"]["rejected"]) == (0, 0)
    after = site(empty_db_url)
    assert (after[1].status, after[3].status) == ("S", "S")
    assert after[2].status == "X"
    assert after[2].error_text == "not sent: the subject contains a line break"
    assert server.delivered == 2
    assert all(b"evil" not in m.raw for m in server.received)


def table_source(store: SQLStore, url: str, **table: Any) -> TableSource:
    config = config_from_dict({"source": {"table": {"query": QUERY, **table}}})
    return TableSource(config.source.table, ledger=store, store_url=url, sending_key=KEY)


def test_a_rejected_row_is_written_back_once_and_never_read_again(
    db_ready: str, caplog: pytest.LogCaptureFixture
) -> None:
    make_site(db_ready, [site_row(1), hostile_row(2), site_row(3)])
    stores = [open_store(db_ready), open_store(db_ready)]
    # The second is another agent reading the same table into the same store.
    agent, other = (table_source(s, db_ready, on_failed=COUNTING_ON_FAILED) for s in stores)
    try:
        with caplog.at_level(logging.INFO, logger="adaptsend.source.table"):
            first, written = agent.ingest(), agent.write_back()
            logged = [r.getMessage() for r in caplog.records]
            caplog.clear()
            again = [agent.ingest(), other.ingest()]
            written_again = [agent.write_back(), other.write_back()]
            logged_again = [r.getMessage() for r in caplog.records]
        counts = stores[0].counts()
    finally:
        for source in (agent, other):
            source.close()
        for store in stores:
            store.close()

    assert (first.queued, first.known) == (2, 0)
    assert [r.describe() for r in first.rejected] == [f"row id=2: {LINE_BREAK}"]
    assert logged == [f"not queued: row id=2: {LINE_BREAK}"]
    assert written == 1
    assert again == [IngestResult(known=3)] * 2
    assert written_again == [0, 0] and logged_again == []
    row = site(db_ready)[2]
    assert row.status == "F", "the site's on_failed leaves the row to the query"
    assert row.error_text == f"rejected: not sent: {LINE_BREAK};"
    assert (counts[Status.QUEUED], counts[Status.FAILED]) == (2, 1)


def test_a_rejected_row_fails_one_run_and_retry_leaves_it_alone(
    tmp_path: Path, db_ready: str, caplog: pytest.LogCaptureFixture
) -> None:
    make_site(db_ready, [site_row(1), hostile_row(2)])
    caplog.set_level(logging.WARNING, logger="adaptsend.source.table")
    with ThrottlingSMTPServer() as server:
        config = write_config(tmp_path, db_ready, server, {"on_failed": COUNTING_ON_FAILED})
        first, summary = run_table(config)
        logged = [r.getMessage() for r in caplog.records if r.name == "adaptsend.source.table"]
        caplog.clear()
        again, summary_again = run_table(config)
        retried = invoke(config, "retry", "--status", "failed")
        after_retry, summary_after_retry = run_table(config)
        status = invoke(config, "status", "--json")
        logged_later = [r.name for r in caplog.records if r.name == "adaptsend.source.table"]

    assert first.exit_code == 1, first.output
    assert summary["table"] == {
        "queued": 1,
        "rejected": 1,
        "written_back": 2,
        "write_back_failed": False,
    }
    assert logged == [f"not queued: row id=2: {LINE_BREAK}"]
    assert logged_later == []
    for result, later in ((again, summary_again), (after_retry, summary_after_retry)):
        assert result.exit_code == 0, result.output
        assert later["table"] == {
            "queued": 0,
            "rejected": 0,
            "written_back": 0,
            "write_back_failed": False,
        }
    assert retried.output.strip() == "queued 0 message(s) again"
    assert json.loads(status.output)["counts"]["failed"] == 1
    assert site(db_ready)[2].error_text == f"rejected: not sent: {LINE_BREAK};"
    assert server.delivered == 1 and len(server.received) == 1
