"""Schema revisions: a new store gets the newest, an old one is upgraded or
refused with the command that fixes it, and the revisions build exactly the
tables the code describes."""

from __future__ import annotations

import importlib.util
import math
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from adaptsend._models import Outcome, Status, utcnow
from adaptsend.config._settings import LimiterConfig
from adaptsend.store import (
    SchemaOutOfDate,
    StoreError,
    _migrate,
    drop_store,
    open_store,
    schema_state,
    upgrade_store,
)
from adaptsend.store._migrate import VERSION_TABLE
from adaptsend.store._schema import metadata
from tests.helpers.databases import rows
from tests.helpers.store_builders import KEY, NO_USER, attempt, decision, enqueue, later

FIRST = "0001"


def _is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def test_the_revisions_build_the_tables_the_code_describes(empty_db_url: str) -> None:
    upgrade_store(empty_db_url)
    engine = sa.create_engine(empty_db_url)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        differences = compare_metadata(context, metadata)
    engine.dispose()
    # The version table is Alembic's own, not part of the described tables.
    assert [d for d in differences if VERSION_TABLE not in str(d)] == []


def test_upgrade_reports_before_and_after(empty_db_url: str) -> None:
    before, after = upgrade_store(empty_db_url, FIRST)
    assert (before.current, before.has_tables) == ((), False)
    assert after.current == (FIRST,) and not after.up_to_date
    assert after.describe() == f"{FIRST} (behind: head is {after.head})"
    before, after = upgrade_store(empty_db_url)
    assert after.up_to_date and after.describe() == f"{after.head} (head)"
    # Upgrading a database at the head changes nothing.
    assert upgrade_store(empty_db_url)[1] == after


def test_a_store_behind_is_refused_naming_the_command(empty_db_url: str) -> None:
    upgrade_store(empty_db_url, FIRST)
    with pytest.raises(SchemaOutOfDate) as info:
        open_store(empty_db_url, upgrade=False)
    message = str(info.value)
    assert f"at schema revision {FIRST} but this adaptsend needs" in message
    assert message.endswith("run `adaptsend db upgrade` to bring it up to date.")
    assert "\n" not in message


def test_a_store_without_tables_is_refused_naming_the_command(empty_db_url: str) -> None:
    expected = r"no adaptsend tables yet; run `adaptsend db upgrade`"
    with pytest.raises(SchemaOutOfDate, match=expected):
        open_store(empty_db_url, upgrade=False)


def test_only_sqlite_upgrades_itself_by_default(empty_db_url: str) -> None:
    upgrade_store(empty_db_url, FIRST)
    if _is_sqlite(empty_db_url):
        open_store(empty_db_url).close()
        assert schema_state(empty_db_url).up_to_date
    else:
        with pytest.raises(SchemaOutOfDate):
            open_store(empty_db_url)
        assert schema_state(empty_db_url).current == (FIRST,)


def test_an_upgrade_keeps_what_is_queued(empty_db_url: str) -> None:
    upgrade_store(empty_db_url, FIRST)
    engine = sa.create_engine(empty_db_url)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO messages (message_id, sending_key, sender, recipients, status,"
                " attempts, throttles, next_attempt_at, created_at, updated_at)"
                " VALUES ('<old@x>', 'k', 'a@x.org', '[\"b@x.org\"]', 'queued', 0, 0,"
                " CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            )
        )
    engine.dispose()
    upgrade_store(empty_db_url)
    store = open_store(empty_db_url)
    assert [s.message_id for s in store.states([1])] == ["<old@x>"]
    store.close()


def test_attempts_from_before_0006_keep_no_rule_beside_new_ones(empty_db_url: str) -> None:
    upgrade_store(empty_db_url, "0005")
    engine = sa.create_engine(empty_db_url)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO messages (message_id, sending_key, sender, recipients, status,"
                " attempts, throttles, created_at, updated_at)"
                " VALUES ('<old@x>', :key, 'a@x.org', '[\"b@x.org\"]', 'failed', 1, 0,"
                " :at, :at)"
            ),
            {"key": KEY, "at": utcnow()},
        )
        conn.execute(
            sa.text(
                "INSERT INTO attempts (message_pk, started_at, duration_s, outcome, stage,"
                " reply_code, enhanced_code, reply_text, cap, in_flight)"
                " SELECT id, :at, 0.1, 'permanent', 'rcpt', 550, '5.1.1', :text, 2, 1"
                " FROM messages WHERE message_id = '<old@x>'"
            ),
            {"at": utcnow(), "text": NO_USER.text},
        )
    engine.dispose()
    upgrade_store(empty_db_url)
    assert schema_state(empty_db_url).up_to_date
    store = open_store(empty_db_url)
    try:
        [pk] = enqueue(store, 1)
        store.claim(owner="a", sending_key=KEY, limit=1, lease_s=60)
        judged = attempt(pk, NO_USER, Outcome.PERMANENT, rule="permanent")
        store.record([judged], [decision(pk, Status.FAILED)], owner="a")
        groups = store.recent_failures(since=later(-60), limit=10)
    finally:
        store.close()
    assert rows(empty_db_url, "SELECT rule FROM attempts ORDER BY id") == [(None,), ("permanent",)]
    # The same reply, once with its rule and once from before rules were kept.
    assert sorted((g.rule or "", g.reply, g.count) for g in groups) == [
        ("", NO_USER, 1),
        ("permanent", NO_USER, 1),
    ]


def test_budgets_from_before_0007_have_no_pause_and_take_one(empty_db_url: str) -> None:
    upgrade_store(empty_db_url, "0006")
    engine = sa.create_engine(empty_db_url)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO sending_budgets (sending_key, cap, epoch, version,"
                " probe_interval_s, updated_at) VALUES (:key, 3, 0, 0, 30.0, :at)"
            ),
            {"key": KEY, "at": utcnow()},
        )
    engine.dispose()
    upgrade_store(empty_db_url)
    store = open_store(empty_db_url)
    settings = LimiterConfig(initial_cap=2, max_cap=4)
    view = store.budget_view(sending_key=KEY, settings=settings)
    assert (view.budget.cap, view.paused_s, view.budget.probe_not_before) == (3, 0.0, -math.inf)
    assert store.pause_budget(sending_key=KEY, pause_s=60)
    assert store.budget_view(sending_key=KEY, settings=settings).paused_s > 0
    store.close()


def test_a_newer_store_is_refused(empty_db_url: str) -> None:
    upgrade_store(empty_db_url)
    engine = sa.create_engine(empty_db_url)
    with engine.begin() as conn:
        conn.execute(sa.text(f"UPDATE {VERSION_TABLE} SET version_num = '9999'"))
    engine.dispose()
    assert schema_state(empty_db_url).newer
    expected = r"newer than this adaptsend knows .*; upgrade adaptsend\.$"
    with pytest.raises(StoreError, match=expected):
        open_store(empty_db_url)
    with pytest.raises(StoreError, match="upgrade adaptsend"):
        upgrade_store(empty_db_url)


def test_tables_without_a_revision_are_named(empty_db_url: str) -> None:
    engine = sa.create_engine(empty_db_url)
    metadata.create_all(engine)
    engine.dispose()
    with pytest.raises(StoreError, match="no recorded schema revision"):
        open_store(empty_db_url)


def test_dropping_a_store_leaves_an_empty_database_and_the_tables_of_others(
    empty_db_url: str,
) -> None:
    upgrade_store(empty_db_url)
    store = open_store(empty_db_url)
    enqueue(store, 2)
    store.close()
    engine = sa.create_engine(empty_db_url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE site_notes (note VARCHAR(20))"))
    engine.dispose()
    try:
        drop_store(empty_db_url)
        left = set(sa.inspect(sa.create_engine(empty_db_url)).get_table_names())
        assert left == {"site_notes"}
        assert schema_state(empty_db_url).current == ()
        # Empty means new: it upgrades from nothing and holds nothing.
        upgrade_store(empty_db_url)
        assert rows(empty_db_url, "SELECT COUNT(*) FROM messages") == [(0,)]
    finally:
        engine = sa.create_engine(empty_db_url)
        with engine.begin() as conn:
            conn.execute(sa.text("DROP TABLE site_notes"))
        engine.dispose()


def test_every_revision_downgrades(empty_db_url: str) -> None:
    upgrade_store(empty_db_url)
    engine = sa.create_engine(empty_db_url)
    try:
        assert _migrate.downgrade(engine, FIRST).current == (FIRST,)
        assert not sa.inspect(engine).has_table("source_rows")
        assert _migrate.downgrade(engine, "base").current == ()
        assert not sa.inspect(engine).has_table("messages")
    finally:
        engine.dispose()
    upgrade_store(empty_db_url)
    assert schema_state(empty_db_url).up_to_date


def test_an_unknown_revision_is_one_sentence(empty_db_url: str) -> None:
    expected = r"Cannot upgrade the store .*: Can.t locate revision"
    with pytest.raises(StoreError, match=expected) as info:
        upgrade_store(empty_db_url, "nosuchrevision")
    assert "\n" not in str(info.value)


def test_agents_opening_a_new_sqlite_file_at_once_both_get_it(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'new.db'}"
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def open_it() -> None:
        start.wait()
        try:
            open_store(url).close()
        except BaseException as e:  # reported below, with the others
            errors.append(e)

    threads = [threading.Thread(target=open_it) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    assert schema_state(url).current == (schema_state(url).head,)
    store = open_store(url)
    assert enqueue(store, 1) == [1]
    store.close()


def test_the_revisions_ship_inside_the_package() -> None:
    # setuptools packs only packages: each folder needs its __init__.py.
    spec = importlib.util.find_spec("adaptsend.store.migrations.versions")
    assert spec is not None and spec.submodule_search_locations
    folder = Path(next(iter(spec.submodule_search_locations)))
    numbers = sorted(p.name.split("_")[0] for p in folder.glob("[0-9]*.py"))
    revisions = sorted(script.revision for script in _migrate.scripts().walk_revisions())
    assert numbers == revisions
    assert (revisions[0], revisions[-1]) == (FIRST, _migrate.head())
