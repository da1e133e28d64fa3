"""Schema revisions: which one a database is at, bringing it to the newest, and
the DDL a DBA can read before running it.

The revisions are Alembic scripts shipped in ``adaptsend.store.migrations``.
Their version table is ``adaptsend_version``, not Alembic's default, so that
adaptsend can share a schema with an application that uses Alembic itself.
"""

from __future__ import annotations

import functools
import io

import attrs
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, func, inspect, select

VERSION_TABLE = "adaptsend_version"
SCRIPT_LOCATION = "adaptsend.store:migrations"
#: The command that brings a database to the newest revision, as users type it.
UPGRADE_COMMAND = "adaptsend db upgrade"
#: Any fixed number: PostgreSQL's advisory lock that lets one upgrade run at a time.
_PG_UPGRADE_LOCK = 7_362_510_001


@attrs.frozen(kw_only=True)
class SchemaState:
    """Where a database's tables are, against what this adaptsend needs."""

    #: The revisions recorded in the database; empty when it has none.
    current: tuple[str, ...]
    head: str
    #: Revisions this adaptsend knows, oldest first.
    known: tuple[str, ...]
    #: Whether any adaptsend table exists (without a recorded revision).
    has_tables: bool

    @property
    def up_to_date(self) -> bool:
        return self.current == (self.head,)

    @property
    def newer(self) -> bool:
        """The database was upgraded by a newer adaptsend."""
        return any(rev not in self.known for rev in self.current)

    def describe(self) -> str:
        """The current revision in a few words, as ``adaptsend db current`` prints it."""
        if not self.current:
            return "none (the tables are not created yet)"
        shown = ", ".join(self.current)
        if self.up_to_date:
            return f"{shown} (head)"
        if self.newer:
            return f"{shown} (newer than this adaptsend, whose head is {self.head})"
        return f"{shown} (behind: head is {self.head})"


@functools.cache
def scripts() -> ScriptDirectory:
    """The shipped revisions."""
    return ScriptDirectory.from_config(_config())


def head() -> str:
    found = scripts().get_current_head()
    # Two heads would mean two revisions claim the same parent: a packaging bug.
    assert found is not None, "adaptsend's migrations have no single head"
    return found


def state(conn: Connection) -> SchemaState:
    """Read the revision recorded in the database on ``conn``."""
    context = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})
    current = tuple(context.get_current_heads())
    known = tuple(reversed([s.revision for s in scripts().walk_revisions()]))
    has_tables = bool(current) or inspect(conn).has_table("messages")
    return SchemaState(current=current, head=head(), known=known, has_tables=has_tables)


def upgrade(engine: Engine, revision: str = "head") -> SchemaState:
    """Bring the database to ``revision`` in as few transactions as it allows;
    returns the state afterwards. Concurrent upgrades wait for each other."""
    with engine.connect() as conn:
        _lock_for_upgrade(conn)
        if not _at(state(conn), revision):
            command.upgrade(_config(connection=conn), revision)
        conn.commit()
        return state(conn)


def downgrade(engine: Engine, revision: str) -> SchemaState:
    """Take the database back to ``revision`` (``"base"``: no tables at all)."""
    with engine.connect() as conn:
        _lock_for_upgrade(conn)
        command.downgrade(_config(connection=conn), revision)
        conn.commit()
        return state(conn)


def _at(found: SchemaState, revision: str) -> bool:
    wanted = found.head if revision == "head" else revision
    return found.current == (wanted,)


def _lock_for_upgrade(conn: Connection) -> None:
    dialect = conn.dialect.name
    if dialect == "sqlite":
        # Takes the write lock now: a second agent opening the same new file
        # waits here, then finds the tables made.
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    elif dialect == "postgresql":
        conn.execute(select(func.pg_advisory_xact_lock(_PG_UPGRADE_LOCK)))
    # Oracle commits each DDL statement on its own; there is nothing to hold.


def upgrade_sql(dialect_name: str, *, revision: str = "head", since: str | None = None) -> str:
    """The statements ``upgrade`` would run on a ``dialect_name`` database (from
    ``since``, or from an empty one), without connecting to it."""
    output = io.StringIO()
    config = _config(output=output)
    config.attributes["dialect_name"] = dialect_name
    command.upgrade(config, f"{since}:{revision}" if since else revision, sql=True)
    return output.getvalue()


def _config(*, connection: Connection | None = None, output: io.StringIO | None = None) -> Config:
    config = Config(output_buffer=output)
    config.set_main_option("script_location", SCRIPT_LOCATION)
    if connection is not None:
        config.attributes["connection"] = connection
    return config
