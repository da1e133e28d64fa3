"""``adaptsend run --source table``: a site's own failed rows are queued once,
sent, and their outcome written back to the site's table, on every database
the tests run against."""

from __future__ import annotations

import json
import logging
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result

from adaptsend import config_from_dict
from adaptsend._cli import cli
from adaptsend._models import Decision, Status
from adaptsend._table_source import IngestResult, TableSource
from adaptsend.store import SQLStore, open_store, upgrade_store
from adaptsend.testing import ThrottlingSMTPServer
from tests.conftest import write_agent_config

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


def invoke(config: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--config", str(config), *args])


def run_table(config: Path) -> tuple[Result, dict[str, Any]]:
    result = invoke(config, "run", "--source", "table", "--json")
    return result, json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture
def db_ready(empty_db_url: str) -> str:
    """An empty database with the store's tables: server ones need ``db upgrade``."""
    upgrade_store(empty_db_url)
    return empty_db_url


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
