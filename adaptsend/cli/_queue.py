"""``adaptsend enqueue``, ``status`` and ``retry``: the queue as a person sees it."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

import attrs
import click

from adaptsend._errors import MessageError
from adaptsend._models import Envelope, Status, utcnow
from adaptsend.agent._agent import Agent
from adaptsend.cli._common import EXIT_FAILED, fail_cleanly, load, parse_since
from adaptsend.limits._day_budget import day_usage
from adaptsend.sources._compose import compose
from adaptsend.sources._ingest import Rejected, message_from_mapping, read_eml, read_jsonl
from adaptsend.store._api import FailureGroup
from adaptsend.store._day_api import DayUsage

#: Messages queued per transaction when reading a large file.
_ENQUEUE_BATCH = 1000


@click.command()
@click.option(
    "--jsonl",
    "jsonl",
    # Binary, so that a line that is not UTF-8 is rejected on its own.
    type=click.File("rb"),
    help="JSON Lines file of messages ('-' for standard input).",
)
@click.option(
    "--eml",
    "eml_files",
    multiple=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="A ready-made message file; repeat for more.",
)
@click.option("--from", "sender", help="Sender address (for one message, or for --eml files).")
@click.option("--to", multiple=True, help="Recipient; repeat for more.")
@click.option("--cc", multiple=True, help="Copy recipient; repeat for more.")
@click.option("--bcc", multiple=True, help="Blind copy recipient; repeat for more.")
@click.option("--subject", default="", help="Subject of one message.")
@click.option("--text", help="Plain-text body of one message.")
@click.option("--html", help="HTML body of one message.")
@click.option(
    "--attach",
    multiple=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="File to attach to one message; repeat for more.",
)
@click.pass_context
@fail_cleanly
def enqueue(
    ctx: click.Context,
    jsonl: BinaryIO | None,
    eml_files: tuple[Path, ...],
    sender: str | None,
    to: tuple[str, ...],
    cc: tuple[str, ...],
    bcc: tuple[str, ...],
    subject: str,
    text: str | None,
    html: str | None,
    attach: tuple[Path, ...],
) -> None:
    """Queue messages for sending. Nothing is sent until `adaptsend run`.

    \b
    JSON Lines, one message per line:
      {"from": "...", "to": ["..."], "cc": [], "bcc": [], "subject": "...",
       "text": "...", "html": "...", "headers": {},
       "attachments": [{"path": "..."} or
                       {"filename": "...", "content_type": "...", "content_b64": "..."}],
       "message_id": "<optional>"}
    A bad line is reported with its number and the other lines are queued;
    the exit status is then 1. "to", "cc" and "bcc" may also be one string
    holding a list of addresses ("a@example.com, B <b@example.com>").
    """
    sources = sum([jsonl is not None, bool(eml_files), bool(to or cc or bcc)])
    if sources != 1:
        raise click.UsageError("give exactly one of --jsonl, --eml, or --to/--cc/--bcc")
    if jsonl is not None:
        # Standard input in binary mode may have no name (or "<stdin>").
        path = getattr(jsonl, "name", "<stdin>")
        name = "standard input" if path == "<stdin>" else path
        base = Path.cwd() if path == "<stdin>" else Path(path).parent
        results: Iterable[Envelope | Rejected] = read_jsonl(jsonl, name=name, base_dir=base)
    elif eml_files:
        results = _read_eml_files(eml_files, sender)
    else:
        record = {
            "from": sender,
            "to": list(to),
            "cc": list(cc),
            "bcc": list(bcc),
            "subject": subject,
            "text": text,
            "html": html,
            "attachments": [{"path": str(path.resolve())} for path in attach],
        }
        results = [_one_message(record)]
    with Agent(load(ctx)) as agent:
        queued, rejected = _enqueue_all(agent, results)
    click.echo(f"queued {queued} message(s)" + (f", rejected {rejected}" if rejected else ""))
    if rejected:
        sys.exit(EXIT_FAILED)


def _read_eml_files(paths: Iterable[Path], sender: str | None) -> Iterator[Envelope | Rejected]:
    for path in paths:
        try:
            yield read_eml(path, sender=sender)
        except MessageError as exc:
            yield Rejected(where=str(path), reason=str(exc))


def _one_message(record: dict[str, Any]) -> Envelope | Rejected:
    try:
        return compose(message_from_mapping(record, base_dir=Path.cwd()))
    except MessageError as exc:
        return Rejected(where="the message", reason=str(exc))


def _enqueue_all(agent: Agent, results: Iterable[Envelope | Rejected]) -> tuple[int, int]:
    queued = rejected = 0
    batch: list[Envelope] = []
    for result in results:
        if isinstance(result, Rejected):
            rejected += 1
            click.echo(f"adaptsend: rejected {result.describe()}", err=True)
            continue
        batch.append(result)
        if len(batch) >= _ENQUEUE_BATCH:
            queued += len(agent.enqueue(batch))
            batch = []
    if batch:
        queued += len(agent.enqueue(batch))
    return queued, rejected


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option(
    "--since",
    default="24h",
    show_default=True,
    help="How far back to group failures: 30m, 2h, 7d, or an ISO date (UTC).",
)
@click.pass_context
@fail_cleanly
def status(ctx: click.Context, as_json: bool, since: str) -> None:
    """Messages by status, the daily recipient budgets, and recent failures
    grouped by reply and rule."""
    start = parse_since(since) or utcnow()
    with Agent(load(ctx), existing_store=True) as agent:
        counts = agent.store.counts()
        unknown = agent.store.unknown_attempts()
        stranded = agent.stranded()
        budgets = day_usage(agent.store, agent.config, agent.sending_key)
        # Replies stored by an older version may still hold a secret.
        failures = [
            attrs.evolve(group, reply=agent.redactor.reply(group.reply))
            for group in agent.store.recent_failures(since=start, limit=10)
        ]
    if as_json:
        click.echo(
            json.dumps(
                {
                    "counts": {s.value: counts.get(s, 0) for s in Status},
                    "unknown_attempts": unknown,
                    "recent_failures": [_failure_json(f) for f in failures],
                    "unsent_under_other_keys": stranded,
                    "recipient_budgets": [_budget_json(u) for u in budgets],
                }
            )
        )
        return
    click.echo("  ".join(f"{s.value} {counts.get(s, 0)}" for s in Status))
    if unknown:
        click.echo(
            f"{unknown} attempt(s) ended with no final reply after the content went out: "
            "those messages may have arrived twice (see docs/operations.md)"
        )
    for key, count in stranded.items():
        click.echo(f"{count} unsent message(s) under another sending key: {key}")
    for usage in budgets:
        click.echo(_budget_line(usage))
    if failures:
        click.echo(f"failures since {start:%Y-%m-%d %H:%M} UTC:")
    for group in failures:
        click.echo(f"  {group.count:6d}  {group.reply.describe()}  ({_where_and_why(group)})")


def _where_and_why(group: FailureGroup) -> str:
    """``at rcpt, rule permanent``: the step of the reply and the rule that
    judged it (attempts recorded before rules were kept have none)."""
    at = f"at {group.reply.stage.value}"
    return at if group.rule is None else f"{at}, rule {group.rule}"


def _budget_line(usage: DayUsage) -> str:
    full = " (used up: messages wait)" if usage.used >= usage.day_limit else ""
    return (
        f"recipients in the last 24 hours: {usage.used} of {usage.day_limit} "
        f"for {usage.sending_key}{full}"
    )


def _budget_json(usage: DayUsage) -> dict[str, object]:
    return {"sending_key": usage.sending_key, "used": usage.used, "limit": usage.day_limit}


def _failure_json(group: FailureGroup) -> dict[str, object]:
    return {
        "code": group.reply.code,
        "enhanced": group.reply.enhanced,
        "text": group.reply.text,
        "stage": group.reply.stage.value,
        "rule": group.rule,
        "count": group.count,
        "last_at": group.last_at.isoformat() + "Z",
        "sample_message_ids": list(group.sample_message_ids),
    }


@click.command()
@click.option(
    "--status",
    "statuses",
    multiple=True,
    type=click.Choice([Status.FAILED.value, Status.DEAD.value]),
    help="Which messages to queue again (default: failed and dead).",
)
@click.option("--since", help="Only messages that ended after: 30m, 2h, 7d, or an ISO date (UTC).")
@click.pass_context
@fail_cleanly
def retry(ctx: click.Context, statuses: tuple[str, ...], since: str | None) -> None:
    """Put failed or dead messages back in the queue with a fresh retry budget."""
    chosen = [Status(s) for s in statuses] or [Status.FAILED, Status.DEAD]
    with Agent(load(ctx), existing_store=True) as agent:
        count = agent.store.requeue(statuses=chosen, since=parse_since(since))
    click.echo(f"queued {count} message(s) again")


@click.command()
@click.argument("sending_key")
@click.pass_context
@fail_cleanly
def adopt(ctx: click.Context, sending_key: str) -> None:
    """Send the messages queued under another SENDING_KEY as this configuration.

    A message keeps the sending key (account@host:port) it was queued under;
    after the [smtp] account or host changes, `adaptsend run` warns about
    messages left under the old key, and this command hands them over.
    """
    with Agent(load(ctx), existing_store=True) as agent:
        own = agent.sending_key
        if sending_key == own:
            raise click.UsageError(f"{sending_key} is already this configuration's sending key")
        count = agent.store.adopt(from_key=sending_key, to_key=own)
    click.echo(f"{count} message(s) moved from {sending_key} to {own}")
