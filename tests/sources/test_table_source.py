"""``adaptsend run --source table``: a site's own failed rows are queued once,
sent, and their outcome written back to the site's table, on every database
the tests run against."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from adaptsend import config_from_dict
from adaptsend._models import Decision, Status
from adaptsend.sources._table_source import TableSource
from adaptsend.store import SQLStore, open_store
from adaptsend.testing import ThrottlingSMTPServer
from tests.helpers.command_line import invoke
from tests.helpers.site_table import (
    KEY,
    NOBODY,
    QUERY,
    WRITE_BACK,
    hostile_row,
    make_site,
    run_table,
    set_status,
    site,
    site_row,
    write_config,
)


def test_failed_rows_are_sent_and_their_outcomes_written_back(
    tmp_path: Path, empty_db_url: str
) -> None:
    rows = [site_row(pk) for pk in range(1, 21)]
    rows += [site_row(21, recipients=NOBODY), site_row(22, recipients="not an address")]
    rows.append(site_row(23, status="S"))
    make_site(empty_db_url, rows)
    with ThrottlingSMTPServer(limit=2, rcpt_replies={NOBODY: "550 5.1.1 No such user"}) as server:
        config = write_config(tmp_path, empty_db_url, server)
        assert invoke(config, "db", "upgrade").exit_code == 0
        result, summary = run_table(config)

    assert result.exit_code == 1, result.output
    # The rejected row's outcome goes back with the others.
    assert summary["table"] == {
        "queued": 21,
        "rejected": 1,
        "written_back": 22,
        "write_back_failed": False,
    }
    assert (summary["sent"], summary["failed"]) == (20, 1)
    assert server.delivered == 20 and not server.duplicates
    after = site(empty_db_url)
    for pk in range(1, 21):
        assert (after[pk].status, after[pk].error_text) == ("S", None)
        assert after[pk].message_id in server.deliveries and after[pk].sent_at is not None
    assert after[21].status == "X" and after[21].error_text.startswith("550 5.1.1")
    assert after[22].status == "X" and after[22].error_text.startswith("not sent: ")
    assert "'not an address' in column 'recipients' is not a list" in after[22].error_text
    assert (after[23].status, after[23].sent_at) == ("S", None)
    [received] = [m for m in server.received if m.message_id == after[1].message_id]
    assert sorted(received.rcpt_tos) == ["c1@example.org", "copy1@example.org"]
    assert b"To: Customer 1 <c1@example.org>, copy1@example.org" in received.raw


def test_a_row_is_queued_once_however_often_the_query_returns_it(
    tmp_path: Path, db_ready: str
) -> None:
    make_site(db_ready, [site_row(pk) for pk in range(1, 6)])
    with ThrottlingSMTPServer() as server:
        config = write_config(tmp_path, db_ready, server)
        run_table(config)
        # The site's application marks the rows failed again, as it would
        # after its own retry: they are known, so nothing is sent or written.
        set_status(db_ready, "F")
        result, summary = run_table(config)

    assert result.exit_code == 0, result.output
    assert summary["table"]["queued"] == 0 and summary["table"]["written_back"] == 0
    assert server.delivered == 5
    assert {row.status for row in site(db_ready).values()} == {"F"}


def test_agents_reading_the_table_at_once_queue_each_row_once(db_ready: str) -> None:
    # Every tenth row is rejected: it, too, is recorded and reported by one agent.
    make_site(db_ready, [site_row(pk) if pk % 10 else hostile_row(pk) for pk in range(1, 301)])
    stores = [open_store(db_ready) for _ in range(3)]
    config = config_from_dict({"source": {"table": {"query": QUERY}}}).source.table
    sources = [
        TableSource(config, ledger=store, store_url=db_ready, sending_key=KEY) for store in stores
    ]
    queued: list[int] = []
    rejected: list[int] = []
    start = threading.Barrier(len(sources))

    def ingest(source: TableSource) -> None:
        start.wait()
        result = source.ingest()
        queued.append(result.queued)
        rejected.append(len(result.rejected))

    threads = [threading.Thread(target=ingest, args=(s,)) for s in sources]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    counts = stores[0].counts()
    for source in sources:
        source.close()
    for store in stores:
        store.close()
    assert (sum(queued), sum(rejected)) == (270, 30)
    assert (counts[Status.QUEUED], counts[Status.FAILED], sum(counts.values())) == (270, 30, 300)


def test_a_message_sent_again_reports_its_new_outcome(tmp_path: Path, db_ready: str) -> None:
    make_site(db_ready, [site_row(1, recipients=NOBODY)])
    with ThrottlingSMTPServer(rcpt_replies={NOBODY: "550 5.1.1 No such user"}) as refusing:
        run_table(write_config(tmp_path, db_ready, refusing))
    assert site(db_ready)[1].status == "X"
    # The same address: messages are queued for one sending key (host and port).
    with ThrottlingSMTPServer(port=refusing.port) as accepting:
        config = write_config(tmp_path, db_ready, accepting)
        assert invoke(config, "retry").exit_code == 0
        result, summary = run_table(config)
    assert result.exit_code == 0, result.output
    assert summary["table"]["written_back"] == 1
    assert site(db_ready)[1].status == "S"


def test_an_outcome_not_marked_reported_is_written_back_again(db_ready: str) -> None:
    make_site(db_ready, [site_row(1)])
    store = open_store(db_ready)
    config = config_from_dict({"source": {"table": {"query": QUERY, **WRITE_BACK}}})
    source = TableSource(config.source.table, ledger=store, store_url=db_ready, sending_key=KEY)
    try:
        source.ingest()
        _finish_all(store)
        assert source.write_back() == 1
        # As if the store's commit had been lost after the site's: the outcome
        # goes back again, and the statement is idempotent.
        with store.engine.begin() as conn:
            conn.execute(sa.text("UPDATE source_rows SET reported_at = NULL"))
        set_status(db_ready, "Q")
        assert source.write_back() == 1
        assert source.write_back() == 0
    finally:
        source.close()
        store.close()
    assert site(db_ready)[1].status == "S"


def _finish_all(store: SQLStore) -> None:
    claimed = store.claim(owner="t", sending_key=KEY, limit=100, lease_s=60)
    decisions = [
        Decision(message_pk=c.id, status=Status.SENT, attempts=1, throttles=0) for c in claimed
    ]
    store.record([], decisions, owner="t")


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        ({"query": ""}, "[source.table] needs a query"),
        (
            {"query": "SELECT id, sender FROM email_log"},
            "The [source.table] query returns no column 'recipients' for columns.to; "
            "it returns id, sender.",
        ),
        ({"query": "SELECT * FROM no_such_table"}, "Cannot read the rows of the [source.table]"),
        (
            {"columns": {"to": "sender", "key": "subject"}, "url": "sqlite:///{tmp}/no/such.db"},
            "The directory",
        ),
    ],
)
def test_a_wrong_table_source_is_one_sentence(
    tmp_path: Path, table: dict[str, Any], expected: str
) -> None:
    url = f"sqlite:///{tmp_path / 'site.db'}"
    make_site(url, [site_row(1)])
    if "url" in table:
        table["url"] = table["url"].format(tmp=tmp_path)
    with ThrottlingSMTPServer() as server:
        result = invoke(write_config(tmp_path, url, server, table), "run", "--source", "table")
    assert result.exit_code == 2
    [line] = result.stderr.strip().splitlines()
    assert expected in line


def test_a_following_agent_picks_up_new_rows_and_writes_back_as_it_goes(
    tmp_path: Path, db_ready: str
) -> None:
    make_site(db_ready, [site_row(1)])
    with ThrottlingSMTPServer() as server:
        config = write_config(tmp_path, db_ready, server, {"interval_s": 0.2})
        with config.open("a") as f:
            f.write("[run]\npoll_interval_s = 0.1\n")
        command = [sys.executable, "-m", "adaptsend", "--config", str(config)]
        agent = subprocess.Popen(
            [*command, "run", "--source", "table", "--follow", "--json"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            _wait_for_status(db_ready, {1: "S"})
            make_site(db_ready, [site_row(2), site_row(3)])
            _wait_for_status(db_ready, {1: "S", 2: "S", 3: "S"})
        finally:
            agent.send_signal(signal.SIGTERM)
            out, err = agent.communicate(timeout=30)
    assert agent.returncode == 130, err
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["table"]["queued"] == 3 and summary["table"]["written_back"] == 3
    assert server.delivered == 3


def _wait_for_status(url: str, expected: dict[int, str]) -> None:
    deadline = time.monotonic() + 30
    while {pk: row.status for pk, row in site(url).items()} != expected:
        assert time.monotonic() < deadline, f"site rows never became {expected}"
        time.sleep(0.05)
