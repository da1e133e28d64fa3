"""Alembic's entry point: runs the revisions on the connection (or, offline, for
the dialect) that ``adaptsend.store._migrate`` put in the config's attributes."""

from __future__ import annotations

from alembic import context

from adaptsend.store._migrate import VERSION_TABLE


def _configure() -> None:
    attributes = context.config.attributes
    # Without a primary key, recording a revision is a plain INSERT: with one,
    # the Oracle dialect asks for it back with RETURNING ... INTO, which a script
    # run by a DBA cannot bind. Upgrades are serialised, so no row is doubled.
    if context.is_offline_mode():
        context.configure(
            dialect_name=attributes["dialect_name"],
            literal_binds=True,
            version_table=VERSION_TABLE,
            version_table_pk=False,
        )
        return
    connection = attributes["connection"]
    context.configure(
        connection=connection,
        version_table=VERSION_TABLE,
        version_table_pk=False,
        # SQLite cannot alter most of a table in place; batch mode copies it.
        render_as_batch=connection.dialect.name == "sqlite",
    )


_configure()
with context.begin_transaction():
    context.run_migrations()
