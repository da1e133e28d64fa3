"""The ``adaptsend`` command line: the group and its commands."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click

from adaptsend.cli._alerts import alerts
from adaptsend.cli._common import log_format_option
from adaptsend.cli._db import db
from adaptsend.cli._demo import demo
from adaptsend.cli._log_format import TEXT_FORMAT, LogFormat, use_log_format
from adaptsend.cli._plugins import plugins
from adaptsend.cli._queue import adopt, enqueue, retry, status
from adaptsend.cli._report import report
from adaptsend.cli._run import run
from adaptsend.config._redact import attach_filter


def main() -> None:
    """Console entry point."""
    cli(prog_name="adaptsend")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="ADAPTSEND_CONFIG",
    help="Config file (default: ./adaptsend.toml if it exists). "
    "Any key can be overridden by ADAPTSEND_<SECTION>_<KEY>.",
)
@click.option("-v", "--verbose", count=True, help="More log detail (-vv for debug).")
@log_format_option(default="text", show_default=True, envvar="ADAPTSEND_LOG_FORMAT")
@click.version_option(package_name="adaptsend")
@click.pass_context
def cli(ctx: click.Context, config_path: Path | None, verbose: int, log_format: LogFormat) -> None:
    """adaptsend: send batch mail through a provider's connection limit, with
    every temporary failure retried and every attempt recorded."""
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    logging.basicConfig(level=level, stream=sys.stderr, format=TEXT_FORMAT)
    if log_format == "json":
        use_log_format(log_format)
    # Every line the handlers print, plugins' and libraries' included, goes
    # through the secrets filter (an agent adds its secrets when it is made).
    attach_filter()
    ctx.obj = config_path


for command in (enqueue, run, status, report, retry, adopt, plugins, alerts, demo):
    cli.add_command(command)
cli.add_command(db)
