"""``adaptsend db``: the store's tables, created and brought up to date."""

from __future__ import annotations

import sys

import click

from adaptsend._cli_common import EXIT_FAILED, fail_cleanly, load
from adaptsend.store import schema_state, upgrade_sql, upgrade_store


@click.group()
def db() -> None:
    """The store's tables: create them and bring them up to date.

    A SQLite store does this itself when opened. A PostgreSQL or Oracle store
    is upgraded here, by a user allowed to create tables; until then agents
    refuse to run on it.
    """


@db.command()
@click.option("--revision", default="head", show_default=True, help="The revision to reach.")
@click.option(
    "--sql",
    "as_sql",
    is_flag=True,
    help="Print the SQL for the configured database instead of running it, for a DBA "
    "to read or run. Connects to nothing.",
)
@click.option(
    "--from",
    "since",
    metavar="REVISION",
    help="With --sql: the revision the database is at now (default: an empty database).",
)
@click.pass_context
@fail_cleanly
def upgrade(ctx: click.Context, revision: str, as_sql: bool, since: str | None) -> None:
    """Create the store's tables, or bring them to the newest revision."""
    if since is not None and not as_sql:
        raise click.UsageError("--from goes with --sql")
    url = load(ctx).store.url
    if as_sql:
        click.echo(upgrade_sql(url, revision=revision, since=since), nl=False)
        return
    before, after = upgrade_store(url, revision)
    if before.current == after.current:
        click.echo(f"already at {after.describe()}")
    else:
        click.echo(f"upgraded from {before.describe()} to {after.describe()}")


@db.command()
@click.pass_context
@fail_cleanly
def current(ctx: click.Context) -> None:
    """Print the revision of the store's tables; exit 1 unless it is the newest."""
    state = schema_state(load(ctx).store.url)
    click.echo(state.describe())
    if not state.up_to_date:
        sys.exit(EXIT_FAILED)
