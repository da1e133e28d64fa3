"""Pieces every command of the ``adaptsend`` CLI shares.

Exit codes: 0 every message was sent; 1 some failed or died (or input lines
were rejected); 2 a usage, configuration or store error; 3 a fatal reply
stopped the run (messages stay queued); 4 the server could not be reached
for ``[run] outage_wait_s`` and messages wait for the next run (deferred); 130
stopped by a signal.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from adaptsend._errors import AdaptsendError
from adaptsend.cli._log_format import LOG_FORMATS, logs_as_json
from adaptsend.config._settings import Config, load_config
from adaptsend.engine._groups import plain_error
from adaptsend.engine._report import RunReport

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_FATAL, EXIT_DEFERRED = 0, 1, 2, 3, 4
EXIT_INTERRUPTED = 130

F = TypeVar("F", bound=Callable[..., Any])


def load(ctx: click.Context) -> Config:
    """The configuration named by the group's ``--config`` (or the default)."""
    return load_config(ctx.obj)


def fail_cleanly(fn: F) -> F:
    """Turn an error a user can cause into one sentence and exit code 2."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except AdaptsendError as exc:
            tell(f"adaptsend: {exc}", level=logging.ERROR)
            sys.exit(EXIT_USAGE)
        except BaseExceptionGroup as group:
            error = plain_error(group)
            if not isinstance(error, AdaptsendError):
                raise
            tell(f"adaptsend: {error}", level=logging.ERROR)
            sys.exit(EXIT_USAGE)

    return wrapper  # type: ignore[return-value]


def tell(text: str, *, level: int = logging.WARNING) -> None:
    """Say ``text`` to the person on stderr; when log lines are JSON
    (``--log-format json``), as a log line of ``level`` instead, so that
    stderr stays one JSON object a line."""
    if logs_as_json():
        logging.getLogger("adaptsend").log(level, "%s", text)
    else:
        click.echo(text, err=True)


def log_format_option(**settings: Any) -> Callable[[F], F]:
    """``--log-format text|json``, for the group and for ``run``."""
    return click.option(
        "--log-format",
        type=click.Choice(LOG_FORMATS),
        help="How log lines are written: text for people, json for log shippers "
        "(one object a line: time, level, logger, message).",
        **settings,
    )


def exit_code(report: RunReport) -> int:
    if report.fatal is not None:
        return EXIT_FATAL
    if report.interrupted:
        return EXIT_INTERRUPTED
    if report.failed or report.dead:
        return EXIT_FAILED
    return EXIT_DEFERRED if report.deferred else EXIT_OK


def parse_since(value: str | None, *, now: dt.datetime | None = None) -> dt.datetime | None:
    """``2h``, ``30m``, ``7d`` before ``now`` (naive UTC; by default the
    current time), or an ISO date/time (UTC unless it names a zone)."""
    if value is None:
        return None
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    if value[-1:] in units and value[:-1].isascii() and value[:-1].isdigit():
        seconds = int(value[:-1]) * units[value[-1]]
        try:
            return (now or dt.datetime.now(dt.UTC).replace(tzinfo=None)) - dt.timedelta(
                seconds=seconds
            )
        except OverflowError:
            raise click.BadParameter(f"{value!r} reaches back before the year 1") from None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is neither a duration like 2h or 7d nor an ISO date"
        ) from None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(dt.UTC).replace(tzinfo=None)
    return parsed
