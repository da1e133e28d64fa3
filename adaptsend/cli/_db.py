"""``adaptsend db``: the store's tables, created, brought up to date and kept small."""

from __future__ import annotations

import datetime as dt
import json
import math
import sys

import click

from adaptsend._models import utcnow
from adaptsend.agent._agent import Agent
from adaptsend.cli._common import EXIT_FAILED, fail_cleanly, load
from adaptsend.store import schema_state, upgrade_sql, upgrade_store
from adaptsend.store._api import PurgeCounts


@click.group()
def db() -> None:
    """The store's tables: create them, bring them up to date, delete old history.

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


def _positive_days(_ctx: click.Context, _param: click.Parameter, value: float) -> float:
    # float() also takes "nan" and "inf".
    if not (math.isfinite(value) and value > 0):
        raise click.BadParameter(
            f"{value:g} is not a positive number of days; give for example 30, or 0.5 for 12 hours."
        )
    try:
        utcnow() - dt.timedelta(days=value)
    except OverflowError:
        raise click.BadParameter(f"{value:,g} days reaches back before the year 1.") from None
    return value


@db.command()
@click.option(
    "--older-than",
    "days",
    type=float,
    required=True,
    metavar="DAYS",
    callback=_positive_days,
    help="Delete messages that ended more than DAYS days ago (0.5 is 12 hours).",
)
@click.option("--dry-run", is_flag=True, help="Count what would be deleted; delete nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the counts as one JSON object.")
@click.pass_context
@fail_cleanly
def purge(ctx: click.Context, days: float, dry_run: bool, as_json: bool) -> None:
    """Delete sent, failed and dead messages that ended more than DAYS days
    ago, with their content and attempts, and the changes of the connection
    cap and message rate made before then.

    Messages still queued, being sent or waiting for a retry are kept, and so
    are those whose outcome the table source has not written back yet. Safe
    while agents run: it deletes in short transactions.
    """
    before = utcnow() - dt.timedelta(days=days)
    with Agent(load(ctx), existing_store=True) as agent:
        counts = agent.store.purge(before=before, dry_run=dry_run)
    if as_json:
        click.echo(json.dumps(_purge_json(counts, days=days, before=before, dry_run=dry_run)))
        return
    verb = "would purge" if dry_run else "purged"
    click.echo(
        f"{verb} {counts.messages:,} message(s), {counts.attempts:,} attempt(s) and "
        f"{counts.cap_changes:,} cap change(s) older than {days:,g} day(s)"
    )


def _purge_json(
    counts: PurgeCounts, *, days: float, before: dt.datetime, dry_run: bool
) -> dict[str, object]:
    return {
        "dry_run": dry_run,
        "older_than_days": int(days) if days.is_integer() else days,
        "before": before.isoformat() + "Z",
        "messages": counts.messages,
        "attempts": counts.attempts,
        "source_rows": counts.source_rows,
        "cap_changes": counts.cap_changes,
    }
